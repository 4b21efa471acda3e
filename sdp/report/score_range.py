"""The range of each score a record holds, so that a damaged record is named and left out, not averaged: a record's
accuracy of 1.5 was tabled as 150 and pooled into a mean of 114.72, one of -0.2 as -20 (probe round 47, sc150,
dense150, scneg). Records hold fractions, as sdp/metrics.py returns them (docs/metrics_schema.md); the tables
multiply by 100."""

from __future__ import annotations

import math
import re
from typing import Any

UNIT = (0.0, 1.0)  # a share of rows (accuracy), a harmonic mean of two shares (f1), a share of the ideal DCG (ndcg)
CORRELATION = (-1.0, 1.0)  # mcc, pearson, spearman
RANGES = {"accuracy": UNIT, "f1": UNIT, "ndcg": UNIT, "mcc": CORRELATION, "pearson": CORRELATION,
          "spearman": CORRELATION}
# sklearn's MCC divides by a square root: a perfect correlation may land an ulp past 1
SLACK = 1e-9
REPORTED_PREFIX = "test_"  # a reported split's scores (sdp/metrics.py REPORTED_SPLITS): never part of main


def metric_range(key: str) -> tuple[float, float] | None:
    """The range of a score key: ``accuracy``, ``test_accuracy``, ``accuracy_m`` (mnli's matched split),
    ``accuracy/de`` and ``accuracy_non_en`` (cross-lingual) are accuracy's; None for a key of no known metric."""
    return RANGES.get(re.split(r"[_/]", str(key).removeprefix(REPORTED_PREFIX), maxsplit=1)[0])


def out_of_range(scores: dict[str, Any], name: str, of: str = "") -> str | None:
    """The first score of ``scores`` (a record's ``final`` or ``dense``) outside its metric's range, in words, or None.
    ``main`` is the mean of the task's metrics (sdp/metrics.py), so it lies within their ranges (any metric's, where
    the record names none of them). ``of`` follows the key in the words: " of an evaluation record"."""
    ranges = {key: metric_range(key) for key in scores if key != "main"}
    averaged = [r for key, r in ranges.items() if r is not None and not str(key).startswith(REPORTED_PREFIX)]
    averaged = averaged or list(RANGES.values())
    ranges["main"] = (min(lo for lo, _ in averaged), max(hi for _, hi in averaged))
    for key, value in scores.items():
        bounds = ranges.get(key)
        if bounds is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            continue  # not a score of a known metric, or not a finite number (the finite check's own case)
        if not bounds[0] - SLACK <= value <= bounds[1] + SLACK:
            return (f"`{name}.{key}`{of} is {value!r}, outside its range [{bounds[0]:g}, {bounds[1]:g}] (scores are "
                    "recorded as fractions: 1.0 is 100%)")
    return None
