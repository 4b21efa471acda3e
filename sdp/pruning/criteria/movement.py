"""``prune.criterion=movement`` (unstructured): movement pruning (Sanh, Wolf and Rush 2020, "Movement Pruning:
Adaptive Sparsity by Fine-Tuning"). Each weight's score S accumulates -W * dL/dW over every update of the pruning
stage (L: the update's whole training loss, distillation and weight terms included); an event prunes the lowest
S. A weight that training pushes away from zero gains score, one pushed towards zero loses it, whatever its size
now. Scores are never reset: they sum over the whole stage, as in the paper's hard movement pruning. Pruned
weights are zero, so their S stops changing, and they stay pruned (masks are nested across events)."""

from __future__ import annotations

from typing import Any

from sdp.pruning.criteria.base import RunningScores, log
from sdp.pruning.criteria.magnitude import weight_magnitudes


class Movement(RunningScores):
    """S = sum over updates of -W * dL/dW, per weight."""

    granularities = ("unstructured",)
    reset_at_event = False

    def contributions(self, state: Any) -> dict[str, Any]:
        import torch

        return {name: -(p.detach().float() * p.grad.detach().float()) if p.grad is not None
                else torch.zeros(p.shape, device=p.device) for name, p in state.params.items()}

    def scores(self, state: Any) -> dict[str, Any]:
        if self.acc is None:  # an event before any update (e.g. one_shot at step 0): no movement yet
            log.warning("prune.criterion=movement: no update before this pruning event; ranking by |w| this once")
            return weight_magnitudes(state)
        return dict(self.acc)
