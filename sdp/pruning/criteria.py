"""The pruning criterion seam: ``prune.criterion`` names how what is pruned is ranked, for either granularity.

- ``prune.granularity=unstructured`` ranks single weights: ``magnitude`` (|w|, global or layerwise; the
  default; sdp/pruning/masks.py).
- ``prune.granularity=structured`` ranks whole heads, FFN neurons and layers (sdp/pruning/structures.py):
  ``l2`` (the default): the root mean square of the structure's weights, i.e. its L2 norm per weight;
  ``taylor``: a first-order estimate of the loss change if the structure were removed, |sum over its weights
  and biases of w * dL/dw|, with L the full training loss (task loss plus the distillation and weight terms:
  the gradients the update itself computed), averaged over the updates since the last pruning event, per
  prunable weight.

Scores are per prunable weight so that structures of different sizes compete on equal terms (removing a
layer must buy its many weights with a correspondingly small loss change). A structure criterion is an
object with ``observe(state)`` (once per update, after backward, before the optimizer step), ``scores(state)``
(at a pruning event: per block, a score per head, per neuron and for the layer) and ``reset()``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from sdp.pruning.masks import MaskState, select_prunable
from sdp.pruning.structures import DEFAULT_STRUCTURES, Block, StructuredMaskState

log = logging.getLogger("sdp")

GRANULARITIES = ("unstructured", "structured")
DEFAULT_CRITERION = {"unstructured": "magnitude", "structured": "l2"}


def _sq(t: torch.Tensor) -> torch.Tensor:
    return t.detach().float().pow(2)


class L2Criterion:
    """Root mean square of a structure's prunable weights (weights only: the L2 norm per weight)."""

    def observe(self, state: StructuredMaskState) -> None:
        pass

    def reset(self) -> None:
        pass

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        pass

    @torch.no_grad()
    def scores(self, state: StructuredMaskState) -> dict[str, list[torch.Tensor]]:
        out: dict[str, list[torch.Tensor]] = {"heads": [], "ffn": [], "layers": []}
        for b in state.blocks:
            nh, d = b.heads, b.head_size
            heads = sum(_sq(b.linear(r).weight).sum(1).view(nh, d).sum(1) for r in ("query", "key", "value"))
            heads = heads + _sq(b.attn_out.weight).sum(0).view(nh, d).sum(1)
            ffn = _sq(b.ffn_in.weight).sum(1) + _sq(b.ffn_out.weight).sum(0)
            layer_cost = state._cost("layers", b.index, 0)
            out["heads"].append((heads / b.head_cost).sqrt())
            out["ffn"].append((ffn / b.neuron_cost).sqrt())
            out["layers"].append(((heads.sum() + ffn.sum()) / max(layer_cost, 1)).sqrt().view(1))
        return out


def _wg(p: nn.Parameter | None, dim: int | None, size: int) -> torch.Tensor:
    """sum of w * dL/dw over ``dim`` (None: elementwise, for a bias), a vector of ``size``; zeros without a
    gradient (a removed layer is skipped, so its parameters get none)."""
    if p is None or p.grad is None:
        return torch.zeros(size)
    prod = p.detach().float() * p.grad.detach().float()
    return prod if dim is None else prod.sum(dim)


