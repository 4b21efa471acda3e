"""CC(student, teacher) measured for every method, MP included, and the dropout switches of the pruning stage.

The monitor never adds to the loss: it reports the cross-correlation between the student's and the unpruned
teacher's representations, in its parts, so that a baseline's drift from its own dense network can be compared
with what the SDP objective achieves. All parts are divided by d (the width), as with ``normalize=true``:
- ``cc_diag``: sum_i (1 - C_ii)^2 / d — how far each dimension is from matching the teacher's;
- ``cc_off``: sum_{i!=j} C_ij^2 / d — Barlow Twins' redundancy term (target 0);
- ``cc_off_teacher``: sum_{i!=j} (C_ij - T_ij)^2 / d — distance from the teacher's own correlation structure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from sdp.models.autocast import without_autocast
from sdp.objectives.cross_correlation import cross_correlation_parts
from sdp.objectives.representations import model_outputs
from sdp.objectives.teacher import check_finite_outputs

DROPOUT_MODES = ("on", "off", "distill_off")
# on: the student trains with dropout and D sees that same (noisy) pass — the papers' setting;
# off: no dropout anywhere in the pruning stage, for every method;
# distill_off: the task loss keeps dropout, D is computed on a second, dropout-free pass of the student.


@contextlib.contextmanager
def dropout_disabled(model: nn.Module) -> Iterator[None]:
    """Every ``nn.Dropout`` at p=0 inside the block (attention dropout in HF models reads ``dropout.p`` too),
    restored after. Unlike ``model.eval()`` this keeps ``model.training``, so nothing else changes."""
    saved = [(m, m.p) for m in model.modules() if isinstance(m, nn.Dropout)]
    for m, _ in saved:
        m.p = 0.0
    try:
        yield
    finally:
        for m, p in saved:
            m.p = p


@torch.no_grad()
def cc_monitor_tensors(z_s: torch.Tensor, z_t: torch.Tensor, eps: float = 1e-5) -> dict[str, torch.Tensor]:
    """The three parts above for one batch, per dimension, as 0-dim tensors on the batch's device: the training
    loop reads them in batches of updates, so the hot path never waits for the GPU (sdp/training/update_log.py)."""
    if z_s.dim() == 3:  # all_layers: L x B x d, averaged over layers
        per_layer = [cc_monitor_tensors(a, b, eps) for a, b in zip(z_s, z_t)]
        return {k: sum(p[k] for p in per_layer) / len(per_layer) for k in per_layer[0]}
    dim = z_s.shape[-1]
    zero = cross_correlation_parts(z_s.detach(), z_t, eps, "zero")
    teacher = cross_correlation_parts(z_s.detach(), z_t, eps, "teacher")
    return {"cc_diag": zero["diag"].float() / dim, "cc_off": zero["off"].float() / dim,
            "cc_off_teacher": teacher["off"].float() / dim}


def cc_monitor_parts(z_s: torch.Tensor, z_t: torch.Tensor, eps: float = 1e-5) -> dict[str, float]:
    """:func:`cc_monitor_tensors` as floats."""
    return {k: float(v) for k, v in cc_monitor_tensors(z_s, z_t, eps).items()}


@torch.no_grad()
def dev_cross_correlation(student: nn.Module, teacher: nn.Module, batches, representation: str,
                          who: str = "the teacher") -> dict[str, float]:
    """Mean monitor parts over ``batches`` (both networks dropout-free, eval mode); batches of one skipped. A
    representation that is not finite is refused, naming the pruned model or the teacher (``who``): metrics.json held
    NaN parts, no word (review of round 41's fixes)."""
    modes = student.training, teacher.training
    student.eval()
    teacher.eval()
    sums: dict[str, float] = {}
    n = 0
    try:
        for batch in batches:
            if batch["labels"].shape[0] < 2:
                continue
            with without_autocast(student), without_autocast(teacher):  # both in fp32, as the scores are
                z_s = model_outputs(student, batch, (representation,))[representation]
                z_t = model_outputs(teacher, batch, (representation,))[representation]
            check_finite_outputs({representation: z_s}, "the pruned model", "a held-out batch")
            check_finite_outputs({representation: z_t}, who, "a held-out batch")
            for k, v in cc_monitor_parts(z_s, z_t).items():
                sums[k] = sums.get(k, 0.0) + v
            n += 1
    finally:
        student.train(modes[0])
        teacher.train(modes[1])
    out = {k: v / n for k, v in sums.items()} if n else {}
    return {"representation": representation, "batches": n, **out}
