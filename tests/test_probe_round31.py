"""What probe round 31 found (issue 26; docs/probe_round31.md): rows and labels differing in accents or invisible
characters were new rows and classes of their own, unsaid; an evaluation's length and warnings were not in the tables,
and sdp-eval wrote into other models', runs' and tables' folders; a GLUE folder's dev rows that were training rows,
a reference mask of another task and a dense.checkpoint fine-tuned on another file went unsaid; two dense models of
one seed were averaged as one; devices and pipes as outputs were replaced, refused falsely or a traceback; the
README's tab completion was refused. Each test fails on the commit the probe ran (79add59) and passes after its fix.
Hand-written files, records and tiny models, offline."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from records import write_csv, write_record


def _task(train: str, dev: str, test: str | None = None):
    return OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "test_file": test,
                             "text_fields": ["text"], "label_column": "label", "metric": "accuracy"})


def _classifier(tokenizer, path: Path, length: int | None = None) -> Path:
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, pad_token_id=tokenizer.pad_token_id,
                        id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})
    if length is not None:
        config.sdp_max_seq_length = length
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


# --------------------------------------------------------------------------- ac1, sh1, zw1, zl1
def test_rows_and_labels_differing_in_accents_or_invisible_characters_are_said(tmp_path, caplog, tokenizer):
    """ac1/sh1/zw1: `task.test_file=` the dev rows with accents, soft hyphens or zero-width spaces: `test_accuracy`
    was the dev score again (the uncased tokenizer reads the same ids), no word; zl1: training labels `pos` and
    `pos` + U+200B made a 3-class model, no word."""
    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    train = write_csv(tmp_path / "tr.csv", [(f"train text {i}", ("neg", "pos")[i % 2]) for i in range(20)])
    dev_rows = [(f"a good dev text number {i}", ("neg", "pos")[i % 2]) for i in range(10)]
    dev = write_csv(tmp_path / "dv.csv", dev_rows)
    edits = {"acc": lambda t: t.replace("e", "\u00e9").replace("o", "\u00f6"),
             "shy": lambda t: t.replace("number", "num\u00adber"), "zw": lambda t: t.replace(" ", " \u200b")}
    for name, edit in edits.items():
        assert tokenizer(edit(dev_rows[0][0]))["input_ids"] == tokenizer(dev_rows[0][0])["input_ids"]  # the premise
        test = write_csv(tmp_path / f"{name}.csv", [(edit(t), y) for t, y in dev_rows])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sdp"):
            custom_task(_task(train, dev, test))
        assert f"{name}.csv': 10 of 10 rows repeat a row of task.validation_file='{dev}'" in caplog.text, caplog.text
    labels = write_csv(tmp_path / "zl.csv", [(f"train text {i}", "neg" if i % 2 else "pos" + "\u200b" * (i % 4 == 0))
                                        for i in range(20)])
    with pytest.raises(DataError, match=r"differ only in accents or invisible characters \('pos', 'pos\\u200b'\)"):
        custom_task(_task(labels, dev))


# --------------------------------------------------------------------------- ev1, ew1
def _evaluate(tmp_path, tokenizer, *extra: str) -> Path:
    from sdp.cli.eval import compose_config

    from sdp.evaluation import evaluate_saved

    model = _classifier(tokenizer, tmp_path / "m", length=32)
    rows = [(f"a dev text number {i}", ("neg", "pos")[i % 2]) for i in range(8)]
    dev = write_csv(tmp_path / "dv.csv", rows)
    cfg = compose_config(["task=custom", f"task.validation_file={dev}", "task.text_fields=[text]",
                          "task.label_column=label", f"cache_dir={tmp_path / 'c'}", *extra])
    out = tmp_path / "res" / "ev"
    evaluate_saved(cfg, model, out)
    return out


def test_an_evaluation_at_another_length_says_so_in_the_tables(tmp_path, tokenizer):
    """ev1: `sdp-eval ... task.max_seq_length=4` of a model trained at 32 beside one at 32: the Evaluations table
    showed `validation (120) | 70.00` and `validation (120) | 94.17`, nothing telling them apart."""
    from sdp.report.report import build_report

    out = _evaluate(tmp_path, tokenizer, "task.max_seq_length=4")
    assert json.loads((out / "metrics.json").read_text())["trained_max_seq_length"] == 32
    build_report(tmp_path / "res", plots=False)
    summary = (tmp_path / "res" / "tables" / "summary.md").read_text()
    assert "| validation (8) at 4 tokens (trained at 32) |" in summary, summary


def test_an_evaluations_warnings_are_in_its_record_and_the_tables(tmp_path, tokenizer):
    """ew1: `sdp-eval ... task.test_file=<the dev rows upper-cased>` warned on the console only: its record had no
    `warnings`, and summary.md listed `validation (120), test (120) | 94.17` with no word."""
    from sdp.report.report import build_report

    test = write_csv(tmp_path / "up.csv", [(f"A DEV TEXT NUMBER {i}", ("neg", "pos")[i % 2]) for i in range(8)])
    out = _evaluate(tmp_path, tokenizer, f"task.test_file={test}", "task.max_seq_length=32")
    said = json.loads((out / "metrics.json").read_text()).get("warnings") or []
    assert any("8 of 8 rows repeat a row of task.validation_file" in w for w in said), said
    build_report(tmp_path / "res", plots=False)
    summary = (tmp_path / "res" / "tables" / "summary.md").read_text()
    assert "Evaluations that warned" in summary and "- `ev`: task.test_file=" in summary, summary


# --------------------------------------------------------------------------- eo1, ue2, et1
def test_sdp_eval_refuses_a_folder_of_another_model_a_run_or_tables(tmp_path, tokenizer):
    """eo1: output_dir=<another run's model/> was taken, and tabled as that model's score; ue2: an unfinished run's
    folder was taken, and the run then refused to resume; et1: a results folder's tables/ was taken, and the record
    never tabled."""
    from sdp.errors import ConfigError
    from sdp.evaluation import check_out_dir

    model, other = _classifier(tokenizer, tmp_path / "m"), _classifier(tokenizer, tmp_path / "other")
    check_out_dir(model, model, "custom")  # beside its own weights, as before (round 29, eo2)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    tables = tmp_path / "res" / "tables"
    tables.mkdir(parents=True)
    (tables / "summary.md").write_text("# Report summary\n")
    (tables / "glue.md").write_text("# GLUE\n")
    for folder, words in ((other, "another model's weights"), (run, "a training run's files"),
                          (tables, "sdp-tables' tables")):
        with pytest.raises(ConfigError, match=f"holds {words}"):
            check_out_dir(folder, model, "custom")


# --------------------------------------------------------------------------- gl1
def test_a_glue_folders_dev_rows_that_are_training_rows_are_said(tmp_path, caplog):
    """gl1: an RTE folder whose dev.tsv is 100 rows of its train.tsv: `dense dev accuracy=51.00 -> 51.00`, no word (the
    same files as task=custom were said)."""
    from sdp.data.loading import load_splits
    from sdp.data.tasks import get_task

    folder = tmp_path / "glue" / "RTE"
    folder.mkdir(parents=True)
    rows = [f"{i}\tpremise number {i}\thypothesis {i}\t{('entailment', 'not_entailment')[i % 2]}" for i in range(20)]
    head = "index\tsentence1\tsentence2\tlabel"
    (folder / "train.tsv").write_text("\n".join([head, *rows[:16]]) + "\n")
    (folder / "dev.tsv").write_text("\n".join([head, *rows[12:]]) + "\n")  # 4 of its 8 rows are training rows
    with caplog.at_level(logging.WARNING, logger="sdp"):
        load_splits(get_task("rte"), tmp_path)
    assert "task rte, split validation: 4 of 8 rows repeat a row trained on" in caplog.text, caplog.text


# --------------------------------------------------------------------------- ds1, dn1, dn2, ex4
def test_devices_and_pipes_as_outputs_are_written_into_or_refused(tmp_path, tokenizer, capsys):
    """ds1: `sdp-predict ... output=/dev/stdout` was a traceback; dn1: `output=/dev/null` said "written by another
    process"; dn2: with overwrite=true (as root) /dev/null was renamed over by a regular file. A FIFO stands in for
    them here. ex4: `sdp-export --out <a FIFO>` said "written by another process while this export ran"."""
    from sdp.cli.predict import main

    model = _classifier(tokenizer, tmp_path / "m")
    write_csv(tmp_path / "in.csv", [("a film", "x"), ("another", "y")])
    fifo = tmp_path / "labels.fifo"
    os.mkfifo(fifo)
    for extra in ([], ["overwrite=true"]):
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            code = main([f"model_dir={model}", f"input={tmp_path / 'in.csv'}", "text_fields=text", f"output={fifo}",
                         *extra])
            labels = os.read(reader, 4096).decode()
        finally:
            os.close(reader)
        assert code == 0, capsys.readouterr().err
        assert stat.S_ISFIFO(os.stat(fifo).st_mode) and len(labels.split()) == 2, labels
    from sdp.cli.export import main as export

    with pytest.raises(SystemExit):
        export([str(model), "--out", str(fifo), "--overwrite"])
    assert "is not a regular file (a device, pipe or socket)" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


# --------------------------------------------------------------------------- rf3
def test_a_reference_mask_of_another_task_is_said(tmp_path):
    """rf3: `prune.reference_mask=<an RTE run>` for a custom task: its overlap was recorded as the reference overlap,
    no word (another seed, sparsity or method was said since round 28)."""
    from sdp.pruning.overlap import reference_run_note

    run = tmp_path / "rte_mp"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"task": "rte", "model": "tiny-bert", "seed": 1,
                                                  "target_sparsity": 0.5, "method": "MP"}))
    note = reference_run_note(run, 1, 0.5, "custom", "tiny-bert")
    assert note is not None and "task rte (this run's custom)" in note, note


# --------------------------------------------------------------------------- dc2
def test_a_dense_checkpoint_fine_tuned_on_another_file_is_said(tmp_path, tokenizer, caplog):
    """dc2: a KD run given the dense_model/ of a run on another training file (the same max_train_samples): `dense dev
    accuracy=62.50` was that model's, no word."""
    import datasets

    from sdp.run.data_record import record_data

    other = tmp_path / "dte"
    _classifier(tokenizer, other / "dense_model")
    task = {"name": "custom", "validation_from_train": None, "validation_seed": 0}
    (other / "run.json").write_text(json.dumps({"config": {"task": task, "max_train_samples": None},
                                                "config_hash": "h", "data_fingerprint": {"train": "f0c4f6541ab43dc1"}}))
    cfg = OmegaConf.create({"task": task, "max_train_samples": None, "resume": False,
                            "dense": {"checkpoint": str(other / "dense_model")}})
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})})
    run = tmp_path / "run"
    run.mkdir()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        record_data(run, cfg, raw, main_process=False)
    assert "was fine-tuned on other training rows than this run trains on (training data fingerprint " \
        "f0c4f6541ab43dc1 there" in caplog.text, caplog.text


