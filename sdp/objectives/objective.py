"""The training objective of one micro-batch: the forward pass and the loss parts the recipe's update backpropagates.

    objective = Objective(distill, alpha, weight_reg, beta, monitor_needs, ...)   # PruneRecipe.setup, step 5
    loss, parts = objective(model, batch, teacher, pooled)                         # PruneRecipe.update, step 2

Without a teacher (the dense stage, and MP) the loss is the task loss alone. With one: ``task + alpha * D`` (the
distillation term) ``+ beta * R`` (the weight term against the teacher's weights), and CC(student, teacher) is
monitored in the parts for every method, never part of the loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sdp.objectives.monitor import cc_monitor_tensors, dropout_disabled
from sdp.objectives.representations import model_outputs


class Objective:
    """Loss and loss parts of one micro-batch (``task_loss``, ``distill``, ``weight_reg``, the CC monitor, ``loss``)."""

    def __init__(self, task_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], distill: nn.Module,
                 alpha: float, weight_reg: nn.Module, beta: float, monitor_needs: tuple[str, ...],
                 distill_dropout_off: bool, prunable: dict[str, torch.Tensor], teacher_weights: Any,
                 autocast: Callable[[], Any]) -> None:
        self.task_loss, self.distill, self.alpha, self.weight_reg, self.beta = task_loss, distill, alpha, weight_reg, beta
        self.monitor_needs = monitor_needs  # the representation CC(student, teacher) is monitored on, or ()
        self.distill_dropout_off = distill_dropout_off  # prune.dropout=distill_off
        self.prunable, self.teacher_weights = prunable, teacher_weights  # AWR: None without a weight term
        self.autocast = autocast  # the accelerator's: the teacher's forward in the run's precision

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor], teacher: Any, pooled: Any = None
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Forward ``batch``; the total loss and its parts. ``pooled`` (a pooled window's MicroBatch,
        sdp/training/pooled_window.py): pass 1's teacher outputs, and the pooled CC as D."""
        distill_needs = tuple(self.distill.needs) if teacher is not None else ()
        monitor_needs = self.monitor_needs if teacher is not None else ()
        needs = tuple(dict.fromkeys((*distill_needs, *monitor_needs)))
        out = model_outputs(model, batch, needs)
        task_loss = self.task_loss(out["logits"], batch["labels"])
        loss, parts = task_loss, {"task_loss": task_loss}
        if needs:
            with self.autocast():
                teacher_out = teacher.outputs(batch) if pooled is None else pooled.teacher_out
        if needs and self.distill_dropout_off:  # every method's monitor alike, MP's included
            with dropout_disabled(model):  # D and the monitor on a dropout-free pass; the task loss
                out = model_outputs(model, batch, needs)  # above keeps its dropout
        if distill_needs:
            parts["distill"] = self.distill(out, teacher_out) if pooled is None else pooled.distill(out)
            loss = loss + self.alpha * parts["distill"]
        if monitor_needs:  # CC(student, teacher) for every method, never part of the loss
            parts.update(cc_monitor_tensors(out[monitor_needs[0]], teacher_out[monitor_needs[0]]))
        if teacher is not None and self.teacher_weights is not None:
            parts["weight_reg"] = self.weight_reg(self.prunable, self.teacher_weights)
            loss = loss + self.beta * parts["weight_reg"]
        parts["loss"] = loss.detach()
        return loss, parts
