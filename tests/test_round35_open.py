"""Probe round 35's findings left open as session 17 ended (docs/probe_round35.md, "Found, not yet fixed"), fixed by
the lead in session 18. Each test fails on 429bdef."""

from __future__ import annotations

import json

import pytest
from records import write_csv


def _trailing_comma_array(path):
    rows = [{"text": f"row {i}", "label": "pos"} for i in range(3)]
    text = json.dumps(rows, indent=1)
    path.write_text(text[:-2] + ",\n]")  # '}\n]' -> '},\n]': a comma before the closing bracket
    return path, text.count("\n") + 1


def test_a_json_array_with_a_trailing_comma_is_said_at_its_line(tmp_path):
    """tj1: a pretty-printed array with a comma before its ']' was reported at line 1 ('['), by the JSON Lines reading
    it fell back to."""
    from sdp.data.file_scan import scan_file
    from sdp.data.tasks import DataError

    path, last = _trailing_comma_array(tmp_path / "dv.json")
    with pytest.raises(DataError, match=rf"line {last}: not valid JSON \(Expecting value at column 1\) \(a comma "
                                        r"before the closing bracket"):
        scan_file(path, ".json", "validation_file")
    (tmp_path / "lines.json").write_text('{"text": "a", "label": "pos"}\n{"text": "b", "label": \n')
    with pytest.raises(DataError, match="line 2: not valid JSON"):  # JSON Lines named .json: read as such still
        scan_file(tmp_path / "lines.json", ".json", "validation_file")
    (tmp_path / "arrays.json").write_text('["a", "pos"]\n["b", "neg"]\n')  # JSON Lines of arrays: said as such
    (tmp_path / "stray.json").write_text(json.dumps([{"text": "a", "label": "pos"}], indent=1) + "\n]\n")
    with pytest.raises(DataError, match="line 7: not valid JSON \\(Extra data"):  # a pretty array, then a stray ]
        scan_file(tmp_path / "stray.json", ".json", "validation_file")
    with pytest.raises(DataError, match="line 1: expected a JSON object per line, got list"):
        scan_file(tmp_path / "arrays.json", ".json", "validation_file")


def test_sdp_predict_says_a_json_arrays_trailing_comma_at_its_line(tmp_path):
    """tj2: sdp-predict said `line 1: not JSON (Expecting value)` for the same file."""
    from sdp.data.tasks import DataError
    from sdp.prediction import read_rows

    path, last = _trailing_comma_array(tmp_path / "in.json")
    with pytest.raises(DataError, match=rf"line {last}: not valid JSON .*a comma before the closing bracket"):
        read_rows(path)


def test_sdp_predict_warns_of_rows_running_over_lines(tmp_path):
    """oq1: a CSV whose line 6 opens a quote that line 10 closes got 116 labels for 120 lines, the labels off their
    lines from row 5 on, exit 0 and no word."""
    from sdp.prediction import file_texts, rows_over_lines

    lines = ["text,label"] + [f"row {i},pos" for i in range(1, 5)] + ['"row 5 opens,pos'] + [
        f"row {i},pos" for i in range(6, 9)] + ['row 9" closes,pos'] + [f"row {i},pos" for i in range(10, 13)]
    path = tmp_path / "oq.csv"
    path.write_text("\n".join(lines) + "\n")
    assert len(file_texts(path, ["text"])) == 8  # 12 data lines, rows 5-9 one row: as csv reads them
    warning = rows_over_lines(path)
    assert warning is not None and "1 row(s) run over several lines" in warning and "row 5 (lines 6-10)" in warning, \
        warning
    assert rows_over_lines(write_csv(tmp_path / "ok.csv", [("good film", "pos")])) is None


def test_labels_with_and_without_an_emoji_variation_selector_are_one_label():
    """vs1/vs2: labels '❤️' (U+2764 U+FE0F) and '❤' (U+2764) made a 3-class model of a 2-class file; a dev label '❤'
    beside training labels '❤️' was unknown with no hint."""
    from sdp.data.file_scan import label_problem, look_alikes, text_key

    assert text_key("\u2764\ufe0f") == text_key("\u2764")
    assert text_key("\u8fba\U000e0100") == text_key("\u8fba")  # an ideographic variation selector
    problem = label_problem(sorted(["\u2764\ufe0f", "\u2764", "\U0001f44e"]))
    assert problem is not None and "invisible characters" in problem, problem
    assert "'\\u2764' is '\\u2764\\ufe0f' written otherwise" in look_alikes(["\u2764"], ["\u2764\ufe0f", "\U0001f44e"])


