"""Distillation terms D(student, teacher; x) between the pruned student and its unpruned teacher.

Each term is an ``nn.Module`` that declares which teacher outputs it needs (``needs``) so the
recipe and the teacher cache compute and store only those. All terms run in float32, whatever the
autocast dtype, because batch statistics and softmaxes lose too much in bf16/fp16.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sdp.objectives.cross_correlation import OFF_TARGETS, cross_correlation_loss, gather_rows
from sdp.objectives.options import build_term
from sdp.objectives.representations import REPRESENTATIONS

__all__ = ["DISTILLATION_TERMS", "build_distillation", "cross_correlation_loss"]


class DistillationTerm(nn.Module):
    """Base: ``needs`` names the teacher outputs (``logits`` or a representation kind)."""

    needs: tuple[str, ...] = ()

    def forward(self, student: dict[str, Any], teacher: dict[str, Any]) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


class NoDistillation(DistillationTerm):
    """Plain magnitude pruning (MP): no distillation term, so the loss needs no teacher outputs (the CC monitor
    and weight_reg may still build a teacher)."""

    needs = ()

    def forward(self, student, teacher):
        return student["logits"].new_zeros(())


class LogitKD(DistillationTerm):
    """KL(teacher/T || student/T) * T^2 (Hinton et al.); MSE on the score for regression tasks."""

    needs = ("logits",)

    def __init__(self, temperature: float = 2.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"kd temperature must be > 0, got {temperature}")
        self.temperature = temperature

    def forward(self, student, teacher):
        s, t = student["logits"].float(), teacher["logits"].float()
        if s.shape[-1] == 1:
            return F.mse_loss(s, t)
        temp = self.temperature
        return F.kl_div(
            F.log_softmax(s / temp, -1), F.log_softmax(t / temp, -1), log_target=True, reduction="batchmean"
        ) * temp**2


class _RepresentationTerm(DistillationTerm):
    """A term on a representation kind; ``all_layers`` averages the per-layer losses."""

    def __init__(self, representation: str = "cls") -> None:
        super().__init__()
        if representation not in REPRESENTATIONS:
            raise ValueError(f"unknown representation {representation!r}; allowed: {sorted(REPRESENTATIONS)}")
        self.representation = representation
        self.needs = (representation,)

    def pair_loss(self, z_s: torch.Tensor, z_t: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def forward(self, student, teacher):
        z_s, z_t = student[self.representation], teacher[self.representation]
        if self.representation == "all_layers":  # L x B x d
            return torch.stack([self.pair_loss(a, b) for a, b in zip(z_s, z_t)]).mean()
        return self.pair_loss(z_s, z_t)


class RepresentationMSE(_RepresentationTerm):
    def pair_loss(self, z_s, z_t):
        return F.mse_loss(z_s.float(), z_t.float())


class RepresentationCosine(_RepresentationTerm):
    def pair_loss(self, z_s, z_t):
        return (1.0 - F.cosine_similarity(z_s.float(), z_t.float(), dim=-1)).mean()


class CrossCorrelation(_RepresentationTerm):
    """SDP-CC, the main objective (see :mod:`sdp.objectives.cross_correlation`)."""

    def __init__(
        self,
        representation: str = "cls",
        lambda_off: float = 0.0051,
        normalize: bool = True,
        eps: float = 1e-5,
        off_target: str = "teacher",  # as conf/regularizer/cross_correlation.yaml
        gather: bool = False,
    ) -> None:
        super().__init__(representation)
        if lambda_off < 0:
            raise ValueError(f"lambda_off must be >= 0, got {lambda_off}")
        if off_target not in OFF_TARGETS:
            raise ValueError(f"off_target={off_target!r} is not one of {list(OFF_TARGETS)}")
        self.lambda_off, self.normalize, self.eps = lambda_off, normalize, eps
        self.off_target, self.gather = off_target, gather

    def pair_loss(self, z_s, z_t):
        if self.gather:  # Barlow Twins statistics over the global batch of all processes
            z_s, z_t = gather_rows(z_s), gather_rows(z_t)
        return cross_correlation_loss(z_s, z_t, self.lambda_off, self.normalize, self.eps, self.off_target)


DISTILLATION_TERMS: dict[str, type[DistillationTerm]] = {
    "none": NoDistillation,
    "kd": LogitKD,
    "mse": RepresentationMSE,
    "cosine": RepresentationCosine,
    "cross_correlation": CrossCorrelation,
}


def build_distillation(name: str, **options: Any) -> DistillationTerm:
    """Build a term by registry name; ``options`` are that term's own arguments (any other is an error)."""
    return build_term("regularizer", DISTILLATION_TERMS, name, options)
