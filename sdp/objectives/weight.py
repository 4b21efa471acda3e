"""AWR weight-alignment regularizers R(W_student, W_teacher) over the prunable matrices.

Both align the (masked) student weights with the dense teacher's, matrix by matrix; the teacher
weights are a frozen copy taken when the pruning stage starts (or refreshed with the teacher).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sdp.objectives.options import build_term


class WeightRegularizer(nn.Module):
    name = "none"

    def forward(
        self, student: Mapping[str, torch.Tensor], teacher: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


class NoWeightRegularizer(WeightRegularizer):
    def forward(self, student, teacher):
        return next(iter(student.values())).new_zeros(())


class CosineAlignment(WeightRegularizer):
    """sum_l mean_u (1 - cos(w_s[l, u], w_t[l, u])) over output units u (rows)."""

    name = "cosine"

    def forward(self, student, teacher):
        terms = [
            (1.0 - F.cosine_similarity(w.float(), teacher[n].float(), dim=1, eps=1e-8)).mean()
            for n, w in student.items()
        ]
        return torch.stack(terms).sum()


class FrobeniusAlignment(WeightRegularizer):
    """sum_l ||W_s[l] - W_t[l]||_F^2 / ||W_t[l]||_F^2."""

    name = "frobenius"

    def forward(self, student, teacher):
        terms = [
            (w.float() - teacher[n].float()).pow(2).sum() / teacher[n].float().pow(2).sum().clamp_min(1e-12)
            for n, w in student.items()
        ]
        return torch.stack(terms).sum()


WEIGHT_REGULARIZERS: dict[str, type[WeightRegularizer]] = {
    "none": NoWeightRegularizer,
    "cosine": CosineAlignment,
    "frobenius": FrobeniusAlignment,
}


def build_weight_regularizer(name: str, **options: Any) -> WeightRegularizer:
    """Build a term by registry name; ``options`` are that term's own arguments (any other is an error)."""
    return build_term("weight_reg", WEIGHT_REGULARIZERS, name, options)
