"""A trained stage's resume state: what ``PruneRecipe.save_checkpoint`` saves of a :class:`Stage` once it has
taken an update, and how ``PruneRecipe.restore`` puts it back.

JSON values go in the checkpoint's state.json; tensors in named groups (one safetensors file each) that
the checkpointer writes and reads (sdp/training/checkpoint.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from torch import nn

from sdp.training.checkpoint import Checkpointer
from sdp.training.loop import DataPosition, Stage
from sdp.training.state_io import (
    CheckpointError,
    cpu_state,
    load_weights,
    optimizer_from_files,
    optimizer_to_files,
)


def stage_state(stage: Stage, acc: Accelerator, model: nn.Module, teacher_weights: dict[str, Any],
                cache_rebuilt: bool) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    """(JSON values, tensor groups) of ``stage`` after ``stage.step > 0`` updates.

    ``teacher_weights`` names where each teacher mode's weights live (frozen: the dense model, checkpoint:
    the given one); ``cache_rebuilt`` says a prefilled teacher cache is rebuilt exactly at resume (same
    teacher, same batches), so saving it would only copy up to gigabytes into every checkpoint.
    """
    state: dict[str, Any] = {
        "position": {"epoch": stage.position.epoch, "batches": stage.position.batches},
        "accelerator_step": int(getattr(acc, "step", 0)),
        "lr_scheduler": stage.lr_scheduler.state_dict(),
    }
    scaler = getattr(acc, "scaler", None)
    state["scaler"] = scaler.state_dict() if scaler is not None else None
    tensors: dict[str, dict[str, torch.Tensor]] = {"model": cpu_state(acc.unwrap_model(model))}
    tensors["optimizer"], state["optimizer"] = optimizer_to_files(stage.raw_optimizer)
    if stage.masks is not None:
        tensors["masks"] = {n: m.cpu().contiguous() for n, m in stage.masks.state_tensors().items()}
        state["sparsity"] = stage.masks.current_sparsity
        state["mask_digest"] = stage.masks.digest()
    teacher = stage.teacher
    if teacher is not None:
        state["teacher"] = {"mode": teacher.mode, "weights": teacher_weights.get(teacher.mode, "teacher.safetensors")}
        if teacher.mode == "refresh":
            tensors["teacher"] = cpu_state(teacher.model)
        if teacher.cache is not None and not (cache_rebuilt and teacher.mode != "refresh"):
            tensors["teacher_cache"] = teacher.cache.state_tensors()
            state["teacher"]["cache_version"] = teacher.cache.version
    return state, tensors


def load_stage_state(stage: Stage, acc: Accelerator, model: nn.Module, state: dict[str, Any]) -> None:
    """Undo :func:`stage_state`: weights, optimizer, LR schedule, scaler, data position, masks, teacher."""
    load_weights(acc.unwrap_model(model), Path(state["path"]) / "model.safetensors")
    optimizer_from_files(stage.raw_optimizer, Checkpointer.tensors(state, "optimizer"), state["optimizer"])
    stage.lr_scheduler.load_state_dict(state["lr_scheduler"])
    if state.get("scaler") and getattr(acc, "scaler", None) is not None:
        acc.scaler.load_state_dict(state["scaler"])
    acc.step = int(state.get("accelerator_step", 0))
    stage.position = DataPosition(**state["position"])
    if stage.masks is not None:
        stage.masks.load_masks(Checkpointer.tensors(state, "masks"))
        stage.masks.current_sparsity = float(state["sparsity"])
        stage.masks.apply()
    teacher = stage.teacher
    if teacher is not None and teacher.mode == "refresh":
        load_weights(teacher.model, Path(state["path"]) / "teacher.safetensors")
    cache = Checkpointer.tensors(state, "teacher_cache") if acc.is_main_process else None
    if teacher is not None and teacher.cache is not None and cache is not None:
        teacher.cache.load_state_tensors(cache, state["teacher"].get("cache_version", 0))


def load_dense_weights(model: nn.Module, dense_model: str | Path) -> None:
    """The dense stage finished before a kill: its weights, from the dense_model/ folder it saved."""
    path = Path(dense_model) / "model.safetensors"
    if not path.is_file():
        raise CheckpointError(f"resuming the prune stage needs the dense model {str(path)!r}; it is missing")
    load_weights(model, path)
