"""One job of a sweep: skip it if it is done, run it, and record a failure without stopping the others.

    metrics = run_job(cfg)   # what cli/run.py calls for every Hydra job (single run or multirun)

* **Skip completed.** A completed run of this config in the job's own folder is returned as it is. Else
  ``output_root`` is searched for a ``metrics.json`` with ``status: completed``, the same ``config_hash``
  and ``seed`` (``config_hash`` leaves out the seed and path keys, see sdp/run/env.py), as many
  processes as this launch and the same code (sdp/run/code.py; ``reuse=any_code``: any code). A completed
  run of this config made by other code is moved aside (as ``resume=false`` does) and run again, saying why; an
  unfinished one is refused (``reuse=any_code`` resumes it, ``resume=false`` restarts it). If one exists the job logs ``skipping ...``, writes
  ``skipped.json`` (a pointer to the completed run, no metrics.json: collectors never count a run twice)
  and returns the stored metrics. ``resume=false`` always recomputes.
* **Record failures.** An exception is written to the run directory as ``error.txt`` (the traceback)
  and ``metrics.json`` with ``status: failed`` and the error message. In a multirun the job then
  returns None (so does cli/run.py: Optuna counts a failed trial) and Hydra goes on with the next job; a single
  run re-raises, so the exit status is non-zero. At the end of a sweep, sdp/sweep_outcome.py logs how every job
  ended and exits 1 if one of a plain sweep failed or was refused. SIGTERM/SIGINT/SIGUSR2 are not failures: the run
  checkpoints and stops or is requeued (sdp/run/preemption.py), and so does the sweep.
* **One job, one folder, one log.** Under ``accelerate launch`` every rank joins the process group first
  and takes rank 0's run directory (sdp/run/launch.py); run.log holds this job's lines only, from
  the main process (sdp/run/logs.py); the Accelerator's state is reset after the job, so the next
  one may use another mixed precision.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from sdp.data.fingerprint import DataChangedError
from sdp.data.spec import DataError
from sdp.errors import CheckpointRefusedError, ConfigError
from sdp.io import write_json
from sdp.run.code import CodeChangedError, check_unchanged, describe, same_code
from sdp.run.failure import config_value, record_failure, was_recorded
from sdp.run.launch import (
    apply_launcher_settings,
    from_main_process,
    join_processes,
    launcher_rank,
    reset_accelerator_state,
    single_process_line,
)
from sdp.run.lock import RunLockedError, run_lock
from sdp.run.logs import drop_held_warnings, hold_warnings, job_log, rank_console
from sdp.run.rundir import (
    RUN_RECORD,
    ResumeRefusedError,
    RunHoldsDataError,
    RunInsideRunError,
    check_resumable,
    check_same_code,
    clear_launch_error,
    completed_here,
    is_moved_aside,
    missing_weights,
    move_aside,
    prepare_run_dir,
    read_metrics,
    read_run_record,
    resume_identity,
    run_identity,
    same_world_size,
    set_aside_dead_run,
    set_aside_other_code,
    write_run_record,
)
from sdp.run.same_data import verify_completed_data
from sdp.run.signals import stop_between_stages
from sdp.run.users_files import check_no_users_files

log = logging.getLogger("sdp")

# The folder holds another run (or a run on other data): the job is refused and records nothing in it.
REFUSALS = (RunLockedError, ResumeRefusedError, RunHoldsDataError, RunInsideRunError, DataChangedError, CodeChangedError,
            CheckpointRefusedError)


def drop_hydras_empty_folder(run_dir: Path, output_root: str) -> None:
    """With ``output_dir`` set, the folder Hydra made for the job (``hydra.run.dir``, a new ``<time>_...``) is not
    the run's and stays empty: remove it, not to leave one behind per run. (Pointing hydra.run.dir at output_dir
    instead would let Hydra fail with a traceback on a bad output_dir, before sdp's one-line error.)"""
    try:
        from hydra.core.hydra_config import HydraConfig

        hydra_dir = Path(HydraConfig.get().runtime.output_dir)
    except ValueError:  # no Hydra job around this call (the library entry point, tests)
        return
    # The job's folder, then each one above it up to output_root that held only it (runs/<task>/, runs/,
    # output_root): removing the first two alone left an empty outputs/runs/ in the working folder. Never a folder
    # outside output_root or one that holds the run dir; a folder with anything else in it stops the climb.
    root, run = Path(output_root).resolve(), run_dir.resolve()
    folder = hydra_dir.resolve()
    while folder.is_relative_to(root) and not run.is_relative_to(folder) and folder != Path.cwd().resolve():
        try:
            folder.rmdir()
        except OSError:  # not empty (someone's files), or already gone
            return
        folder = folder.parent


