"""scripts/bench/check.py: which ratios count as regressions between two bench results (made-up numbers;
the check itself runs real timings and is run by a person, not by this suite)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: scripts.bench

from scripts.bench.check import compare  # noqa: E402


def _s(median: float, iqr: float = 0.0) -> dict:
    return {"median": median, "q1": median - iqr / 2, "q3": median + iqr / 2, "min": median, "max": median, "n": 3}


def _result(mp: float = 1.0, mp_iqr: float = 0.01, speedup: float = 150.0, bound: float = 1.5) -> dict:
    return {
        "steps": {"ratios": {"mp_over_finetune": _s(mp, mp_iqr), "sdp_cached_over_mp": _s(1.0),
                             "sdp_uncached_over_mp": _s(1.25)}},
        "prune": {"speedup_vs_torch": _s(speedup), "over_bandwidth_bound": _s(bound)},
    }


def test_same_figures_pass_and_every_ratio_is_checked():
    regressions, checked = compare(_result(), _result())
    assert regressions == [] and len(checked) == 5


def test_a_worse_ratio_beyond_its_band_is_one_line_each():
    regressions, _ = compare(_result(), _result(mp=1.10, speedup=90.0, bound=2.5))
    assert len(regressions) == 3
    assert all(line.startswith("REGRESSION ") for line in regressions)
    assert any("steps.ratios.mp_over_finetune" in line for line in regressions)
    assert any("prune.speedup_vs_torch" in line for line in regressions)
    assert any("prune.over_bandwidth_bound" in line for line in regressions)


def test_noise_band_and_direction():
    # Within the 2% floor, or within the runs' IQR: not a regression; better is never one.
    assert compare(_result(mp=1.00), _result(mp=1.015))[0] == []
    assert compare(_result(mp=1.00, mp_iqr=0.10), _result(mp=1.08, mp_iqr=0.10))[0] == []
    assert compare(_result(mp=1.00), _result(mp=0.80, speedup=400.0, bound=1.0))[0] == []
    # A higher-is-better ratio regresses downwards only.
    assert len(compare(_result(speedup=150.0), _result(speedup=100.0))[0]) == 1


def test_sections_missing_from_either_side_are_skipped():
    fresh = _result()
    del fresh["steps"]
    regressions, checked = compare(_result(), fresh)
    assert regressions == [] and len(checked) == 2
    assert compare({}, _result()) == ([], [])