def test_sdp_tables_names_a_run_killed_without_a_record(tmp_path):
    """kt1: a run SIGKILLed in its dense stage (run.json, run.log, trace.jsonl, checkpoints/, no metrics.json) beside
    completed runs: `sdp-tables: 5 runs, 0 failed`, and the killed run was named nowhere."""
    import os
    import socket

    from records import write_record

    from sdp.report.collect import collect_runs
    from sdp.report.report import build_report

    write_record(tmp_path, "mp1", "MP", 1, 0.7)
    killed = tmp_path / "kd2killed"
    killed.mkdir()
    (killed / "run.json").write_text(json.dumps({"config": {}, "config_hash": "abc"}))
    (killed / "trace.jsonl").write_text("")
    dead = {"pid": 2**22 + 7, "host": socket.gethostname(), "started": 0}  # above any pid_max: no such process
    (killed / ".sdp.lock").write_text(json.dumps(dead))
    (tmp_path / "tables" / "x").mkdir(parents=True)
    (tmp_path / "tables" / "x" / "run.json").write_text("{}")  # a folder sdp-tables sets aside: not listed
    live = tmp_path / "live"
    live.mkdir()
    (live / "run.json").write_text(json.dumps({"config": {}, "config_hash": "abc"}))  # sdp's record holds its config from the start
    (live / ".sdp.lock").write_text(json.dumps({**dead, "pid": os.getpid()}))
    coll = collect_runs(tmp_path)
    assert len(coll.runs) == 1 and [p for p, _ in coll.unrecorded] == ["kd2killed", "live"], coll.unrecorded
    states = dict(coll.unrecorded)
    assert states["kd2killed"].startswith("no record: it died without one") and states["live"].startswith("running")
    build_report(tmp_path, out_dir=tmp_path / "out", plots=False)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "- runs without a record (a run.json and no metrics.json" in summary and "`kd2killed`" in summary, summary


def test_sdp_eval_names_trained_rows_by_their_file_rows_under_a_sample(tmp_path, caplog):
    """rn2: sdp-eval with max_eval_samples=100 said `74 of 100 rows repeat a row model_dir was trained on (... rows
    [2, 3, 4, 5, 7], counted from 1)`: positions in the sample, where the file's rows were [13, 19, 37, 42, 47] and its
    rows 2, 4 and 5 were never trained on."""
    import logging

    import numpy as np
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.fingerprint import read_row_hashes, write_row_hashes
    from sdp.data.loading import SUBSAMPLE_SEED, load_splits
    from sdp.data.scored_rows import warn_rows_among

    rows = [(f"a text number {i}", "ab"[i % 2]) for i in range(40)]
    path = write_csv(tmp_path / "all.csv", rows)
    trained = list(range(0, 40, 3))  # the file's rows 1, 4, 7, ... (counted from 1)
    model = tmp_path / "model"
    model.mkdir()
    other = write_csv(tmp_path / "other.csv", [(f"another text {i}", "ab"[i % 2]) for i in range(10)])

    def task_of(train, dev):
        return custom_task(OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev,
                                             "text_fields": ["text"], "label_column": "label", "metric": "accuracy"}))

    write_row_hashes(model, load_splits(task_of(path, other), None).datasets["train"].select(trained), ["text"])
    task = task_of(other, path)
    loaded = load_splits(task, None, max_eval_samples=20)
    sample = np.random.default_rng(SUBSAMPLE_SEED).permutation(40)[:20]
    assert loaded.file_rows["validation"].tolist() == sample.tolist()
    by_hand = sorted(int(r) + 1 for r in sample if r in trained)
    with caplog.at_level(logging.WARNING, logger="sdp"):
        warn_rows_among(task, {"validation": loaded.datasets["validation"]}, read_row_hashes(model),
                        loaded.file_rows)
    expected = f"{len(by_hand)} of 20 rows repeat a row model_dir was trained on"
    assert expected in caplog.text and f"rows {by_hand[:5]} of split validation as read, counted from 1" in \
        caplog.text, (by_hand, caplog.text)


