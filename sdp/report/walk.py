"""Where the runs are: every metrics.json under a results folder, through the symlinked folders a user sees, and the
run folders that hold none yet."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def _folders(results_dir: Path) -> Iterator[tuple[Path, list[str]]]:
    """(folder, its file names) under results_dir, through symlinked folders as the user sees them (rglob does not
    follow them before Python 3.13), each real folder once (a link back up the tree is not a loop), sorted."""
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(results_dir, followlinks=True):
        try:
            st = os.stat(folder)
        except OSError:
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        yield Path(folder), files


def walk_metrics(results_dir: Path) -> Iterator[Path]:
    """Every ``metrics.json`` path under results_dir."""
    return (folder / "metrics.json" for folder, files in _folders(results_dir) if "metrics.json" in files)


def walk_unrecorded(results_dir: Path) -> Iterator[Path]:
    """Every folder under results_dir holding a run's ``run.json`` and no ``metrics.json``: a run that is running, or
    that died without a record (SIGKILL, the out-of-memory killer, a machine that stopped)."""
    from sdp.run.nesting import (
        is_run_folder,  # sdp's run.json, not another tool's (review of round 37's merge)
    )

    return (folder for folder, files in _folders(results_dir)
            if "run.json" in files and "metrics.json" not in files and is_run_folder(folder))
