"""The run directory: proving it writable, atomic folder writes, and a run's identity.

A run is identified by ``config_hash`` (config without seed/path/logging keys) plus its seed; a
completed ``metrics.json`` in the run directory, or anywhere under ``output_root`` (sdp/sweep.py),
means the run needs no recomputation.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from sdp.training.env import config_hash


class RunDirError(OSError):
    """The run directory cannot be used (not writable, or it holds another config's run)."""


# ---------------------------------------------------------------------------------------- run dir
def prepare_run_dir(run_dir: str | Path) -> Path:
    """Create ``run_dir`` and prove it writable, before anything is loaded or trained."""
    path = Path(run_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunDirError(
            f"cannot create run directory {str(path)!r}: {err.strerror or err}; "
            "set output_dir / output_root to a writable place"
        ) from err
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise RunDirError(
            f"run directory {str(path)!r} is not writable ({err.strerror or err}); nothing was run. "
            "Set output_dir / output_root to a writable place"
        ) from err
    return path


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling folder; when the block succeeds it replaces ``target`` by rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        _fsync_tree(tmp)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / "x")
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ------------------------------------------------------------------------------------ identity
def run_identity(cfg: Any) -> tuple[str, int]:
    """(config_hash, seed) exactly as metrics.json records them."""
    return config_hash(OmegaConf.to_container(cfg, resolve=True)), int(cfg.seed)


def resume_identity(cfg: Any) -> str:
    """The hash a checkpoint must match to be resumed: the config without path/logging keys (config_hash
    drops train keys that change how often things are written, so a resume may change them), with the seed."""
    container = OmegaConf.to_container(cfg, resolve=True)
    return config_hash({**container, "seed_": container.get("seed")})


def read_metrics(run_dir: str | Path) -> dict | None:
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def completed_metrics(run_dir: str | Path, cfg: Any) -> dict | None:
    """The metrics of a completed run of this config in ``run_dir``; None if there is none.

    A completed run of a *different* config there is an error (it would be mixed up or overwritten)
    unless ``resume=false``.
    """
    metrics = read_metrics(run_dir)
    if not metrics or metrics.get("status") != "completed" or not cfg.resume:
        return None
    chash, seed = run_identity(cfg)
    if metrics.get("config_hash") != chash or metrics.get("seed") != seed:
        raise RunDirError(
            f"run directory {str(run_dir)!r} holds a completed run of another config (config_hash "
            f"{metrics.get('config_hash')}, seed {metrics.get('seed')}; this one is {chash}, seed {seed}); "
            "choose another output_dir, or resume=false to overwrite it"
        )
    return metrics
