"""Leftovers of probe round 31, fixed by the lead (docs/errors.md "Leftovers of round 31"): the carve check said in
one place; a skip decision's data load quiet; a dense model recorded by path only not a second dense model; costs of
records without a device labelled; an evaluation's "scored on" without a leading space; a reference mask of a run on
another custom training file said; standard streams known by the open file, not by spelling. Each test fails on
726e4c1 and passes after. Hand-written files, records and tiny models, offline."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from records import rte_rows, write_csv, write_record, write_rte_folder
from test_probe_round31 import _classifier


# --------------------------------------------------------------------------- the carve check in one place
def test_rows_decide_only_where_max_train_samples_alone_differs(tmp_path, tokenizer):
    """rows_decide (sdp/training_rows.py) beside carve_differences, and the rows' error names what else differs from
    the run's carve where the rows decided (it was appended to any ConfigError of the data load)."""
    from sdp.cli.eval import compose_config

    from sdp.errors import ConfigError
    from sdp.evaluation import evaluate_saved
    from sdp.training_rows import carve_differences, rows_decide

    train = write_csv(tmp_path / "tr.csv", [(f"train text {i}", ("neg", "pos")[i % 2]) for i in range(40)])
    model = _classifier(tokenizer, tmp_path / "m", length=32)
    config = json.loads((model / "config.json").read_text())
    config["sdp_training_rows"] = {"task.name": "custom", "max_train_samples": 10000, "task.validation_from_train": 0.25,
                                   "task.validation_seed": 0, "train_fingerprint": "0123456789abcdef"}
    (model / "config.json").write_text(json.dumps(config))
    args = ["task=custom", f"task.train_file={train}", "task.validation_from_train=0.25", "task.text_fields=[text]",
            "task.label_column=label", f"cache_dir={tmp_path / 'c'}"]
    cfg = compose_config(args)
    differences = carve_differences(model, cfg)
    assert differences == {"max_train_samples": (10000, None)}
    assert rows_decide(config, differences)
    assert not rows_decide({}, differences)  # no rows recorded: the carve's keys decide
    assert not rows_decide(config, {**differences, "task.validation_seed": (0, 1)})
    with pytest.raises(ConfigError, match=r"its run's carve differs here in max_train_samples: 10000 there, None here"):
        evaluate_saved(cfg, model, tmp_path / "ev")  # its rows (a made-up fingerprint) are not these


# --------------------------------------------------------------------------- a skip decision's load is quiet
def test_a_skip_decisions_data_load_says_nothing_and_the_runs_load_does(tmp_path, caplog):
    """A relaunched sweep's finished jobs said the GLUE folder's repeated rows again, each, on a load made only to
    fingerprint the data (sdp/run/same_data.py fingerprints_for); the run's own load still says it."""
    from sdp.cli.eval import compose_config

    from sdp.data.loading import load_run_splits
    from sdp.data.tasks import get_task
    from sdp.run.same_data import fingerprints_for

    rows = rte_rows(20)
    write_rte_folder(tmp_path, rows[:16], rows[12:])
    cfg = compose_config(["task=rte", f"data_dir={tmp_path}", f"cache_dir={tmp_path / 'c'}"])
    with caplog.at_level(logging.WARNING, logger="sdp"):
        prints = fingerprints_for(cfg)
        assert "repeat a row trained on" not in caplog.text, caplog.text
        assert logging.getLogger("sdp").level == logging.WARNING  # set back
        assert set(prints) >= {"train", "validation"}
        load_run_splits(cfg, get_task("rte"))
    assert "task rte, split validation: 4 of 8 rows repeat a row trained on" in caplog.text, caplog.text


# --------------------------------------------------------------------------- a dense model known by path only
def test_a_dense_model_given_by_path_only_is_its_seeds_own(tmp_path):
    """An older record of a run given its seed's own dense_model/ by path (no fingerprint) beside that seed's run
    (whose dense model is recorded by content) was a second dense model: `Dense ... (n=2)` from one model."""
    from sdp.report.report import build_report

    write_record(tmp_path, "mp1", "MP", 1, 0.9417, own="0123456789abcdef")
    write_record(tmp_path, "kd1", "KD", 1, 0.8917, given=(str(tmp_path / "mp1" / "dense_model"), ""))
    build_report(tmp_path, plots=False)
    glue = (tmp_path / "tables" / "glue.md").read_text()
    assert "| Dense | 0% | 55.00 (n=1) |" in glue, glue


