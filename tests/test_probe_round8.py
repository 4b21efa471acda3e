"""What probe round 8 found (issue 26; docs/probe_round8.md): what the tool reports and ships. Each test fails on
the main the probe ran (8535123) and passes after its fix. Tiny model folders and records only: no training."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]
COLA_LABELS = {0: "unacceptable", 1: "acceptable"}


def _model(path: Path, tokenizer, constant: bool = False) -> int:
    """A tiny CoLA BERT folder (the MiniLM vocabulary); ``constant``: its classifier predicts one class for every
    input. Returns its number of nonzero parameters (what a run's metrics.json records as nonzero_params)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=30522, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, num_labels=2, id2label=COLA_LABELS,
                        label2id={v: k for k, v in COLA_LABELS.items()})
    model = BertForSequenceClassification(config)
    if constant:
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.copy_(torch.tensor([1.0, 0.0]))
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return sum(int((p != 0).sum()) for p in model.parameters())


def _eval(model: Path, out: Path, data_dir: Path, tmp_path: Path, capsys) -> dict:
    from cli.eval import main as eval_main

    assert eval_main([f"model_dir={model}", "task=cola", f"data_dir={data_dir}", "max_eval_samples=16",
                      f"output_dir={out}", f"cache_dir={tmp_path / 'cache'}"]) == 0, capsys.readouterr().err
    return json.loads((out / "metrics.json").read_text())


def test_eval_records_a_metric_it_could_not_compute(tmp_path, tokenizer, data_dir, capsys):
    """e01: sdp-eval of a model that predicts one class stored CoLA's undefined MCC as 0.00 with no word in its
    record (a run's metrics.json has metric_warnings; the eval's warning went to stderr only)."""
    _model(tmp_path / "m", tokenizer, constant=True)
    record = _eval(tmp_path / "m", tmp_path / "ev", data_dir, tmp_path, capsys)
    assert record["final"]["mcc"] == 0.0
    assert record["metric_warnings"] and "mcc is undefined" in record["metric_warnings"][0]


def test_eval_takes_nothing_from_a_run_whose_model_was_edited(tmp_path, tokenizer, data_dir, capsys):
    """e04/e05: model/ replaced or edited after its run (another compact model; the run's dense_model copied in):
    sdp-eval still took the run's method, target sparsity and (for a compact model) its measured sparsity. The
    check counts nonzero prunable weights: a compact model with a layer removed lost that layer's nonzero
    LayerNorms too (the whole model's count differs, e08), and is still the run's."""
    from hydra import compose, initialize_config_dir
    from transformers import AutoModelForSequenceClassification

    import sdp.config  # noqa: F401  (registers the schema)
    from sdp.evaluation import weight_sparsity

    nonzero = _model(tmp_path / "run" / "model", tokenizer)
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        prune = compose("config", overrides=["debug=smoke", "task=cola"]).prune
    held = weight_sparsity(AutoModelForSequenceClassification.from_pretrained(tmp_path / "run" / "model"), prune)
    kept = held["prunable_params"] - round(held["prunable_params"] * held["achieved_sparsity"]["prunable"])
    # The run's full shape: twice the prunable weights, half of them zeros (so the same nonzero ones), a removed
    # layer's 128 nonzero LayerNorm weights more in the whole model.
    run = {"status": "completed", "task": "cola", "model": "tiny-bert", "method": "SDP-CC", "seed": 1,
           "target_sparsity": 0.5, "achieved_sparsity": {"prunable": 0.5, "encoder": 0.49, "model": 0.01},
           "prunable_params": 2 * kept, "total_params": held["total_params"] + 5000, "nonzero_params": nonzero + 128,
           "final": {"main": 0.1}, "config_hash": "h"}
    (tmp_path / "run" / "metrics.json").write_text(json.dumps(run))
    (tmp_path / "run" / ".sdp.lock").write_text("")  # sdp ran there (sdp/run/nesting.py is_sdp_metrics)
    same = _eval(tmp_path / "run" / "model", tmp_path / "ev1", data_dir, tmp_path, capsys)
    assert same["method"] == "SDP-CC" and same["achieved_sparsity"] == run["achieved_sparsity"]
    assert "source_run_differs" not in same
    edited = {**run, "achieved_sparsity": {**run["achieved_sparsity"], "prunable": 0.4}}  # other nonzero weights
    (tmp_path / "run" / "metrics.json").write_text(json.dumps(edited))
    record = _eval(tmp_path / "run" / "model", tmp_path / "ev2", data_dir, tmp_path, capsys)
    assert record["method"] == "" and record["target_sparsity"] is None and record["source_run"] is None
    assert record["achieved_sparsity"] != run["achieved_sparsity"] and "compact_params" not in record
    assert (f"holds {kept} nonzero prunable weights, its run's metrics.json recorded {2 * kept - round(0.8 * kept)}"
            in record["source_run_differs"])


