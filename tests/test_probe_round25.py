"""What probe round 25 found and was fixed after it (issue 26; docs/probe_round25.md): a regression's Spearman
ranked texts that should tie by float noise (a run and sdp-eval of its own model disagreed), WPR's
max_eval_samples scored query fragments, queries with nothing to rank entered the nDCG as 0, the tables showed an
undefined MCC as a measured 0.00, and XGLUE label errors named neither the file's spellings nor a header line.
Each test fails on the commit the probe ran (15c84f1) and passes after its fix. No model, offline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sdp.crosslingual import select_languages
from sdp.data.loading import load_splits
from sdp.data.tasks import TASKS, DataError, get_task


# ------------------------------------------------------------------------------------------- sr1/sr1b
def test_a_regressions_spearman_does_not_rank_float_noise():
    """sr1: 14 repeated dev texts, whose predictions differ only by ~1e-7 float noise from one batch to another,
    were ranked by that noise: the run recorded spearman 98.53 and sdp-eval of its own model 98.64."""
    import datasets
    from scipy.stats import spearmanr

    from sdp.metrics import compute_metrics_noting

    rng = np.random.default_rng(0)
    texts = np.repeat(np.arange(10), 3)  # each text three times, as a dev file with repeated pairs
    inputs = {"validation": datasets.Dataset.from_dict({"input_ids": [[101, 7 + int(t), 102] for t in texts]})}
    refs = rng.uniform(0, 5, size=10)[texts] + rng.normal(0, 0.5, size=len(texts))
    clean = rng.uniform(2.7, 2.71, size=10)[texts]  # a near-collapsed model: distinct texts 1e-3 apart at most
    scores = []
    for noise_seed in (1, 2, 3):  # the same model scored in three batchings
        noise = np.random.default_rng(noise_seed).normal(0, 1e-7, size=len(texts))
        outputs = {"validation": (clean + noise, refs)}
        scores.append(compute_metrics_noting(TASKS["stsb"], outputs, None, [], inputs)["spearman"])
    assert scores[0] == scores[1] == scores[2]
    by_text = {t: v for t, v in reversed(list(zip(texts, clean + np.random.default_rng(1).normal(0, 1e-7, 30))))}
    assert scores[0] == pytest.approx(spearmanr([by_text[t] for t in texts], refs)[0], abs=1e-12)


# --------------------------------------------------------------------------------------------- wp3/wp3b
def _wpr_dir(tmp_path: Path, dev: list[str]) -> Path:
    root = tmp_path / "xglue_full_dataset" / "WPR"
    root.mkdir(parents=True)
    (root / "xglue.wpr.en.train").write_text("q\tt\ts\t4\nq\tt2\ts2\t0\n")
    (root / "xglue.wpr.en.dev").write_text("".join(line + "\n" for line in dev))
    return tmp_path


def test_wpr_max_eval_samples_keeps_whole_queries(tmp_path):
    """wp3: max_eval_samples=30 drew 30 rows, each query scored on 2 or 3 of its 5 pages (nDCG 94.66 against 93.34
    on whole queries): a row sample is no sample of a per-query mean."""
    dev = [f"q{q}\tpage {p}\tsnippet\t{(q + p) % 5}" for q in range(6) for p in range(3)]
    data = _wpr_dir(tmp_path, dev)
    task = select_languages(get_task("wpr"), ["en"])
    loaded = load_splits(task, data, max_eval_samples=7)
    rows = loaded.datasets["validation.en"]
    sizes = {q: rows["query"].count(q) for q in set(rows["query"])}
    assert set(sizes.values()) == {3} and len(rows) == 6  # two whole queries: 6 rows, at most 7
    assert len(set(loaded.groups["validation.en"])) == 2


def test_wpr_samples_only_queries_the_ndcg_scores_and_refuses_a_split_with_none(tmp_path):
    """Review of the wp3 fix: a sample holding only an all-Bad query passed the load, and the run died at its first
    evaluation, after training (`ndcg: no query has two or more rows with different grades`)."""
    dev = ["q0\tp\ts\t0", "q0\tp2\ts\t0", "q0\tp3\ts\t0", "q1\tp\ts\t1", "q2\tp\ts\t2", "q2\tp2\ts\t0"]
    data = _wpr_dir(tmp_path, dev)
    task = select_languages(get_task("wpr"), ["en"])
    for n in (1, 2, 3, 4, 5):
        rows = load_splits(task, data, max_eval_samples=n).datasets["validation.en"]
        assert rows["query"] == ["q2", "q2"], n  # the one query with pages of different grades
    (tmp_path / "xglue_full_dataset" / "WPR" / "xglue.wpr.en.dev").write_text("".join(x + "\n" for x in dev[:4]))
    with pytest.raises(DataError, match=r"eval split 'validation.en' has no query with two or more pages of different "
                                        r"grades \(2 queries, 4 rows\): the nDCG has nothing to rank"):
        load_splits(task, data)


# ------------------------------------------------------------------------------------------------ wpb
def test_queries_with_nothing_to_rank_are_left_out_and_counted():
    """wpb: a query of five Bad pages scored 0 whatever the order (a perfect ranker got 95.24), and a one-page query
    was counted among the rows but skipped; neither was said."""
    from sdp.metrics import eval_queries, ndcg_by_query

    grades = np.array([4, 2, 0, 3, 1, 0, 0, 0, 0, 0, 2])
    groups = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 3])  # query 2: all Bad; query 3: a single page
    perfect = grades.astype(float)
    assert ndcg_by_query(perfect, grades, groups) == 1.0
    record = eval_queries({"validation.de": groups}, {"validation.de": {"labels": grades}})
    assert record == {"eval_queries": {"validation.de": {"scored": 2, "left_out": 2}}}


def test_the_card_says_how_many_queries_were_scored():
    from omegaconf import OmegaConf

    from sdp.models.card import _data

    cfg = OmegaConf.create({"task": {"name": "wpr"}, "max_eval_samples": None, "max_train_samples": None})
    text = _data({"eval_examples": {"validation.de": 106},
                  "eval_queries": {"validation.de": {"scored": 20, "left_out": 2}}}, cfg, "dev")
    assert "106 rows of validation.de (20 queries; 2 with nothing to rank left out)" in text


# ------------------------------------------------------------------------------------------------ tw1
def _cola_run(root: Path, name: str, method: str, seed: int, mcc: float, warned: bool) -> None:
    run_dir = root / name
    run_dir.mkdir(parents=True)
    record = {"status": "completed", "task": "cola", "model": "tiny-bert", "method": method, "schedule": "cubic",
              "teacher": "frozen", "seed": seed, "target_sparsity": 0.5, "final": {"main": mcc, "mcc": mcc},
              "dense": {"main": 0.0, "mcc": 0.0}, "analysis": {}, "config_hash": f"h{method}",
              "versions": {"sdp": "aaa", "sdp_dirty": False}, "finished_at": f"2026-12-06T10:0{seed}:00+00:00"}
    if warned:
        record["metric_warnings"] = ["mcc is undefined (constant predictions or references); reporting 0.0"] * 2
    (run_dir / "metrics.json").write_text(json.dumps(record))
    cfg = {"task": {"name": "cola"}, "regularizer": {"name": method}, "sparsity": 0.5}
    (run_dir / "run.json").write_text(json.dumps({"config": cfg}))


def test_an_undefined_mcc_is_marked_in_the_tables_not_shown_as_measured(tmp_path):
    """tw1: four one-class CoLA models (each record: `mcc is undefined ...; reporting 0.0`) gave glue.md
    `CoLA 0.00 ± 0.00 (n=2)` and deltas.md `+0.00 (n=2)`, glue.csv flagged 0, summary.md without a word."""
    from sdp.report.report import build_report

    for seed in (1, 2):
        _cola_run(tmp_path, f"mp{seed}", "MP", seed, 0.0, warned=True)
        _cola_run(tmp_path, f"kd{seed}", "KD", seed, 0.0, warned=True)
    build_report(tmp_path, plots=False)
    out = tmp_path / "tables"
    glue = (out / "glue.md").read_text()
    assert "0.00 ± 0.00 (n=2)§" in glue and "§ = the score of some of the cell's runs is undefined" in glue
    header, *rows = (out / "glue.csv").read_text().splitlines()
    col = header.split(",").index("undefined")
    assert {r.split(",")[col] for r in rows if ",main," in r} == {"2"}
    assert "+0.00 (n=2)§" in (out / "deltas.md").read_text()
    summary = (out / "summary.md").read_text()
    assert "`mp1`: dense main, dense mcc, final main, final mcc undefined" in summary


def test_a_measured_zero_beside_a_warning_of_another_metric_is_not_marked():
    from sdp.report.undefined import undefined_scores

    record = {"dense": {"mcc": 0.0, "main": 0.0}, "final": {"mcc": 0.12, "main": 0.12},
              "metric_warnings": ["pearson is undefined (constant predictions or references); reporting 0.0"]}
    assert undefined_scores(record) == frozenset()
    record["metric_warnings"] = ["mcc is undefined (constant predictions or references); reporting 0.0"]
    assert undefined_scores(record) == {("dense", "mcc"), ("dense", "main")}  # final's 0.12 was measured


# --------------------------------------------------------------------------------------------- qm1/wph
def test_xglue_label_errors_name_the_files_spellings_and_a_header(tmp_path):
    """qm1: `allowed: ['False', 'True']` for a QAM file that writes 0/1; wph: a header line above a headerless
    official file was called an unknown label 'label', the header unnamed."""
    data = _wpr_dir(tmp_path, ["query\tweb_page_title\tweb_page_snippet\tlabel", "q\tt\ts\t3", "q\tt2\ts\t0"])
    task = select_languages(get_task("wpr"), ["en"])
    with pytest.raises(DataError) as err:
        load_splits(task, data)
    message = str(err.value)
    assert "allowed: 0, 1, 2, 3, 4 (read as Bad, Fair, Good, Excellent, Perfect), or Bad" in message
    assert "looks like a header" in message


# ------------------------------------------------------------------------------------ noticed: mx1, me1
def test_the_summary_names_what_tells_setup_labelled_rows_apart(tmp_path):
    """Noticed in round 25 (mx1, me1): `MP [3668ec8f]` and `MP [918c9154]` were apart in glue.md, and only the
    records said that one ran in bf16."""
    from sdp.report.report import build_report

    for name, precision in (("fp32", "no"), ("bf16", "bf16")):
        run_dir = tmp_path / name
        run_dir.mkdir()
        record = {"status": "completed", "task": "rte", "model": "tiny-bert", "method": "MP", "schedule": "cubic",
                  "teacher": "frozen", "seed": 1, "target_sparsity": 0.5, "final": {"main": 0.5, "accuracy": 0.5},
                  "dense": {"main": 0.6, "accuracy": 0.6}, "analysis": {}, "config_hash": f"h{name}",
                  "versions": {"sdp": "aaa"}, "finished_at": "2026-12-06T10:00:00+00:00"}
        (run_dir / "metrics.json").write_text(json.dumps(record))
        config = {"task": {"name": "rte"}, "regularizer": {"name": "none"}, "sparsity": 0.5, "seed": 1,
                  "train": {"mixed_precision": precision, "num_threads": 1}, "output_dir": str(run_dir)}
        (run_dir / "run.json").write_text(json.dumps({"config": config}))
    report = build_report(tmp_path, plots=False)
    assert [line.split(" rows")[0] for line in report.setups] == ["`tiny-bert / Dense`", "`tiny-bert / MP / cubic / frozen`"]
    line = report.setups[1]
    assert line.startswith("`tiny-bert / MP / cubic / frozen` rows of other setups: differ in train.mixed_precision: [")
    assert "train.mixed_precision='bf16'" in line and "train.mixed_precision='no'" in line
    assert "num_threads" not in line and "output_dir" not in line
    assert line in (tmp_path / "tables" / "summary.md").read_text() and not any("differ in" in w for w in report.warnings)


def test_runs_on_other_numbers_of_processes_are_rows_of_their_own(tmp_path):
    """Found while mending the above: a setup's label was its hash's first 8 characters, so the `/ws2` collect appends
    for a 2-process run was cut, and runs on 1 and 2 GPUs (another global batch) pooled in one cell: `MP [0435566f]
    73.75 ± 22.13 (n=4)` for 2 seeds."""
    from sdp.report.report import build_report

    for name, world, seed, value in (("a1", 1, 1, 0.5), ("a2", 1, 2, 0.6), ("b1", 2, 1, 0.9), ("b2", 2, 2, 0.95)):
        run_dir = tmp_path / name
        run_dir.mkdir()
        record = {"status": "completed", "task": "rte", "model": "tiny-bert", "method": "MP", "schedule": "cubic",
                  "teacher": "frozen", "seed": seed, "target_sparsity": 0.5, "final": {"main": value, "accuracy": value},
                  "dense": {"main": 0.7, "accuracy": 0.7}, "analysis": {}, "config_hash": "hMP",
                  "versions": {"sdp": "aaa"}, "finished_at": f"2026-12-06T10:0{seed}:00+00:00",
                  "distributed": {"world_size": world}}
        (run_dir / "metrics.json").write_text(json.dumps(record))
        config = {"task": {"name": "rte"}, "regularizer": {"name": "none"}, "sparsity": 0.5, "seed": seed}
        (run_dir / "run.json").write_text(json.dumps({"config": config}))
    report = build_report(tmp_path, plots=False)
    glue = (tmp_path / "tables" / "glue.md").read_text()
    assert "| 55.00 ± 7.07 (n=2) |" in glue and "| 92.50 ± 3.54 (n=2) |" in glue and "(n=4)" not in glue
    assert "/ws2]" in glue and any("ran on other numbers of processes" in line for line in report.setups)


# ------------------------------------------------------------------------ left by round 23: library versions
def test_a_resume_under_other_library_versions_is_said_and_recorded(tmp_path, caplog, monkeypatch):
    """A run killed under one transformers version and resumed under another recorded only the last one's, as an
    unbroken run would (left open by round 23 beside k03's thread count)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_probe_round23 import SMOKE, _compose, _files, _reviews

    from sdp.recipe import run
    from sdp.run.preemption import RunInterrupted
    from sdp.training.checkpoint import Checkpointer

    data = {"tmp": tmp_path, "train": _reviews(tmp_path / "train.csv", 64), "dev": _reviews(tmp_path / "dev.csv", 20, 100)}
    keys = _files(data, *SMOKE, "prune.max_steps=4", "train.checkpoint_every=1")
    calls = {"n": 0}

    def stop_at_the_second_prune_update(self):
        calls["n"] += 1
        return calls["n"] == 4

    monkeypatch.setattr(Checkpointer, "stop_requested", stop_at_the_second_prune_update)
    with pytest.raises(RunInterrupted):
        run(_compose([*keys, "train.num_threads=1"]), run_dir=tmp_path / "run")
    monkeypatch.undo()
    real = Checkpointer._libraries
    monkeypatch.setattr(Checkpointer, "_libraries", lambda self: {**real(self), "transformers": "9.9.9"})
    with caplog.at_level("WARNING", logger="sdp"):
        metrics = run(_compose([*keys, "train.num_threads=1"]), run_dir=tmp_path / "run")
    assert metrics["status"] == "completed"
    before = metrics["versions"]["libraries_before_resume"]
    assert len(before) == 1 and before[0]["transformers"] != "9.9.9"
    assert "resumed with transformers 9.9.9, but a launch before ran with transformers" in caplog.text


# ------------------------------------------------------------------------------ left by round 24: push_to_hub
def test_a_push_to_hub_id_the_hub_refuses_is_said_before_the_run():
    """push_to_hub='my model' was refused by the upload only, after the whole run (left open by round 24)."""
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401  (the structured schema)
    from sdp.errors import ConfigError
    from sdp.validate import validate_config

    conf = str(Path(__file__).resolve().parents[1] / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        bad = compose(config_name="config", overrides=["debug=smoke", "push_to_hub=my model"])
        good = compose(config_name="config", overrides=["debug=smoke", "push_to_hub=me/rte-pruned"])
    with pytest.raises(ConfigError, match=r"push_to_hub='my model' is not a Hub repo id \(.*\); write "):
        validate_config(bad)
    validate_config(good)


# ----------------------------------------------------------------- left: Hydra's '+' hint for a mistyped key
def test_a_mistyped_key_is_named_with_its_likely_spelling_not_a_plus():
    """`sdp-run spasity=0.5` got Hydra's "To append to your config use +spasity=0.5", which nothing reads."""
    from sdp.command_line import conf_groups, misspelt_key_errors

    groups = conf_groups()
    assert {"debug", "experiment", "method"} <= groups
    errors = misspelt_key_errors(["spasity=0.5", "prune.critrion=taylor", "debug=smoke", "experiment=quickstart",
                                  "regularizer.lambda_off=1", "+x=1", "hydra.run.dir=o", "task.name=rte"], groups)
    assert len(errors) == 2
    assert errors[0].startswith("spasity=0.5: spasity is not a key of the config (nothing would read it, '+' or not): "
                                "did you mean sparsity?")
    assert errors[1].startswith("prune.critrion=taylor: prune.critrion is not a key of prune") and \
        "did you mean prune.criterion?" in errors[1]


def test_undefined_scores_are_told_apart_by_the_evaluation_that_warned():
    """Review of the tw1 fix: the notes did not say which evaluation warned, so a dense mcc undefined marked a final mcc
    measured at exactly 0, and so did an evaluation point's; and a resume in the prune stage lost the dense notes."""
    from sdp.report.undefined import undefined_scores

    note = "mcc is undefined (constant predictions or references); reporting 0.0"
    record = {"dense": {"mcc": 0.0, "main": 0.0}, "final": {"mcc": 0.0, "main": 0.0},
              "metric_warnings": [f"dense: {note}", f"prune update 4: {note}"]}
    assert undefined_scores(record) == {("dense", "mcc"), ("dense", "main")}
    record["metric_warnings"] = [note]  # an older record: either stage
    assert len(undefined_scores(record)) == 4
    record.update(stages="dense", metric_warnings=[f"dense: {note}"])  # a dense-only run: its final is its dense
    assert len(undefined_scores(record)) == 4


def test_a_resume_in_the_prune_stage_keeps_the_dense_scores_notes(tmp_path, monkeypatch):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_probe_round23 import SMOKE, _compose, _files, _reviews

    import sdp.metrics
    from sdp.recipe import run
    from sdp.run.preemption import RunInterrupted
    from sdp.training.checkpoint import Checkpointer

    # every evaluation's MCC undefined (as for a model that predicts one class): the dense one's note must survive
    monkeypatch.setitem(sdp.metrics._BASE_METRICS, "mcc", lambda p, r: sdp.metrics._finite_or_zero("mcc", np.nan))
    train, dev = tmp_path / "train.csv", tmp_path / "dev.csv"
    _reviews(train, 64)
    _reviews(dev, 20, 100)
    data = {"tmp": tmp_path, "train": train, "dev": dev}
    keys = _files(data, *SMOKE, "task.metric=mcc", "prune.max_steps=4", "train.checkpoint_every=1")
    calls = {"n": 0}

    def stop_in_the_prune_stage(self):
        calls["n"] += 1
        return calls["n"] == 4

    original = Checkpointer.stop_requested
    monkeypatch.setattr(Checkpointer, "stop_requested", stop_in_the_prune_stage)
    with pytest.raises(RunInterrupted):
        run(_compose([*keys, "train.num_threads=1"]), run_dir=tmp_path / "run")
    monkeypatch.setattr(Checkpointer, "stop_requested", original)
    metrics = run(_compose([*keys, "train.num_threads=1"]), run_dir=tmp_path / "run")
    assert metrics["dense"]["mcc"] == 0.0 and "resume" in (tmp_path / "run" / "trace.jsonl").read_text()
    assert any(n.startswith("dense: mcc is undefined") for n in metrics["metric_warnings"])


def test_the_tie_index_is_the_splits_own_even_where_fingerprints_agree():
    """Two versions of one file (copied over it with its size and time kept) can share a datasets fingerprint; the
    cached index of repeated inputs must be the split object's own."""
    import datasets

    from sdp.metrics import tie_repeated_inputs

    one = datasets.Dataset.from_dict({"input_ids": [[1, 5], [1, 5], [1, 6]]})
    two = datasets.Dataset.from_dict({"input_ids": [[1, 5], [1, 6], [1, 6]]})
    two._fingerprint = one._fingerprint
    preds = np.array([0.1, 0.2, 0.3])
    assert list(tie_repeated_inputs({"v": (preds, preds)}, {"v": one})["v"][0]) == [0.1, 0.1, 0.3]
    assert list(tie_repeated_inputs({"v": (preds, preds)}, {"v": two})["v"][0]) == [0.1, 0.2, 0.2]
