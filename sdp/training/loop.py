"""What the recipe's training loop is made of: a stage's state, the endless data iterator, the
optimizer and LR schedule builders, and evaluation predictions."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from torch import nn
from transformers import get_constant_schedule_with_warmup, get_linear_schedule_with_warmup

from sdp.data.batch import model_inputs
from sdp.errors import NonFiniteOutputError
from sdp.models.autocast import original_forward
from sdp.objectives.objective import TEACHER_FINITE
from sdp.pruning.criteria.base import check_first_event
from sdp.training.distributed import effective_precision

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


def stage_updates(stage_cfg: Any, train_cfg: Any, batches_per_epoch: int) -> int:
    """A stage's optimizer updates from its config group (dense or prune)."""
    return count_updates(stage_cfg.epochs, stage_cfg.max_steps, batches_per_epoch, train_cfg.gradient_accumulation_steps)


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


def accumulation_window(accelerator: Accelerator, first: dict, batches: Iterator[dict]) -> Iterator[tuple[dict, None]]:
    """One optimizer update's micro-batches: ``first``, then from ``batches`` until accelerate ends the window (the
    next is fetched after the previous one's ``accumulate``, which says whether it ended it); None: not pooled."""
    yield first, None
    while not accelerator.sync_gradients:
        yield next(batches), None


@dataclass
class Stage:
    """One training stage's own state: its optimizer, LR schedule, progress and (pruning stage only)
    masks, schedule and teacher. The dense stage has no masks and no teacher."""

    name: str  # dense | prune
    updates: int  # optimizer updates in the stage (not micro-batches)
    optimizer: Any  # prepared by accelerate (a no-op step inside an accumulation window)
    raw_optimizer: torch.optim.Optimizer  # what masks zero moments in and checkpoints save
    lr_scheduler: Any  # not prepared: accelerate would step it once per process per update
    masks: Any = None  # MaskState (sdp/pruning/masks.py)
    schedule: Any = None  # PruningSchedule (sdp/pruning/schedules.py)
    teacher: Any = None  # Teacher (sdp/objectives/teacher.py)
    step: int = 0  # optimizer updates done
    position: DataPosition = field(default_factory=DataPosition)  # where in the data (a checkpoint reads it)
    precision: str = "no"  # the accelerator's mixed precision (no | bf16 | fp16): what a refusal of overflow names


def build_stage(name: str, stage_cfg: Any, train_cfg: Any, model: nn.Module, accelerator: Accelerator, updates: int,
                masks: Any = None, teacher: Any = None, schedule: Any = None) -> Stage:
    """A stage's optimizer (AdamW) and LR schedule over its ``updates``, from its config group (dense or prune); the
    pruning stage's masks, teacher and pruning schedule with it (the stage is not changed after it is built)."""
    if masks is not None and schedule is not None:
        check_first_event(getattr(masks, "criterion", None), schedule)  # before any training: at its real length
    raw = build_optimizer(model, stage_cfg.lr, train_cfg.weight_decay)
    # Not prepared: accelerate would step it once per process per update.
    lr_scheduler = build_lr_scheduler(raw, updates, train_cfg.warmup_ratio, stage_cfg.lr_schedule)
    return Stage(name, updates, accelerator.prepare_optimizer(raw), raw, lr_scheduler, masks=masks, schedule=schedule,
                 teacher=teacher, precision=effective_precision(accelerator))  # fp16 on a CPU computes in fp32


def mean_parts(window: list[dict[str, float]], last: tuple[str, ...] = ()) -> dict[str, float]:
    """Each part's mean over ``window`` (the micro-batches of one update, or the updates of one logging
    window); a part named in ``last`` (sparsity, lr) takes the window's last value instead."""
    keys = dict.fromkeys(k for parts in window for k in parts)
    out = {}
    for k in keys:
        values = [p[k] for p in window if k in p]
        out[k] = float(values[-1]) if k in last else float(np.mean(values))
    return out


