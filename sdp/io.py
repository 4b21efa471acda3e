"""Atomic file writes (a kill during a write never leaves a half-written file behind), and the run log.

Temporary files and folders are created private (0600/0700, by ``tempfile``); once complete they get
the mode a plain ``open()`` / ``mkdir()`` would have given under the process umask, so results are
as readable by others as any other file the user writes.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def umask_mode(directory: bool = False) -> int:
    """0666 (files) or 0777 (folders) less the current umask: what open()/mkdir() would give."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def publish_tree(root: str | Path) -> None:
    """chmod a finished temporary folder (and everything in it) to the umask's modes."""
    root = Path(root)
    file_mode, dir_mode = umask_mode(), umask_mode(directory=True)
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(dir_mode if path.is_dir() else file_mode)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path`` (same directory, so the rename is atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=False, default=float) + "\n"
    atomic_write(path, lambda p: p.write_text(text))


def append_jsonl(path: str | Path, record: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(record) + "\n")
