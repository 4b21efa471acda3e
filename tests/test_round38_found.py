"""What probe round 38 found (docs/probe_round38.md, "Found"): each test fails on 41edaa8 (the round's BASE) and
passes after its fix. Hand-written files and tiny models, offline."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
from records import write_csv
from test_probe_round32 import _classifier
from test_probe_round33 import _eval
from test_probe_round37 import _custom, _said


def _run_data(cfg, tokenizer, cache: Path):
    """sdp-run's data checks on ``cfg`` (sdp/data/pipeline.py build_data's first half)."""
    from sdp.crosslingual import resolve_run_task
    from sdp.data.loading import load_run_splits
    from sdp.data.token_repeats import warn_token_repeats
    from sdp.data.tokenize import tokenize_splits

    task = resolve_run_task(cfg)
    loaded = load_run_splits(cfg, task)
    tokenized = tokenize_splits(loaded.datasets, task, tokenizer, cfg.task.max_seq_length, cache)
    warn_token_repeats(task, loaded.datasets, tokenized, cfg.task.max_seq_length, loaded.file_rows,
                       loaded.text_checked, loaded.labels_checked, tokenizer)


def _long(i: int, last: str) -> str:
    return f"film number {i} was quite a long watch and {last}"


def test_rows_read_alike_under_two_labels_within_one_split_are_said(tmp_path, caplog, tokenizer):
    """tt, tt2, td, tte: a training, dev or test file's rows that differ only past task.max_seq_length (the same token
    ids) under two labels were said nowhere, while the same rows written alike are ("the model is trained on both
    labels"). 12 training rows, rows 3 and 8 again with another last word under the other label (rows 13, 14): at 8
    tokens each pair is one input; at 32 none is. Under max_train_samples=4 (rows 4, 3, 1, 6: permutation(14)[:4])
    no pair is trained whole."""
    assert tokenizer(_long(2, "good"), truncation=True, max_length=8)["input_ids"] == \
        tokenizer(_long(2, "zebra"), truncation=True, max_length=8)["input_ids"]
    train = [(_long(i, "good"), ("pos", "neg")[i % 2]) for i in range(12)]
    train += [(_long(i, "zebra"), ("neg", "pos")[i % 2]) for i in (2, 7)]
    dev = [(_long(100 + i, "fine"), ("pos", "neg")[i % 2]) for i in range(6)]
    dev += [(_long(101, "awful"), "pos"), (_long(104, "awful"), "neg")]  # dev rows 2 and 5 again, other labels
    test = write_csv(tmp_path / "te.csv", [(t.replace("film number 1", "film number 2"), y) for t, y in dev])

    def said(*extra: str) -> str:
        cfg = _custom(tmp_path, train, dev, f"task.test_file={test}", *extra)
        return _said(caplog, lambda: _run_data(cfg, tokenizer, tmp_path / "cache"), "under another label")

    text = said("task.max_seq_length=8")
    assert "split train: 4 of 14 rows are another row of the split under another label as the model reads them" \
        in text and "rows [3, 8, 13, 14]" in text and "the model is trained on both labels" in text, text
    assert "split validation: 4 of 8 rows are another row of the split under another label" in text, text
    assert "rows [2, 5, 7, 8]" in text and "no prediction scores both" in text, text
    assert "split test: 4 of 8 rows" in text, text
    assert said("task.max_seq_length=32") == ""  # read whole, the rows differ
    assert np.random.default_rng(0).permutation(14)[:7].tolist() == [3, 2, 0, 5, 4, 7, 13]
    assert "split train" not in said("task.max_seq_length=8", "max_train_samples=4")
    text = said("task.max_seq_length=8", "max_train_samples=7")  # rows 5, 8 and 14 more: the pair 8, 14
    assert "split train: 2 of 7 rows" in text and "rows [8, 14]" in text, text  # named by their file rows


def test_rows_alike_by_text_under_two_labels_are_said_once(tmp_path, caplog, tokenizer):
    """The text checks say a custom file's rows written alike under two labels; the token check does not say them
    again, and says the row that is read alike but written otherwise beside them."""
    train = [(f"film number {i} here.", ("pos", "neg")[i % 2]) for i in range(10)] + [("film number 2 here.", "neg")]
    train += [("film number 5 here .", "pos"), ("FILM number 2  here.", "neg")]  # 12: row 6's tokens; 13: row 3's text
    assert tokenizer("film number 5 here .")["input_ids"] == tokenizer("film number 5 here.")["input_ids"]
    cfg = _custom(tmp_path, train, train[:4], "task.max_seq_length=32")
    text = _said(caplog, lambda: _run_data(cfg, tokenizer, tmp_path / "cache"), "under another label")
    assert "3 of 13 rows repeat another row of the file under another label" in text, text  # text: 3, 11, 13
    assert "split train: 2 of 13 rows are another row of the split under another label as the model reads them" in \
        text and "rows [6, 12]" in text and "tokens (cut there" not in text and "2 read whole" in text, text


def test_sdp_eval_says_rows_read_alike_under_two_labels(tmp_path, caplog, tokenizer):
    """td2: sdp-eval of a dev file whose rows differ only past the length under two labels scored them, no word."""
    dev = [(_long(100 + i, "fine"), ("pos", "neg")[i % 2]) for i in range(6)]
    dev += [(_long(101, "awful"), "pos"), (_long(104, "awful"), "neg")]
    model = _classifier(tokenizer, tmp_path / "m")
    record = _eval(tmp_path, model, "e", write_csv(tmp_path / "dv.csv", dev), "task.max_seq_length=8")
    said = [w for w in record.get("warnings", []) if "under another label" in w]
    assert said and "split validation: 4 of 8 rows are another row of the split under another label" in said[0], record


def _hashless_model(tmp_path: Path, tokenizer, rows: list) -> tuple[Path, str]:
    """A custom model copied away from its run without its row-hash file, its config.json recording the training
    rows of ``rows``' file (as a run records them); the model's folder and that file."""
    from test_probe_round32 import _task

    from sdp.data.custom import custom_task
    from sdp.data.fingerprint import split_fingerprints
    from sdp.data.loading import load_splits

    train = write_csv(tmp_path / "tr.csv", rows)
    other = write_csv(tmp_path / "other.csv", [(f"another text {i}", ("neg", "pos")[i % 2]) for i in range(6)])
    trained = split_fingerprints(load_splits(custom_task(_task(train, other)), None).datasets)["train"]
    model = _classifier(tokenizer, tmp_path / "away" / "model")
    config = json.loads((model / "config.json").read_text())
    config["sdp_training_rows"] = {"task.name": "custom", "max_train_samples": None, "train_fingerprint": trained}
    (model / "config.json").write_text(json.dumps(config))
    return model, train


def test_sdp_eval_of_a_hashless_model_compares_the_training_file_given(tmp_path, tokenizer):
    """hl1, hl4, hl7: sdp-eval of a custom model without its row-hash file (copied away as README advises before
    sharing, or its run's training file moved) never compared the rows scored with a task.train_file given on its
    command line: 60 of 120 trained rows scored, no word. hl5: a damaged hash file's warning said the rows "are
    compared ..., where a training file is at hand", and none was. Nothing compared is said."""
    from sdp.data.fingerprint import ROW_KEYS_FILE

    rows = [(f"training text number {i} here", ("neg", "pos")[i % 2]) for i in range(20)]
    model, train = _hashless_model(tmp_path, tokenizer, rows)
    assert not (model / ROW_KEYS_FILE).exists() and not (model.parent / "run.json").exists()
    dev = write_csv(tmp_path / "dv.csv", rows[:10] + [(f"a dev text {i}", ("neg", "pos")[i % 2]) for i in range(10)])
    warnings = _eval(tmp_path, model, "given", dev, f"task.train_file={train}").get("warnings", [])
    assert any("10 of 20 rows repeat a row trained on" in w for w in warnings), warnings
    warnings = _eval(tmp_path, model, "none", dev).get("warnings", [])
    assert any("were not compared with the rows model_dir was trained on" in w and "no training file of it is at "
               "hand" in w for w in warnings), warnings
    edited = write_csv(tmp_path / "edited.csv", rows[:19])  # not the file it was trained on
    warnings = _eval(tmp_path, model, "edited", dev, f"task.train_file={edited}").get("warnings", [])
    assert any("were not compared" in w and f"{edited!r} is not the file it was trained on" in w
               for w in warnings), warnings
    (model.parent / "run.json").write_text(json.dumps({"config": {"task": {"train_file": str(tmp_path / "gone.csv")}}}))
    warnings = _eval(tmp_path, model, "moved", dev, f"task.train_file={train}").get("warnings", [])
    assert any("10 of 20 rows repeat a row trained on" in w for w in warnings), warnings  # hl7
    (model / ROW_KEYS_FILE).write_bytes(b"")  # hl5: the damaged file's "compared ..., where a training file is at hand"
    warnings = _eval(tmp_path, model, "empty", dev, f"task.train_file={train}").get("warnings", [])
    assert any("is damaged" in w for w in warnings) and any("10 of 20 rows repeat a row trained on" in w
                                                            for w in warnings), warnings
    shutil.rmtree(tmp_path / "res")


def test_a_carves_held_out_rows_under_two_labels_are_said(tmp_path, caplog, tokenizer):
    """The review of tt: a carve's held-out rows are checked by no text check (the training file's is made among the
    rows trained), so rows 2 and 3 written alike under two labels, both held out, were said nowhere; rows 5 and 12 read
    alike at 8 tokens alike. Held out: sort(default_rng(0).permutation(44)[:11]) = 1, 2, 4, 11, ... (rows from 0)."""
    assert np.sort(np.random.default_rng(0).permutation(44)[:11])[:4].tolist() == [1, 2, 4, 11]
    train = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(44)]
    train[2] = ("film number 1 here", "pos")  # row 2's text (neg)
    train[4], train[11] = (_long(4, "good"), "pos"), (_long(4, "zebra"), "neg")
    cfg = _custom(tmp_path, train, [("a dev row", "pos"), ("another one", "neg")], "task.validation_from_train=0.25",
                  "task.max_seq_length=8")
    text = _said(caplog, lambda: _run_data(cfg, tokenizer, tmp_path / "cache"), "under another label")
    assert "split validation_from_train: 2 of 11 rows repeat another row of the split under another label (the same " \
           "text" in text and "rows [2, 3] of the training split as read, counted from 1" in text, text
    assert "split validation_from_train: 2 of 11 rows are another row of the split under another label as the model " \
           "reads them" in text and "rows [5, 12]" in text, text


def test_a_dev_file_a_carve_scores_in_place_of_is_not_said_to_have_a_score(tmp_path, caplog):
    """vd: a dev file checked but not scored (task.validation_from_train scores the carve) was told "their score is
    partly a training score"."""
    from sdp.crosslingual import resolve_run_task

    train = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(12)]
    cfg = _custom(tmp_path, train, train[:4], "task.validation_from_train=0.25")
    text = _said(caplog, lambda: resolve_run_task(cfg), "repeat a row of task.train_file")
    assert "this file is not scored here (task.validation_from_train scores the carve), and scored, their score " \
           "would be partly a training score" in text and "their score is partly" not in text, text
    twice = [("a dev row", "pos"), ("another dev row", "neg"), ("a dev row", "neg")]  # the review: its two labels too
    cfg = _custom(tmp_path, train, twice, "task.validation_from_train=0.25")
    text = _said(caplog, lambda: resolve_run_task(cfg), "under another label")
    assert "this file is not scored here (task.validation_from_train scores the carve), and scored, no prediction " \
           "would score both" in text, text