class UpdateLog:
    """Step 8 of an update: its mean parts go to ``observe`` (the recovery measurement) and ``track`` (the
    tracker); every ``every`` updates, and at the stage's end, one ``trace`` record holds the means of the
    updates since the last one (the last value for sparsity and lr).

    The parts stay tensors on the model's device until :meth:`flush`, which reads every pending update's parts
    in one transfer: reading each part of each update (``.item()``) made the GPU wait for the host about six
    times an update. The recipe flushes before anything reads them (a pruning event, a checkpoint, the
    stage's end, every ``every`` updates), and a non-finite loss is raised there, naming its update, before
    any checkpoint could save what followed it."""

    def __init__(self, stage: Stage, observe: Callable[[dict[str, float]], None],
                 track: Callable[[str, int, dict[str, float]], None], trace: Callable[[dict[str, Any]], None],
                 every: int) -> None:
        self.stage, self.observe, self.track, self.trace, self.every = stage, observe, track, trace, every
        self.pending: list[dict[str, float]] = []  # the updates since the last trace record, as floats
        self.unread: list[tuple[int, dict[str, Any]]] = []  # (step, parts) not yet read back from the device
        self.last: dict[str, float] = {}  # the last flushed update's parts (the progress bar)

    def add(self, step: int, window: list[dict[str, Any]], extra: dict[str, float] | None = None) -> dict[str, Any]:
        """Update ``step`` (1-based) is done: its micro-batches' parts (tensors or floats) plus the stage's lr and
        sparsity (host floats) and ``extra`` (the recipe passes the lr the update used: the scheduler has stepped by
        now, so its own lr is the next update's); returns the update's parts (unread tensors, those floats)."""
        stage = self.stage
        extra = {"lr": stage.lr_scheduler.get_last_lr()[0], **(extra or {})}
        if stage.masks is not None:
            extra["sparsity"] = stage.masks.current_sparsity
        keys = dict.fromkeys(k for parts in window for k in parts)
        parts: dict[str, Any] = {}
        for k in keys:
            values = [torch.as_tensor(p[k], dtype=torch.float32) if not torch.is_tensor(p[k]) else p[k].detach().float()
                      for p in window if k in p]
            parts[k] = values[0] if len(values) == 1 else torch.stack([v.to(values[0].device) for v in values]).mean()
        self.unread.append((step, {**parts, **extra}))
        return self.unread[-1][1]

    def due(self, step: int) -> bool:
        """Whether update ``step`` ends a trace window (or the stage): the recipe flushes then."""
        return step % self.every == 0 or step == self.stage.updates

    def flush(self, stage_name: str) -> dict[str, float]:
        """Read every unread update's parts in one transfer, raise on a non-finite loss, then log them in order;
        returns the last update's parts."""
        if not self.unread:
            return self.last
        tensors = [v for _, parts in self.unread for v in parts.values() if torch.is_tensor(v)]
        values = iter(torch.stack([t.to(tensors[0].device) for t in tensors]).tolist() if tensors else [])
        updates = [(step, {k: next(values) if torch.is_tensor(v) else float(v) for k, v in parts.items()})
                   for step, parts in self.unread]
        self.unread = []
        for step, parts in updates:
            loss = parts.get("loss")
            if parts.pop(TEACHER_FINITE, 1.0) < 1.0:  # named, not a nameless non-finite loss (review of round 41's)
                precision = getattr(self.stage, "precision", "no")
                arithmetic = "float32" if precision == "no" else precision
                why = ("in fp16 on that batch (its largest value is 65504: train.mixed_precision=bf16 or no may hold "
                       "it), or the model is damaged" if precision == "fp16" else
                       f"in {arithmetic} on that batch: a damaged or diverged model, its weights finite or not")
                raise NonFiniteOutputError(
                    f"{stage_name}: {getattr(self.stage.teacher, 'source', 'the teacher')} gave outputs that are not "
                    f"finite (NaN or inf) at optimizer step {step - 1} (loss {loss}): its arithmetic overflows {why}")
            if loss is not None and not math.isfinite(loss):
                raise FloatingPointError(f"{stage_name}: non-finite loss {loss} at optimizer step {step - 1}")
            self.log(step, parts)
        return self.last

    def log(self, step: int, parts: dict[str, float]) -> None:
        self.observe(parts)
        self.track(self.stage.name, step, parts)
        self.pending.append(parts)
        self.last = parts
        if self.due(step):
            self.trace({"event": "train", "stage": self.stage.name, "step": step, "updates": len(self.pending),
                        **mean_parts(self.pending, last=("sparsity", "lr"))})
            self.pending = []


def full_precision(accelerator: Accelerator, model: nn.Module) -> Callable[..., Any]:
    """The model's forward without accelerate's mixed-precision autocast (train.mixed_precision=bf16|fp16), for
    scoring: model/ is saved in fp32 and sdp-eval and sdp-predict run it so, while a bf16 run scored its
    autocast: a regression whose 40 outputs differ by 1e-3 was rounded to one value, recorded as pearson 0.00
    ("constant predictions") for a model that scores 85.31 (probe round 26, bf2)."""
    return original_forward(accelerator.unwrap_model(model)) or model


@torch.no_grad()
def predict(accelerator: Accelerator, model: nn.Module, loader) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels over a whole eval set, in full precision, gathered across processes without duplicates."""
    model.eval()
    forward = full_precision(accelerator, model)
    all_logits, all_labels = [], []
    for batch in loader:
        logits = forward(**model_inputs(batch)).logits.float()
        logits, labels = accelerator.gather_for_metrics((logits, batch["labels"]))
        all_logits.append(logits.cpu())
        all_labels.append(labels.cpu())
    model.train()
    return torch.cat(all_logits).numpy(), torch.cat(all_labels).numpy()
