"""Representations that distillation terms compare, read off a model's outputs.

The model must be called with ``output_hidden_states=True``. ``pooled`` runs the model's own pooler
(BERT) on the final [CLS] state, so it needs the model; the others need only the outputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from sdp.data.batch import model_inputs


def _cls(model: nn.Module, hidden: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
    return hidden[-1][:, 0]


class RepresentationError(ValueError):
    """A representation the objective or the monitor needs cannot be read off this model."""


def _pooler(model: nn.Module) -> nn.Module | None:
    return getattr(getattr(model, model.base_model_prefix, model), "pooler", None)


def check_representations(model: nn.Module, needs: tuple[str, ...]) -> None:
    """Refuse, before any training, a representation this model cannot give (RoBERTa, XLM-R and DistilBERT
    classifiers have no pooler)."""
    if "pooled" in needs and _pooler(model) is None:
        allowed = [name for name in REPRESENTATIONS if name != "pooled"]
        raise RepresentationError(
            f"representation 'pooled' (regularizer.representation or prune.monitor_representation) needs a "
            f"model with a pooler; {type(model).__name__} has none; allowed for this model: {allowed}"
        )


def _pooled(model: nn.Module, hidden: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
    pooler = _pooler(model)
    if pooler is None:
        check_representations(model, ("pooled",))
    return pooler(hidden[-1])


def _mean(model: nn.Module, hidden: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden[-1].dtype)
    return (hidden[-1] * m).sum(1) / m.sum(1).clamp_min(1.0)


def _all_layers(model: nn.Module, hidden: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
    # Layer outputs only (hidden[0] is the embedding output): L x B x d.
    return torch.stack([h[:, 0] for h in hidden[1:]])


REPRESENTATIONS: dict[str, Callable[..., torch.Tensor]] = {
    "cls": _cls,
    "pooled": _pooled,
    "mean": _mean,
    "all_layers": _all_layers,
}


def model_outputs(
    model: nn.Module, batch: dict[str, torch.Tensor], needs: tuple[str, ...]
) -> dict[str, torch.Tensor]:
    """Forward ``batch`` and return ``logits`` plus each representation in ``needs``."""
    inputs = model_inputs(batch)
    want_hidden = any(n in REPRESENTATIONS for n in needs)
    out = model(**inputs, output_hidden_states=want_hidden)
    result = {"logits": out.logits}
    unwrapped = getattr(model, "module", model)
    for name in needs:
        if name in REPRESENTATIONS:
            result[name] = REPRESENTATIONS[name](unwrapped, out.hidden_states, batch["attention_mask"])
    return result