def test_claims_md_says_why_a_difference_of_two_units_has_no_interval(tmp_path):
    """cl2: `vs MP -0.83 [-4.42, +2.75] (n=3); vs KD — (n=2)` in claims.md, with Holm `KD —` and power `KD —`: two
    pairs existed, and nothing on the page said why no interval was shown (glue.md's only legend for — is "no run")."""
    from sdp.report.report import build_report

    scores = {"MP": (0.80, 0.81, 0.82), "KD": (0.79, 0.80, None), "SDP-CC": (0.80, 0.82, 0.81)}
    for method, finals in scores.items():
        for seed, final in zip((1, 2, 3), finals):
            if final is None:  # KD's seed 3 never ran: 2 pairs with SDP-CC
                continue
            run_dir = tmp_path / "runs" / f"{method}_{seed}"
            run_dir.mkdir(parents=True)
            record = {"status": "completed", "task": "sst2", "model": "minilm", "method": method, "schedule": "cubic",
                      "teacher": "frozen", "seed": seed, "target_sparsity": 0.9, "final": {"main": final},
                      "dense": {"main": 0.9}, "analysis": {}, "versions": {"sdp": "aaa", "sdp_dirty": False},
                      "config_hash": method}
            (run_dir / "metrics.json").write_text(json.dumps(record))
            config = {"task": {"name": "sst2"}, "regularizer": {"name": method}, "sparsity": 0.9}
            (run_dir / "run.json").write_text(json.dumps({"config": config}))
    build_report(tmp_path, plots=False)
    claims = (tmp_path / "tables" / "claims.md").read_text()
    line = next(x for x in claims.splitlines() if x.startswith("| SDP-CC beats MP and KD"))
    assert "vs KD — (n=2)" in line and "vs MP +0.00 [" in line, line
    assert "`— (n=1)`, `— (n=2)`: under 3 units, no interval, p-value or power is computed" in claims


def _cut_files(tmp_path):
    """Training rows longer than 12 tokens, and a test file of the first 6 with their last words replaced."""
    long = [(f"review {i} says the film was good and then goes on about the actors and the music at length", "ab"[i % 2])
            for i in range(12)]
    train = write_csv(tmp_path / "tr.csv", long)
    twins = write_csv(tmp_path / "rep.csv", [(t.rsplit(" ", 3)[0] + " zebra zebra zebra", y) for t, y in long[:6]]
                      + [("a short new text", "a"), ("another short one", "b")])
    return train, twins