def test_eval_tells_an_edit_that_keeps_the_nonzero_count_by_the_runs_model_sha256(tmp_path, tokenizer, data_dir,
                                                                                      capsys):
    """Round 8's leftover: the nonzero count missed an edit that keeps it (every weight doubled, none zeroed): the
    run's method and sparsity were taken for another model. A run records its model/'s sha256 (model_sha256)."""
    from hydra import compose, initialize_config_dir
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForSequenceClassification

    import sdp.config  # noqa: F401  (registers the schema)
    from sdp.evaluation import weight_sparsity
    from sdp.models.inspect import weights_digest

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        prune = compose("config", overrides=["debug=smoke", "task=cola"]).prune
    nonzero = _model(tmp_path / "run" / "model", tokenizer)
    held = weight_sparsity(AutoModelForSequenceClassification.from_pretrained(tmp_path / "run" / "model"), prune)
    run = {"status": "completed", "task": "cola", "model": "tiny-bert", "method": "SDP-CC", "seed": 1,
           "target_sparsity": 0.5, "achieved_sparsity": held["achieved_sparsity"],
           "prunable_params": held["prunable_params"], "total_params": held["total_params"], "nonzero_params": nonzero,
           "final": {"main": 0.1}, "model_sha256": weights_digest(tmp_path / "run" / "model"), "config_hash": "h"}
    (tmp_path / "run" / "metrics.json").write_text(json.dumps(run))
    (tmp_path / "run" / ".sdp.lock").write_text("")  # sdp ran there (sdp/run/nesting.py is_sdp_metrics)
    same = _eval(tmp_path / "run" / "model", tmp_path / "ev1", data_dir, tmp_path, capsys)
    assert same["method"] == "SDP-CC" and "source_run_differs" not in same
    weights = tmp_path / "run" / "model" / "model.safetensors"
    save_file({k: v * 2 if v.is_floating_point() else v for k, v in load_file(weights).items()}, weights,
              metadata={"format": "pt"})
    doubled = weight_sparsity(AutoModelForSequenceClassification.from_pretrained(tmp_path / "run" / "model"), prune)
    assert doubled["nonzero_params"] == held["nonzero_params"]  # the count alone sees no edit
    record = _eval(tmp_path / "run" / "model", tmp_path / "ev2", data_dir, tmp_path, capsys)
    assert record["method"] == "" and record["source_run"] is None
    assert "model.safetensors is not the file its run wrote (its sha256 differs" in record["source_run_differs"]


def test_eval_refuses_a_max_seq_length_beyond_the_models_positions(tmp_path, tokenizer, data_dir, capsys):
    """e07: sdp-eval task.max_seq_length=1024 on a 512-position model: a RuntimeError from the embeddings once a
    long dev text was read (sdp-predict refuses it since round 5)."""
    from cli.eval import main as eval_main

    _model(tmp_path / "m", tokenizer)
    code = eval_main([f"model_dir={tmp_path / 'm'}", "task=cola", f"data_dir={data_dir}", "task.max_seq_length=1024",
                      f"output_dir={tmp_path / 'ev'}"])
    assert code == 2 and "task.max_seq_length=1024 is longer than model_dir" in capsys.readouterr().err
    assert not (tmp_path / "ev").exists()


def _tsv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("s1\ts2\tlabel\n" + "".join(f"{a}\t{b}\t{y}\n" for a, b, y in rows))
    return path


def _custom(train: Path, dev: Path):
    return OmegaConf.create({"name": "custom", "train_file": str(train), "validation_file": str(dev),
                             "text_fields": ["s1", "s2"], "label_column": "label", "metric": "accuracy"})


