"""Display names of methods, as the tables and the papers call them: each component's registered label."""

from __future__ import annotations

from sdp.objectives.registry import DISTILL_TERMS, WEIGHT_TERMS


def method_name(regularizer: str, weight_reg: str = "none", representation: str | None = None) -> str:
    """E.g. ("cross_correlation", "none") -> "SDP-CC"; ("none", "cosine") -> "AWR-cos";
    ("cross_correlation", "frobenius", "mean") -> "SDP-CC(mean)+AWR-fro"."""
    distill = DISTILL_TERMS.label(regularizer, representation)
    if weight_reg == "none":
        return distill
    weight = WEIGHT_TERMS.label(weight_reg)
    return weight if regularizer == "none" else f"{distill}+{weight}"
