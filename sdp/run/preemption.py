"""Stop signals inside a training stage, and the exit that gets a preempted job requeued.

    signals = StopSignals()
    with signals.installed():          # SIGTERM, SIGINT, SIGUSR2, SIGHUP, SIGQUIT: only set a flag
        ... after each update: if signals.received: checkpoint, then raise signals.hand_over(message)

Which signals: SIGTERM (SLURM preemption, ``scancel``, a container stop), SIGINT (Ctrl-C), SIGHUP (a closed
terminal or ssh session, unless ``nohup`` ignores it), SIGQUIT (Ctrl-\\) and SIGUSR2
(what submitit, the SLURM launcher behind ``hydra/launcher=slurm``, sends ``signal_delay_s`` before
the time limit; ``SUBMITIT_PREEMPT_SIGNAL`` can rename it). A handler only records the signal; the
training loop finishes the update in progress, every rank writes the checkpoint, then
:meth:`StopSignals.hand_over`.

How the job is requeued: submitit installs its own handler for its preemption signal at job start
(``submitit.core.job_environment.SignalHandler.checkpoint_and_try_requeue``). Called at once, it would
requeue in the middle of an update, with no checkpoint. So ours replaces it for the stage, and
:meth:`StopSignals.hand_over` calls submitit's handler only after the checkpoint is on disk: submitit then
pickles the same Hydra job again (the launcher's ``checkpoint()``), requeues it (``scontrol requeue``;
exit code 144 for the local executor), and exits. The requeued job composes the same config into the
same run directory, and the checkpointer resumes there. ``max_num_timeout`` in
conf/hydra/launcher/slurm.yaml bounds the requeues after a time-out (preemptions do not count).

Outside submitit nothing requeues by itself: the process exits with 128 + the signal number (143 for
SIGTERM, 140 for SIGUSR2) and ``metrics.json`` says ``interrupted``; re-running the command resumes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger("sdp")


def _launcher_signal() -> int:
    """submitit's preemption / time-limit signal (SIGUSR2 unless ``SUBMITIT_PREEMPT_SIGNAL`` renames it)."""
    return getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"), signal.SIGUSR2)


# A closed terminal or ssh session (SIGHUP) and Ctrl-\ (SIGQUIT) stop a run as Ctrl-C does: their default action
# ended it at once, losing the stage's updates since its last checkpoint (probe round 40). A process started to
# ignore one (``nohup`` ignores SIGHUP) keeps ignoring it: that was the user's choice.
TERMINAL_SIGNALS = (signal.SIGHUP, signal.SIGQUIT)


def terminal_signals() -> tuple[int, ...]:
    return tuple(sig for sig in TERMINAL_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN)


def stop_signals() -> tuple[int, ...]:
    return tuple(dict.fromkeys((signal.SIGTERM, signal.SIGINT, signal.SIGUSR2, _launcher_signal(), *terminal_signals())))


class RunInterrupted(SystemExit):
    """A stop signal: the run checkpointed and stops; re-run with the same run directory to resume."""


def requeue_handler(handler) -> Callable | None:
    """submitit's requeue entry point if ``handler`` is its preemption handler, else None. A handler of
    ours that replaced another (``handler.replaced``: signal -> previous handler, as the between-stages
    handler of sdp/run/signals.py keeps) is looked through."""
    for _ in range(8):  # a short chain: submitit <- between stages <- inside a stage
        owner = getattr(handler, "__self__", None)
        requeue = getattr(owner, "checkpoint_and_try_requeue", None)
        if callable(requeue):
            return requeue
        handler = getattr(handler, "replaced", {}).get(_launcher_signal())
        if handler is None:
            return None
    return None


class StopSignals:
    """Records stop signals while installed; :meth:`exit` stops the run the way its launcher expects."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals can only be trapped on the main thread
            return

        def handler(signum, frame):
            if self.received is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt  # a second Ctrl-C stops at once
            self.received = signum
            log.warning("received %s: checkpointing after this optimizer update, then stopping",
                        signal.Signals(signum).name)

        self._previous = {sig: signal.signal(sig, handler) for sig in stop_signals()}
        try:
            yield self
        finally:
            for sig, previous in self._previous.items():
                signal.signal(sig, previous)

    def hand_over(self, message: str) -> RunInterrupted:
        """Called once the checkpoint is written: requeue through submitit if it launched this job (which
        exits there), else return the :class:`RunInterrupted` (exit code 128 + signal) to raise."""
        signum = self.received or signal.SIGTERM
        requeue = requeue_handler(self._previous.get(_launcher_signal()))
        if requeue is not None:
            log.warning("%s: asking submitit to requeue this job; it resumes from the checkpoint", message)
            # Requeues and exits on the job's rank 0; returns on the others, which then stop below.
            requeue(signum, None)
        else:
            # The default run directory is named by the config (conf/config.yaml): the same command finds it.
            log.warning("%s: run the same command again (or with output_dir=<this run's folder>) to resume", message)
        return RunInterrupted(128 + int(signum))