class TaylorCriterion:
    """|sum of w * dL/dw| over a structure, averaged over the updates since the last pruning event."""

    def __init__(self) -> None:
        self.acc: dict[str, list[torch.Tensor]] | None = None
        self.updates = 0

    @torch.no_grad()
    def observe(self, state: StructuredMaskState) -> None:
        sums = {"heads": [], "ffn": [], "layers": []}
        for b in state.blocks:
            h_out, dev = b.heads * b.head_size, b.query.weight.device
            rows = sum(_wg(b.linear(r).weight, 1, h_out).to(dev) + _wg(b.linear(r).bias, None, h_out).to(dev)
                       for r in ("query", "key", "value"))
            heads = (rows + _wg(b.attn_out.weight, 0, h_out).to(dev)).view(b.heads, b.head_size).sum(1)
            ffn = (_wg(b.ffn_in.weight, 1, b.width).to(dev) + _wg(b.ffn_in.bias, None, b.width).to(dev)
                   + _wg(b.ffn_out.weight, 0, b.width).to(dev))
            layer = (heads.sum() + ffn.sum() + _wg(b.attn_out.bias, None, b.hidden).to(dev).sum()
                     + _wg(b.ffn_out.bias, None, b.hidden).to(dev).sum())
            sums["heads"].append(heads.abs())
            sums["ffn"].append(ffn.abs())
            sums["layers"].append(layer.abs().view(1))
        if self.acc is None:
            self.acc = sums
        else:
            for kind, parts in sums.items():
                for acc, part in zip(self.acc[kind], parts):
                    acc.add_(part)
        self.updates += 1

    def reset(self) -> None:
        self.acc, self.updates = None, 0

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The running sums, for a checkpoint: ``<kind>.<layer>`` and ``updates``."""
        if self.acc is None:
            return {}
        out = {f"{kind}.{i}": t for kind, parts in self.acc.items() for i, t in enumerate(parts)}
        return {**out, "updates": torch.tensor([self.updates])}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.reset()
        if not tensors:
            return
        layers = 1 + max(int(k.split(".")[1]) for k in tensors if k != "updates")
        self.acc = {kind: [tensors[f"{kind}.{i}"].float().clone() for i in range(layers)]
                    for kind in ("heads", "ffn", "layers")}
        self.updates = int(tensors["updates"][0])

    @torch.no_grad()
    def scores(self, state: StructuredMaskState) -> dict[str, list[torch.Tensor]]:
        if self.acc is None:  # a pruning event before any update (e.g. one_shot at step 0): no gradients yet
            log.warning("prune.criterion=taylor: no update since the last pruning event; ranking by l2 this once")
            return L2Criterion().scores(state)
        out: dict[str, list[torch.Tensor]] = {"heads": [], "ffn": [], "layers": []}
        for b, heads, ffn, layer in zip(state.blocks, self.acc["heads"], self.acc["ffn"], self.acc["layers"]):
            out["heads"].append(heads / self.updates / b.head_cost)
            out["ffn"].append(ffn / self.updates / b.neuron_cost)
            out["layers"].append(layer / self.updates / max(state._cost("layers", b.index, 0), 1))
        return out


# The registry: criterion name -> (granularity, factory). sdp/validate.py repeats the names (it imports no
# torch); tests/pruning/test_structured.py checks the two agree.
CRITERIA: dict[str, tuple[str, type | None]] = {
    "magnitude": ("unstructured", None),  # MaskState itself (sdp/pruning/masks.py)
    "l2": ("structured", L2Criterion),
    "taylor": ("structured", TaylorCriterion),
}


def build_mask_state(model: nn.Module, prune: Any, target: float | None = None
                     ) -> tuple[dict[str, nn.Parameter], MaskState]:
    """The prunable set (prune.include/exclude) and its masks, from the ``prune`` config node (granularity,
    criterion, scope, structures); ``target``: the run's final sparsity."""
    prunable = select_prunable(model, prune.include, prune.exclude)
    return prunable, mask_state(model, prunable, prune.get("granularity") or "unstructured", prune.get("criterion"),
                                prune.scope, prune.get("structures"), target)


def mask_state(model: nn.Module, prunable: Mapping[str, nn.Parameter], granularity: str = "unstructured",
               criterion: str | None = None, scope: str = "global", structures: Iterable[str] | None = None,
               target: float | None = None) -> MaskState:
    """The masks of one run: unstructured magnitude masks (today's), or structure masks ranked by ``criterion``.
    ``target``: the run's final sparsity, refused now (not at the last pruning event) if no structure set reaches it."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"prune.granularity={granularity!r} is not one of {list(GRANULARITIES)}")
    criterion = criterion or DEFAULT_CRITERION[granularity]
    if CRITERIA.get(criterion, (None,))[0] != granularity:
        allowed = [n for n, (g, _) in CRITERIA.items() if g == granularity]
        raise ValueError(f"prune.criterion={criterion!r} is not one of {allowed} (prune.granularity={granularity})")
    if granularity == "unstructured":
        return MaskState(prunable, scope)
    state = StructuredMaskState(model, prunable, CRITERIA[criterion][1](), structures or DEFAULT_STRUCTURES)
    if target is not None:
        state.check_reachable(target)
    return state


def blocks_of(state: MaskState) -> list[Block] | None:
    """The structured state's blocks (None for unstructured masks)."""
    return getattr(state, "blocks", None)
