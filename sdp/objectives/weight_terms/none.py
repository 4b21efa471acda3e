"""``weight_reg=none``: no weight term (the default); its loss weight defaults to 0 (registry.py)."""

from __future__ import annotations

from sdp.objectives.component import WeightTerm


class NoWeightRegularizer(WeightTerm):
    def forward(self, student, teacher):
        return next(iter(student.values())).new_zeros(())
