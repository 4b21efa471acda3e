"""The plain training loop both stages share, and its optimizer/schedule/evaluation helpers."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from accelerate import Accelerator
from torch import nn
from tqdm.auto import tqdm
from transformers import get_constant_schedule_with_warmup, get_linear_schedule_with_warmup

NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "LayerNorm.bias")


def build_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with no weight decay on biases and LayerNorm weights (the BERT recipe)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if any(k in name for k in NO_DECAY) else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr)


def build_lr_scheduler(optimizer, num_updates: int, warmup_ratio: float, kind: str = "linear"):
    """Linear warmup over ``warmup_ratio`` of the updates, then linear decay to 0 or (``constant``) flat."""
    warmup = int(warmup_ratio * num_updates)
    if kind == "constant":
        return get_constant_schedule_with_warmup(optimizer, warmup)
    if kind != "linear":
        raise ValueError(f"lr_schedule={kind!r} is not one of ['constant', 'linear']")
    return get_linear_schedule_with_warmup(optimizer, warmup, num_updates)


def count_updates(epochs: float, max_steps: int | None, batches_per_epoch: int, accumulation: int) -> int:
    """Optimizer updates in a stage: ``max_steps`` if set, else epochs x updates per epoch."""
    if max_steps:
        return int(max_steps)
    return max(1, math.ceil(epochs * batches_per_epoch / accumulation))


@dataclass
class DataPosition:
    """Where a stage is in its data: the epoch, and the batches of it consumed (this process's shard)."""

    epoch: int = 0
    batches: int = 0


def endless(loader, accelerator: Accelerator | None = None, position: DataPosition | None = None
            ) -> Iterator[tuple[int, dict]]:
    """(epoch, batch) forever; the sampler is reseeded each epoch.

    Starting from ``position`` skips the batches that epoch already consumed (the per-epoch seed makes
    the order the same) and keeps ``position`` up to date as batches are handed out.
    """
    position = position if position is not None else DataPosition()
    epoch, skip = position.epoch, position.batches
    if skip and hasattr(loader, "__len__") and skip >= len(loader):
        epoch, skip = epoch + 1, 0
    while True:
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        batches = loader
        if skip and accelerator is not None:
            batches = accelerator.skip_first_batches(loader, skip)
        position.epoch, position.batches, skip = epoch, skip, 0
        for batch in batches:
            position.batches += 1
            yield epoch, batch
        epoch += 1


@dataclass
class StageHooks:
    """What a stage does around each optimizer update. ``loss_step`` returns (loss, parts to log)."""

    loss_step: Callable[[dict], tuple[torch.Tensor, dict[str, float]]]
    before_update: Callable[[int], None] | None = None  # at optimizer step t, before its first micro-batch
    after_backward: Callable[[], None] | None = None  # gradients ready, before clipping (mask them here)
    after_update: Callable[[int, dict[str, float]], None] | None = None  # after update t (weights masked)


def run_stage(
    accelerator: Accelerator,
    model: nn.Module,
    loader,
    optimizer,
    lr_scheduler,
    num_updates: int,
    hooks: StageHooks,
    max_grad_norm: float,
    desc: str,
    start_update: int = 0,
    position: DataPosition | None = None,
) -> None:
    """Train for ``num_updates`` optimizer updates (not micro-batches), starting at ``start_update``
    and at data ``position`` (updated in place: a checkpoint reads it)."""
    model.train()
    bar = tqdm(total=num_updates, initial=start_update, desc=desc, disable=not accelerator.is_local_main_process)
    step, window_start, window_parts = start_update, True, []
    for _, batch in endless(loader, accelerator, position):
        if step >= num_updates:
            break
        if window_start and hooks.before_update is not None:
            hooks.before_update(step)
        window_start = False
        with accelerator.accumulate(model):
            loss, parts = hooks.loss_step(batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{desc}: non-finite loss {loss.item()} at optimizer step {step}")
            accelerator.backward(loss)
            window_parts.append(parts)
            if accelerator.sync_gradients:
                if hooks.after_backward is not None:
                    hooks.after_backward()
                if max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
            optimizer.step()  # a no-op inside an accumulation window (accelerate)
            if accelerator.sync_gradients:
                lr_scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        if accelerator.sync_gradients:
            step += 1
            mean_parts = {k: float(np.mean([p[k] for p in window_parts])) for k in window_parts[0]}
            mean_parts["lr"] = lr_scheduler.get_last_lr()[0]
            window_parts, window_start = [], True
            if hooks.after_update is not None:
                hooks.after_update(step, mean_parts)
            bar.update(1)
            bar.set_postfix(loss=f"{mean_parts['loss']:.4f}")
    bar.close()


@torch.no_grad()
def predict(accelerator: Accelerator, model: nn.Module, loader) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels over a whole eval set, gathered across processes without duplicates."""
    model.eval()
    all_logits, all_labels = [], []
    for batch in loader:
        inputs = {k: v for k, v in batch.items() if k not in ("labels", "idx")}
        logits = model(**inputs).logits.float()
        logits, labels = accelerator.gather_for_metrics((logits, batch["labels"]))
        all_logits.append(logits.cpu())
        all_labels.append(labels.cpu())
    model.train()
    return torch.cat(all_logits).numpy(), torch.cat(all_labels).numpy()