def test_rows_differing_from_training_rows_only_past_the_cut_are_said(tmp_path, caplog, tokenizer):
    """lt1: a test file of training rows whose last 5 words were replaced (every row cut at 32 tokens) scored
    `test_accuracy=56.67` as held-out, with only the length warning: the model read 60 of its 60 rows as training
    rows."""
    import logging

    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.loading import load_splits
    from sdp.data.token_repeats import warn_token_repeats
    from sdp.data.tokenize import tokenize_splits

    train, twins = _cut_files(tmp_path)
    task = custom_task(OmegaConf.create({"name": "custom", "train_file": train, "validation_file": twins,
                                         "text_fields": ["text"], "label_column": "label", "metric": "accuracy"}))
    raw = load_splits(task, None).datasets
    with caplog.at_level(logging.WARNING, logger="sdp"):
        warn_token_repeats(task, raw, tokenize_splits(raw, task, tokenizer, 12), 12, tokenizer=tokenizer)
    assert "split validation: 6 of 8 rows are a training row as the model reads them: the same token ids, their " \
           "texts differing only where the model does not read them (6 differing past task.max_seq_length=12 tokens, " \
           "where they or their twins were cut; rows [1, 2, 3, 4, 5]" in caplog.text and "(or raise task.max_seq_length)" in caplog.text, caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):  # read whole at 64 tokens: other rows, rightly quiet
        warn_token_repeats(task, raw, tokenize_splits(raw, task, tokenizer, 64), 64)
    assert "as the model reads them" not in caplog.text
    # two training rows alike at the cut, a dev row the second's very text: a repeat by text (said so), not here too
    base = "review says the film was good and then goes on about the actors and the music at length"
    train = write_csv(tmp_path / "tr2.csv", [(base + " ending x", "a"), (base + " ending y", "b"), ("short", "a")])
    dev = write_csv(tmp_path / "dv2.csv", [(base + " ending y", "b"), ("new", "a"), ("newer", "b")])
    task = custom_task(OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev,
                                         "text_fields": ["text"], "label_column": "label", "metric": "accuracy"}))
    loaded = load_splits(task, None)
    raw = loaded.datasets
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        warn_token_repeats(task, raw, tokenize_splits(raw, task, tokenizer, 12), 12, text_checked=loaded.text_checked)
    assert loaded.text_checked == {"validation"} and "rows trained on" not in caplog.text
    assert "a training row as the model reads them" not in caplog.text and "repeat a row trained on" not in \
        caplog.text, caplog.text
    # the two training rows are one input under two labels: said as such (probe round 38, tt)
    assert "split train: 2 of 3 rows are another row of the split under another label" in caplog.text, caplog.text
    with caplog.at_level(logging.WARNING, logger="sdp"):  # a source with no text check (Hub, plug-in): said here
        warn_token_repeats(task, raw, tokenize_splits(raw, task, tokenizer, 12), 12, text_checked=frozenset())
    assert "split validation: 1 of 3 rows repeat a row trained on (the same text" in caplog.text, caplog.text
    # texts the tokenizer reads alike, whole: spacing around punctuation, a zero-width joiner an uncased BERT drops
    train = write_csv(tmp_path / "tr3.csv", [("good,film", "a"), ("agood film", "b"), ("bad film", "a")])
    dev = write_csv(tmp_path / "dv3.csv", [("good , film", "a"), ("a\u200dgood film", "b"), ("new film", "a")])
    task = custom_task(OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev,
                                         "text_fields": ["text"], "label_column": "label", "metric": "accuracy"}))
    raw = load_splits(task, None).datasets
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        warn_token_repeats(task, raw, tokenize_splits(raw, task, tokenizer, 32), 32)
    assert "split validation: 2 of 3 rows are a training row as the model reads them" in caplog.text, caplog.text
    assert "(2 read whole, differing in what the tokenizer sets aside or reads as an unknown token; rows [1, 2], " \
           "counted from 1)" in caplog.text and "raise task.max_seq_length" not in caplog.text, caplog.text


def _model_hashes(tmp_path, name, train, dev, tokenizer, length):
    """A custom task of ``train``/``dev``, its splits read and tokenised at ``length``, and the ROW_KEYS_FILE a run on
    them writes (in ``tmp_path/name``), read back: (task, raw, tokenized, hashes)."""
    import datasets
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.fingerprint import read_row_hashes
    from sdp.data.loading import load_splits
    from sdp.data.token_repeats import warn_token_repeats
    from sdp.data.tokenize import tokenize_splits
    from sdp.run.data_record import record_data

    task = custom_task(OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev,
                                         "text_fields": ["text"], "label_column": "label", "metric": "accuracy"}))
    raw = load_splits(task, None).datasets
    tokenized = tokenize_splits(raw, task, tokenizer, length)
    run = tmp_path / name
    run.mkdir()
    cfg = OmegaConf.create({"resume": False, "seed": 1, "task": {"name": "custom"}, "dense": {"checkpoint": None},
                            "model": {"pretrained": None}, "max_train_samples": None})
    record_data(run, cfg, datasets.DatasetDict({"train": raw["train"]}), main_process=True, fields=("text",),
                token_ids=warn_token_repeats(task, raw, tokenized, length))
    return task, raw, tokenized, read_row_hashes(run)


