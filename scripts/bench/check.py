"""`python scripts/bench --check`: a fresh run against the committed bench.json, one line per regression.

Only ratios are compared (both sides of each ratio measured in one process, so a loaded machine slows
them alike); absolute seconds are not. A ratio regresses when its fresh median is worse than the
committed one by more than its noise band: the wider of the two runs' interquartile ranges, and at
least a floor (a share of the committed median) for figures with few repeats. A person runs this
after changing the training step or the pruning event; it is not a test, because timings on a shared
machine do not belong in a pass/fail suite.
"""

from __future__ import annotations

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


def _iqr(s: dict[str, Any]) -> float:
    return float(s["q3"]) - float(s["q1"])


def compare(committed: dict[str, Any], fresh: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(regressions, checked): one line per ratio that got worse beyond its noise band, and one per
    ratio compared. A ratio missing from either result (a section not run) is skipped."""
    regressions, checked = [], []
    for path, label, higher_is_better, floor in CHECKED:
        old, new = _get(committed, path), _get(fresh, path)
        if old is None or new is None:
            continue
        a, b = float(old["median"]), float(new["median"])
        band = max(_iqr(old), _iqr(new), floor * abs(a))
        worse = a - b if higher_is_better else b - a
        line = f"{label} ({'.'.join(path)}): {b:.3f} now, {a:.3f} committed, noise band {band:.3f}"
        checked.append(line)
        if worse > band:
            regressions.append(f"REGRESSION {line}: worse by {worse:.3f}")
    return regressions, checked
