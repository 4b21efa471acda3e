"""hydra/launcher=local (and =gpu): every job of a sweep in its own process, ``n_jobs`` at a time.

Hydra's joblib launcher ran the jobs in a loky pool, and the death of one worker (SIGKILL, as the out-of-memory
killer sends) broke the pool: every other job was lost with it (``TerminatedWorkerError``), no job wrote its
metrics.json and the sweep printed no outcome. Here each job is a process of its own, forked from the sweep's
process (which has imported neither torch nor any data: a fork is cheap and safe there), and the sweep only waits
on them. A job whose process dies is noted ``killed`` in ``<sweep dir>/.sdp-jobs/`` (sdp/sweep_outcome.py lists
it and exits 1) and the others run on. Its folder keeps its last checkpoint and its lock died with it, so the
same sweep command, launched again, resumes it (and returns the completed jobs without running them).

A stop signal to the sweep's process (SIGTERM, SIGUSR2) is passed on to the running jobs, which checkpoint and
stop; Ctrl-C, Ctrl-\\ and a closed terminal (SIGINT, SIGQUIT, SIGHUP) reach them from the terminal itself. No job
starts after that, and the sweep exits as a run does (128 + the signal): the same command resumes it. A stop signal
to one job's process alone stops that job (after a checkpoint) and is noted as its death is: the other jobs run on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from omegaconf import OmegaConf, open_dict

from sdp.io import write_json
from sdp.run.code import code_identity
from sdp.run.lock import LOCK_NAME
from sdp.run.preemption import terminal_signals
from sdp.sweep_outcome import FINAL_STATUSES, JOBS_DIR, LAUNCH_ENV, this_launchs

KILLED = "killed"  # metrics.json status of a job whose process died (sdp-tables lists it with the failed runs)

log = logging.getLogger("sdp")
FORWARDED = (signal.SIGTERM, signal.SIGUSR2)  # Ctrl-C (SIGINT) reaches the jobs from the terminal itself


def jobs_at_once(n_jobs: Any) -> int:
    """joblib's meaning, kept: n >= 1 jobs at a time; -1 one per CPU, -2 all CPUs but one, ..."""
    try:
        n = int(n_jobs)
    except (TypeError, ValueError):
        n = 0
    if n == 0 or str(n) != str(n_jobs).strip():
        raise ValueError(f"hydra.launcher.n_jobs={n_jobs} must be a whole number >= 1 (jobs side by side), or -1 "
                         "for one per CPU")
    return n if n > 0 else max(1, (os.cpu_count() or 1) + 1 + n)