def test_round38_noticed_sdp_eval_of_a_regression_given_label_names_and_a_hashless_start(tmp_path, tokenizer, caplog):
    """Noticed: sdp-eval of a regression model given task.label_names advised "or choose a classification metric",
    which the model's own metric overrides; a start folder without its row-hash file did not say that this run's eval
    rows go unchecked against the rows it was fine-tuned on."""
    import pytest
    from test_probe_round36 import _saved_run, started_from
    from transformers import BertConfig, BertForSequenceClassification

    from sdp.data.fingerprint import ROW_KEYS_FILE
    from sdp.errors import ConfigError

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=1, problem_type="regression")
    BertForSequenceClassification(config).save_pretrained(tmp_path / "reg")
    tokenizer.save_pretrained(tmp_path / "reg")
    dev = write_csv(tmp_path / "dv.csv", [(f"text {i}", str(i % 5)) for i in range(6)], header=("text", "score"))
    with pytest.raises(ConfigError, match=r"model_dir is a regression .*: drop task.label_names$"):
        _eval(tmp_path, tmp_path / "reg", "r", dev, "task.label_column=score", "task.label_names=[a,b]")
    run, _ = _saved_run(tmp_path, tokenizer)
    (run / "model" / ROW_KEYS_FILE).unlink()
    said = started_from(tmp_path, run / "model", caplog)
    assert "is not there" in said and "this run's eval rows are not compared with the rows it was fine-tuned on" in \
        said, said


