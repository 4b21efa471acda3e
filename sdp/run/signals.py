"""Signals outside the training loop: evaluation, teacher prefill, saving.

Inside a training stage the checkpointer's handlers finish the update in progress, checkpoint and stop
(sdp/training/checkpoint.py); they restore these when the stage ends. Everywhere else there is no
update to finish, so the stop signals (sdp/run/preemption.py) stop the run at once: the newest checkpoint (written at
the end of every stage, before its evaluation) is the resumable state, and metrics.json says
``status: interrupted`` with the phase, so a re-run with the same run directory continues from it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path


class PhaseInterrupted(SystemExit):
    """A stop signal outside a training stage; the exit code is 128 + the signal number."""


@contextlib.contextmanager
def stop_between_stages(run_dir: str | Path, main_process: bool = True) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise PhaseInterrupted(128 + signum)

    from sdp.run.preemption import stop_signals  # one list: SIGTERM, SIGINT, submitit's signal

    previous = {sig: signal.signal(sig, handler) for sig in stop_signals()}
    handler.replaced = previous  # so a stage's handler can still find submitit's (preemption.py)
    try:
        yield
    except PhaseInterrupted as stop:
        signum = int(stop.code) - 128
        if main_process:
            _record(Path(run_dir), signal.Signals(signum).name)
        else:  # rank 0 records it, not its own error that follows (probe round 39, d3)
            from sdp.run.rank_notes import STOPPED_BY_SIGNAL, note_rank_stop

            note_rank_stop(run_dir, f"{STOPPED_BY_SIGNAL}{signal.Signals(signum).name} outside a training stage")
        from sdp.run.preemption import requeue_handler

        requeue = requeue_handler(handler)
        if requeue is not None and signum != signal.SIGINT:  # submitit launched the job: requeue, it exits
            requeue(signum, None)
        raise
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


def _record(run_dir: Path, name: str) -> None:
    from sdp.io import write_json
    from sdp.run.rundir import has_checkpoint, read_metrics

    if (read_metrics(run_dir) or {}).get("status") == "completed":
        return  # it finished before the signal landed
    # before any checkpoint (setup): "the newest checkpoint holds every finished stage" of none (round 40, ks1)
    msg = (f"interrupted by {name} outside a training stage (setup, evaluation, teacher prefill or saving); " + (
        "the newest checkpoint holds every finished stage" if has_checkpoint(run_dir) else
        "no checkpoint was written yet: the next launch starts the run over"))
    write_json(run_dir / "metrics.json", {"status": "interrupted", "error": msg, "phase": "between updates"})
    (run_dir / "error.txt").unlink(missing_ok=True)  # an earlier launch's failure: not this record's (round 42, er2)
