"""``prune.criterion=magnitude`` (unstructured; the default): prune the smallest |w|, over all prunable weights
together (``prune.scope=global``) or in every matrix alone (``layerwise``). The selection itself is MaskState's
(sdp/pruning/masks.py, streamed on CPU by sdp/pruning/stream.py): this file only names it on the seam."""

from __future__ import annotations

from typing import Any

from sdp.pruning.criteria.base import Criterion


def weight_magnitudes(state: Any) -> dict[str, Any]:
    """|w| of every prunable weight, in float32 (also the fallback of gradient criteria before any update)."""
    return {name: p.detach().abs().float() for name, p in state.params.items()}


class Magnitude(Criterion):
    """|w|: a weight that is small now matters least (the magnitude pruning baseline, MP)."""

    granularities = ("unstructured",)
    streamed_magnitude = True

    def scores(self, state: Any) -> dict[str, Any]:
        return weight_magnitudes(state)