def test_dev_rows_that_repeat_training_rows_are_said(tmp_path, caplog):
    """d02: 10 of 30 dev rows copied from the training file: trained on and scored as dev, no word (an equal file
    is refused; a partial copy was not). Now a warning of the sdp logger (stderr and run.log) counts them."""
    import logging

    from sdp.data.custom import SCORING_ONLY, custom_task

    train_rows = [(f"premise {i}", f"hypothesis {i}", "ab"[i % 2]) for i in range(20)]
    train = _tsv(tmp_path / "train.tsv", train_rows)
    clean = _tsv(tmp_path / "dev.tsv", [(f"other {i}", f"hypothesis {i}", "ab"[i % 2]) for i in range(10)])
    dev = _tsv(tmp_path / "dev_dup.tsv", [*train_rows[3:6], *[(f"other {i}", "x", "a") for i in range(7)]])
    with caplog.at_level(logging.WARNING, logger="sdp"):
        assert custom_task(_custom(train, clean)).label_names == ("a", "b")
        assert not caplog.records
        custom_task(_custom(train, dev))
        token = SCORING_ONLY.set(True)  # sdp-eval scores a file, trains on nothing: no word
        try:
            custom_task(_custom(train, dev))
        finally:
            SCORING_ONLY.reset(token)
    assert len(caplog.records) == 1
    assert ("dev_dup.tsv': 3 of 10 rows repeat a row of task.train_file=" in caplog.text
            and "(the same s1, s2; data rows [1, 2, 3], counted from 1)" in caplog.text)


def test_custom_labels_that_differ_only_in_letter_case_are_refused(tmp_path):
    """d08: every 5th 'entailment' written 'Entailment': a 3-class model for a 2-class file, no word (labels that
    differ only in spaces are refused since round 4)."""
    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    labels = ["Entailment" if i % 5 == 0 else "entailment" if i % 2 else "not_entailment" for i in range(20)]
    train = _tsv(tmp_path / "train.tsv", [(f"premise {i}", f"hypothesis {i}", y) for i, y in enumerate(labels)])
    dev = _tsv(tmp_path / "dev.tsv", [(f"other {i}", "x", "entailment") for i in range(4)])
    with pytest.raises(DataError, match=r"holds labels that differ only in spaces or letter case, \['Entailment', "
                                        r"'entailment'\]: they would be separate classes"):
        custom_task(_custom(train, dev))


def test_a_tsv_text_longer_than_the_csv_field_limit_is_read(tmp_path):
    """d03: a 200,000-character text in a TSV was refused as "field larger than field limit (131072) (a quote that
    is not closed or not doubled?)"; it has no quote, and pandas reads it whole."""
    import csv

    from sdp.data.file_scan import scan_file

    path = _tsv(tmp_path / "long.tsv", [("word " * 40000, "short", "a"), ("x", "y", "b")])
    limit = csv.field_size_limit()
    assert scan_file(path, ".tsv", "train_file") == 2
    assert csv.field_size_limit() == limit  # the process-wide limit is put back


def test_a_structured_sparsity_out_of_reach_is_a_user_error():
    """s01: prune.structures=[heads] at sparsity=0.5 (at most 0.25 reachable): a ValueError traceback once the
    model had loaded; now one line and exit 2 (sdp.errors), the message as before."""
    from sdp.errors import is_user_error
    from sdp.pruning.structures import SparsityOutOfReachError

    assert is_user_error(SparsityOutOfReachError("sparsity=0.5 is out of reach")) and issubclass(
        SparsityOutOfReachError, ValueError)
    from transformers import BertConfig, BertForSequenceClassification

    from sdp.pruning.build import mask_state
    from sdp.pruning.criteria.l2 import L2
    from sdp.pruning.masks import select_prunable

    model = BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                                     num_attention_heads=4, intermediate_size=64, num_labels=2))
    with pytest.raises(SparsityOutOfReachError, match=r"sparsity=0.9 is out of reach with prune.structures=\['heads'\]"):
        mask_state(model, select_prunable(model), L2(), "structured", structures=["heads"], target=0.9)


