"""Leftovers of round 32 and of its review, fixed by the lead while round 33 probed (docs/errors.md "Leftovers of round
32, fixed by the lead"): a dense.checkpoint of the same rows in another order is not "other rows"; sdp-predict reads
`\\r\\r\\n` files and .json arrays as runs do; sdp-eval takes the model's own text columns; a cell of invisible
characters only is empty; labels listed in another order are said as such; the arity error names what to give; a
skip's data load of an older record still says its warnings. Each test fails on fd01606 and passes after. Hand-written
files, records and tiny models, offline."""

from __future__ import annotations

import json
import logging
import re

import pytest
from omegaconf import OmegaConf
from records import rte_rows, write_csv, write_rte_folder
from test_probe_round31 import _classifier


# --------------------------------------------------------------------------- the same rows in another order
def test_a_dense_checkpoint_fine_tuned_on_these_rows_shuffled_is_not_other_rows(tmp_path, tokenizer, caplog):
    """The training fingerprint hashes the rows in order: a dense.checkpoint fine-tuned on a shuffled copy of this
    run's training file was warned of as "fine-tuned on other training rows". run.json and config.json now also hold
    the rows in any order (train_rows), and only other rows are said."""
    import datasets

    from sdp.data.fingerprint import ROWS_KEY, rows_fingerprint, split_fingerprints
    from sdp.run.data_record import record_data
    from sdp.run_summary import record_training

    texts, labels = [f"row {i}" for i in range(12)], [i % 2 for i in range(12)]
    ds = datasets.Dataset.from_dict({"text": texts, "label": labels})
    shuffled = ds.select(list(range(11, -1, -1)))
    assert split_fingerprints({"train": ds}) != split_fingerprints({"train": shuffled})
    assert rows_fingerprint(ds) == rows_fingerprint(shuffled)
    assert rows_fingerprint(ds) != rows_fingerprint(ds.select(range(11)))  # a row fewer: other rows
    flipped = datasets.Dataset.from_dict({"text": texts, "label": [1 - y for y in labels]})
    assert rows_fingerprint(ds) != rows_fingerprint(flipped)  # the same texts, other labels

    task = {"name": "custom", "validation_from_train": None, "validation_seed": 0}
    first = tmp_path / "first"
    first.mkdir()
    from sdp.cli.eval import compose_config

    cfg = compose_config(["task=custom", "task.text_fields=[text]", "task.label_column=label", "resume=false"])
    record_data(first, cfg, datasets.DatasetDict({"train": ds}), main_process=True)  # writes run.json
    assert json.loads((first / "run.json").read_text())[ROWS_KEY] == rows_fingerprint(ds)
    dense = _classifier(tokenizer, first / "dense_model")
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(dense)
    record_training(model, tokenizer, OmegaConf.create({"task": task, "max_train_samples": None}), first)
    assert model.config.sdp_training_rows[ROWS_KEY] == rows_fingerprint(ds)
    model.save_pretrained(dense)

    given = OmegaConf.create({"task": task, "max_train_samples": None, "resume": False,
                              "dense": {"checkpoint": str(dense)}})
    for name, rows, said in (("same", shuffled, False), ("other", ds.select(range(11)), True)):
        run = tmp_path / name
        run.mkdir()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sdp"):
            record_data(run, given, datasets.DatasetDict({"train": rows}), main_process=False)
        assert ("fine-tuned on other training rows" in caplog.text) is said, (name, caplog.text)

    # a run's own dense_model/ saved before config.json held the rows: its run.json's train_rows decide
    config = json.loads((dense / "config.json").read_text())
    del config["sdp_training_rows"]
    (dense / "config.json").write_text(json.dumps(config))
    (tmp_path / "again").mkdir()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        record_data(tmp_path / "again", given, datasets.DatasetDict({"train": shuffled}), main_process=False)
    assert "fine-tuned on other training rows" not in caplog.text, caplog.text