# --------------------------------------------------------------------------- dk1
def test_two_dense_models_of_one_seed_are_two_in_the_dense_row(tmp_path):
    """dk1: MP seed 1 (its own dense stage: 52.50) beside KD seed 1 given another dense model (62.50): `Dense 57.50
    (n=1)`, a score neither model has."""
    from sdp.report.report import build_report

    write_record(tmp_path, "mp1", "MP", 1, 0.9417, own="fp-own")
    write_record(tmp_path, "kd1", "KD", 1, 0.8917, given=("/elsewhere/dte/dense_model", "fp-dte"))
    for name, dense in (("mp1", 0.525), ("kd1", 0.625)):
        path = tmp_path / name / "metrics.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "dense": {"main": dense, "accuracy": dense}}))
    build_report(tmp_path, plots=False)
    glue = (tmp_path / "tables" / "glue.md").read_text()
    assert "| Dense | 0% | 57.50 ± 7.07 (n=2) |" in glue, glue


# --------------------------------------------------------------------------- sc1
def test_the_readmes_tab_completion_is_installed():
    """sc1: `eval "$(sdp-run --shell-completion install=bash)"` (README) was `ConfigError: install=bash: install is
    not a key of the config`, and so was every completion query."""
    done = subprocess.run([sys.executable, "-m", "sdp.cli.run", "--shell-completion", "install=bash"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "complete -o" in done.stdout, done.stderr[-2000:]


# --------------------------------------------------------------------------- mt2
def test_a_carve_of_every_row_is_scored_whatever_max_train_samples_said(tmp_path, tokenizer):
    """mt2: a tuning run with max_train_samples=10000 on a 600-row file kept every row; sdp-eval of its carve without
    max_train_samples was refused, falsely: "the rows held out here include rows its run trained on"."""
    from sdp.cli.eval import compose_config

    from sdp.data.custom import custom_task
    from sdp.data.fingerprint import split_fingerprints
    from sdp.data.loading import load_splits
    from sdp.evaluation import evaluate_saved

    train = write_csv(tmp_path / "tr.csv", [(f"train text {i}", ("neg", "pos")[i % 2]) for i in range(40)])
    task_cfg = OmegaConf.create({"name": "custom", "train_file": train, "validation_file": None, "test_file": None,
                                 "text_fields": ["text"], "label_column": "label", "metric": "accuracy",
                                 "validation_from_train": 0.25, "label_names": ["neg", "pos"]})
    raw = load_splits(custom_task(task_cfg), None, validation_from_train=0.25).datasets
    model = _classifier(tokenizer, tmp_path / "m", length=32)
    config = json.loads((model / "config.json").read_text())
    config["sdp_training_rows"] = {"task.name": "custom", "max_train_samples": 10000, "task.validation_from_train": 0.25,
                                   "task.validation_seed": 0,
                                   "train_fingerprint": split_fingerprints({"train": raw["train"]})["train"]}
    (model / "config.json").write_text(json.dumps(config))
    cfg = compose_config(["task=custom", f"task.train_file={train}", "task.validation_from_train=0.25",
                          "task.text_fields=[text]", "task.label_column=label", f"cache_dir={tmp_path / 'c'}"])
    record = evaluate_saved(cfg, model, tmp_path / "ev")
    assert record["eval_examples"] == {"validation_from_train": 10}
