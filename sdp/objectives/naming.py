"""Display names of methods, as the tables and the papers call them."""

from __future__ import annotations

DISTILL_NAMES = {"none": "MP", "kd": "KD", "mse": "MSE", "cosine": "COS", "cross_correlation": "SDP-CC"}
WEIGHT_NAMES = {"cosine": "AWR-cos", "frobenius": "AWR-fro"}


def method_name(regularizer: str, weight_reg: str = "none", representation: str = "cls") -> str:
    """E.g. ("cross_correlation", "none") -> "SDP-CC"; ("none", "cosine") -> "AWR-cos";
    ("cross_correlation", "frobenius", "mean") -> "SDP-CC(mean)+AWR-fro"."""
    distill = DISTILL_NAMES.get(regularizer, regularizer)
    if regularizer in ("mse", "cosine", "cross_correlation") and representation != "cls":
        distill = f"{distill}({representation})"
    if weight_reg == "none":
        return distill
    weight = WEIGHT_NAMES.get(weight_reg, weight_reg)
    return weight if regularizer == "none" else f"{distill}+{weight}"
