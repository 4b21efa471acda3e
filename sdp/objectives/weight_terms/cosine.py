"""``weight_reg=cosine``, AWR-cos: sum over prunable matrices l of mean over output units u (rows) of
1 - cos(w_s[l, u], w_t[l, u]). The teacher weights are a frozen copy taken when the pruning stage starts (or
refreshed with the teacher)."""

from __future__ import annotations

from sdp.objectives.component import WeightTerm


class CosineAlignment(WeightTerm):
    def forward(self, student, teacher):
        import torch
        import torch.nn.functional as F

        terms = [
            (1.0 - F.cosine_similarity(w.float(), teacher[n].float(), dim=1, eps=1e-8)).mean()
            for n, w in student.items()
        ]
        return torch.stack(terms).sum()
