"""The masks of one run, from the ``prune`` config node and its criterion (the pruning-criterion seam).

``prune.granularity`` says what is pruned (single weights, or whole heads, FFN neurons and layers:
sdp/pruning/structures.py) and ``prune.criterion`` how it is ranked: an object from sdp/pruning/criteria/, built
by the caller from the registry in sdp/objectives/registry.py (pruning/ imports nothing outside itself).

- unstructured ``magnitude``: :class:`MaskState` itself (its |w| selection, streamed on CPU);
- any other unstructured criterion: :class:`ScoredMaskState` (sdp/pruning/scored.py), which ranks by its scores;
- structured: :class:`StructuredMaskState`, which ranks structures by its scores.

Every state calls ``criterion.observe`` from ``after_backward`` (once per update, after backward) and keeps the
criterion's running scores in ``state_tensors`` (the checkpoint).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torch import nn

from sdp.pruning.criteria.base import GRANULARITIES, Criterion
from sdp.pruning.masks import MaskState, select_prunable
from sdp.pruning.scored import ScoredMaskState
from sdp.pruning.structures import DEFAULT_STRUCTURES, Block, StructuredMaskState


def build_mask_state(model: nn.Module, prune: Any, criterion: Criterion, target: float | None = None
                     ) -> tuple[dict[str, nn.Parameter], MaskState]:
    """The prunable set (prune.include/exclude) and its masks, from the ``prune`` config node (granularity,
    scope, structures) and the ``criterion`` object it names; ``target``: the run's final sparsity."""
    prunable = select_prunable(model, prune.include, prune.exclude)
    return prunable, mask_state(model, prunable, criterion, prune.get("granularity") or "unstructured",
                                prune.scope, prune.get("structures"), target)


def mask_state(model: nn.Module, prunable: Mapping[str, nn.Parameter], criterion: Criterion,
               granularity: str = "unstructured", scope: str = "global", structures: Iterable[str] | None = None,
               target: float | None = None) -> MaskState:
    """The masks of one run, ranked by ``criterion``, which must rank ``granularity``. ``target``: the run's
    final sparsity, refused now (not at the last pruning event) if no structure set reaches it."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"prune.granularity={granularity!r} is not one of {list(GRANULARITIES)}")
    if granularity not in criterion.granularities:
        raise ValueError(f"prune.criterion {type(criterion).__name__} ranks {list(criterion.granularities)} "
                         f"pruning, not prune.granularity={granularity}")
    if granularity == "unstructured":
        return MaskState(prunable, scope) if criterion.streamed_magnitude else ScoredMaskState(prunable, scope, criterion)
    state = StructuredMaskState(model, prunable, criterion, structures or DEFAULT_STRUCTURES)
    if target is not None:
        state.check_reachable(target)
    return state


def blocks_of(state: MaskState) -> list[Block] | None:
    """The structured state's blocks (None for unstructured masks)."""
    return getattr(state, "blocks", None)
