"""``regularizer=none``: plain magnitude pruning (MP), no distillation term.

The loss needs no teacher outputs (the CC monitor and weight_reg may still build a teacher). Its loss weight
defaults to 0 (registry.py).
"""

from __future__ import annotations

from sdp.objectives.component import DistillationTerm


class NoDistillation(DistillationTerm):
    needs = ()

    def forward(self, student, teacher):
        return student["logits"].new_zeros(())
