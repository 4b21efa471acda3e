"""Barlow-Twins statistics over a whole accumulation window (``regularizer.gather=true``, k > 1): GradCache.

The CC term standardises over the batch, so it is not a mean of per-micro-batch losses: accumulating k
micro-batch CC gradients is not the gradient of CC on the global batch. Following GradCache (Gao et al.
2021), each optimizer update runs:

1. pass 1, under no_grad: each micro-batch's student representation z (its RNG state saved first, so
   dropout can be replayed) and its teacher outputs (from the cache when there is one);
2. the CC loss L on the concatenated z of the window (``gather`` adds every process's rows), on a leaf
   tensor, and dL/dz for each micro-batch;
3. pass 2, per micro-batch (the recipe's ``update``): forward with grad under the replayed RNG state,
   so z is pass 1's z, and backward of ``task_loss + alpha * D`` where D has L's value and the gradient
   ``k * <z, dL/dz>``: accelerate divides each micro-batch loss by k, so the window sums to alpha * dL/dW.

Under DDP, all_gather's backward gives each rank world x dL/dz for its rows and DDP averages over ranks,
as for ``gather`` without accumulation (sdp/objectives/cross_correlation.py). The window's end is decided
here as accelerate's ``accumulate`` would (k micro-batches, or the end of the data loader), because the
whole window is read before its first backward; gradients are all-reduced only on its last micro-batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from accelerate import Accelerator
from torch import nn

from sdp.objectives.monitor import dropout_disabled
from sdp.objectives.representations import model_outputs


def _rng_state(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def _set_rng_state(state: tuple[torch.Tensor, torch.Tensor | None], device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


@dataclass
class MicroBatch:
    """Pass 1's result for one micro-batch of the window, which pass 2 consumes."""

    rng: tuple[torch.Tensor, torch.Tensor | None]  # the RNG state before its pass-1 forward
    teacher_out: dict[str, torch.Tensor]
    grad: torch.Tensor  # dL/dz for its rows of the pooled batch
    value: torch.Tensor  # L, the pooled CC value (the same for every micro-batch of the window)
    representation: str
    scale: float  # the window's micro-batches m (= accelerate's divisor k but in a cut last window)
    last: bool  # the window's last micro-batch: gradients are synchronised and the optimizer steps

    def distill(self, student: dict[str, torch.Tensor]) -> torch.Tensor:
        """D for pass 2: L's value (so the logged parts are the pooled value), scale x <z, dL/dz>'s gradient."""
        surrogate = self.scale * (student[self.representation].float() * self.grad.float()).sum()
        # (s - s.detach()) is exactly 0 in value: L is logged as computed. value + s - s.detach() would round
        # L at the surrogate's scale (|s| >> L), to a few significant bits (the red DDP test of issue 25).
        return self.value + (surrogate - surrogate.detach())

    @contextlib.contextmanager
    def step(self, accelerator: Accelerator, model: nn.Module) -> Iterator[None]:
        """What ``accelerator.accumulate`` does, with the window's end known, plus the dropout replay."""
        _set_rng_state(self.rng, accelerator.device)
        # accumulate() would read the loader's end flag, already set for the whole window when it ends one.
        accelerator.gradient_state._set_sync_gradients(self.last)
        with contextlib.nullcontext() if self.last else accelerator.no_sync(model):
            yield


class PooledWindow:
    """Collects a window's micro-batches, then runs pass 1 and the pooled CC loss over them."""

    def __init__(self, accelerator: Accelerator, distill: nn.Module, clean: bool) -> None:
        self.accelerator, self.distill, self.clean = accelerator, distill, clean  # clean: prune.dropout=distill_off
        self.representation: str = distill.representation
        self.pending: list[dict[str, torch.Tensor]] = []

    def add(self, batch: dict[str, torch.Tensor]) -> bool:
        """Queue ``batch``; True when it ends the window (accelerate's rule in ``Accelerator._do_sync``)."""
        self.pending.append(batch)
        state = self.accelerator.gradient_state
        return len(self.pending) == state.num_steps or (state.sync_with_dataloader and state.end_of_dataloader)

    def window(self, first: dict[str, torch.Tensor], batches: Iterator[dict[str, torch.Tensor]], model: nn.Module,
               teacher: Any) -> list[tuple[dict[str, torch.Tensor], MicroBatch]]:
        """The recipe's update: queue ``first``, then micro-batches from ``batches`` until the window ends; pass 1."""
        batch = first
        while not self.add(batch):
            batch = next(batches)
        return self.first_pass(model, teacher)

    @torch.no_grad()
    def first_pass(self, model: nn.Module, teacher: Any) -> list[tuple[dict[str, torch.Tensor], MicroBatch]]:
        """Pass 1 and dL/dz over the queued window; (batch, MicroBatch) pairs for pass 2, in order."""
        acc, rep = self.accelerator, self.representation
        batches, self.pending = self.pending, []
        student = acc.unwrap_model(model)  # the same forward (autocast included) as DDP's, without its hooks
        rngs, z_s, z_t, teacher_outs = [], [], [], []
        for batch in batches:
            rngs.append(_rng_state(acc.device))
            with dropout_disabled(student) if self.clean else contextlib.nullcontext():
                z_s.append(model_outputs(student, batch, (rep,))[rep])
            with acc.autocast():
                teacher_outs.append(teacher.outputs(batch))
            z_t.append(teacher_outs[-1][rep])
        dim = 1 if rep == "all_layers" else 0  # L x B x d
        leaf = torch.cat(z_s, dim).detach().requires_grad_(True)
        with torch.enable_grad():
            value = self.distill({rep: leaf}, {rep: torch.cat(z_t, dim)})
            (grad,) = torch.autograd.grad(value, leaf)
        grads = grad.split([z.shape[dim] for z in z_s], dim)
        # accelerate divides every micro-batch's loss by k, also in a window the loader's end cut to m < k
        # micro-batches: scaling <z, dL/dz> by m keeps D's weight against the task loss (m/k each) the same.
        m = float(len(batches))
        return [(b, MicroBatch(rng, t, g, value.detach(), rep, m, i == len(batches) - 1))
                for i, (b, rng, t, g) in enumerate(zip(batches, rngs, teacher_outs, grads))]


def pooled_window(cfg: Any, accelerator: Accelerator, distill: nn.Module) -> PooledWindow | None:
    """A PooledWindow when the CC statistics are gathered and updates accumulate micro-batches, else None."""
    reg = cfg.regularizer
    if reg.name != "cross_correlation" or not reg.get("gather") or cfg.train.gradient_accumulation_steps < 2:
        return None
    return PooledWindow(accelerator, distill, clean=cfg.prune.dropout == "distill_off")