# --------------------------------------------------------------------------- costs of records without a device
def test_costs_label_a_record_without_a_device_beside_runs_with_one(tmp_path):
    """costs.md: runs of one setup on a CPU and an older record without `versions.device` were one row, unlabelled
    (the older one may have run on a GPU)."""
    from sdp.report.report import build_report

    write_record(tmp_path, "mp1", "MP", 1, 0.9, own="fp1")
    write_record(tmp_path, "mp2", "MP", 2, 0.9, own="fp2")
    path = tmp_path / "mp1" / "metrics.json"
    record = json.loads(path.read_text())
    record["versions"]["device"] = "cpu"
    path.write_text(json.dumps(record))
    build_report(tmp_path, plots=False)
    costs = (tmp_path / "tables" / "costs.md").read_text()
    assert "| dense + pruning (cpu) | MP |" in costs and "| dense + pruning (device not recorded) | MP |" in costs, costs


# --------------------------------------------------------------------------- scored_on
def test_scored_on_of_a_record_without_eval_examples_starts_with_its_length(tmp_path):
    from sdp.report.not_runs import load_evaluation

    row = load_evaluation({"final": {"main": 0.5}, "max_seq_length": 4, "trained_max_seq_length": 32},
                          tmp_path / "ev", tmp_path)
    assert row["scored_on"] == "at 4 tokens (trained at 32)", row["scored_on"]


# --------------------------------------------------------------------------- a reference of another custom file
def test_a_reference_mask_of_a_run_on_another_custom_file_is_said(tmp_path):
    """Custom tasks are all named `custom`: a reference run trained on another file was not said (round 31, rf3's
    leftover). The same content under another name is the same data, and not said."""
    from sdp.pruning.overlap import reference_run_note

    ours = write_csv(tmp_path / "ours.csv", [("a", "x"), ("b", "y")])
    same = write_csv(tmp_path / "copy.csv", [("a", "x"), ("b", "y")])
    other = write_csv(tmp_path / "other.csv", [("c", "x"), ("d", "y")])
    run = tmp_path / "ref"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"task": "custom", "model": "tiny-bert", "seed": 1,
                                                  "target_sparsity": 0.5, "method": "MP"}))
    for theirs, said in ((other, True), (same, False)):
        (run / "run.json").write_text(json.dumps({"config": {"task": {"name": "custom", "train_file": theirs}}}))
        note = reference_run_note(run, 1, 0.5, "custom", "tiny-bert", ours)
        assert (note is not None and f"training file {other!r}" in note) if said else note is None, note