def test_review_glue_two_labels_said_once_and_hashless_models_compared_or_said(tmp_path, tokenizer, caplog,
                                                                               monkeypatch):
    """Review of round 38's fixes: sdp-eval of a GLUE dev file whose rows repeat under two labels said them twice
    (the GLUE reader, then the token check, which took the split as never checked); a hashless custom model scored on
    a sample of its own training file was told "no training file of it is at hand"; a hashless GLUE model whose
    training rows are not at hand compared nothing, unsaid; a hashless tuning model.pretrained that does not rebuild
    was not said to be unchecked."""
    from omegaconf import OmegaConf
    from records import write_rte_folder
    from sdp.cli.eval import compose_config

    import sdp.data.scored_rows
    from sdp.crosslingual import resolve_task
    from sdp.data.loading import load_splits
    from sdp.data.tasks import DataError
    from sdp.evaluation import evaluate_saved
    from sdp.run.start_rows import warn_rows_started_from

    labels = ("entailment", "not_entailment")
    rows = [f"{i}\tpremise {i} here\thypothesis {i}\t{labels[i % 2]}" for i in range(8)]
    write_rte_folder(tmp_path / "d", rows, rows[:4] + ["9\tpremise 1 here\thypothesis 1\tentailment"])
    model = _classifier(tokenizer, tmp_path / "rte", names=labels)
    config = json.loads((model / "config.json").read_text())
    config["sdp_training_rows"] = {"task.name": "rte", "max_train_samples": 64, "train_fingerprint": "0123456789abcdef"}
    (model / "config.json").write_text(json.dumps(config))
    cfg = compose_config(["task=rte", f"data_dir={tmp_path / 'd'}", f"cache_dir={tmp_path / 'c'}",
                          "task.max_seq_length=32"])
    warnings = evaluate_saved(cfg, model, tmp_path / "res" / "g").get("warnings", [])
    assert sum("under another label" in w for w in warnings) == 1, warnings  # lines [3, 6] once
    assert any("were not compared with the rows model_dir was trained on" in w and "no training split of task rte"
               in w for w in warnings), warnings  # the folder's train.tsv is not the rows it records
    train_rows = [(f"training text number {i} here", ("neg", "pos")[i % 2]) for i in range(20)]
    custom, train = _hashless_model(tmp_path, tokenizer, train_rows)
    warnings = _eval(tmp_path, custom, "own", train, "max_eval_samples=10").get("warnings", [])
    assert any("10 of 10 rows repeat a row trained on" in w for w in warnings), warnings
    assert not any("were not compared" in w for w in warnings), warnings

    ours = write_csv(tmp_path / "ours.csv", [(f"our text {i}", "ab"[i % 2]) for i in range(40)])
    task = {"name": "custom", "train_file": ours, "validation_file": None, "text_fields": ["text"],
            "label_column": "label", "metric": "accuracy", "validation_from_train": 0.25, "validation_seed": 0}
    folder = tmp_path / "start"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"id2label": {"0": "a", "1": "b"}, "sdp_training_rows": {
        "task.name": "custom", "max_train_samples": None, "train_fingerprint": "0123456789abcdef"}}))
    run_cfg = OmegaConf.create({"task": task, "data_dir": None, "dense": {"checkpoint": None},
                                "model": {"pretrained": str(folder)}, "max_train_samples": None})
    raw = load_splits(resolve_task(run_cfg.task), None, validation_from_train=0.25).datasets

    def refused(*args, **kwargs):
        raise DataError("a file that does not read")

    monkeypatch.setattr(sdp.data.scored_rows, "rebuilt_training_rows", refused)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        warn_rows_started_from(run_cfg, raw, ["text"])
    assert "could not be rebuilt from this run's training file (a file that does not read), " \
           "so whether it was fine-tuned on rows this tuning run holds out is not checked" in caplog.text, caplog.text