def _job(launcher: Any, num: int, overrides: Sequence[str], conn: Any) -> None:
    """In the job's process: what Hydra's joblib launcher does for a job, then the outcome back to the sweep."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the sweep's own handlers are not the job's
    for sig in FORWARDED:
        signal.signal(sig, signal.SIG_DFL)
    for sig, found in _Stop.found.items():  # SIGHUP, SIGQUIT: as the sweep found them (ignored under nohup); its
        signal.signal(sig, found)  # handler, inherited through the fork, dropped them in the job (review)
    try:
        setup_globals()
        config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(overrides))
        with open_dict(config):
            config.hydra.job.id = f"{config.hydra.job.name}_{num}"
            config.hydra.job.num = num
        HydraConfig.instance().set_config(config)
        ret = run_job(hydra_context=launcher.hydra_context, config=config, task_function=launcher.task_function,
                      job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
        outcome: tuple = ("returned", _plain(ret))
    except (SystemExit, KeyboardInterrupt) as exc:  # a stop signal (RunInterrupted: 128 + signal) or Ctrl-C
        code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 130
        outcome = ("stopped", code, f"{type(exc).__name__}: {exc}")
    except BaseException as exc:  # noqa: BLE001 - Hydra's job setup failed (its task's errors come back returned)
        outcome = ("raised", f"{type(exc).__name__}: {exc}"[:500])
    try:
        conn.send(outcome)
    except Exception as exc:  # noqa: BLE001 - a return value (or a failed job's exception) that does not pickle
        ret = outcome[1]
        ret.return_value = RuntimeError(f"job {num}: its result could not be sent to the sweep ({exc})")
        ret.status = JobStatus.FAILED
        conn.send(("returned", ret))


def _plain(ret: JobReturn) -> JobReturn:
    """The job's configs as plain DictConfigs: its structured ones hold classes made at run time (sdp/config.py),
    which pickle cannot send (loky used cloudpickle)."""
    for key in ("cfg", "hydra_cfg"):
        try:
            setattr(ret, key, OmegaConf.create(OmegaConf.to_container(getattr(ret, key), resolve=False)))
        except Exception:  # noqa: BLE001 - not needed by any sweeper: dropped rather than lose the result
            setattr(ret, key, None)
    return ret


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else f"signal {-exitcode}"
        oom = " (what the out-of-memory killer sends)" if -exitcode == signal.SIGKILL else ""
        return f"its process was killed by {name}{oom} before the job ended"
    return f"its process exited with code {exitcode} before the job ended"


def note_killed(sweep_dir: Path, num: int, started: float, why: str, pid: int | None = None,
                status: str = "killed") -> dict[str, Any]:
    """Note a dead job as ``killed``, with the run folder its own note gave (it notes ``running`` as it starts,
    sdp/sweep.py); a job that noted how it ended before its process died keeps that note. ``status="failed"``: a
    job whose setup raised before its task ran (``why`` is its error; nothing to resume, no record in a run folder)."""
    path = sweep_dir / JOBS_DIR / f"{num}.json"
    note: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        found = json.loads(path.read_text())
        if isinstance(found, dict) and this_launchs(found, path, started):  # not an earlier launch's note
            note = found
    if note.get("status") in FINAL_STATUSES:
        return note
    run_dir = note.get("run_dir")
    error = why if status == "failed" else \
        f"{why}; its folder keeps its last checkpoint: launch the same sweep again to resume it"
    note = {"job": num, "status": status, "run_dir": run_dir, "error": error, "launch": os.environ.get(LAUNCH_ENV)}
    write_json(path, note)
    if run_dir and status == "killed":
        record_killed(Path(run_dir), pid, note["error"])
    return note


def record_killed(run_dir: Path, pid: int, error: str) -> None:
    """``metrics.json`` with ``status: killed`` in the dead job's run folder, so that sdp-tables lists it among the
    runs that did not finish (it was missing: a folder with no record at all). Only in a folder whose lock the dead
    process held (``.sdp.lock`` names it: nothing was written in another run's folder) and that holds no record of
    how its run ended (completed, failed or interrupted); a relaunch resumes it from its checkpoint, as an
    interrupted run."""
    try:
        holder = json.loads((run_dir / LOCK_NAME).read_text() or "null")
        metrics = json.loads((run_dir / "metrics.json").read_text()) if (run_dir / "metrics.json").is_file() else {}
    except (OSError, ValueError):
        return
    if not isinstance(holder, dict) or holder.get("pid") != pid:
        return
    if isinstance(metrics, dict) and metrics.get("status") in ("completed", "failed", "interrupted"):
        return
    with contextlib.suppress(OSError):
        write_json(run_dir / "metrics.json", {"status": KILLED, "error": error})


class _Stop:
    """The sweep's own stop signals while it waits: start no more jobs, pass SIGTERM/SIGUSR2 on to the running
    ones (they checkpoint and stop), and leave at the end with 128 + the signal. A second Ctrl-C stops at once."""

    found: dict[int, Any] = {}  # the terminal signals' handlers before the sweep's, for its jobs (``_job``)

    def __init__(self, running: dict[int, tuple]) -> None:
        self.running, self.signum, self.pid = running, None, os.getpid()

    def __call__(self, signum: int, frame: Any) -> None:
        if os.getpid() != self.pid:
            return  # a job just forked, before it set its own handlers
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum
        log.warning("sweep: received %s: no more jobs start; the running ones checkpoint and stop",
                    signal.Signals(signum).name)
        if signum in FORWARDED:
            for _, proc, _, _ in self.running.values():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signum)

    @contextlib.contextmanager
    def installed(self):
        # SIGHUP and SIGQUIT, like Ctrl-C, reach the jobs from the terminal itself (sdp/run/preemption.py)
        terminal = terminal_signals()  # not those the sweep was started to ignore (nohup)
        previous = {sig: signal.signal(sig, self) for sig in (signal.SIGINT, *FORWARDED, *terminal)}
        _Stop.found = {sig: previous[sig] for sig in terminal}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    setup_globals()
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    try:
        n_jobs = jobs_at_once(launcher.n_jobs)
    except ValueError as err:  # before any job starts: one line, as a config error of a run (joblib: a traceback)
        print(f"sdp-run: error: ConfigError: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    log.info("sweep of %d jobs, %d at a time, each in its own process; sweep output dir: %s",
             len(job_overrides), n_jobs, sweep_dir)
    for idx, overrides in enumerate(job_overrides):
        log.info("\t#%d : %s", initial_job_idx + idx, " ".join(filter_overrides(overrides)))
    code_identity()  # taken here, once: every job forked below inherits it with the modules imported so far
    context = multiprocessing.get_context("fork")
    pending = list(enumerate(job_overrides))
    running: dict[int, tuple] = {}  # sentinel -> (index, process, pipe, start time)
    results: dict[int, JobReturn] = {}
    stopped_with: int | None = None
    with _Stop(running).installed() as stop:
        while pending or running:
            while pending and len(running) < n_jobs and stop.signum is None and stopped_with is None:
                idx, overrides = pending.pop(0)
                receive, send = context.Pipe(duplex=False)
                started = time.time() - 1.0  # file times may be coarser than time.time()
                proc = context.Process(target=_job, args=(launcher, initial_job_idx + idx, overrides, send),
                                       name=f"sdp-job-{initial_job_idx + idx}")
                proc.start()
                send.close()  # the job holds the only writing end: its death is an end of file here
                running[proc.sentinel] = (idx, proc, receive, started)
            if not running:
                break
            pipes = {entry[2]: sentinel for sentinel, entry in running.items()}
            for ready in wait([*running, *pipes]):
                sentinel = pipes.get(ready, ready)
                if sentinel not in running:
                    continue  # its pipe and its sentinel were both ready
                idx, proc, receive, started = running.pop(sentinel)
                outcome = _receive(receive)
                proc.join()
                receive.close()
                num = initial_job_idx + idx
                if outcome is not None and outcome[0] == "returned":
                    results[idx] = outcome[1]
                    continue
                if outcome is not None and outcome[0] == "raised":
                    # Failed before its task ran: a failed job with its own error, not a signal (nothing was).
                    note = note_killed(sweep_dir, num, started, outcome[1], proc.pid, status="failed")
                    log.error("job %d failed: %s", num, outcome[1])
                elif outcome is not None and stop.signum is None:
                    # A stop signal to this job's process alone (`kill <pid>`; the sweep itself got none): that job
                    # checkpointed and stopped, and the others go on, as for a job killed outright. It stopped the
                    # whole sweep, with no outcome and its note left "running" (probe round 9).
                    note = note_killed(sweep_dir, num, started, f"its process was stopped by a signal to it alone "
                                       f"({outcome[2]}), after a checkpoint", proc.pid)
                    log.error("job %d %s in %s: %s", num, note["status"], note.get("run_dir"), note.get("error"))
                elif outcome is not None:  # the sweep was stopped (its jobs got the signal): it stops too
                    stopped_with = stopped_with or outcome[1]
                    log.warning("job %d stopped (%s): no more jobs start", num, outcome[2])
                else:
                    note = note_killed(sweep_dir, num, started, _death(proc.exitcode), proc.pid)
                    log.error("job %d %s in %s: %s", num, note["status"], note.get("run_dir"), note.get("error"))
                results[idx] = JobReturn(overrides=list(job_overrides[idx]), status=JobStatus.COMPLETED,
                                         _return_value=None)  # a sweeper counts it failed (Optuna: a failed trial)
    code = 128 + stop.signum if stop.signum is not None else stopped_with
    if code is not None:
        log.warning("sweep stopped: %d job(s) not started; launch the same command again to resume it",
                    len(pending))
        raise SystemExit(code)
    return [results[idx] for idx in range(len(job_overrides))]


def _receive(pipe: Any) -> tuple | None:
    """The job's outcome, or None when it died first (an end of file, or a message cut off by its death)."""
    try:
        return pipe.recv() if pipe.poll() else None
    except (EOFError, OSError):
        return None
    except Exception as exc:  # noqa: BLE001 - sent whole but not readable here: said, and counted as lost
        log.error("a job's result could not be read: %s", exc)
        return None
