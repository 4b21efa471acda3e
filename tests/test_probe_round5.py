"""What probe round 4 left and probe round 5 found (issue 26; docs/probe_round5.md): each a one-line error naming the
value, or a record where there was none. Tiny model folders and files only: no training here."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from sdp.data.custom import custom_task
from sdp.data.tasks import DataError

RTE_LABELS = {0: "entailment", 1: "not_entailment"}


def _model_dir(path: Path, truncate_to: int | None = None) -> Path:
    """A tiny BERT folder as a run's model/ holds it (config.json with RTE's labels, model.safetensors, a tokenizer
    file; nothing here loads the tokenizer), its weights cut to ``truncate_to`` bytes if given."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=64, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, num_labels=2, id2label=RTE_LABELS,
                        label2id={v: k for k, v in RTE_LABELS.items()})
    BertForSequenceClassification(config).save_pretrained(path, safe_serialization=True)
    (path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n")
    if truncate_to is not None:
        weights = path / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:truncate_to])
    return path


@pytest.mark.parametrize("cut", [40, -100])  # inside the header; inside the tensors (the header whole)
def test_eval_and_predict_name_a_truncated_weights_file(tmp_path, capsys, monkeypatch, cut):
    """e06/p05: safetensors' 'incomplete metadata' traceback; now one line naming the file (also for
    dense.checkpoint, model.pretrained and a teacher: one check, sdp/models/inspect.py)."""
    from cli.eval import main as eval_main
    from cli.predict import main as predict_main

    full = (_model_dir(tmp_path / "full") / "model.safetensors").stat().st_size
    model = _model_dir(tmp_path / "model", truncate_to=cut if cut > 0 else full + cut)
    assert eval_main([f"model_dir={model}", "task=rte", f"output_dir={tmp_path / 'ev'}"]) == 2
    err = capsys.readouterr().err
    assert "ModelLoadError" in err and "model.safetensors is damaged (truncated:" in err, err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a\tb\n")))
    assert predict_main([f"model_dir={model}"]) == 2
    assert "model.safetensors is damaged (truncated:" in capsys.readouterr().err


def test_a_completed_run_with_its_tensors_cut_short_is_not_complete(tmp_path):
    """A model/ whose header is whole but whose tensors are cut: the run was returned as "already completed"."""
    from sdp.run.rundir import missing_weights

    full = (_model_dir(tmp_path / "whole" / "model") / "model.safetensors").stat().st_size
    assert missing_weights(tmp_path / "whole") is None
    _model_dir(tmp_path / "cut" / "model", truncate_to=full - 64)
    assert missing_weights(tmp_path / "cut") == "model/model.safetensors"


@pytest.mark.parametrize("blocked", ["file", "under a file", "read-only"])
def test_eval_output_dir_that_cannot_be_made_is_one_line(tmp_path, capsys, blocked):
    """e05 (round 4), e02 (round 5): a FileExistsError / PermissionError traceback once the model had been scored;
    now refused before anything loads."""
    from cli.eval import main as eval_main

    model = _model_dir(tmp_path / "model")
    (tmp_path / "taken").write_text("x")
    read_only = tmp_path / "ro"
    read_only.mkdir(mode=0o555)
    if os.access(read_only, os.W_OK):  # root ignores the bits: a folder of a read-only file system (as test_bad_inputs)
        read_only = Path("/sys")
    out = {"file": tmp_path / "taken", "under a file": tmp_path / "taken" / "ev",
           "read-only": read_only / "ev"}[blocked]
    assert eval_main([f"model_dir={model}", "task=rte", f"output_dir={out}"]) == 2
    err = capsys.readouterr().err
    where = {"file": "is a file, not a folder", "under a file": f"is under '{tmp_path / 'taken'}', which is a file",
             "read-only": f"cannot be written: '{read_only}' does not take a new folder"}[blocked]
    assert f"ConfigError: output_dir='{out}' {where}" in err, err


def test_predict_stdin_not_utf8_names_the_line(tmp_path, capsys, monkeypatch):
    """p06: latin-1 bytes on stdin reached the tokenizer (TypeError, or UnicodeDecodeError under a UTF-8 locale)."""
    from cli.predict import main as predict_main

    model = _model_dir(tmp_path / "model")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a man\tplays\ncaf\xe9\tb\n"), encoding="utf-8"))
    assert predict_main([f"model_dir={model}"]) == 2
    err = capsys.readouterr().err
    assert "DataError: stdin line 2: not valid UTF-8 (byte 0xe9 at character 4 of the line)" in err, err


def _tsv(path: Path, labels: list[str]) -> Path:
    rows = ["s1\ts2\tlabel", *(f"premise {i}\thypothesis {i}\t{label}" for i, label in enumerate(labels))]
    path.write_text("\n".join(rows) + "\n")
    return path