def refuse_job_chdir() -> None:
    """``hydra.job.chdir=true`` moves the process into Hydra's job folder before sdp reads the config: a relative
    ``output_dir``, ``cache_dir`` or data file then resolved inside that folder, and the run's line named
    ``run dir out`` where no ``out`` was (probe round 16, k11). sdp resolves every path against the folder the
    command runs from, so the setting is refused before anything is written."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized() and HydraConfig.get().job.get("chdir"):
        raise ConfigError("hydra.job.chdir=true is not supported: sdp resolves output_dir, cache_dir and data files "
                          "against the folder you run from, and would write into Hydra's job folder instead; leave "
                          "hydra.job.chdir unset (to choose the run's folder: output_dir=<dir> or hydra.run.dir=<dir>)")


def resolve_run_dir(cfg: DictConfig) -> Path:
    """``output_dir`` if set, else the Hydra job's output directory (made of output_root as a local path, a
    ``file://`` URL's too: sdp_local_root in conf/config.yaml)."""
    if cfg.get("output_dir"):
        return Path(cfg.output_dir)
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def in_multirun() -> bool:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:  # noqa: BLE001 - outside Hydra
        return False


def is_main_process() -> bool:
    """Rank 0 of an ``accelerate launch`` (environment only: the failure may precede the Accelerator)."""
    return launcher_rank() == 0


def completed_runs(output_root: str | Path, chash: str, seed: int, exclude: Path | None = None,
                   made_by: Callable[[dict], bool] | None = None) -> Iterator[Path]:
    """Run directories under ``output_root`` whose metrics.json is completed with this hash and seed, on as many
    processes as this launch, made by any code (``made_by``: only the records it accepts, e.g. same_code), lazily:
    each candidate's model/ is hashed (missing_weights) only once its cheap fields match, and a caller that wants the
    first one hashes no more."""
    root, excluded = Path(output_root), (exclude.resolve() if exclude is not None else None)
    if not root.is_dir():
        return
    for path in sorted(root.rglob("metrics.json")):
        if (excluded is not None and path.parent.resolve() == excluded) or is_moved_aside(path, root):
            continue  # a restarted run's old files are not a completed run of this config
        metrics = read_metrics(path.parent)
        if (metrics and metrics.get("status") == "completed" and metrics.get("config_hash") == chash
                and metrics.get("seed") == seed and same_world_size(metrics)
                and (made_by is None or made_by(metrics)) and missing_weights(path.parent) is None):
            yield path.parent  # (a twin whose model/ lost its weights is no completed run)


def find_completed(output_root: str | Path, chash: str, seed: int, exclude: Path | None = None,
                   any_code: bool = False) -> Path | None:
    """The first of completed_runs made by this code (by any code with ``any_code``: reuse=any_code)."""
    return next(completed_runs(output_root, chash, seed, exclude, None if any_code else same_code), None)


def check_data_outside(run_dir: Path, cfg: DictConfig) -> None:
    """A run folder never holds the data it reads: resume=false (and a restart after a dead run) moves every file of
    the run folder into previous-<time>/, so output_dir=<the GLUE task's folder> moved train.tsv and dev.tsv away,
    then failed with "data file '.../train.tsv' does not exist" (probe round 15, o03d). A run folder inside the data
    folder, beside the task's files, is fine. Refused as a refusal is: nothing is recorded in the user's folder."""
    here = run_dir.expanduser().resolve()
    for path in _data_paths(cfg):
        if path == here or here in path.parents:
            raise RunHoldsDataError(f"output_dir {str(run_dir)!r} holds data this run reads ({str(path)!r}): a run "
                                    "folder's files are moved aside as a whole (resume=false, a restart), the data "
                                    "with them; give an output_dir outside the data's folder (copy a model it holds "
                                    "elsewhere first)")


