"""Display names of methods, as the tables and the papers call them: each component's registered label, and the
pruning criterion's where it is not the granularity's default: "SDP-CC (movement)"."""

from __future__ import annotations

from typing import Any

# The parts names are composed with live beside the registry, which refuses a label that holds them (probe round 47)
from sdp.objectives.component import CLOSE, CRITERION_OPEN, DENSE_ONLY, JOIN
from sdp.objectives.registry import CRITERIA, DISTILL_TERMS, WEIGHT_TERMS
from sdp.pruning.criteria.base import DEFAULT_CRITERION


def method_name(regularizer: str, weight_reg: str = "none", representation: str | None = None,
                prune: Any = None) -> str:
    """E.g. ("cross_correlation", "none") -> "SDP-CC"; ("none", "cosine") -> "AWR-cos";
    ("cross_correlation", "frobenius", "mean") -> "SDP-CC(mean)+AWR-fro"; with a ``prune`` config node whose
    criterion is not its granularity's default: ("none", prune={"criterion": "movement"}) -> "MP (movement)"."""
    distill = DISTILL_TERMS.label(regularizer, representation)
    if weight_reg == "none":
        name = distill
    else:
        weight = WEIGHT_TERMS.label(weight_reg)
        name = weight if regularizer == "none" else f"{distill}{JOIN}{weight}"
    criterion = prune.get("criterion") if prune is not None else None
    if criterion and criterion != DEFAULT_CRITERION.get(prune.get("granularity") or "unstructured"):
        name += f"{CRITERION_OPEN}{CRITERIA.label(criterion)}{CLOSE}"
    return name


def run_method(cfg: Any) -> str:
    """The method a run's config names; a stages=dense run's is "Dense" (it was "SDP-CC", the default
    regularizer's, in its record, card and sdp-eval, so a dense model was listed as SDP-CC at 0%)."""
    if cfg.get("stages") == "dense":
        return DENSE_ONLY
    return method_name(cfg.regularizer.name, cfg.weight_reg.name, cfg.regularizer.get("representation"), cfg.prune)


def base_method(method: str) -> str:
    """The method without its criterion: "MP (movement)" -> "MP" (the baseline the deltas pair with)."""
    return method.split(CRITERION_OPEN, 1)[0]