def _custom(train, dev, **extra):
    return OmegaConf.create({"name": "custom", "train_file": str(train), "validation_file": str(dev),
                             "text_fields": ["s1", "s2"], "label_column": "label", "metric": "accuracy", **extra})


def test_regression_dev_file_of_class_names_is_a_data_error(tmp_path):
    """d06: integer train labels with task.metric=pearson_spearman and a dev file of class names: ValueError
    ('could not convert string to float'); a NaN target passed every check (no range given) and scored NaN."""
    train = _tsv(tmp_path / "train.tsv", ["0", "1"] * 10)
    dev = _tsv(tmp_path / "dev.tsv", ["entailment", "not_entailment"] * 5)
    with pytest.raises(DataError, match=r"dev.tsv' data row 1: target 'entailment' is not a finite number"):
        custom_task(_custom(train, dev, metric="pearson_spearman"))
    nan = _tsv(tmp_path / "nan.tsv", ["0.5", "nan", "2.5"] * 4)
    with pytest.raises(DataError, match=r"nan.tsv' data row 2: target .*nan.* is not a finite number"):
        custom_task(_custom(nan, train, metric="pearson_spearman"))


def test_train_file_that_is_a_folder_says_so(tmp_path):
    """c13: 'unknown format ''' for a folder."""
    dev = _tsv(tmp_path / "dev.tsv", ["a", "b"] * 5)
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError, match=r"task.train_file='[^']*data' is a folder, not a file; give the data file"):
        custom_task(_custom(tmp_path / "data", dev))


def test_a_killed_jobs_folder_gets_a_killed_record(tmp_path):
    """A sweep job killed by SIGKILL left no record in its run folder: sdp-tables did not list it at all. Now
    metrics.json says killed (only where the dead process held the folder's lock, and no ending was recorded), and
    the tables list it with the runs that did not finish."""
    from sdp.local_launch import record_killed
    from sdp.report.collect import collect_runs

    run = tmp_path / "results" / "job"
    run.mkdir(parents=True)
    (run / ".hydra").mkdir()
    (run / ".hydra" / "config.yaml").write_text("task:\n  name: rte\nseed: 2\nsparsity: 0.5\n")
    (run / ".sdp.lock").write_text(json.dumps({"pid": 4242, "host": "h", "started": 0}))
    record_killed(run, 999, "killed by SIGKILL")  # another process held the lock: nothing written
    assert not (run / "metrics.json").exists()
    record_killed(run, 4242, "its process was killed by SIGKILL before the job ended")
    assert json.loads((run / "metrics.json").read_text())["status"] == "killed"
    failed = collect_runs(tmp_path / "results").failed
    assert list(failed["status"]) == ["killed"] and list(failed["seed"]) == [2]
    assert "killed by SIGKILL" in failed["error"][0]
    (run / "metrics.json").write_text(json.dumps({"status": "interrupted", "error": "stage prune step 3"}))
    record_killed(run, 4242, "killed")  # a recorded ending is kept
    assert json.loads((run / "metrics.json").read_text())["status"] == "interrupted"


def test_predict_blank_line_between_texts_is_refused():
    """p01 (round 5): a blank stdin line was skipped, so every label after it sat on the line of the text before:
    3 texts, 3 labels, and lines 3-4 labelled with the wrong texts' labels. Trailing blank lines stay fine."""
    from sdp.prediction import line_texts

    assert line_texts(["a\tb\n", "c\td\n", "\n", "  \n"]) == [("a", "b"), ("c", "d")]
    with pytest.raises(DataError, match=r"stdin line 2 is blank, and texts follow it"):
        line_texts(["a\tb\n", "\n", "c\td\n"])


