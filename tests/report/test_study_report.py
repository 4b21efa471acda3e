"""scripts/study_report.py: paired verdicts and the frontier on a hand-made study tree (issue 11)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "study_report", Path(__file__).resolve().parents[2] / "scripts" / "study_report.py")
study_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(study_report)

OFFSET = {"mp": 0.0, "kd": 0.03, "sdp_cc": 0.02}  # SDP-CC beats MP, loses to KD, in every pair


def _tree(root: Path) -> None:
    for task, dense in (("sst2", 0.90), ("mrpc", 0.80)):
        for sparsity, drop in ((0.5, 0.0), (0.8, 0.05), (0.9, 0.2)):
            for seed in (1, 2, 3):
                for method, off in OFFSET.items():
                    final = dense - drop + off + 0.001 * seed
                    run = root / "runs" / task / f"{method}_s{sparsity}_seed{seed}"
                    run.mkdir(parents=True)
                    analysis = {"recovery": {"mean_recovery_steps": 10.0 - off * 100, "mean_loss_jump": 0.1},
                                "separability": {"final": {"fisher_ratio": 0.5 + off, "snr": 0.2}},
                                "mask_overlap": {"reference": 0.9}}
                    (run / "metrics.json").write_text(json.dumps({
                        "status": "completed", "dense": {"main": dense}, "final": {"main": final},
                        "analysis": analysis}))


def test_verdicts_and_frontier(tmp_path):
    _tree(tmp_path)
    text = study_report.write_tables(tmp_path).read_text()
    claim1 = next(line for line in text.splitlines() if line.startswith("| SDP-CC beats MP and KD"))
    assert "vs MP +2.00 [+2.00, +2.00]" in claim1 and claim1.endswith("| fails |")  # loses to KD
    assert "| signal-to-noise |" in text and "inconclusive |" in text  # SNR identical: CI is [0, 0]
    recovery = next(line for line in text.splitlines() if line.startswith("| faster recovery"))
    assert recovery.endswith("| holds |")  # 2 fewer steps in every pair
    # Frontier: sst2 keeps 90% of 0.90 (0.81) at 0.8 for every method; mrpc too (0.75+ >= 0.72).
    frontier = next(line for line in text.splitlines() if line.startswith("| sparsity frontier"))
    assert "sst2: 0.8 vs 0.8" in frontier and frontier.endswith("| inconclusive |")
    assert study_report.write_tables(tmp_path).read_text() == text  # byte-identical re-run


def test_interval_needs_three_pairs():
    assert study_report.interval([0.1, 0.2]) is None
    mean, low, high = study_report.interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and low < 2.0 < high