def _data_paths(cfg: DictConfig) -> list[Path]:
    """The task's data: its custom files, else its folder under the local data folder (the whole data folder when
    the task's cannot be found there: the loader says why, later); and the local model folders the run reads. A
    dense.checkpoint, teacher or model.pretrained inside the run folder was moved aside by resume=false too, then
    "does not exist" (or a Hub traceback for model.pretrained) blamed the user's path (probe round 18, a01-a03)."""
    from sdp.crosslingual import resolve_task
    from sdp.data.glue_local import find_task_dir
    from sdp.data.loading import resolve_data_dir

    task = cfg.get("task") or {}
    paths = [Path(str(task.get(key))).expanduser() for key in ("train_file", "validation_file", "test_file")
             if task.get(key)]
    models = [config_value(cfg, key) for key in ("dense.checkpoint", "prune.teacher_checkpoint", "prune.reference_mask",
                                         "model.pretrained")]
    paths += [Path(str(m)).expanduser() for m in models if m and Path(str(m)).expanduser().exists()]
    try:
        root = resolve_data_dir(cfg.get("data_dir"))
    except Exception:  # noqa: BLE001 - a data folder that does not exist is the data loader's error, said there
        root = None
    if root is not None and task.get("name") != "custom":
        try:
            paths.append(find_task_dir(resolve_task(task), root))
        except Exception:  # noqa: BLE001 - as above
            paths.append(root)
    return [p.resolve() for p in paths]


def run_job(cfg: DictConfig) -> dict[str, Any] | None:
    """Run one job; its metrics, or None for a failed job of a multirun (a single run re-raises)."""
    from sdp.data.locations import local_config
    from sdp.gpu_placement import place_swept_job
    from sdp.validate import validate_config

    refuse_job_chdir()  # before any path of the config is resolved (the process is already in Hydra's folder)
    # file:// values as their paths, once Hydra has read them: output_dir=file:///tmp/x wrote the run to ./file:/tmp/x
    # (probe round 48, fw_od, fw_run); decoded back into the command line, `%2C` made a sweep (round 49, pc_sw)
    try:
        local_config(cfg)
    except DataError:  # Hydra's folder for the job was left behind, empty (probe round 50, run_nul)
        from sdp.config import local_root

        drop_hydras_empty_folder(Path("/"), local_root(cfg.output_root))
        raise
    hold_warnings()  # the checks' warnings before run.log opens go into it (and the record's `warnings`) when it does
    run_dir = resolve_run_dir(cfg)
    drop_hydras_empty_folder(run_dir, cfg.output_root)
    _note("running", run_dir)  # replaced as the job ends; a job whose process dies is told by it (local_launch.py)
    recorded = None  # the failure already recorded under this job's lock (or tried: then never again)
    said = None  # what this job's failure record says (led by another rank's cause: sdp/run/rank_notes.py)
    try:
        if in_multirun():
            check_unchanged()  # code edited while the sweep ran: refused, not run in part under one identity
        rank_console(launcher_rank())  # ranks > 0: errors only, on stderr, tagged with the rank (the checks' too)
        validate_config(cfg)  # before the folder is touched and before torch is imported
        check_data_outside(run_dir, cfg)
        # Several launched processes: join them (gloo without a GPU; an error if fewer joined than were
        # launched) and take rank 0's run directory, whatever each process's own template resolved to.
        run_dir = join_processes(cfg, run_dir, resume_identity(cfg))  # every rank must run rank 0's config
        prepare_run_dir(run_dir)  # writable (a read-only one is said as such: not "holds files")
        check_no_users_files(run_dir)
        # One owner per run folder for the whole run: a second run into it is refused at once, and
        # writes nothing there (not even run.log, which is attached only once the lock is held).
        with contextlib.ExitStack() as held:
            refusal = None
            try:
                held.enter_context(run_lock(run_dir, enabled=is_main_process()))  # rank 0 takes it...
            except RunLockedError as exc:
                refusal = str(exc)
            refusal = from_main_process(refusal)  # ...and every rank learns whether it got it
            if refusal is not None:
                raise RunLockedError(refusal)
            apply_launcher_settings(cfg)  # mixed_precision "inherit" resolved; conflicting accumulation refused
            # resume=false: the previous run's files move aside (only once the launch is known to be sound) before
            # run.log opens, which would move too.
            moved = move_aside(run_dir) if not cfg.resume and is_main_process() else None
            # This config's completed run made by other code is not this command's result: it moves aside too.
            other_code = set_aside_other_code(run_dir, cfg) if cfg.resume and is_main_process() else None
            if is_main_process():
                clear_launch_error(run_dir)  # a launch that failed before its run started: nothing to keep
            dead = set_aside_dead_run(run_dir, cfg) if cfg.resume and is_main_process() else None
            held.enter_context(job_log(run_dir, is_main_process()))
            if moved is not None:
                log.warning("resume=false: the previous run's files were moved to %s", moved)
            if other_code is not None:
                log.warning("%s", other_code)
            if dead is not None:
                log.warning("the run that was here left no checkpoint to resume from (or no intact result): its "
                            "files were moved to %s and the run starts over", dead)
            if (alone := single_process_line()) is not None:
                log.warning("%s", alone)  # in run.log too: the record's world_size 1 was not what was asked for
            placed = place_swept_job()  # hydra/launcher=gpu: this job's GPU and CPU threads
            if placed is not None:
                log.info("hydra/launcher=gpu: job placed on %s", placed)
            try:
                metrics = _run_locked(cfg, run_dir)
                _note("completed", run_dir)
                return metrics
            except REFUSALS:
                raise  # a refusal records nothing (below)
            except Exception as exc:
                said = record_failure(run_dir, cfg, exc, lock_held=True)
                recorded = exc
                raise
    except REFUSALS as exc:
        if not in_multirun():
            raise  # the folder belongs to another run: record nothing in it
        log.error("job refused (nothing recorded in %s), the sweep goes on: %s: %s", run_dir, type(exc).__name__, exc)
        _note("refused", run_dir, exc)
        return None
    except Exception as exc:
        if exc is not recorded:  # found before the lock was taken (a config error), or on releasing it
            said = record_failure(run_dir, cfg, exc)
        if in_multirun():
            where = f"recorded in {run_dir}" if was_recorded(run_dir, said) else f"not recorded in {run_dir}: see above"
            log.error("job failed (%s), the sweep goes on: %s: %s", where, type(exc).__name__, exc)
            _note("failed", run_dir, exc, said)
            return None
        raise
    finally:
        drop_held_warnings()  # a job refused before its run.log opened
        reset_accelerator_state()  # the next job of a multirun may use another mixed precision


