"""A user's own distillation term, as a plug-in: this one file, joined through SDP_PLUGINS=toy_term (its folder
on PYTHONPATH). Nothing in sdp is edited for it (tests/plugins/test_toy_term.py runs it end to end)."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from sdp.objectives.component import DistillationTerm
from sdp.objectives.registry import DISTILL_TERMS


@dataclass
class ToyOptions:
    scale: float = 1.0


class ToyTerm(DistillationTerm):
    """scale * MSE(student logits, teacher logits)."""

    Options = ToyOptions
    needs = ("logits",)

    def forward(self, student, teacher):
        return self.scale * F.mse_loss(student["logits"].float(), teacher["logits"].float())


DISTILL_TERMS.register("toy_term", ToyTerm, label="TOY-MSE")
