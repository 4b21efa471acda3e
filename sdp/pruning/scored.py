"""Unstructured masks ranked by a criterion's per-weight scores (``prune.criterion=movement|taylor`` or a
plug-in's; magnitude keeps MaskState's own streamed selection).

At each event exactly ``round(sparsity * n)`` weights are masked, over all prunable weights together
(``prune.scope=global``) or ``round(sparsity * n_matrix)`` in every matrix (``layerwise``): the lowest scores,
ties broken by position (sdp/pruning/masks.py ``_exact_bottom_k``). A weight pruned at an earlier event counts
as the lowest score, so masks are nested across events whatever the criterion says of it now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from sdp.pruning.criteria.base import check_unstructured_scores
from sdp.pruning.masks import MaskState, _exact_bottom_k


class ScoredMaskState(MaskState):
    """:class:`MaskState` (the same zero-keeping operations) whose selection reads ``criterion.scores``."""

    def __init__(self, params: Mapping[str, nn.Parameter], scope: str, criterion: Any) -> None:
        super().__init__(params, scope)
        self.criterion = criterion

    # The streamed CPU event fuses |w| selection with zeroing: scored masks take the generic path on any device.
    _update_cpu = MaskState._update_torch

    @torch.no_grad()
    def _new_masks(self, sparsity: float) -> dict[str, torch.Tensor]:
        if not 0.0 <= sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
        scores = self.criterion.scores(self)
        check_unstructured_scores(getattr(self.criterion, "sdp_name", type(self.criterion).__name__), scores, self.params)
        masks: dict[str, torch.Tensor] = {}
        for names in self._groups():
            flat = torch.cat([torch.where(self.masks[n], scores[n].to(self.masks[n].device).float(),
                                          float("-inf")).reshape(-1) for n in names])
            keep = _exact_bottom_k(flat, round(sparsity * flat.numel()))
            for n, part in zip(names, keep.split([self.params[n].numel() for n in names])):
                masks[n] = part.view(self.params[n].shape)
        self.criterion.reset()
        return masks

    def after_backward(self) -> None:
        """The update's gradients are complete (after backward, before masking and the step): the criterion reads them."""
        self.criterion.observe(self)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The masks and the criterion's running scores (movement's S, taylor's averages): a resumed run ranks
        at its next event exactly as the uninterrupted one would."""
        running = self.criterion.state_tensors()
        return {**self.masks, **{f"criterion::{k}": v.cpu().contiguous() for k, v in running.items()}}

    def load_masks(self, masks: Mapping[str, torch.Tensor]) -> None:
        super().load_masks(masks)
        self.criterion.load_state_tensors({k.split("::", 1)[1]: v for k, v in masks.items()
                                           if k.startswith("criterion::")})
