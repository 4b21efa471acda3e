"""Who writes which log: one run.log per job, by the main process only; a resumed trace without repeats.

    with job_log(run_dir, main_process):   # sdp/sweep.py, around one Hydra job
        ...                                # the "sdp" logger's records of this job land in run_dir/run.log

* **One run.log per job.** A Hydra multirun calls every job in one process; a file handler left on the
  ``sdp`` logger would copy job 2's lines into job 1's run.log. :func:`attach_run_log` removes any other
  run.log handler first, and :func:`job_log` closes its own when the job ends.
* **Only the main process writes run.log.** The other ranks of a DDP run keep their errors, on stderr, each
  line tagged with its rank (:func:`rank_console`); their info lines and warnings repeat rank 0's (a warning is
  about the config, the data, a model folder or the run folder, which every rank reads alike: each was printed
  once per process, session 18's noticed).
* **trace.jsonl on resume.** Records written after the checkpoint a run resumes from (the updates
  between that checkpoint and the kill) are redone by the resumed run. The checkpoint stores the trace's
  length (:func:`trace_size`), and a resume cuts the file back to it (:func:`truncate_trace`), so no
  (stage, step) record appears twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("sdp")
RUN_LOG = "run.log"
FORMAT = "%(asctime)s %(levelname)s %(message)s"
# A line FORMAT starts (logging's asctime, then the level); a message's further lines do not start so.
_RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def starts_a_record(line: str) -> bool:
    """Whether ``line`` begins a record sdp logs (FORMAT): run.log's first line tells sdp's from another tool's."""
    return bool(_RECORD_START.match(line))


class _RunLogHandler(logging.FileHandler):
    """A run.log handler, told apart from any handler a user or library attached. A write that fails (a full
    disk) is said once, in one line, not as logging's traceback after every record."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if not self.failed:
            self.failed = True
            print(f"warning: {self.baseFilename} could not be written ({sys.exc_info()[1]}); the run's log goes "
                  "on on the console only", file=sys.stderr)


class _RankHandler(logging.StreamHandler):
    """Errors of a non-main rank on stderr."""


class _HeldWarnings(logging.Handler):
    """Warnings said before run.log opens (the config's checks, the launch's): written to run.log when it opens,
    so the record's ``warnings`` (:func:`logged_warnings`) holds them too."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def hold_warnings() -> None:
    """From now until this job's run.log opens (or :func:`drop_held_warnings`), keep the ``sdp`` logger's warnings."""
    drop_held_warnings()
    log.addHandler(_HeldWarnings())


def drop_held_warnings() -> list[logging.LogRecord]:
    held = [h for h in log.handlers if isinstance(h, _HeldWarnings)]
    for handler in held:
        log.removeHandler(handler)
    return [record for handler in held for record in handler.records]


def _run_log_handlers() -> list[logging.Handler]:
    return [h for h in log.handlers if isinstance(h, _RunLogHandler)]


def detach_run_log() -> None:
    for handler in _run_log_handlers():
        log.removeHandler(handler)
        handler.close()


def attach_run_log(run_dir: str | Path, main_process: bool = True) -> None:
    """Send the ``sdp`` logger's records to ``run_dir/run.log`` (main process), and nowhere else."""
    path = Path(run_dir).resolve() / RUN_LOG
    current = _run_log_handlers()
    if main_process and len(current) == 1 and Path(current[0].baseFilename) == path:
        return  # already this job's
    detach_run_log()
    if main_process:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = _RunLogHandler(path)
        except OSError:
            return  # an unwritable run directory: the recipe's prepare_run_dir names it (RunDirError)
        handler.setFormatter(logging.Formatter(FORMAT))
        for record in drop_held_warnings():  # said before run.log opened: in it too (not on the console again)
            handler.handle(record)
        log.addHandler(handler)
    drop_held_warnings()  # another rank's: rank 0 says the same warnings (rank_console)
    log.setLevel(logging.INFO)


@contextlib.contextmanager
def job_log(run_dir: str | Path, main_process: bool = True) -> Iterator[None]:
    attach_run_log(run_dir, main_process)
    try:
        yield
    finally:
        detach_run_log()


def logged_warnings(run_dir: str | Path) -> list[str]:
    """The warnings (and errors) run.log holds, in order, each once: what a run said about its data, settings or
    model goes into its metrics.json and card too (a warning only on the console and in run.log was lost to a
    reader of the record: probe round 29, sw3 and kt2). run.log spans the run's resumes; a warning said again by a
    resumed run is kept once. An unreadable run.log gives none."""
    try:
        lines = (Path(run_dir) / RUN_LOG).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    said: list[str] = []
    current: list[str] | None = None  # the warning being read (a message may span lines)
    for line in lines + [""]:
        start = _RECORD_START.match(line)
        if start or not line:
            if current is not None and (text := "\n".join(current).strip()) and text not in said:
                said.append(text)
            current = [line[start.end():]] if start and start.group(1) in ("WARNING", "ERROR", "CRITICAL") else None
        elif current is not None:
            current.append(line)
    return said


def rank_console(rank: int) -> None:
    """On rank > 0: only errors, to stderr, prefixed with the rank (idempotent); rank 0 says the warnings."""
    if rank == 0 or any(isinstance(h, _RankHandler) for h in log.handlers):
        return
    handler = _RankHandler(sys.stderr)
    handler.setLevel(logging.ERROR)
    handler.setFormatter(logging.Formatter(f"[rank {rank}] %(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.propagate = False  # the console handler of Hydra's job logging would print every info line again


def trace_size(path: str | Path) -> int:
    """Bytes in trace.jsonl now (0 if it does not exist yet)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def truncate_trace(path: str | Path, size: int | None) -> None:
    """Cut trace.jsonl back to ``size`` bytes (what it held when the checkpoint was written), and always to its
    last complete line: a record cut short by a kill or a full disk would otherwise have the next one glued on."""
    path = Path(path)
    if not path.is_file():
        return
    held = path.stat().st_size
    if size is not None and held > size:
        with open(path, "r+b") as fh:
            fh.truncate(size)
        log.info("trace.jsonl cut back to the checkpoint (%d bytes): the updates after it are redone", size)
    elif size is not None and held < size:
        log.warning("trace.jsonl holds %d bytes, the checkpoint recorded %d: records were lost (it is kept from "
                    "its last complete line on)", held, size)
    repair_trace(path)


def repair_trace(path: str | Path) -> None:
    """Cut a partial last line (no newline at its end) off trace.jsonl, saying so."""
    path = Path(path)
    with open(path, "r+b") as fh:
        data = fh.read()
        if not data or data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        fh.truncate(keep)
    log.warning("trace.jsonl ended in a partial line (%d bytes): cut back to its last complete line", len(data) - keep)
