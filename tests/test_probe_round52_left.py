"""Probe round 52's left-open al_two (docs/probe_round52.md), fixed by the lead in session 25: summary.md's line for a
method's rows of other setups names the method's terms that differ too. Fails before the fix. Hand-written records."""

from __future__ import annotations

import json
from pathlib import Path

from records import write_record


def _run(root: Path, name: str, seed: int, lr: float, alpha: float, final: float) -> None:
    """An SDP-CC run of prune.lr ``lr`` (a setup key) and regularizer.alpha ``alpha`` (a method term)."""
    write_record(root, name, "SDP-CC", seed, final, own=f"fp-{name}")
    for file in ("run.json", "metrics.json"):
        record = json.loads((root / name / file).read_text())
        if file == "run.json":
            record["config"]["prune"]["lr"] = lr
            record["config"]["regularizer"]["alpha"] = alpha
        (root / name / file).write_text(json.dumps({**record, "config_hash": f"h-{lr}-{alpha}"}))


def _lines(root: Path) -> list[str]:
    from sdp.report.report import build_report

    build_report(root, plots=False)
    return [line for line in (root / "tables" / "summary.md").read_text().splitlines()
            if "`tiny-bert / SDP-CC / cubic / frozen` rows of other setups" in line]


def test_a_setup_line_names_the_method_terms_that_differ_too(tmp_path):
    """al_two: rows differing in prune.lr and regularizer.alpha were said to "differ in prune.lr" alone."""
    _run(tmp_path, "a", 1, 5e-5, 1.0, 0.59375)
    _run(tmp_path, "b", 1, 1e-2, 50.0, 0.53125)
    (line,) = _lines(tmp_path)
    assert "differ in prune.lr, regularizer.alpha: " in line, line
    assert "prune.lr=5e-05, regularizer.alpha=1.0;" in line and "prune.lr=0.01, regularizer.alpha=50.0" in line, line


def test_a_setup_holding_two_values_of_a_term_shows_both(tmp_path):
    """One setup's runs at alpha 1 and 50 (two config rows), the other's at 1: the line shows `1.0 or 50.0` against
    `1.0`, not one run's value as the setup's."""
    _run(tmp_path, "a1", 1, 5e-5, 1.0, 0.59375)
    _run(tmp_path, "a2", 1, 5e-5, 50.0, 0.5)
    _run(tmp_path, "b", 1, 1e-2, 1.0, 0.53125)
    (line,) = _lines(tmp_path)
    assert "regularizer.alpha=1.0 or 50.0" in line and "prune.lr=0.01, regularizer.alpha=1.0" in line, line


def test_alike_terms_are_not_named(tmp_path):
    """Terms alike in every setup stay out of the line (only prune.lr tells these apart)."""
    _run(tmp_path, "a", 1, 5e-5, 1.0, 0.59375)
    _run(tmp_path, "b", 1, 1e-2, 1.0, 0.53125)
    (line,) = _lines(tmp_path)
    assert "differ in prune.lr: " in line and "alpha" not in line, line
