"""claims.md: paired verdicts and the frontier on a hand-made study tree (issue 11), through sdp-tables."""

from __future__ import annotations

from pathlib import Path

from conftest import run_record, write_run

from sdp.report.claims import interval, verdict
from sdp.report.report import build_report

OFFSET = {"MP": 0.0, "KD": 0.03, "SDP-CC(mean)": 0.02}  # SDP-CC beats MP and loses to KD, in every pair


def _tree(root: Path, methods: dict[str, float] = OFFSET) -> None:
    for seed in (1, 2, 3):  # the study's dense-only runs (sparsity 0): not a frontier row, not a pair
        write_run(root, f"dense/sst2_seed{seed}", run_record("sst2", "MP", 0.0, seed, {"main": 0.9}, {"main": 0.9}))
    for task, dense in (("sst2", 0.90), ("mrpc", 0.80)):
        for sparsity, drop in ((0.5, 0.0), (0.8, 0.05), (0.9, 0.2)):
            for seed in (1, 2, 3):
                for method, off in methods.items():
                    final = dense - drop + off + 0.001 * seed
                    analysis = {"recovery": {"mean_recovery_steps": 10.0 - off * 100, "mean_loss_jump": 0.1,
                                             "mean_removed_mass": 0.004 - off / 10},
                                "separability": {"final": {"fisher_ratio": 0.5 + off, "snr": 0.2}},
                                "mask_overlap": {"reference": 0.9, "dense_magnitude": 0.95}}
                    write_run(root, f"runs/{task}/{method}_s{sparsity}_seed{seed}", run_record(
                        task, method, sparsity, seed, {"main": final}, {"main": dense}, analysis=analysis))


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def test_verdicts_and_frontier(tmp_path):
    _tree(tmp_path)
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    claim1 = _line(text, "| SDP-CC(mean) beats MP and KD")
    assert "vs MP +2.00 [+2.00, +2.00] (n=12)" in claim1 and "vs KD -1.00" in claim1 and claim1.endswith("| fails |")
    assert _line(text, "| signal-to-noise |").endswith("| inconclusive |")  # identical SNR: CI is [0, 0]
    assert _line(text, "| faster recovery").endswith("| holds |")  # 2 fewer updates in every pair
    sparsity = _line(text, "| CC implicitly encourages sparsity")
    assert "-2.000 [-2.000, -2.000] (n=12)" in sparsity and sparsity.endswith("| holds |")
    assert "Jaccard(kept weights of SDP-CC(mean), of MP) = 0.900" in sparsity
    # Frontier: sst2 keeps 90% of 0.90 (0.81) at 0.8 for every method, not at 0.9; mrpc likewise.
    frontier = _line(text, "| sparsity frontier")
    assert "sst2: 0.8 vs 0.8" in frontier and frontier.endswith("| inconclusive |")
    assert "| sst2 | 0 |" not in text
    assert _line(text, "| sst2 | 0.9 |") == (
        "| sst2 | 0.9 | 90.00 ± 0.00 (n=3) | 70.20 ± 0.10 (n=3) | 73.20 ± 0.10 (n=3) | 72.20 ± 0.10 (n=3) |")
    build_report(tmp_path, plots=False)
    assert (tmp_path / "tables" / "claims.md").read_text() == text  # byte-identical re-run


def test_no_claims_without_pairs_and_a_stale_file_goes(tmp_path):
    _tree(tmp_path)
    build_report(tmp_path, plots=False)
    assert (tmp_path / "tables" / "claims.md").is_file()
    other = tmp_path / "other"
    _tree(other, {"MP": 0.0, "KD": 0.03})  # no SDP-CC: nothing to judge
    (other / "tables").mkdir()
    (other / "tables" / "claims.md").write_text("stale")
    build_report(other, plots=False)
    assert not (other / "tables" / "claims.md").exists()


def test_a_method_with_two_configs_in_one_pair_is_left_out(tmp_path):
    _tree(tmp_path)
    extra = run_record("sst2", "MP", 0.9, 1, {"main": 0.5}, {"main": 0.9}, analysis={}, config_hash="other")
    write_run(tmp_path, "runs/sst2/mp_other", extra)
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    assert "Left out: 1 (pairing key, method)" in text
    assert "vs MP +2.00 [+2.00, +2.00] (n=11)" in text  # the ambiguous sst2/0.9/seed 1 pair is not guessed


def test_interval_and_verdict():
    assert interval([0.1, 0.2]) is None and verdict(None, +1).startswith("inconclusive")
    mean, low, high = interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and low < 2.0 < high
    assert verdict((1.0, 0.5, 1.5), -1) == "fails" and verdict((-1.0, -1.5, -0.5), -1) == "holds"
