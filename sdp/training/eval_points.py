"""Evaluation during training (``train.eval_every``): the dev score every N optimizer updates of both stages.

An evaluation point must leave training exactly as it found it, so that a run with ``eval_every`` ends with
the same weights and scores as one without: :func:`training_untouched` restores every module's train/eval
mode (evaluation switches the model to eval mode and back to train mode, which would undo a stage's own
choice) and every random stream (iterating an evaluation loader draws a base seed from torch's global RNG).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn


def rng_state() -> dict[str, Any]:
    """Python's, numpy's and torch's (CPU and every CUDA device's) global RNG states."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


@contextlib.contextmanager
def training_untouched(model: nn.Module) -> Iterator[None]:
    """Run the block (an evaluation), then put back each module's mode and every global RNG state."""
    modes = [(m, m.training) for m in model.modules()]
    saved = rng_state()
    try:
        yield
    finally:
        set_rng_state(saved)
        for module, training in modes:
            module.training = training


def eval_due(cfg: Any, stage: Any) -> bool:
    """Whether the update just made is an evaluation point (every ``train.eval_every`` updates): the recipe reads the
    updates' parts before it (UpdateLog.flush), so a teacher's or the loss's overflow is named before an evaluation
    of the weights it spoiled blames the student (review of round 41's fixes)."""
    every = cfg.train.eval_every
    return bool(every) and not stage.step % every


def eval_point(recipe: Any, stage: Any, parts: dict[str, float]) -> None:
    """After an update of ``stage`` (step 8 of the recipe's loop): every ``train.eval_every`` updates, score the
    recipe's eval splits (``recipe.evaluate()``) and record them with the update's sparsity in trace.jsonl and the
    tracker. Kept out of sdp/recipe.py, which stays one readable flow; ``recipe`` is a PruneRecipe."""
    if not eval_due(recipe.cfg, stage):
        return
    sparsity = float(parts.get("sparsity", 0.0))  # the dense stage has no masks: nothing pruned yet
    with training_untouched(recipe.model):
        metrics = recipe.evaluate(f"{stage.name} update {stage.step}")
    recipe._trace(eval_record(stage.name, stage.step, sparsity, metrics))
    recipe.tracker.log_eval(stage.name, stage.step, metrics, sparsity)


def eval_record(stage: str, step: int, sparsity: float, metrics: dict[str, float]) -> dict[str, Any]:
    """The trace.jsonl record of one evaluation point (docs/metrics_schema.md)."""
    return {"event": "eval", "stage": stage, "step": step, "sparsity": sparsity, "metrics": metrics}