def _record(run: Path, method: str, seed: int, score: float, code_id: str) -> None:
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({
        "status": "completed", "task": "rte", "model": "tiny-bert", "method": method, "schedule": "cubic",
        "teacher": "frozen", "seed": seed, "target_sparsity": 0.9, "final": {"accuracy": score, "main": score},
        "dense": {"accuracy": 0.7, "main": 0.7}, "config_hash": f"h{method}", "finished_at": "2026-12-05T03:00:00+00:00",
        "versions": {"sdp": "8535123ec2a097d47e9d5f91a88572fbbce7d32a"}, "code": {"id": code_id, "commit": "8535123"}}))


def test_tables_say_when_a_comparison_mixes_code(tmp_path):
    """t06: MP runs of one code and SDP-CC runs of another under one commit (an edited plug-in, a skip-worktree or
    uncommitted edit: round 6's f01/i02): paired in claims.md, and summary.md said "cells mixing code versions: 0"
    (the commit was compared, not the code identity)."""
    from sdp.report.aggregate import aggregate_cells, mixed_version_cells
    from sdp.report.claims import render_claims
    from sdp.report.collect import collect_runs

    for seed in (1, 2, 3):
        _record(tmp_path / f"mp{seed}", "MP", seed, 0.60, "aaaaaaaaaaaaaaaa")
        _record(tmp_path / f"kd{seed}", "KD", seed, 0.61, "aaaaaaaaaaaaaaaa")
        _record(tmp_path / f"cc{seed}", "SDP-CC", seed, 0.62 + seed / 100, "bbbbbbbbbbbbbbbb" if seed < 3 else "aaaaaaaaaaaaaaaa")
    runs = collect_runs(tmp_path).runs
    assert set(runs["sdp_version"]) == {"code:aaaaaaaaaaaa", "code:bbbbbbbbbbbb"}
    mixed = mixed_version_cells(aggregate_cells(runs))
    assert list(mixed["method"]) == ["Dense", "SDP-CC"]  # the dense row is made by each run: mixed too
    assert set(mixed["versions"].iloc[1].split()) == {"code:aaaaaaaaaaaa", "code:bbbbbbbbbbbb"}
    assert "Warning: 2 of 3 pairing keys pair runs made by different code" in render_claims(runs, tmp_path)


def test_structured_report_is_complete_only_when_every_planned_run_is(tmp_path):
    """g01: extra seeds (4-6) of the runs that had finished: "67 of 54 pruning runs finished. The comparison is
    complete." while whole planned cells (mrpc SDP-CC at 0.83) had no run; counted by planned cell now."""
    sys.path.insert(0, str(REPO / "scripts"))
    import structured_report

    levels = {"batch1_speedup_min_of_runtimes": {"3": 2.0}, "levels": [{"level": "2x", "layers_kept": 3,
                                                                         "sparsity": 0.5}]}
    rows = [{"task": "sst2", "method": m, "sparsity": 0.5, "seed": s, "score": 80.0, "dense": 90.0, "layers": 3,
             "speedup": 2.0, "label": f"{m}{s}"} for m in structured_report.METHODS for s in range(1, 8)]
    text = structured_report.render(rows, [], levels, None, 18)  # 21 records for 18 planned runs: mrpc has none
    assert "**9 of 18 pruning runs finished**" in text and "12 more runs outside the plan" in text
    assert "The comparison is complete." not in text and "incomplete" in text
    more = rows + [{**r, "task": "mrpc"} for r in rows if r["seed"] <= 3]
    assert "The comparison is complete." in structured_report.render(more, [], levels, None, 18)


def test_a_calibration_report_over_no_calibration_run_says_so(tmp_path):
    """g03: `grid.py --report calibrate root=<a folder of dev runs>` wrote TABLE.md with its heading and no row, and
    no word that none of the folder's records was a calibration run."""
    sys.path.insert(0, str(REPO / "scripts"))
    import calibration_report

    (tmp_path / "rte_mp_s1").mkdir()
    (tmp_path / "rte_mp_s1" / "metrics.json").write_text(json.dumps({"status": "completed"}))
    text = calibration_report.write_report(tmp_path).read_text()
    assert f"No finished calibration run under {tmp_path / 'runs'}" in text