def test_a_carve_of_other_rows_is_refused_and_of_the_same_rows_in_another_order_is_not():
    """trained_rows_error (a tuning run's dense.checkpoint, sdp-eval with task.validation_from_train): the rows the carve
    leaves for training, in any order, are the run's; other rows are refused, in words that do not claim to know
    whether the file itself holds other rows (a carve of the same file shuffled keeps other rows for training)."""
    from sdp.data.fingerprint import ROWS_KEY, TRAINED_ROWS_KEY, trained_rows_error

    config = {"sdp_training_rows": {TRAINED_ROWS_KEY: "a" * 16, ROWS_KEY: "b" * 16}}
    assert trained_rows_error(config, "a" * 16, "c" * 16) is None  # the same order
    assert trained_rows_error(config, "d" * 16, "b" * 16) is None  # the same rows, another order
    error = trained_rows_error(config, "d" * 16, "c" * 16)
    assert error is not None and "other rows, or the same in another order, which the carve splits otherwise" in error
    assert trained_rows_error({"sdp_training_rows": {TRAINED_ROWS_KEY: "a" * 16}}, "d" * 16, "b" * 16) is not None


def test_sdp_eval_of_the_training_rows_shuffled_says_they_were_trained_on(tmp_path, tokenizer, caplog):
    """The training file given as the dev file was said (round 32, tr1), but not the same file shuffled: its score read
    as held-out. With train_rows recorded it is said either way."""
    from sdp.cli.eval import compose_config

    from sdp.data.custom import custom_task
    from sdp.data.fingerprint import ROWS_KEY, rows_fingerprint, split_fingerprints
    from sdp.data.loading import load_splits
    from sdp.evaluation import evaluate_saved

    rows = [(f"training row {i}", ("neg", "pos")[i % 2]) for i in range(16)]
    train = write_csv(tmp_path / "tr.csv", rows)
    shuffled = write_csv(tmp_path / "sh.csv", rows[::-1])
    args = ["task=custom", "task.text_fields=[text]", "task.label_column=label", f"cache_dir={tmp_path / 'c'}"]
    cfg = compose_config([*args, f"task.train_file={train}", f"task.validation_file={shuffled}"])
    raw = load_splits(custom_task(cfg.task), None).datasets
    model = _classifier(tokenizer, tmp_path / "m", length=32)
    config = json.loads((model / "config.json").read_text())
    config["sdp_text_fields"] = ["text"]
    config["sdp_training_rows"] = {"task.name": "custom", "max_train_samples": None,
                                   "train_fingerprint": split_fingerprints(raw)["train"],
                                   ROWS_KEY: rows_fingerprint(raw["train"])}
    (model / "config.json").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING, logger="sdp"):
        record = evaluate_saved(compose_config([*args, f"task.validation_file={shuffled}"]), model, tmp_path / "ev")
    assert any("holds the very rows model_dir was trained on in another order (split fingerprint " in w
               for w in record.get("warnings", [])), record


# --------------------------------------------------------------------------- sdp-predict reads what runs read
def test_sdp_predict_reads_cr_cr_lf_files_and_json_arrays(tmp_path):
    """A `\\r\\r\\n` CSV (a CRLF file converted twice), which runs read, was refused as `line 2 is blank`; a .json
    file, which runs read (an array of objects, or JSON Lines), was an unknown format."""
    from sdp.data.tasks import DataError
    from sdp.prediction import file_texts

    texts = ["a fine film", "a dull, long film", "great"]
    crcr = tmp_path / "crcr.csv"
    crcr.write_bytes(("text,label\r\r\n" + "".join(f'"{t}",pos\r\r\n' for t in texts)).encode())
    assert file_texts(crcr, ["text"]) == [(t,) for t in texts]
    array = tmp_path / "rows.json"
    array.write_text(json.dumps([{"text": t, "label": "pos"} for t in texts]))
    assert file_texts(array, ["text"]) == [(t,) for t in texts]
    lines = tmp_path / "lines.json"
    lines.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    assert file_texts(lines, ["text"]) == [(t,) for t in texts]
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"text": texts[0]}))
    assert file_texts(one, ["text"]) == [(texts[0],)]  # one object: JSON Lines of one row, as a run reads it
    twice = tmp_path / "twice.json"
    twice.write_text('[{"text": "a", "text": "b"}]')
    with pytest.raises(DataError, match=r"twice.json': the object names key\(s\) \['text'\] more than once"):
        file_texts(twice, ["text"])
    first = tmp_path / "first.json"  # JSON Lines named .json: a key named twice is said with its line
    first.write_text('{"text": "a", "text": "b"}\n{"text": "c"}\n')
    with pytest.raises(DataError, match=r"first.json' line 1: the object names key\(s\) \['text'\] more than once"):
        file_texts(first, ["text"])
    flat = tmp_path / "flat.json"
    flat.write_text('["a", "b"]')
    with pytest.raises(DataError, match=r"flat.json': a .json file is one array of objects"):
        file_texts(flat, ["text"])


