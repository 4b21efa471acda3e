"""``prune.criterion=l2`` (structured; the default there): a structure's root mean square weight, i.e. the L2
norm of its prunable weights per weight (weights only), so heads, neurons and layers compete on equal terms."""

from __future__ import annotations

from typing import Any

from sdp.pruning.criteria.base import Criterion


def _sq(t: Any) -> Any:
    return t.detach().float().pow(2)


class L2(Criterion):
    """Root mean square of a structure's prunable weights."""

    granularities = ("structured",)

    def scores(self, state: Any) -> dict[str, list[Any]]:
        import torch

        out: dict[str, list[Any]] = {"heads": [], "ffn": [], "layers": []}
        with torch.no_grad():
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
