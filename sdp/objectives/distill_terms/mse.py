"""``regularizer=mse``: MSE between student and teacher representations. alpha=1: post-LayerNorm states have
O(1) entries, so the mean squared error is on the task loss's scale."""

from __future__ import annotations

from sdp.objectives.distill_terms.representation import RepresentationTerm


class RepresentationMSE(RepresentationTerm):
    def pair_loss(self, z_s, z_t):
        import torch.nn.functional as F

        return F.mse_loss(z_s.float(), z_t.float())