# --------------------------------------------------------------------------- sdp-eval takes the model's columns
def test_sdp_eval_of_a_custom_file_takes_the_models_own_text_columns(tmp_path, tokenizer, capsys):
    """sdp-eval task=custom without task.text_fields asked for them, though the model records the columns its run
    read (config.json sdp_text_fields), as sdp-predict takes them."""
    from sdp.cli.eval import main

    dev = write_csv(tmp_path / "dv.csv", [(f"dev text {i}", ("neg", "pos")[i % 2]) for i in range(8)])
    model = _classifier(tokenizer, tmp_path / "m", length=32)
    config = json.loads((model / "config.json").read_text())
    config["sdp_text_fields"] = ["text"]
    (model / "config.json").write_text(json.dumps(config))
    assert main([f"model_dir={model}", "task=custom", f"task.validation_file={dev}", "task.label_column=label",
                 f"cache_dir={tmp_path / 'c'}", f"output_dir={tmp_path / 'ev'}"]) == 0
    err = capsys.readouterr().err
    assert "sdp-eval: task.text_fields=[text] (the model's own)" in err, err
    record = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert record["eval_examples"] == {"validation": 8}


# --------------------------------------------------------------------------- a cell of invisible characters
def test_a_cell_of_invisible_characters_only_is_empty(tmp_path, tokenizer):
    """A text cell holding only a zero-width space was trained on as a row of no text (the tokenizer drops it); a label
    cell of one was a class of its own. Both are empty cells now, said as blank ones are: a text cell's by the model's
    tokenizer (tiny-xlmr's reads a zero-width space, a control, private use and U+2062 as tokens: probe round 49)."""
    from sdp.data.custom import custom_task
    from sdp.data.loading import load_splits
    from sdp.data.tasks import DataError
    from sdp.data.tokenize import tokenize_splits

    rows = [(f"text {i}", ("neg", "pos")[i % 2]) for i in range(10)]
    dev = write_csv(tmp_path / "dev.csv", [(f"dev {i}", ("neg", "pos")[i % 2]) for i in range(4)])
    for name, bad, column in (("text", ("\u200b", "pos"), "text"), ("label", ("text 10", "\u200b\u200e"), "label"),
                              ("other", ("\x01\ue000\u2062", "neg"), "text")):  # a control, private use, U+2062
        path = write_csv(tmp_path / f"{name}.csv", [*rows, bad, ("text 11", "neg")])
        cfg = OmegaConf.create({"name": "custom", "train_file": str(path), "validation_file": dev,
                                "text_fields": ["text"], "label_column": "label", "metric": "accuracy"})
        if column == "label":
            with pytest.raises(DataError, match=r"column 'label' \(.*\) is empty in 1 of 12 rows \(first: \[11\]; "
                                                r"data rows counted from 1\) \(1 of invisible characters only"):
                custom_task(cfg)
            continue
        task = custom_task(cfg)
        with pytest.raises(DataError, match=r"column 'text' \(a text field\) is empty in 1 of 12 rows \(first: \[11\]; "
                                            r"data rows counted from 1\): .*this model's tokenizer, reads nothing in it"):
            tokenize_splits(load_splits(task, None).datasets, task, tokenizer, 32)


