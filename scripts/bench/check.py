"""`python scripts/bench --check`: a fresh run against the committed bench.json, one line per regression.

Only ratios are compared (both sides of each ratio measured in one process, so a loaded machine slows
them alike); absolute seconds are not. A ratio regresses when its fresh median is worse than the
committed one by more than its noise band: the wider of the two runs' interquartile ranges, and at
least a floor (a share of the committed median) for figures with few repeats. A person runs this
after changing the training step or the pruning event; it is not a test, because timings on a shared
machine do not belong in a pass/fail suite.
"""

from __future__ import annotations

import math
from typing import Any

# (where in bench.json, what it is, higher is better, noise floor as a share of the committed median)
CHECKED: list[tuple[tuple[str, ...], str, bool, float]] = [
    (("steps", "ratios", "mp_over_finetune"), "MP update / plain update", False, 0.02),
    (("steps", "ratios", "sdp_cached_over_mp"), "SDP-CC update, warm teacher cache / MP update", False, 0.02),
    (("steps", "ratios", "sdp_uncached_over_mp"), "SDP-CC update, teacher forward / MP update", False, 0.03),
    # Three subprocess repeats each: a wide floor.
    (("prune", "over_bandwidth_bound"), "pruning event / its memory-bandwidth bound", False, 0.25),
    (("prune", "speedup_vs_torch"), "pruning event speed-up over torch global_unstructured", True, 0.25),
]


def _get(result: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    node: Any = result
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, dict) and node.get("n") else None


# What a section measured on: a ratio is compared only between runs of the same workload. The pruning event's
# speed-up over torch grows with the number of weights, so a --quick run (2 layers) against the committed full
# run (12 layers) was reported as a regression of the code (104x now, 276x committed), and could hide one.
WORKLOAD: dict[str, tuple[str, ...]] = {
    "steps": ("task", "batch_size", "max_seq_length", "sparsity"),
    "prune": ("layers", "weights", "sparsity"),
}
NOT_COMPARED = "not compared"


def _iqr(s: dict[str, Any]) -> float:
    return float(s["q3"]) - float(s["q1"])


def _number(value: Any) -> float | None:
    """A finite median, else None (NaN, inf, null or text: a broken measurement or an edited file)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _other_workload(committed: dict[str, Any], fresh: dict[str, Any], section: str) -> str | None:
    old, new = committed.get(section) or {}, fresh.get(section) or {}
    diff = [f"{k} {old[k]} committed, {new[k]} now" for k in WORKLOAD.get(section, ())
            if k in old and k in new and old[k] != new[k]]
    return "; ".join(diff) or None


def compare(committed: dict[str, Any], fresh: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(regressions, checked): one line per ratio that got worse beyond its noise band (or is not a finite
    number on either side), and one per ratio looked at: compared, or "not compared" where the two runs
    measured another workload. A ratio missing from either result (a section not run) is skipped."""
    regressions, checked = [], []
    for path, label, higher_is_better, floor in CHECKED:
        old, new = _get(committed, path), _get(fresh, path)
        if old is None or new is None:
            continue
        other = _other_workload(committed, fresh, path[0])
        if other:
            checked.append(f"{NOT_COMPARED}: {label} ({'.'.join(path)}): measured on another workload ({other})")
            continue
        a, b = _number(old.get("median")), _number(new.get("median"))
        if a is None or b is None:  # NaN compared as "not worse", so a broken measurement passed the check
            line = (f"{label} ({'.'.join(path)}): {new.get('median')!r} now, {old.get('median')!r} committed: "
                    "not a finite number")
            checked.append(line)
            regressions.append(f"REGRESSION {line}")
            continue
        try:
            band = max(_iqr(old), _iqr(new), floor * abs(a))
        except (KeyError, TypeError, ValueError):
            band = floor * abs(a)  # an interquartile range that cannot be read: the floor alone
        if not math.isfinite(band):
            band = floor * abs(a)
        worse = a - b if higher_is_better else b - a
        line = f"{label} ({'.'.join(path)}): {b:.3f} now, {a:.3f} committed, noise band {band:.3f}"
        checked.append(line)
        if worse > band:
            regressions.append(f"REGRESSION {line}: worse by {worse:.3f}")
    return regressions, checked
