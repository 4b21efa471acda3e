"""Which queries of a ranking split the nDCG can judge (WPR): the data's question, asked by the loader (its sample,
its refusal of a split with none) and by the metric (sdp/metrics.py), so it lives with the data."""

from __future__ import annotations

import numpy as np


def rankable_queries(grades: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The query ids (``groups``) with something to rank: two or more rows whose grades are not all equal. A
    one-row query has no order, and any order of pages graded alike is as right as another: sklearn scored an
    all-Bad query 0 and an all-Good one 1, whatever the ranker did (probe round 25, wpb)."""
    grades, groups = np.asarray(grades, float), np.asarray(groups)
    ids = np.unique(groups)
    return np.asarray([g for g in ids if np.ptp(grades[groups == g]) > 0], dtype=ids.dtype)