# --------------------------------------------------------------------------- labels in another order
def test_labels_in_another_order_are_said_with_the_models_order(tmp_path, tokenizer):
    """task.label_names=[pos,neg] for a model of [neg, pos] was "trained for labels ['neg', 'pos'] ...: evaluate it on
    the task it was trained for", though it was; the error now gives the order the model reads."""
    from sdp.cli.eval import compose_config

    from sdp.evaluation import evaluate_saved
    from sdp.models.inspect import ModelLoadError

    dev = write_csv(tmp_path / "dv.csv", [(f"dev text {i}", ("neg", "pos")[i % 2]) for i in range(8)])
    model = _classifier(tokenizer, tmp_path / "m", length=32)
    cfg = compose_config(["task=custom", f"task.validation_file={dev}", "task.text_fields=[text]",
                          "task.label_column=label", "task.label_names=[pos,neg]", f"cache_dir={tmp_path / 'c'}"])
    with pytest.raises(ModelLoadError, match=r"trained for the labels \['neg', 'pos'\] in that order .* lists them as "
                                             r"\['pos', 'neg'\]: .* give task.label_names=\['neg','pos'\] \(the model's"):
        evaluate_saved(cfg, model, tmp_path / "ev")
    from sdp.data.tasks import get_task
    from sdp.saved_model import check_task_labels

    with pytest.raises(ModelLoadError, match=r"lists them as \['entailment', 'not_entailment'\]: .* score it with "
                                             r"task=custom task.validation_file=<file> task.label_names="
                                             r"\['not_entailment','entailment'\]"):
        check_task_labels("m", {"id2label": {"0": "not_entailment", "1": "entailment"}}, get_task("rte"))


# --------------------------------------------------------------------------- the arity error's advice
def test_a_one_text_model_on_a_glue_pair_task_is_told_what_to_give(tmp_path, tokenizer):
    """sdp-eval of a one-text model on task=rte said "give task.text_fields of 1 column(s)": a GLUE task takes no
    text_fields; and sdp-predict's own count check stays its own (text_order_error count=False)."""
    from sdp.saved_model import text_order_error

    config = {"sdp_text_fields": ["text"]}
    error = text_order_error("m", config, ("sentence1", "sentence2"), "task=rte")
    assert error is not None and "task=rte gives a pair (sentence1, sentence2)" in error, error
    assert "give a model_dir trained on a pair per row, or data of one text per row" in error, error
    assert "column(s)" not in error
    assert text_order_error("m", config, ("a", "b"), "text_fields", count=False) is None


