"""What probe round 28 found (issue 26; docs/probe_round28.md): claims.md averaged mask overlaps taken with another
seed's MP run as the overlap "of MP", and showed a frontier row of dashes (dense score included) for runs of another
criterion; no claims.md with no word why beside SDP-CC runs of another teacher or with a weight term; rows of one method
under two configs, or two models in claims.md, told apart by a hash alone; a weight-term plug-in could take a
distillation term's label; the calibration called its last candidate a knee where MP lost nothing. Each test fails on
the commit the probe ran (f99c739) and passes after its fix. Hand-written records, offline; nothing is trained."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(root: Path, name: str, method: str, seed: int, final: float, *, criterion: str = "magnitude",
         teacher: str = "frozen", model: str = "tiny-bert", regularizer: dict | None = None,
         analysis: dict | None = None, config_hash: str | None = None) -> Path:
    run_dir = root / name
    run_dir.mkdir(parents=True)
    record = {"status": "completed", "task": "rte", "model": model, "method": method, "schedule": "cubic",
              "teacher": teacher, "seed": seed, "target_sparsity": 0.9, "final": {"main": final, "accuracy": final},
              "dense": {"main": 0.55, "accuracy": 0.55}, "analysis": analysis or {},
              "config_hash": config_hash or f"h-{method}-{criterion}-{teacher}-{model}",
              "versions": {"sdp": "aaa", "sdp_dirty": False}, "finished_at": f"2026-12-06T10:0{seed}:00+00:00",
              "data_fingerprint": {"train": "t0", "validation": "v0"},
              "model_sha256": {"model.safetensors": f"sha-{name}"}}
    (run_dir / "metrics.json").write_text(json.dumps(record))
    cfg = {"task": {"name": "rte"}, "model": {"name": model}, "regularizer": regularizer or {"name": method},
           "sparsity": 0.9, "prune": {"criterion": criterion, "teacher": teacher}, "dense": {"max_steps": 2}}
    (run_dir / "run.json").write_text(json.dumps({"config": cfg}))
    return run_dir


def _claims(root: Path) -> str:
    from sdp.report.claims import render_claims
    from sdp.report.collect import collect_runs

    return render_claims(collect_runs(root).runs, root)


# --------------------------------------------------------------------------- rf2
def test_claims_take_only_the_overlap_with_the_runs_own_mp_partner(tmp_path):
    """rf2: `prune.reference_mask=<MP seed 1>` swept over seeds 1-3: claims.md said `Jaccard(kept weights of
    SDP-CC(mean), of MP) = 0.149`, the mean of the partner's 0.319 and 0.068, 0.061 against another seed's MP."""
    for seed in (1, 2, 3):
        _run(tmp_path, f"MP{seed}", "MP", seed, 0.80)
    for seed, overlap in ((1, 0.30), (2, 0.06), (3, 0.07)):
        _run(tmp_path, f"CC{seed}", "SDP-CC", seed, 0.82, regularizer={"name": "cross_correlation"},
             analysis={"mask_overlap": {"reference": overlap, "reference_path": str(tmp_path / "MP1")}})
    claims = _claims(tmp_path)
    assert "of MP) = 0.300 over 1 runs; 2 whose prune.reference_mask is not their MP partner's left out" in claims
    # each seed given its own MP run (a checkout moved elsewhere: the path's tail), as the study records are
    for seed in (2, 3):
        record = json.loads((tmp_path / f"CC{seed}" / "metrics.json").read_text())
        record["analysis"]["mask_overlap"]["reference_path"] = f"/elsewhere/results/MP{seed}"
        (tmp_path / f"CC{seed}" / "metrics.json").write_text(json.dumps(record))
    claims = _claims(tmp_path)
    assert f"of MP) = {(0.30 + 0.06 + 0.07) / 3:.3f})" in claims and "left out" not in claims


# --------------------------------------------------------------------------- cl1, mm2
def test_claims_leave_out_runs_of_another_criterion_and_say_so(tmp_path):
    """cl1: MP and SDP-CC under magnitude and movement: claims.md had a frontier row `rte [hash] | 0.9 | — | — | —`
    (dense included) and `— (n=0)` for the movement setup's six runs, with no word."""
    for seed in (1, 2, 3):
        for criterion, label in (("magnitude", ""), ("movement", " (movement)")):
            _run(tmp_path, f"MP{criterion}{seed}", f"MP{label}", seed, 0.80, criterion=criterion)
            _run(tmp_path, f"CC{criterion}{seed}", f"SDP-CC{label}", seed, 0.82, criterion=criterion,
                 regularizer={"name": "cross_correlation"})
    claims = _claims(tmp_path)
    assert "| — | — | — |" not in claims and "— (n=0) | — (n=0)" not in claims
    assert "Left out: the runs of MP (movement), SDP-CC (movement)" in claims
    assert "| rte | 0.9 | 55.00 ± 0.00 (n=3) | 80.00 ± 0.00 (n=3) | 82.00 ± 0.00 (n=3) |" in claims


def test_claims_name_the_model_of_each_setup(tmp_path):
    """mm2: two models on one task: claims.md labelled their rows `custom [8c17ca0a]`, `custom [10df5f5b]`, hashes
    glue.md never shows (its Model column tells them apart)."""
    for seed in (1, 2, 3):
        for model in ("tiny-bert", "tiny-xlmr"):
            _run(tmp_path, f"MP{model}{seed}", "MP", seed, 0.80, model=model)
            _run(tmp_path, f"CC{model}{seed}", "SDP-CC", seed, 0.82, model=model,
                 regularizer={"name": "cross_correlation"})
    claims = _claims(tmp_path)
    assert "| rte tiny-bert [" in claims and "| rte tiny-xlmr [" in claims


