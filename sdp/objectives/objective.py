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


class TermValueError(ValueError):
    """A distillation or weight term (a plug-in's) whose value is not a one-element tensor that depends on the
    student: a per-example vector was a backward() traceback, and a float or a value computed on detached tensors
    was added to the loss as a constant, so the run "distilled" with no gradient from the term (probe round 9)."""


def checked_term(group: str, term: Any, value: Any, student_grad: bool) -> Any:
    """``value`` of ``group`` (regularizer | weight_reg) as the loss takes it, or a one-line TermValueError."""
    name = getattr(term, "sdp_name", None) or type(term).__name__
    if not torch.is_tensor(value):
        raise TermValueError(f"{group}={name}: forward returned a {type(value).__name__} ({value!r:.40}), not a "
                             "tensor: the loss would add it as a constant, with no gradient; return a one-element "
                             "tensor computed from the student's outputs or weights")
    if value.numel() != 1:
        raise TermValueError(f"{group}={name}: forward returned a tensor of shape {list(value.shape)}, not one value: "
                             "reduce it (e.g. .mean() over the batch) to a scalar loss")
    if student_grad and not value.requires_grad:
        raise TermValueError(f"{group}={name}: forward returned a value that does not depend on the student (no "
                             "gradient flows from it: computed on detached tensors, or under torch.no_grad): it "
                             "would add a constant to the loss and distil nothing")
    return value.reshape(())


TEACHER_FINITE = "teacher_finite"  # a loss part of 1.0 where the teacher's outputs were all finite (UpdateLog reads it)


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
            # read with the update's parts (no sync here): a teacher's outputs that are not finite on some batch
            parts[TEACHER_FINITE] = torch.stack([torch.isfinite(v).all() for v in teacher_out.values()]).all().float()
        if needs and self.distill_dropout_off:  # every method's monitor alike, MP's included
            with dropout_disabled(model):  # D and the monitor on a dropout-free pass; the task loss
                out = model_outputs(model, batch, needs)  # above keeps its dropout
        grad = torch.is_grad_enabled() and bool(out["logits"].requires_grad)  # a training forward, not a probe
        if distill_needs:
            parts["distill"] = checked_term("regularizer", self.distill,
                                            self.distill(out, teacher_out) if pooled is None else pooled.distill(out),
                                            grad)
            loss = loss + self.alpha * parts["distill"]
        if monitor_needs:  # CC(student, teacher) for every method, never part of the loss
            parts.update(cc_monitor_tensors(out[monitor_needs[0]], teacher_out[monitor_needs[0]]))
        if teacher is not None and self.teacher_weights is not None:
            parts["weight_reg"] = checked_term("weight_reg", self.weight_reg,
                                               self.weight_reg(self.prunable, self.teacher_weights), grad)
            loss = loss + self.beta * parts["weight_reg"]
        parts["loss"] = loss.detach()
        return loss, parts
