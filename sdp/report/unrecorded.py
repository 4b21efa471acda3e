"""Runs a results folder holds that have no record yet: a run.json (a run started there) and no metrics.json. A run
killed outright (SIGKILL, as the out-of-memory killer sends; a machine that stopped) writes no record, and sdp-tables,
which reads records, said "5 runs, 0 failed" beside one, naming it nowhere (probe round 35, kt1)."""

from __future__ import annotations

import socket
from pathlib import Path

from sdp.report.walk import walk_unrecorded
from sdp.run.lock import pid_alive, read_holder
from sdp.run.rundir import is_moved_aside


def unrecorded_runs(results_dir: Path, skip_dirs: tuple[str, ...]) -> list[tuple[str, str]]:
    """(folder relative to results_dir, what is known of it) for each such run, outside ``skip_dirs`` and the
    previous-<time>/ folders (as the records are found: collect.find_metrics_files)."""
    found = []
    for folder in walk_unrecorded(results_dir):
        rel = folder.relative_to(results_dir)
        if (rel.parts and rel.parts[0] in skip_dirs) or is_moved_aside(folder / "run.json", results_dir):
            continue
        found.append((rel.as_posix() or ".", _state(folder)))
    return found


def _state(folder: Path) -> str:
    """Running or not, by the lock's record (sdp/run/lock.py: a run that ends empties it; a killed one leaves it)."""
    holder = read_holder(folder) or {}
    pid, host = holder.get("pid"), holder.get("host")
    if isinstance(pid, int) and host == socket.gethostname() and pid_alive(pid):
        return f"running (PID {pid}), or its process lives on"
    if host and host != socket.gethostname():
        return (f"no record: its lock names {f'PID {pid} on ' if pid else ''}host {host!r}, where it may still run (not checked from "
                "here), or it died there without a record; the same command resumes it")
    return ("no record: it died without one (killed: SIGKILL, the out-of-memory killer, a stopped machine); the same "
            "command resumes it (from its last checkpoint, where it wrote one)")
