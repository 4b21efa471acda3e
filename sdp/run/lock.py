"""One owner per run folder: an exclusive lock held for the whole run.

    with run_lock(run_dir):      # RunLockedError at once if another live process holds it
        ...

The lock is ``fcntl.flock`` on ``<run dir>/.sdp.lock``; the kernel releases it when its process dies,
so a lock left by a killed run is never an obstacle. The file also records who holds it (PID, host,
start time), which the refusal names. A run that ends (completed, failed or interrupted) empties the record
as it lets go, so the next launch has nothing to report; only a run that was killed outright leaves its record,
and the next launch names it once (a dead PID on this host) and then leaves an empty one in its turn.
Only the main process of an ``accelerate launch`` takes it: the other ranks belong to the same run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from sdp.run.nesting import LOCK_NAME

log = logging.getLogger("sdp")


class RunLockedError(RuntimeError):
    """Another live run owns this run directory."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def read_holder(run_dir: str | Path) -> dict | None:
    """The recorded holder of the lock (may be stale), or None."""
    try:
        return json.loads((Path(run_dir) / LOCK_NAME).read_text() or "null")
    except (OSError, ValueError):
        return None


def _describe(holder: dict | None) -> str:
    if not holder:
        return "an unknown process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
    return f"PID {holder.get('pid')} on host {holder.get('host')!r} (since {started})"


@contextlib.contextmanager
def run_lock(run_dir: str | Path, enabled: bool = True) -> Iterator[None]:
    """Hold the run directory's lock for the block; refuse at once if another live run holds it."""
    if not enabled:
        yield
        return
    path = Path(run_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:  # e.g. a folder of that name: a traceback before, now one line naming it
        from sdp.run.rundir import RunDirError

        what = "a folder" if path.is_dir() else "unusable"
        raise RunDirError(f"the run directory's lock file {str(path)!r} is {what} ({err.strerror or err}); it must "
                          f"be a plain file that sdp creates: remove it, or choose another output_dir") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(
                f"run directory {str(run_dir)!r} is in use by another run: {_describe(read_holder(run_dir))}; "
                "wait for it to finish, or choose another output_dir / hydra.run.dir"
            ) from None
        previous = read_holder(run_dir)
        if previous and previous.get("host") == socket.gethostname() and not pid_alive(int(previous["pid"])):
            log.info("the run before this one (%s) was killed without releasing its lock; this run takes it over",
                     _describe(previous))
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):  # still held: no other run reads the record in between
                os.ftruncate(fd, 0)
    finally:
        # Unlock before unlinking would let a waiting run lock a file we then delete: keep the file.
        os.close(fd)