def test_sdp_eval_says_rows_differing_from_a_models_training_rows_only_past_the_cut(tmp_path, caplog, tokenizer):
    """lt2: sdp-eval of that model on the test file: `custom accuracy=56.67 (60 examples)`, only the length warning
    (the model's sdp_training_rows.u64 held whole-text keys). Its hash file now holds the rows' token hashes too."""
    import logging

    import numpy as np

    from sdp.data.token_repeats import warn_tokens_among

    task, raw, tokenized, hashes = _model_hashes(tmp_path, "run", *_cut_files(tmp_path), tokenizer, 12)
    assert len(hashes) == 24  # 12 texts, 12 token rows
    with caplog.at_level(logging.WARNING, logger="sdp"):
        sample = {"validation": np.arange(100, 108)}  # a sample's rows: named by their rows in the file
        warn_tokens_among(task, raw, {"validation": tokenized["validation"]}, hashes, 12, sample)
    assert "split validation: 6 of 8 rows are rows model_dir was trained on (its sdp_training_rows.u64) as the " \
           "model reads them" in caplog.text and "rows [101, 102, 103, 104, 105]" in caplog.text, caplog.text
    # rows read whole: their token hashes are in the file too (texts the tokenizer reads alike)
    train = write_csv(tmp_path / "tr3.csv", [("good,film", "a"), ("agood film", "b"), ("bad film", "a")])
    dev = write_csv(tmp_path / "dv3.csv", [("good , film", "a"), ("a\u200dgood film", "b"), ("new film", "a")])
    task, raw, tokenized, hashes = _model_hashes(tmp_path, "short", train, dev, tokenizer, 32)
    assert len(hashes) == 6  # 3 texts, 3 token rows
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        warn_tokens_among(task, raw, {"validation": tokenized["validation"]}, hashes, 32)
    assert "split validation: 2 of 3 rows are rows model_dir was trained on" in caplog.text, caplog.text


def test_a_carves_rows_are_named_by_their_rows_in_the_file(tmp_path):
    """Review of rn2: the carved split's rows (task.validation_from_train, sampled by max_train_samples and
    max_eval_samples too) were named by their positions in the carve."""
    import csv

    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.loading import VALIDATION_FROM_TRAIN, load_splits

    rows = [(f"a text number {i}", "ab"[i % 2]) for i in range(60)]
    path = write_csv(tmp_path / "all.csv", rows)
    task = custom_task(OmegaConf.create({"name": "custom", "train_file": path, "validation_from_train": 0.5,
                                         "text_fields": ["text"], "label_column": "label", "metric": "accuracy"}))
    loaded = load_splits(task, None, max_train_samples=40, max_eval_samples=12, validation_from_train=0.5)
    held = loaded.datasets[VALIDATION_FROM_TRAIN]
    where = loaded.file_rows[VALIDATION_FROM_TRAIN]
    with open(path, newline="") as fh:
        texts = [r["text"] for r in csv.DictReader(fh)]
    assert len(held) == len(where) == 12 and [texts[i] for i in where] == held["text"]
    assert "__sdp_file_row__" not in held.column_names + loaded.datasets["train"].column_names


def test_sdp_eval_reads_a_regression_models_metric_from_the_model(tmp_path):
    """Round 35, noticed: sdp-eval of a regression model without task.metric refused its scores as "float labels
    (a regression): use task.metric=pearson_spearman", a metric the model's config.json names (problem_type)."""
    from sdp.cli.eval import compose_config

    from sdp.evaluation import fill_custom_task

    dev = write_csv(tmp_path / "dv.csv", [("a text", "1.5"), ("b text", "2.5")], header=("text", "score"))
    cfg = compose_config(["task=custom", f"task.validation_file={dev}", "task.label_column=score"])
    assert cfg.task.metric == "accuracy"
    fill_custom_task(cfg, {"problem_type": "regression", "id2label": {"0": "LABEL_0"}, "sdp_text_fields": ["text"]})
    assert cfg.task.metric == "pearson_spearman" and not cfg.task.get("label_names")
    cfg = compose_config(["task=custom", f"task.validation_file={dev}", "task.label_column=score"])
    fill_custom_task(cfg, {"id2label": {"0": "neg", "1": "pos"}, "sdp_text_fields": ["text"]})
    assert cfg.task.metric == "accuracy"  # a classifier's stays


def test_sdp_tables_of_a_folder_inside_a_run_names_the_run(tmp_path, capsys):
    """Round 35, noticed: `sdp-tables results_dir=<run>/model` was refused as "one run's folder" (it is inside one)."""
    from records import write_record

    from cli.tables import main

    write_record(tmp_path, "run", "MP", 1, 0.8)
    (tmp_path / "run" / "model").mkdir()
    assert main([f"results_dir={tmp_path / 'run' / 'model'}", "plots=false"]) == 2
    err = capsys.readouterr().err
    assert f"results_dir='{tmp_path / 'run' / 'model'}' is inside '{tmp_path / 'run'}', one run's folder" in err, err