# --------------------------------------------------------------------------- a skip's load of an older record
def test_a_skip_of_a_record_without_warnings_says_the_loads_warnings(tmp_path, caplog):
    """A skip's data load was quiet for every record (round 31's leftover): a record from before sdp kept a run's
    warnings (no "warnings" key) never said them, and the skip did not either."""
    from sdp.cli.eval import compose_config

    from sdp.run.same_data import fingerprints_for

    rows = rte_rows(20)
    write_rte_folder(tmp_path, rows[:16], rows[12:])
    cfg = compose_config(["task=rte", f"data_dir={tmp_path}", f"cache_dir={tmp_path / 'c'}"])
    with caplog.at_level(logging.WARNING, logger="sdp"):
        fingerprints_for(cfg, recorded=True)
        assert "repeat a row trained on" not in caplog.text, caplog.text
        fingerprints_for(cfg, recorded=False)
    assert "4 of 8 rows repeat a row trained on" in caplog.text, caplog.text
    from sdp.run.same_data import verify_completed_data  # a skip: the record's own "warnings" key decides

    prints = fingerprints_for(cfg)
    for metrics, said in (({"data_fingerprint": prints}, True), ({"data_fingerprint": prints, "warnings": ["w"]}, False)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sdp"):
            verify_completed_data(metrics, cfg, "the completed run")
        assert ("repeat a row trained on" in caplog.text) is said, (metrics, caplog.text)


# --------------------------------------------------------------------------- one file name, two datasets
def test_two_training_files_of_one_name_are_two_datasets_in_claims(tmp_path):
    """claims.md named a custom dataset by its files' names (round 33's cu1 fix): `a/tr.csv` and `b/tr.csv`, other rows
    beside one dev file, were one dataset, and each seed's two pairs one unit (n=3 for 6 pairs). run.json now records
    a custom task's files by content (data_files), and claims.md tells them apart by it."""
    from pathlib import Path

    from records import write_custom_pair_runs

    from sdp.report.report import build_report

    res = tmp_path / "res"
    for folder in ("a", "b"):
        write_custom_pair_runs(res, folder, {"name": "custom", "train_file": str(Path("/data") / folder / "tr.csv"),
                                             "validation_file": "/data/dv.csv"},
                               {"data_files": {"train_file": folder * 16, "validation_file": "d" * 16}})
    build_report(res, plots=False)
    claims = (res / "tables" / "claims.md").read_text()
    assert re.search(r"\| 0\.8 \| -0\.83 \[[^]]+\] \(n=6\) \|", claims), claims


def test_a_custom_runs_record_holds_its_files_by_content(tmp_path):
    """run.json's data_files: each local file of a custom task by content (16 hex digits of its sha256)."""
    import hashlib

    import datasets
    from sdp.cli.eval import compose_config

    from sdp.data.fingerprint import FILES_KEY
    from sdp.run.data_record import record_data

    train = write_csv(tmp_path / "tr.csv", [(f"row {i}", ("neg", "pos")[i % 2]) for i in range(8)])
    dev = write_csv(tmp_path / "dv.csv", [(f"dev {i}", ("neg", "pos")[i % 2]) for i in range(4)])
    cfg = compose_config(["task=custom", "task.text_fields=[text]", "task.label_column=label", "resume=false",
                          f"task.train_file={train}", f"task.validation_file={dev}"])
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a"], "label": [0]})})
    (tmp_path / "run").mkdir()
    record_data(tmp_path / "run", cfg, raw, main_process=True)
    files = json.loads((tmp_path / "run" / "run.json").read_text())[FILES_KEY]
    digest = {key: hashlib.sha256(open(path, "rb").read()).hexdigest()[:16]
              for key, path in (("train_file", train), ("validation_file", dev))}
    assert files == digest, files


# --------------------------------------------------------------------------- a teacher of other rows
def test_a_teacher_checkpoint_of_other_training_rows_is_said(tmp_path, tokenizer, caplog):
    """prune.teacher=checkpoint with a teacher fine-tuned on other rows said nothing (the dense.checkpoint case warns;
    round 33, noticed); a tuning run's teacher of other rows may have trained on its held-out rows: refused."""
    import datasets

    from sdp.errors import ConfigError
    from sdp.run.data_record import record_data

    teacher = _classifier(tokenizer, tmp_path / "teacher")
    config = json.loads((teacher / "config.json").read_text())
    config["sdp_training_rows"] = {"task.name": "custom", "max_train_samples": None, "train_fingerprint": "f" * 16}
    (teacher / "config.json").write_text(json.dumps(config))
    task = {"name": "custom", "validation_from_train": None, "validation_seed": 0}
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})})
    prune = {"teacher": "checkpoint", "teacher_checkpoint": str(teacher)}
    cfg = OmegaConf.create({"task": task, "max_train_samples": None, "resume": False, "dense": {"checkpoint": None},
                            "prune": prune})
    (tmp_path / "run").mkdir()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        record_data(tmp_path / "run", cfg, raw, main_process=False)
    assert "prune.teacher_checkpoint " in caplog.text and "was fine-tuned on other training rows" in caplog.text \
        and "the teacher's targets are that model's" in caplog.text, caplog.text
    cfg.task.validation_from_train = 0.25
    with pytest.raises(ConfigError, match=r"prune.teacher_checkpoint .*its run trained on other rows than the ones "
                                          r"this carve leaves for training"):
        record_data(tmp_path / "run", cfg, raw, main_process=False)
    cfg.prune.teacher = "frozen"  # a teacher_checkpoint not read is not checked (sdp/validate.py refuses the pair)
    record_data(tmp_path / "run", cfg, raw, main_process=False)


