"""``prune.criterion=taylor`` (both granularities): a first-order Taylor estimate of the loss change if what is
pruned were removed (Molchanov et al. 2017, "Pruning Convolutional Neural Networks for Resource Efficient
Inference"; 2019, "Importance Estimation for Neural Network Pruning"), with L the update's whole training loss:
task loss plus the distillation and weight terms, so the distillation term informs what is pruned.

- unstructured: per weight, |w * dL/dw|, averaged over the updates since the last pruning event;
- structured: per head, FFN neuron or layer, |sum over its weights and biases of w * dL/dw|, averaged over the
  updates since the last event and divided by its prunable weights (so structures of different sizes compete
  on equal terms: a layer must buy its many weights with a correspondingly small loss change).

Before any update (an event at step 0) it ranks by |w| (unstructured) or l2 (structured) that once, with a
warning. The averages are in the checkpoint, so a resumed run ranks exactly as the uninterrupted one would."""

from __future__ import annotations

from typing import Any

from sdp.pruning.criteria.base import RunningScores, is_structured, log
from sdp.pruning.criteria.l2 import L2
from sdp.pruning.criteria.magnitude import weight_magnitudes


def _wg(p: Any, dim: int | None, size: int, device: Any) -> Any:
    """sum of w * dL/dw over ``dim`` (None: elementwise, for a bias), a vector of ``size``; zeros without a
    gradient (a removed layer is skipped, so its parameters get none)."""
    import torch

    if p is None or p.grad is None:
        return torch.zeros(size, device=device)
    prod = p.detach().float() * p.grad.detach().float()
    return (prod if dim is None else prod.sum(dim)).to(device)


def structure_contributions(state: Any) -> dict[str, Any]:
    """One update's |sum of w * dL/dw| per structure: ``heads.<layer>``, ``ffn.<layer>``, ``layers.<layer>``."""
    out: dict[str, Any] = {}
    for b in state.blocks:
        h_out, dev = b.heads * b.head_size, b.query.weight.device
        rows = sum(_wg(b.linear(r).weight, 1, h_out, dev) + _wg(b.linear(r).bias, None, h_out, dev)
                   for r in ("query", "key", "value"))
        heads = (rows + _wg(b.attn_out.weight, 0, h_out, dev)).view(b.heads, b.head_size).sum(1)
        ffn = (_wg(b.ffn_in.weight, 1, b.width, dev) + _wg(b.ffn_in.bias, None, b.width, dev)
               + _wg(b.ffn_out.weight, 0, b.width, dev))
        layer = (heads.sum() + ffn.sum() + _wg(b.attn_out.bias, None, b.hidden, dev).sum()
                 + _wg(b.ffn_out.bias, None, b.hidden, dev).sum())
        out[f"heads.{b.index}"], out[f"ffn.{b.index}"] = heads.abs(), ffn.abs()
        out[f"layers.{b.index}"] = layer.abs().view(1)
    return out


class Taylor(RunningScores):
    """|w * dL/dw| of the full training loss, averaged over the updates since the last event."""

    granularities = ("unstructured", "structured")

    def contributions(self, state: Any) -> dict[str, Any]:
        import torch

        if is_structured(state):
            return structure_contributions(state)
        return {name: (p.detach().float() * p.grad.detach().float()).abs() if p.grad is not None
                else torch.zeros(p.shape, device=p.device) for name, p in state.params.items()}

    def scores(self, state: Any) -> dict[str, Any]:
        mean = self.mean()
        if mean is None:  # a pruning event before any update (e.g. one_shot at step 0): no gradients yet
            fallback = "l2" if is_structured(state) else "|w|"
            log.warning(f"prune.criterion=taylor: no update since the last pruning event; ranking by {fallback} this once")
            return L2().scores(state) if is_structured(state) else weight_magnitudes(state)
        if not is_structured(state):
            return mean
        out: dict[str, list[Any]] = {"heads": [], "ffn": [], "layers": []}
        for b in state.blocks:
            out["heads"].append(mean[f"heads.{b.index}"] / b.head_cost)
            out["ffn"].append(mean[f"ffn.{b.index}"] / b.neuron_cost)
            out["layers"].append(mean[f"layers.{b.index}"] / max(state._cost("layers", b.index, 0), 1))
        return out
