"""What the parent process of a multirun does: pass a stop signal on to its jobs, and say how they ended.

**Stop signals.** ``hydra/launcher=local`` runs the jobs in joblib worker processes. A terminal's Ctrl-C
reaches them (one process group), but a ``kill <pid>`` of the parent, a process manager or ``timeout`` stops
only the parent, and the orphaned workers trained on. So the parent passes SIGTERM (and SIGUSR2) to its child
processes, whose runs checkpoint and stop as ``interrupted`` (sdp/training/preemption.py); the sweep then ends
with that (exit 128 + signal) and joblib shuts its workers down. Other launchers run the jobs in the parent itself, or in processes a scheduler
signals (submitit): nothing is forwarded there.

**Outcome.** Hydra exits 0 after a multirun whatever its jobs did, and a failed job of a sweep does not stop
the others (sdp/sweep.py). So each job notes how it ended in ``<sweep dir>/.sdp-jobs/<job number>.json``
(completed, failed or refused), and at the end of the sweep the parent logs the counts with every failed or
refused job's folder, and exits 1 when there is one, so that a script, CI or a scheduler notices. A search (a
sweeper other than Hydra's basic one, e.g. Optuna) keeps exit 0: a failed trial is part of a search, and its
result is the best trial's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sdp.io import write_json

log = logging.getLogger("sdp")
JOBS_DIR = ".sdp-jobs"  # under the sweep dir: one small file per job, so parallel jobs never share a file
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
FORWARDED = ("SIGTERM", "SIGUSR2")


def note_job(status: str, run_dir: Path, error: BaseException | None = None) -> None:
    """Called by a job of a multirun as it ends (main process only; nothing outside a multirun)."""
    from hydra.core.hydra_config import HydraConfig

    hydra = HydraConfig.get()
    record = {"job": hydra.job.num, "status": status, "run_dir": str(run_dir),
              "error": f"{type(error).__name__}: {error}"[:500] if error is not None else None}
    write_json(Path(hydra.sweep.dir) / JOBS_DIR / f"{hydra.job.num}.json", record)


def read_jobs(sweep_dir: Path, since: float) -> list[dict[str, Any]]:
    """The job notes written since ``since`` (a re-launched sweep overwrites its jobs' notes), by job number."""
    notes = []
    for path in sorted((sweep_dir / JOBS_DIR).glob("*.json")) if (sweep_dir / JOBS_DIR).is_dir() else []:
        try:
            if path.stat().st_mtime >= since:
                notes.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(notes, key=lambda note: note.get("job", 0))


def child_processes(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, from /proc (empty where there is none: not Linux)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # "<pid> (<name>) <state> <ppid> ...": the name may hold spaces and parentheses, so split after it
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(stat.parent.name))
    return sorted(children)


def forward_to_children(signum: int, frame: Any, previous: Any) -> None:
    """Pass ``signum`` on to this process's children and go on: their runs checkpoint and end as interrupted,
    joblib hands that back here, and the sweep ends with it (exit 128 + signal), shutting its workers down. A
    second signal acts as before this handler was installed (at once)."""
    for child in child_processes(os.getpid()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, signum)
    signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
    log.warning("%s passed on to the sweep's job processes: the sweep stops once their runs have checkpointed "
                "(a second %s stops it at once)", signal.Signals(signum).name, signal.Signals(signum).name)


class MultirunParent(Callback):
    """The parent's duties in a multirun (above): forward stop signals to joblib workers, report the outcome."""

    def __init__(self) -> None:
        self.started = time.time()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.started = time.time() - 1.0  # file times may be coarser than time.time()
        if "joblib" in str(config.hydra.launcher.get("_target_", "")):
            for name in FORWARDED:
                previous = signal.getsignal(getattr(signal, name))
                signal.signal(getattr(signal, name),
                              lambda signum, frame, previous=previous: forward_to_children(signum, frame, previous))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        notes = read_jobs(Path(config.hydra.sweep.dir), self.started)
        bad = [n for n in notes if n.get("status") in ("failed", "refused")]
        counts = {s: sum(n.get("status") == s for n in notes) for s in ("completed", "failed", "refused")}
        log.info("sweep: %d jobs noted: %s", len(notes), ", ".join(f"{v} {k}" for k, v in counts.items()))
        for note in bad:
            log.error("  job %s %s in %s: %s", note.get("job"), note.get("status"), note.get("run_dir"),
                      note.get("error"))
        if bad and config.hydra.sweeper.get("_target_") == BASIC_SWEEPER:
            print(f"sdp-run: error: {len(bad)} of {len(notes)} jobs of the sweep failed or were refused "
                  f"(listed above; failures are in each folder's error.txt)", file=sys.stderr)
            raise SystemExit(1)