def test_second_review_test_files_under_a_carve_scored_training_files_and_other_sources(tmp_path, tokenizer, caplog,
                                                                                         data_dir):
    """Second review of round 38's fixes: under a carve a test file is checked and not scored, yet its rows were "no
    prediction scores both" and "partly a training score", with no "checked but not scored" line; a hashless model
    scored on a test file of its training rows said "no training file of it is at hand"; a hashless XNLI model was
    told its training split was not at hand where data_dir held it."""
    from sdp.cli.eval import compose_config
    from transformers import BertConfig, BertForSequenceClassification

    from sdp.crosslingual import resolve_run_task, resolve_task
    from sdp.data.fingerprint import split_fingerprints
    from sdp.data.loading import load_splits
    from sdp.evaluation import evaluate_saved

    train = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(20)]
    test = write_csv(tmp_path / "te.csv", train[:4] + [("a test row", "pos"), ("a test row", "neg")])
    cfg = _custom(tmp_path, train, [("a dev row", "pos"), ("another", "neg")], f"task.test_file={test}",
                  "task.validation_from_train=0.25")
    text = _said(caplog, lambda: resolve_run_task(cfg), "task.test_file")
    assert f"task.test_file={test!r} is checked but not scored" in text, text
    assert "and scored, no prediction would score both" in text and "no prediction scores both" not in text, text
    assert "and scored, their score would be partly a training score" in text, text

    model, trained = _hashless_model(tmp_path, tokenizer, [(f"training text number {i} here", ("neg", "pos")[i % 2])
                                                          for i in range(20)])
    dev = write_csv(tmp_path / "new.csv", [(f"a new text {i}", ("neg", "pos")[i % 2]) for i in range(6)])
    warnings = _eval(tmp_path, model, "test", dev, f"task.test_file={trained}", "max_eval_samples=10").get("warnings")
    assert any("split test: 10 of 10 rows repeat a row trained on" in w for w in warnings or []), warnings
    assert not any("were not compared" in w for w in warnings or []), warnings

    xnli = compose_config(["task=xnli_small", f"data_dir={data_dir}", f"cache_dir={tmp_path / 'c'}",
                           "task.max_seq_length=32", "max_eval_samples=20"])
    task = resolve_task(xnli.task)
    rows = load_splits(task, data_dir).datasets[task.train_split]
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=3, id2label=dict(enumerate(task.label_names)),
                        label2id={n: i for i, n in enumerate(task.label_names)})
    config.sdp_max_seq_length = 32
    config.sdp_training_rows = {"task.name": task.name, "max_train_samples": None,
                                "train_fingerprint": split_fingerprints({"train": rows})["train"]}
    BertForSequenceClassification(config).save_pretrained(tmp_path / "xnli")
    tokenizer.save_pretrained(tmp_path / "xnli")
    warnings = evaluate_saved(xnli, tmp_path / "xnli", tmp_path / "res" / "x").get("warnings") or []
    assert not any("were not compared" in w for w in warnings), warnings