# --------------------------------------------------------------------------- tr1
@pytest.mark.parametrize("cc_method, teacher, words", [
    ("SDP-CC", "refresh", "differ in teacher ['refresh'] (MP: ['frozen'])"),
    ("SDP-CC+AWR-cos", "frozen", "add a weight term (SDP-CC+AWR-cos; their pairs with MP are in deltas.md)"),
])
def test_no_claims_says_why_the_sdp_cc_runs_have_no_mp_partner(tmp_path, cc_method, teacher, words):
    """tr1: SDP-CC with prune.teacher=refresh beside MP (frozen), or SDP-CC+AWR-cos beside MP: no claims.md, and
    summary.md said nothing (a README block: `no SDP-CC run has an MP partner`, beside paired deltas)."""
    from sdp.report.report import build_report

    for seed in (1, 2, 3):
        _run(tmp_path, f"MP{seed}", "MP", seed, 0.80)
        _run(tmp_path, f"CC{seed}", cc_method, seed, 0.82, teacher=teacher, regularizer={"name": "cross_correlation"})
    report = build_report(tmp_path, plots=False)
    assert not (tmp_path / "tables" / "claims.md").exists()
    assert any(w.startswith("no claims.md:") and words in w for w in report.warnings), report.warnings


# --------------------------------------------------------------------------- kt1
def test_summary_names_what_tells_rows_of_other_configs_apart(tmp_path):
    """kt1: `regularizer=kd regularizer.temperature=1,4`: glue.md `KD [796688ab]`, `KD [856281c2]`, and summary.md
    said only `several configs share one cell`."""
    from sdp.report.collect import collect_runs
    from sdp.report.setup_diff import setup_differences

    for seed in (1, 2):
        for t in (1.0, 4.0):
            _run(tmp_path, f"KD{t}-{seed}", "KD", seed, 0.8, regularizer={"name": "kd", "temperature": t},
                 config_hash=f"{'a' if t == 1.0 else 'b'}1234567")
    lines = setup_differences(collect_runs(tmp_path).runs, tmp_path)
    assert ("`rte / tiny-bert / KD / 90%` rows of other configs: differ in regularizer.temperature: "
            "[a1234567] regularizer.temperature=1.0; [b1234567] regularizer.temperature=4.0") in lines


# --------------------------------------------------------------------------- lbl
def test_a_weight_term_cannot_take_a_distillation_terms_label():
    """lbl: `WEIGHT_TERMS.register("wmse", WeightMSE, label="MSE")` was taken: `regularizer=none weight_reg=wmse` and
    `regularizer=mse` were both `MSE` in RESULT lines, metrics.json and the tables."""
    from sdp.objectives.component import WeightTerm
    from sdp.objectives.registry import WEIGHT_TERMS

    @dataclass
    class Options:
        scale: float = 1.0

    class WeightMSE(WeightTerm):
        pass

    WeightMSE.Options = Options
    with pytest.raises(ValueError, match="label 'MSE' is already regularizer 'mse''s"):
        WEIGHT_TERMS.register("wmse_probe28", WeightMSE, label="MSE")
    assert "wmse_probe28" not in WEIGHT_TERMS.names()


# --------------------------------------------------------------------------- ck1
def test_the_calibration_says_when_no_candidate_is_a_knee(tmp_path, monkeypatch):
    """ck1: MP lost 0% at both candidates, and the grid printed `knee sparsity: 0.95`."""
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    sys.modules.pop("grid_calibration", None)
    import grid_calibration as g

    opts = g.Options(seeds=[1, 2], candidate_sparsities=[0.9, 0.95])
    for sp in (0.9, 0.95):
        for seed in (1, 2):
            run_dir = g.run_dir(tmp_path, "mp", sp, seed)
            run_dir.mkdir(parents=True)
            final = 0.5 if sp == 0.9 else 0.4
            (run_dir / "metrics.json").write_text(json.dumps(
                {"status": "completed", "final": {"main": final}, "dense": {"main": 0.5}}))
    assert g.knee_line(opts, tmp_path, g.knee(opts, tmp_path)) == "knee sparsity: 0.95"  # lost 20% there
    opts.knee_loss = 0.5
    line = g.knee_line(opts, tmp_path, g.knee(opts, tmp_path))
    assert line.startswith("knee sparsity: none; no candidate made MP lose >= 50%") and "0.9: 0.0%, 0.95: 20.0%" in line


# --------------------------------------------------------------------------- ml3
@pytest.mark.parametrize("texts, length, least", [([("superb movie",)], 2, 3), ([("a film", "a movie")], 4, 6)])
def test_sdp_predict_refuses_a_length_that_leaves_no_text(texts, length, least):
    """ml3: `sdp-predict ... max_seq_length=2` labelled all 120 rows `neg` from `[CLS] [SEP]` alone (no text token);
    sdp-run and sdp-eval refuse the length (`must be >= 3 for this tokenizer`)."""
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    from sdp.data.tasks import DataError
    from sdp.prediction import predict_labels

    tokenizer = AutoTokenizer.from_pretrained(str(REPO / "sdp" / "assets" / "tiny-xlmr-tokenizer"))
    saved = SimpleNamespace(tokenizer=tokenizer, label_names=["neg", "pos"], is_regression=False, model=None,
                            device="cpu")
    with pytest.raises(DataError, match=f"max_seq_length={length} must be >= {least} for this tokenizer"):
        list(predict_labels(saved, texts, 8, length))