# --------------------------------------------------------------------------- one text under two labels
def test_rows_of_one_file_repeating_under_another_label_are_said(tmp_path, caplog):
    """A dev file holding rows twice, once with each label (or once upper-cased), was scored with no word (round 33,
    noticed): no prediction scores both."""
    from sdp.data.custom import custom_task

    train = write_csv(tmp_path / "tr.csv", [(f"train text {i}", ("neg", "pos")[i % 2]) for i in range(10)])
    rows = [(f"dev text {i}", ("neg", "pos")[i % 2]) for i in range(6)]
    dev = write_csv(tmp_path / "dv.csv", [*rows, ("DEV TEXT 0", "pos"), ("dev text 1", "pos")])
    cfg = OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "text_fields": ["text"],
                            "label_column": "label", "metric": "accuracy"})
    with caplog.at_level(logging.WARNING, logger="sdp"):
        custom_task(cfg)
    assert "task.validation_file=" in caplog.text and "2 of 8 rows repeat another row of the file under another " \
        "label (the same text, compared as rows across files are; data rows [1, 7], counted from 1)" in caplog.text, \
        caplog.text
    assert "task.train_file=" not in caplog.text  # its repeats (none) and labels agree


# --------------------------------------------------------------------------- review of round 33's fixes
def test_numeric_labels_with_an_invisible_mark_are_twins(tmp_path):
    """Round 33's nz1 fix read a label's number from the raw text: `1` + U+200B (refused on fd01606) or + U+007F was
    a third class beside 0 and 1; 20-digit labels one float apart were refused as one number."""
    from sdp.data.custom import custom_task
    from sdp.data.file_scan import label_problem
    from sdp.data.tasks import DataError

    dev = write_csv(tmp_path / "dv.csv", [(f"dev {i}", str(i % 2)) for i in range(10)])
    for mark in ("\u200b", "\x7f", "\ue000", "\u2062"):
        train = write_csv(tmp_path / "tr.csv", [(f"train {i}", str(i % 2) + (mark if i % 4 == 1 else ""))
                                                for i in range(20)])
        cfg = OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev,
                                "text_fields": ["text"], "label_column": "label", "metric": "accuracy"})
        with pytest.raises(DataError, match=r"holds labels that differ only in accents or invisible characters"):
            custom_task(cfg)
    assert label_problem(["12345678901234567890", "12345678901234567891"]) is None
    assert "the way a number is written" in label_problem(["01", "1"])
    assert "the way a number is written" in label_problem(["-0", "0"])


def test_setups_of_two_tasks_in_one_row_setup_are_no_line(tmp_path):
    """Round 33's mt1 fix compared the setups within a row setup across tasks, and said every one of a 2-process GLUE
    sweep "ran on other numbers of processes" (all ran on 2), naming hashes no table shows."""
    from records import write_record

    from sdp.report.report import build_report

    res = tmp_path / "res"
    for task in ("rte", "mrpc"):
        for steps in (2, 20):
            for method in ("MP", "KD"):
                name = f"{task}-{steps}-{method}"
                write_record(res, name, method, 1, 0.6)
                path, run = res / name / "metrics.json", res / name / "run.json"
                record = json.loads(path.read_text())
                record.update(task=task, config_hash=f"h-{name}", distributed={"world_size": 2})
                path.write_text(json.dumps(record))
                config = json.loads(run.read_text())
                config["config"]["task"] = {"name": task, "max_seq_length": 128}
                config["config"]["dense"]["max_steps"] = steps
                run.write_text(json.dumps(config))
    build_report(res, plots=False)
    summary = (res / "tables" / "summary.md").read_text()
    assert "differ in dense.max_steps" in summary, summary  # the row setups' line stays
    assert "/...]` rows of other setups" not in summary, summary


