"""``weight_reg=frobenius``, AWR-fro: sum over prunable matrices l of ||W_s[l] - W_t[l]||_F^2 / ||W_t[l]||_F^2."""

from __future__ import annotations

from sdp.objectives.component import WeightTerm


class FrobeniusAlignment(WeightTerm):
    def forward(self, student, teacher):
        import torch

        terms = [
            (w.float() - teacher[n].float()).pow(2).sum() / teacher[n].float().pow(2).sum().clamp_min(1e-12)
            for n, w in student.items()
        ]
        return torch.stack(terms).sum()
