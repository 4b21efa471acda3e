"""Where the runs are: every metrics.json under a results folder, through the symlinked folders a user sees."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def walk_metrics(results_dir: Path) -> Iterator[Path]:
    """Every ``metrics.json`` path under results_dir, through symlinked folders as the user sees them (rglob does
    not follow them before Python 3.13), each real folder once (a link back up the tree is not a loop)."""
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
        if "metrics.json" in files:
            yield Path(folder) / "metrics.json"


def walk_unrecorded(results_dir: Path) -> Iterator[Path]:
    """Every folder under results_dir (as :func:`walk_metrics` walks it) holding a run's ``run.json`` and no
    ``metrics.json``: a run that is running, or that died without a record (SIGKILL, the out-of-memory killer, a
    machine that stopped)."""
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
        if "run.json" in files and "metrics.json" not in files:
            yield Path(folder)
