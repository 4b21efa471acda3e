"""A run's failure, recorded in its folder: error.txt (the traceback) and metrics.json (status failed), by rank 0,
led by what stopped another rank first (sdp/run/rank_notes.py). Moved out of sdp/sweep.py, which runs the job."""

from __future__ import annotations

import contextlib
import logging
import traceback
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from sdp.io import atomic_write, write_json
from sdp.run.launch import launcher_rank
from sdp.run.lock import RunLockedError, run_lock
from sdp.run.rank_notes import note_rank_stop, stopped_by_signal, with_peer_stops
from sdp.run.rundir import RUN_RECORD, RunHoldsDataError, read_metrics, run_identity, run_started
from sdp.run.users_files import check_no_users_files

log = logging.getLogger("sdp")


def record_failure(run_dir: Path, cfg: DictConfig, exc: BaseException, lock_held: bool = False) -> str | None:
    """error.txt (traceback) + metrics.json (status failed), atomically, under the folder's lock: a completed
    run is never touched, and neither is a folder another live run holds (a config error is found before
    this job's lock is taken, so the folder may be someone else's). ``lock_held``: this job holds it (a failure
    during the run is recorded before the lock is released, so no other job can take the folder in between).
    Returns what it says of the failure (rank 0; None on the other ranks), recorded or not."""
    # a rank > 0's cause, said in the run folder for rank 0 to record (sdp/run/rank_notes.py): only in a folder this
    # launch holds (its notes cleared), not in another live run's, nor read there (review of round 39's merge)
    if launcher_rank() != 0:
        if lock_held:
            note_rank_stop(run_dir, f"{type(exc).__name__}: {exc}")
        return None
    message = f"{type(exc).__name__}: {exc}"
    if lock_held:
        message = with_peer_stops(run_dir, message)
    if lock_held and not run_dir.is_dir():  # removed while the run went on: not made anew for error.txt alone
        log.error("%s not recorded: the run folder %s no longer exists", message, run_dir)
        return message
    if not lock_held:  # found before the run took the folder (a config error): no record among the user's files, which
        try:  # would make it a run's folder, moved aside by the next launch (review of round 42's fixes)
            check_no_users_files(run_dir)
        except RunHoldsDataError as err:
            log.error("%s not recorded in %s: %s", message, run_dir, err)
            return message
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.nullcontext() if lock_held else run_lock(run_dir):
            _write_failure(run_dir, cfg, exc, message, lock_held)
    except RunLockedError:
        log.error("%s not recorded in %s: the folder is in use by another run", message, run_dir)
    except OSError as err:  # e.g. the read-only run directory that caused the failure
        log.error("could not record the failure in %s: %s", run_dir, err)
    return message


def was_recorded(run_dir: Path, said: str | None) -> bool:
    """Whether the run folder's metrics.json holds the failure ``said`` (record_failure's return): a sweep said "recorded
    in <folder>/error.txt" of a failure not written there (another run's folder, the user's files: review)."""
    return said is not None and (read_metrics(run_dir) or {}).get("error") == said


def _write_failure(run_dir: Path, cfg: DictConfig, exc: BaseException, message: str, lock_held: bool) -> None:
    existing = read_metrics(run_dir)
    if existing and existing.get("status") == "completed":
        return
    # An error found before this job took the folder (a config error) is not this folder's run's failure: it
    # replaces no record of a run that got that far (run.json; an unfinished or interrupted metrics.json).
    if not lock_held and ((run_dir / RUN_RECORD).exists() or (existing and existing.get("status") != "failed")):
        log.error("%s not recorded in %s: the folder holds another run's record", message, run_dir)
        return
    # rank 0's error is another rank's stop signal: resumable, as rank 0's own signal is; no error.txt beside it (its
    # gloo traceback was what sdp-tables showed of the run: review of round 42's fixes), nor an earlier launch's
    if lock_held and stopped_by_signal(run_dir, f"{type(exc).__name__}: {exc}"):
        write_json(run_dir / "metrics.json", {"status": "interrupted", "error": message, "phase": "between updates"})
        (run_dir / "error.txt").unlink(missing_ok=True)
        return
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    atomic_write(run_dir / "error.txt", lambda p: p.write_text(text))
    record: dict[str, Any] = {"status": "failed", "error": message, "error_type": type(exc).__name__,
                              # Not started (a config error, missing data, a model that does not load; rundir.py):
                              # sdp-tables counts no failed run here (sdp/report/not_runs.py), and the next launch
                              # reuses the folder silently (rundir.clear_launch_error)
                              "before_run": not run_started(run_dir)}
    for key, dotted in (("task", "task.name"), ("model", "model.name"), ("regularizer", "regularizer.name"),
                        ("seed", "seed"), ("target_sparsity", "sparsity")):
        record[key] = config_value(cfg, dotted)
    try:
        record["config_hash"] = run_identity(cfg)[0]
    except Exception:  # noqa: BLE001 - an unresolvable config is itself the error
        pass
    write_json(run_dir / "metrics.json", record)


def config_value(cfg: DictConfig, dotted: str) -> Any:
    """``cfg``'s value at ``dotted`` (None where a part is missing), as a plain value (else its text)."""
    node: Any = cfg
    for part in dotted.split("."):
        try:
            node = node.get(part) if node is not None else None
        except Exception:  # noqa: BLE001
            return None
    return node if isinstance(node, (str, int, float, bool)) or node is None else str(node)
