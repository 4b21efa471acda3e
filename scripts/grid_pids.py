"""Which grids of this repository are running, so that `make stop-grids` stops exactly those.

A grid driver (scripts/gridrun.py: make study, make calibrate) writes ``<repo>/.grids/<its PID>.json`` while it
runs: its PID and start time, its script and root, and the runs it has started (PID and start time each). A PID
alone could name another process once the grid has ended, so a process counts only with the start time it
was recorded with (``/proc/<pid>/stat``). Nothing matches by pattern: another checkout's grids, or a command
line that merely mentions ``results/study``, are never touched.

Standard library only: ``make stop-grids`` runs it without the repository's environment.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRIDS = REPO / ".grids"  # ignored by git


def start_time(pid: int) -> str | None:
    """The process's start (clock ticks since boot, field 22 of /proc/<pid>/stat), or None when unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(entry: dict) -> bool:
    """Is the recorded process still the one that was recorded (not a PID reused since)?"""
    try:
        os.kill(int(entry["pid"]), 0)
    except (ProcessLookupError, KeyError, ValueError, TypeError):
        return False
    except PermissionError:
        return False  # another user's process: not a grid of this checkout's user
    recorded, now = entry.get("start"), start_time(int(entry["pid"]))
    return recorded is None or now is None or recorded == now


def _me(pid: int) -> dict:
    return {"pid": pid, "start": start_time(pid)}


class Registration:
    """The pid file of this grid driver, kept up to date with its running runs; removed when the grid ends."""

    def __init__(self, script: str, root: Path) -> None:
        self.path = GRIDS / f"{os.getpid()}.json"
        self.record = {**_me(os.getpid()), "script": script, "root": str(root), "runs": []}
        self._write()

    def _write(self) -> None:
        GRIDS.mkdir(exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.record))
        tmp.replace(self.path)

    def runs(self, pids: list[int]) -> None:
        self.record["runs"] = [_me(pid) for pid in pids]
        self._write()

    def close(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def running() -> list[dict]:
    """The grids of this repository that are running (or whose runs still are); stale files are removed."""
    found = []
    for path in sorted(GRIDS.glob("*.json")) if GRIDS.is_dir() else []:
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        entry["runs"] = [r for r in entry.get("runs", []) if _alive(r)]
        if _alive(entry) or entry["runs"]:
            found.append(entry)
        else:
            path.unlink(missing_ok=True)  # the grid ended without removing it (killed)
    return found


def stop(sig: int = signal.SIGTERM) -> list[str]:
    """Signal each running grid's driver, which passes the signal on to its runs (they checkpoint and stop); runs
    whose driver is gone (killed outright) are signalled directly. One line per grid."""
    lines = []
    for entry in running():
        if _alive(entry):
            os.kill(int(entry["pid"]), sig)
            lines.append(f"stop-grids: {signal.Signals(sig).name} to {entry.get('script')} (PID {entry['pid']}, "
                         f"{entry.get('root')}): its {len(entry['runs'])} running run(s) checkpoint and stop; the "
                         "same command resumes them")
        else:
            for run in entry["runs"]:
                os.kill(int(run["pid"]), sig)
            lines.append(f"stop-grids: {signal.Signals(sig).name} to {len(entry['runs'])} run(s) left by "
                         f"{entry.get('script')} (PID {entry['pid']}, no longer running)")
    return lines