def _rte_dense(path: Path, seed: int) -> Path:
    """A dense RTE model of tiny-bert's shape (random weights drawn with ``seed``), as dense.checkpoint takes it."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, id2label=RTE_LABELS,
                        label2id={v: k for k, v in RTE_LABELS.items()})
    BertForSequenceClassification(config).save_pretrained(path, safe_serialization=True)
    return path


def test_a_dense_checkpoint_replaced_in_place_is_not_returned_as_completed(tmp_path, data_dir):
    """r03 (round 5): dense.checkpoint is named by its path in the config, and a folder replaced in place (another
    dense model copied over it) gave "already completed" (and a skip from a fresh folder) with the old model's
    result. Its content is now part of the run's fingerprints: the same command is refused, saying which key."""
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401  (registers the schema)
    from sdp.data.fingerprint import DataChangedError
    from sdp.sweep import run_job

    dense = _rte_dense(tmp_path / "dense", seed=0)
    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[1] / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["debug=smoke", "task=rte", f"data_dir={data_dir}", "train.num_threads=1",
                                           "prune.max_steps=2", f"dense.checkpoint={dense}",
                                           f"cache_dir={tmp_path / 'cache'}", f"output_root={tmp_path / 'out'}",
                                           f"output_dir={tmp_path / 'out' / 'run'}"])
    first = run_job(cfg)
    assert first["status"] == "completed" and "model:dense.checkpoint" in first["data_fingerprint"]
    assert run_job(cfg)["final"] == first["final"]  # the same folder, unchanged: returned as it is
    _rte_dense(tmp_path / "dense", seed=1)  # another model over the same path
    with pytest.raises(DataChangedError, match=r"the content of dense.checkpoint \(\w+ -> \w+\) changed"):
        run_job(cfg)
    cfg.output_dir = str(tmp_path / "out" / "fresh")  # a fresh folder: no skip to the old run's result either
    with pytest.raises(DataChangedError, match=r"the content of dense.checkpoint"):
        run_job(cfg)


def test_a_plugin_that_raises_as_it_imports_is_one_line(tmp_path, monkeypatch):
    """g01 (round 5): a plug-in module whose own code raised (not an ImportError) was a traceback from sdp-run."""
    from sdp.errors import is_user_error
    from sdp.objectives.registry import load_plugins

    (tmp_path / "boom_plugin.py").write_text("raise RuntimeError('licence key missing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SDP_PLUGINS", "boom_plugin")
    with pytest.raises(Exception) as info:  # noqa: B017 - the class is checked below
        load_plugins()
    assert is_user_error(info.value), repr(info.value)
    assert "plug-in module 'boom_plugin' raised RuntimeError while it was imported (licence key missing)" in str(
        info.value)


def test_predict_refuses_what_failed_after_the_labelling(tmp_path, capsys, monkeypatch):
    """p02-p04 (round 5): max_seq_length beyond the position table (RuntimeError from the embeddings), output= a
    folder (IsADirectoryError once every row was labelled), input= a folder ("unknown format ''")."""
    from cli.predict import main as predict_main

    model = _model_dir(tmp_path / "model")
    cases = {("max_seq_length=4096",): "max_seq_length=4096 is longer than model_dir",
             (f"output={tmp_path}",): f"output='{tmp_path}' is a folder; give a file name",
             (f"input={tmp_path}", "text_fields=a,b"): f"input='{tmp_path}' is a folder, not a file"}
    for args, fragment in cases.items():
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a\tb\n")))
        assert predict_main([f"model_dir={model}", *args]) == 2
        assert fragment in capsys.readouterr().err, args