# --------------------------------------------------------------------------- standard streams by the open file
@pytest.mark.parametrize("spelling", ["/proc/self/fd/1", "//dev/./stdout", "labels.txt"])
def test_standard_output_by_any_path_is_written_into(tmp_path, tokenizer, spelling):
    """`sdp-predict ... output=/proc/self/fd/1 >> labels.txt` (or `//dev/./stdout`, or the file itself) was refused
    as an existing file, or replaced it: only the spellings /dev/stdout and /dev/fd/1 were known."""
    _classifier(tokenizer, tmp_path / "m")
    write_csv(tmp_path / "in.csv", [("a film", "x"), ("another", "y")])
    labels = tmp_path / "labels.txt"
    labels.write_text("kept\n")
    if not os.path.exists("/proc/self/fd/1"):
        pytest.skip("no /proc")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with open(labels, "a") as out:
        done = subprocess.run([sys.executable, "-m", "sdp.cli.predict", f"model_dir={tmp_path / 'm'}",
                               f"input={tmp_path / 'in.csv'}", "text_fields=text",
                               f"output={labels if spelling == 'labels.txt' else spelling}"],
                              stdout=out, stderr=subprocess.PIPE, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = labels.read_text().splitlines()
    assert lines[0] == "kept" and len(lines) == 3 and set(lines[1:]) <= {"neg", "pos"}, lines


# --------------------------------------------------------------------------- review of round 32's fixes
def test_a_glue_folder_of_the_dev_file_only_is_scored_without_a_training_file(tmp_path):
    """gl4's fix read the folder's train.tsv on every sdp-eval of a GLUE model: a folder holding only dev.tsv was a
    DataFileNotFoundError, where sdp-eval never needed a training file."""
    from sdp.data.scored_rows import warn_model_rows_scored
    from sdp.data.tasks import get_task

    folder = tmp_path / "glue" / "RTE"
    folder.mkdir(parents=True)
    (folder / "dev.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n")
    warn_model_rows_scored(get_task("rte"), tmp_path, {}, {"train_fingerprint": "0123456789abcdef"})


def test_one_custom_datas_setups_are_one_claims_unit(tmp_path):
    """cm1's fix named a custom dataset by its split fingerprints, which max_train_samples changes: a sweep over
    max_train_samples=500,1000 on one file made 6 units of 3 seeds (round 23's r11 again). Its files name it."""
    from sdp.report.claims import render_claims
    from sdp.report.collect import collect_runs

    for budget in (500, 1000):
        for seed in (1, 2, 3):
            for method, final in (("MP", 0.80), ("SDP-CC", 0.80 + seed / 100)):
                run_dir = tmp_path / f"{budget}-{method}{seed}"
                run_dir.mkdir()
                (run_dir / "metrics.json").write_text(json.dumps({
                    "status": "completed", "task": "custom", "model": "tiny-bert", "method": method,
                    "schedule": "cubic", "teacher": "frozen", "seed": seed, "target_sparsity": 0.9,
                    "final": {"main": final, "accuracy": final}, "dense": {"main": 0.9, "accuracy": 0.9},
                    "analysis": {}, "config_hash": f"h{method}{budget}", "versions": {"sdp": "aaa"},
                    "finished_at": f"2026-12-06T10:0{seed}:00+00:00",
                    "data_fingerprint": {"train": f"t-{budget}", "validation": "v0"}}))
                cfg = {"task": {"name": "custom", "train_file": "one.csv", "validation_file": "dev.csv"},
                       "regularizer": {"name": method}, "sparsity": 0.9, "max_train_samples": budget,
                       "dense": {"max_steps": 2}}
                (run_dir / "run.json").write_text(json.dumps({"config": cfg}))
    claims = render_claims(collect_runs(tmp_path).runs, tmp_path)
    verdict = next(line for line in claims.splitlines() if line.startswith("| SDP-CC beats MP"))
    assert "vs MP +2.00" in verdict and "(n=3)" in verdict, verdict


def test_an_undefined_test_metric_does_not_mark_the_dev_score(tmp_path):
    """ew2's fix marked an evaluation's main `§` for any metric_warnings: an undefined test mcc marked a measured dev
    score of 41.00."""
    from sdp.report.not_runs import load_evaluation

    row = load_evaluation({"task": "custom", "final": {"mcc": 0.41, "main": 0.41, "test_mcc": 0.0},
                           "metric_warnings": ["mcc is undefined (constant predictions or references); reporting 0.0"]},
                          tmp_path / "ev", tmp_path)
    assert row["undefined"] is False
    row = load_evaluation({"task": "custom", "final": {"mcc": 0.0, "main": 0.0},
                           "metric_warnings": ["mcc is undefined (constant predictions or references); reporting 0.0"]},
                          tmp_path / "ev", tmp_path)
    assert row["undefined"] is True


def test_format_characters_that_are_read_stay_in_the_text_key():
    """lm1's fix set aside every format character but the joiners: England's and Scotland's flags (emoji tag
    characters) became one label, and an Arabic number sign was dropped. The direction marks still go."""
    from sdp.data.file_scan import text_key

    england = "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F"
    scotland = "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"
    assert text_key(england) != text_key(scotland)
    assert text_key("\u0600\u0661\u0662") != text_key("\u0661\u0662")
    assert text_key("a \u200egood\u200f \u2068film\u2069") == text_key("a good film")
