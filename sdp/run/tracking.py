"""Experiment trackers (``tracker=none|tensorboard|wandb|mlflow``) through accelerate's tracking API.

``trace.jsonl`` stays the always-on record; a tracker is an extra view of the same numbers: every
optimizer update's loss parts, sparsity and learning rate (``train/<stage>/<part>``), each pruning event
(``prune/<field>``), each evaluation point of ``train.eval_every`` (``eval/<metric>``) and the dense and final
metrics (``dense/<metric>``, ``final/<metric>``). One global step counts the updates of both stages, so the curves run on: W&B drops any value logged at a step lower
than one it has seen, so the pruning stage's own step (which restarts at 0) must never reach the tracker. ``tracker=`` takes
any tracker accelerate integrates (TRACKERS). Nothing here imports a tracker's package: accelerate does, and
only for the tracker chosen.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

# Every tracker accelerate integrates (accelerate.tracking.LOGGER_TYPE_TO_CLASS, which imports torch; named
# here so a config check needs no torch: tests/training/test_tracking_and_card.py checks accelerate has each).
TRACKERS = ("none", "aim", "clearml", "comet_ml", "dvclive", "mlflow", "swanlab", "tensorboard", "trackio", "wandb")
PROJECT = "sdp"  # the tracker's project/experiment name; the run directory tells runs apart
# A tracking server the user chose (read once, at import): kept. Without one, each job logs into its own folder.
USER_MLFLOW_URI = os.environ.get("MLFLOW_TRACKING_URI")


def tracker_error(name: str) -> str | None:
    """Why ``tracker=name`` cannot log (an unknown name, or its package is not installed); None if it can."""
    if name not in TRACKERS:
        return f"tracker={name!r} is not one of {list(TRACKERS)}"
    packages = ("tensorboard", "tensorboardX") if name == "tensorboard" else (name,)  # accelerate takes either
    if name != "none" and all(importlib.util.find_spec(p) is None for p in packages):
        extra = f"sdp-prune[{name}]" if name in ("tensorboard", "wandb", "mlflow") else name
        return f"tracker={name} needs the {name!r} package, which is not installed: pip install '{extra}'"
    return None


def accelerator_kwargs(cfg: Any, run_dir: str | Path | None) -> dict[str, Any]:
    """``log_with`` and ``project_dir`` for ``Accelerator(...)``: the tracker writes into the run dir."""
    name = cfg.get("tracker", "none") or "none"
    if (error := tracker_error(name)) is not None:  # validate_config said so already, before torch loaded
        raise ValueError(error)
    if name == "none":
        return {}
    if name == "wandb":
        os.environ.setdefault("WANDB_MODE", "offline")  # no network here; `wandb sync` uploads later
        os.environ["WANDB_DIR"] = str(run_dir)  # this job's folder: each job of a multirun sets its own
    if name == "mlflow" and not USER_MLFLOW_URI:  # else mlflow writes mlflow.db into the current directory
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(run_dir).resolve() / 'mlflow.db'}"
    return {"log_with": name, "project_dir": str(run_dir)}


def _scalars(prefix: str, values: dict[str, Any]) -> dict[str, float]:
    return {f"{prefix}/{k}": float(v) for k, v in values.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


class Tracker:
    """The run's tracker, or a no-op for ``tracker=none``."""

    def __init__(self, accelerator, cfg: Any, prune_offset: int = 0) -> None:
        self.accelerator = accelerator
        self.active = (cfg.get("tracker", "none") or "none") != "none"
        self.step = 0  # the last global step logged
        # Where each stage starts on the one axis: the pruning stage's at the dense stage's number of updates (0 with
        # dense.checkpoint; the recipe builds the tracker after the stages), so a resumed process logs where it left off.
        self.offsets = {"dense": 0, "prune": prune_offset}
        if self.active:
            flat = {k: (v if isinstance(v, (int, float, str, bool)) else str(v))
                    for k, v in _flatten(OmegaConf.to_container(cfg, resolve=True)).items()}
            accelerator.init_trackers(PROJECT, config=flat)

    def global_step(self, stage: str, step: int) -> int:
        """``step`` of ``stage`` on the one axis of both stages."""
        self.step = self.offsets[stage] + step
        return self.step

    def log_update(self, stage: str, step: int, parts: dict[str, float]) -> None:
        """One optimizer update (``step`` of ``stage``, tags ``train/<stage>/...``): loss parts, lr, sparsity."""
        step = self.global_step(stage, step)
        if self.active:
            self.accelerator.log(_scalars(f"train/{stage}", parts), step=step)

    def log_prune_event(self, record: dict[str, Any]) -> None:
        """A pruning event, before the update of the pruning stage's step ``record["step"]``."""
        step = self.global_step("prune", int(record.get("step", 0)))
        if self.active:
            self.accelerator.log(_scalars("prune", record), step=step)

    def log_eval(self, stage: str, step: int, metrics: dict[str, float], sparsity: float) -> None:
        """An evaluation point (train.eval_every), tags ``eval/<metric>`` and ``eval/sparsity``."""
        step = self.global_step(stage, step)
        if self.active:
            self.accelerator.log({**_scalars("eval", metrics), "eval/sparsity": float(sparsity)}, step=step)

    def log_final(self, dense: dict[str, float], final: dict[str, float], sparsity: float) -> None:
        if self.active:
            values = {**_scalars("dense", dense), **_scalars("final", final), "final/achieved_sparsity": sparsity}
            self.accelerator.log(values, step=self.step)
            # The trackers alone: accelerate's end_training() destroys the process group too, and the run's ranks
            # still meet after this (sdp/recipe.py _finish): 2 processes with tracker= ended in a traceback (round 29)
            for tracker in self.accelerator.trackers:
                tracker.finish()


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, f"{key}."))
        else:
            out[key] = v
    return out