def test_export_refuses_a_damaged_or_pickled_model_and_a_folder_out(tmp_path, capsys):
    """x02/x04/x06 (round 5): sdp-export on a cut model.safetensors (SafetensorError traceback), on a folder of
    pytorch_model.bin only (loaded through pickle: sdp never loads pickled weights), --out a folder."""
    from cli.export import main as export_main

    full = _model_dir(tmp_path / "full")
    cut = _model_dir(tmp_path / "cut", truncate_to=100)
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((full / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    cases = {(str(cut),): "model.safetensors is damaged (truncated:",
             (str(pickled),): "has no *.safetensors weights (found ['pytorch_model.bin']; pickled weights are never",
             (str(full), "--out", str(tmp_path)): f"--out '{tmp_path}' is a folder"}
    for args, fragment in cases.items():
        with pytest.raises(SystemExit) as info:
            export_main(list(args))
        assert info.value.code == 2 and fragment in capsys.readouterr().err, args


def test_eval_of_a_compact_structured_model_reports_the_runs_sparsity(tmp_path, tokenizer, data_dir, capsys):
    """e01 (round 5): a structured run's model/ is compact (neurons removed, not zero), and sdp-eval reported the
    zeros it still held as achieved_sparsity: 35% for a run pruned to 50%, under the run's own key."""
    from transformers import BertConfig, BertForSequenceClassification

    from cli.eval import main as eval_main

    model = tmp_path / "run" / "model"
    config = BertConfig(vocab_size=30522, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=5, num_labels=2, id2label=RTE_LABELS,
                        label2id={v: k for k, v in RTE_LABELS.items()})
    compact = BertForSequenceClassification(config)
    compact.save_pretrained(model, safe_serialization=True)
    tokenizer.save_pretrained(model)
    total = sum(p.numel() for p in compact.parameters()) + 1000  # the run's full shape had 1000 more
    run = {"status": "completed", "task": "rte", "model": "tiny-bert", "seed": 1, "target_sparsity": 0.5,
           "achieved_sparsity": {"prunable": 0.5, "encoder": 0.49, "model": 0.01}, "total_params": total,
           "nonzero_params": total - 5000, "final": {"main": 0.5}, "config_hash": "h"}
    (tmp_path / "run" / "metrics.json").write_text(json.dumps(run))
    (tmp_path / "run" / ".sdp.lock").write_text("")  # sdp ran there (sdp/run/nesting.py is_sdp_metrics)
    out = tmp_path / "ev"
    assert eval_main([f"model_dir={model}", "task=rte", f"data_dir={data_dir}", "max_eval_samples=8",
                      f"output_dir={out}", f"cache_dir={tmp_path / 'cache'}"]) == 0, capsys.readouterr().err
    record = json.loads((out / "metrics.json").read_text())
    assert record["achieved_sparsity"] == run["achieved_sparsity"] and record["total_params"] == total
    assert record["compact_params"]["total"] == total - 1000 and "compact structured" in record["sparsity_from"]


def test_export_prints_the_file_it_wrote(tmp_path, capsys, monkeypatch):
    """x01 (round 5): `sdp-export <model> --out m.onnx` wrote m.onnx and printed "onnx": "model.onnx" (the structure
    record's file name in model/ overrode the path), so a script reading the line looked for the wrong file."""
    import sdp.pruning.export as export
    from cli.export import main as export_main

    model = _model_dir(tmp_path / "model")
    out = tmp_path / "m.onnx"
    monkeypatch.setattr(export, "missing_export_packages", lambda: [])
    monkeypatch.setattr(export, "export_model_dir", lambda d, o, **kw: (Path(o), {"layers": [], "onnx": "model.onnx"}))
    assert export_main([str(model), "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["onnx"] == str(out)


def test_a_compact_structured_model_is_no_dense_checkpoint(tmp_path):
    """r06 (round 5): a structured run's compact model/ (already pruned, fewer neurons) ran as dense.checkpoint: its
    pruned score reported as "dense", the sparsity counted on the smaller shape, pooled with tiny-bert's runs."""
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401  (registers the schema)
    from sdp.models.inspect import ModelLoadError
    from sdp.validate import validate_config

    compact = _model_dir(tmp_path / "model")
    (compact / "structure.json").write_text("{}")
    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[1] / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["debug=smoke", "task=rte", f"dense.checkpoint={compact}"])
    with pytest.raises(ModelLoadError, match=r"is a structured run's compact model \(it holds structure.json\)"):
        validate_config(cfg)


def test_a_column_named_twice_is_refused(tmp_path):
    """d02 (round 5): a CSV header 'sentence1,sentence2,label,label' trained on the first 'label' without a word
    (pandas renamed the second); a JSON Lines object with a key twice keeps only the last value."""
    dev = _tsv(tmp_path / "dev.tsv", ["a", "b"] * 5)
    (tmp_path / "train.csv").write_text("s1,s2,label,label\n" + "".join(f"p {i},h {i},a,b\n" for i in range(10)))
    with pytest.raises(DataError, match=r"train.csv' line 1: the header names column\(s\) \['label'\] more than once"):
        custom_task(_custom(tmp_path / "train.csv", dev))
    (tmp_path / "train.jsonl").write_text("".join('{"s1": "p", "s2": "h", "label": "a", "label": "b"}\n'
                                                  for _ in range(10)))
    with pytest.raises(DataError, match=r"train.jsonl' line 1: the object names key\(s\) \['label'\] more than once"):
        custom_task(_custom(tmp_path / "train.jsonl", dev))


def test_class_labels_with_one_written_as_a_float_say_so(tmp_path):
    """d05 (round 5): labels 0/1 with one row written 1.0 were called a regression, with no word of the cause."""
    train = _tsv(tmp_path / "train.tsv", ["0", "1"] * 5 + ["1.0"])
    dev = _tsv(tmp_path / "dev.tsv", ["0", "1"] * 5)
    with pytest.raises(DataError, match=r"one row written like 1.0 made the column floats"):
        custom_task(_custom(train, dev))


def test_a_pair_of_one_column_is_refused(tmp_path):
    """d06 (round 5): task.text_fields=[sentence1,sentence1] (a typo for sentence2) trained on each premise paired
    with itself, and reported its score as the pair task's."""
    train = _tsv(tmp_path / "train.tsv", ["a", "b"] * 10)
    dev = _tsv(tmp_path / "dev.tsv", ["a", "b"] * 5)
    with pytest.raises(DataError, match=r"task.text_fields=\['s1', 's1'\] names 's1' twice"):
        custom_task(_custom(train, dev, text_fields=["s1", "s1"]))