def _note(status: str, run_dir: Path, error: BaseException | None = None, said: str | None = None) -> None:
    """How this job of a multirun ended, for the sweep's outcome at its end (sdp/sweep_outcome.py); ``said``: its
    failure as recorded (record_failure), else the error itself."""
    if in_multirun() and is_main_process():
        from sdp.sweep_outcome import note_job

        note_job(status, run_dir, error, said)


def _run_locked(cfg: DictConfig, run_dir: Path) -> dict[str, Any] | None:
    if cfg.resume:
        check_resumable(run_dir, cfg)  # another config's run here, unfinished or completed: refused, nothing touched
        check_same_code(run_dir, cfg)  # an unfinished run started by other code: refused (reuse=any_code resumes it)
        own = completed_here(run_dir, cfg)  # this config's, on this data (else refused): returned, nothing written
        if own is not None:  # made by other code (reuse=any_code): said as such (round 30, noticed)
            other = cfg.get("reuse") == "any_code" and not same_code(own)
            log.log(logging.WARNING if other else logging.INFO, "run %s already completed%s: returning its metrics.json",
                    run_dir, f" by {describe(own)} (reuse=any_code), not by this code" if other else "")
            return own
        chash, seed = run_identity(cfg)
        any_code = cfg.get("reuse", "same_code") == "any_code"
        done = find_completed(cfg.output_root, chash, seed, exclude=run_dir, any_code=any_code)
        other = None if done is not None else next(completed_runs(cfg.output_root, chash, seed, exclude=run_dir), None)
        if other is not None:
            log.warning("not skipping to %s: completed by other code (%s); this run is made by this code "
                        "(reuse=any_code would skip to it)", other, describe(read_metrics(other)))
        if done is not None:
            metrics = json.loads((done / "metrics.json").read_text())
            verify_completed_data(metrics, cfg, f"the completed run in {str(done)!r}",
                                  (read_run_record(done) or {}).get("model_folders"))
            log.warning(
                "skipping %s: completed already in %s (config_hash %s, seed %s; dense main %s -> final "
                "main %s). resume=false runs it again.", run_dir, done, chash, seed,
                metrics.get("dense", {}).get("main"), metrics.get("final", {}).get("main"),
            )
            if is_main_process():
                write_json(run_dir / "skipped.json", {"completed_in": str(done), "config_hash": chash,
                                                      "seed": seed})
            return metrics
    if is_main_process() and not (run_dir / RUN_RECORD).exists():
        # A fresh folder is this run's from now on (its .hydra/config.yaml too). An unfinished run's record is
        # rewritten only once its data is known to be the same (record_data, in the recipe's setup).
        write_run_record(run_dir, cfg)
    from sdp.recipe import train_run  # torch and transformers load here, after every cheap check (made once)

    with stop_between_stages(run_dir, is_main_process()):  # evaluation, prefill, saving: status + resumable
        return train_run(cfg, run_dir)

