"""``regularizer=cosine``: 1 - cosine similarity between student and teacher representations, averaged over
the batch. alpha=1: the term is in [0, 2], on the scale of the task loss."""

from __future__ import annotations

from sdp.objectives.distill_terms.representation import RepresentationTerm


class RepresentationCosine(RepresentationTerm):
    def pair_loss(self, z_s, z_t):
        import torch.nn.functional as F

        return (1.0 - F.cosine_similarity(z_s.float(), z_t.float(), dim=-1)).mean()