def test_third_review_whole_test_file_beside_a_dev_file_carved_classes_and_rows_as_read(tmp_path, tokenizer, caplog):
    """Third review of round 38's fixes: a hashless model given its whole training file as the test file compared
    its dev file with nothing, unsaid; under a carve a never-trained class's dev and test rows were said to be scored;
    a sample's rows were named bare ("rows [3, 5, 7]" of a 5-row sample)."""
    from sdp.crosslingual import resolve_run_task

    rows = [(f"training text number {i} here", ("neg", "pos")[i % 2]) for i in range(20)]
    model, train = _hashless_model(tmp_path, tokenizer, rows)
    dev = write_csv(tmp_path / "dv.csv", rows[:10] + [(f"a dev text {i}", ("neg", "pos")[i % 2]) for i in range(10)])
    warnings = _eval(tmp_path, model, "whole", dev, f"task.test_file={train}").get("warnings") or []
    assert any("split test holds the very rows model_dir was trained on" in w for w in warnings), warnings
    assert any("split validation: 10 of 20 rows repeat a row trained on" in w for w in warnings), warnings
    warnings = _eval(tmp_path, model, "sampled", dev, f"task.test_file={train}", "max_eval_samples=5").get("warnings")
    said = [w for w in warnings or [] if "split test: 5 of 5 rows repeat a row trained on" in w]
    assert said and "of split test as read, counted from 1" in said[0], warnings

    train_rows = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(20)]
    cfg = _custom(tmp_path, train_rows, [("a dev row", "mid"), ("another", "neg")], "task.validation_from_train=0.25",
                  "task.label_names=[neg,pos,mid]")
    text = _said(caplog, lambda: resolve_run_task(cfg), "task.label_names lists")
    assert "are not scored here (task.validation_from_train scores the carve; scored, they would be scored as they " \
           "are)" in text, text
    test = write_csv(tmp_path / "te.csv", [("x mid", "mid"), ("y mid", "mid"), ("z", "pos")])
    cfg = _custom(tmp_path, train_rows, [("a dev row", "mid"), ("another", "neg")], f"task.test_file={test}",
                  "task.label_names=[neg,pos,mid]", "max_eval_samples=1")  # permutation(3)[:1] = [2]: 'z' scored
    text = _said(caplog, lambda: resolve_run_task(cfg), "task.label_names lists")
    assert "task.test_file: 0 rows of the 1 scored (max_eval_samples=1)" in text, text