def test_a_sample_without_a_class_blames_the_sample_only_and_counts_the_rows_scored(tmp_path, caplog):
    """Round 33's ms1 warning blamed max_train_samples for a class the whole training file lacks (custom.py says that
    one), and counted the dev rows before max_eval_samples."""
    from test_probe_round32 import _task

    from sdp.data.custom import custom_task
    from sdp.data.loading import load_splits

    train = write_csv(tmp_path / "tr.csv", [(f"train text {i}", ("neg", "pos")[i % 2]) for i in range(40)])
    dev = write_csv(tmp_path / "dv.csv", [(f"dev text {i}", ("neg", "pos", "mid")[i % 3]) for i in range(30)])
    task = _task(train, dev)
    task.label_names = ["neg", "mid", "pos"]
    with caplog.at_level(logging.WARNING, logger="sdp"):
        load_splits(custom_task(task), None, max_train_samples=20, max_eval_samples=6)
    assert "max_train_samples=20 left no training row" not in caplog.text, caplog.text
    assert "lists ['mid'] with no row in task.train_file" in caplog.text, caplog.text
    caplog.clear()
    two = write_csv(tmp_path / "dv2.csv", [(f"dev text {i}", ("neg", "pos")[i % 2]) for i in range(30)])
    with caplog.at_level(logging.WARNING, logger="sdp"):
        loaded = load_splits(custom_task(_task(train, two)), None, max_train_samples=1, max_eval_samples=6).datasets
    trained = set(loaded["train"]["label"])
    scored = sum(y not in trained for y in loaded["validation"]["label"])  # of the 6 scored, not of the file's 30
    said = [r.getMessage() for r in caplog.records if "max_train_samples=1 left no training row" in r.getMessage()]
    assert said and f"and their {scored} validation row(s)" in said[0] and 0 < scored <= 6, caplog.text


def test_paths_in_summary_bullets_are_whole_code_spans(tmp_path):
    """nl1's fix kept table rows whole; summary.md's bullets (a run's warnings, past-target runs) still wrote the path
    in one-backtick spans, so a folder name with a backtick or a line break broke them (review of round 33)."""
    from records import write_record

    from sdp.report.render import md_code
    from sdp.report.report import build_report

    assert md_code("e\nx") == "`e x`" and md_code("e`1") == "``e`1``"
    res = tmp_path / "res"
    write_record(res, "e`1", "MP", 1, 0.6)
    path = res / "e`1" / "metrics.json"
    record = json.loads(path.read_text())
    record.update(warnings=["a warning of this run"], target_sparsity=0.5,
                  achieved_sparsity={**record.get("achieved_sparsity", {}), "prunable": 0.62})
    path.write_text(json.dumps(record))
    build_report(res, plots=False)
    summary = (res / "tables" / "summary.md").read_text()
    bullets = [line for line in summary.splitlines() if line.startswith("- ") and "e`1" in line]
    assert bullets and all("``e`1``" in line for line in bullets), bullets


def test_sdp_eval_of_a_glue_dev_file_of_the_training_rows_warns_once(tmp_path, tokenizer):
    """A GLUE folder whose dev.tsv is its train.tsv: sdp-eval said `8 of 8 rows repeat a row trained on` and `split
    validation holds the very rows model_dir was trained on`, one fact twice (review of round 33)."""
    from sdp.cli.eval import compose_config
    from test_probe_round32 import rte_model_trained_on

    from sdp.evaluation import evaluate_saved

    rows = rte_rows(8)
    write_rte_folder(tmp_path / "d", rows, rows)
    model = rte_model_trained_on(tokenizer, tmp_path / "m", tmp_path / "d")
    cfg = compose_config(["task=rte", f"data_dir={tmp_path / 'd'}", f"cache_dir={tmp_path / 'c'}",
                          "task.max_seq_length=32"])
    said = evaluate_saved(cfg, model, tmp_path / "res" / "e").get("warnings", [])
    assert any("holds the very rows model_dir was trained on" in w for w in said), said
    assert not any("rows repeat a row trained on" in w for w in said), said
