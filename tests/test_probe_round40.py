"""Probe round 40 (docs/probe_round40.md, the deciding round; probe only): its findings, fixed by the lead. Each test
fails on 796efb1 (the round's BASE) and passes after its fix. Hand-written files and tiny models, offline."""

from __future__ import annotations

import json

import numpy as np
import pytest
from records import write_csv
from test_probe_round32 import _classifier
from test_probe_round33 import _eval


def test_a_row_exactly_as_long_as_the_cut_is_not_said_to_be_cut(tmp_path, caplog, tokenizer):
    """pt1, pt1b, pt1c: of two rows read alike under two labels, one exactly task.max_seq_length tokens long and the
    other longer, the warning said "2 cut at task.max_seq_length"; one was."""
    from test_probe_round37 import _custom, _said
    from test_round38_found import _run_data

    short = "film one was good"  # [CLS] film one was good [SEP]: 6 tokens
    assert len(tokenizer(short)["input_ids"]) == 6
    train = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(10)]
    train += [(short, "pos"), (short + " and long", "neg")]
    cfg = _custom(tmp_path, train, train[:2], "task.max_seq_length=6")
    text = _said(caplog, lambda: _run_data(cfg, tokenizer, tmp_path / "cache"), "under another label")
    # (round 41, tw1: the same words said of rows both read whole, differing at an unknown token: by their own lengths)
    assert "2 differing past task.max_seq_length=6 tokens, where they or their twins were cut" in text, text


def test_a_target_past_float32s_range_is_refused(tmp_path):
    """bg1-bg2: a regression target `1e39` passed the finite check as a Python float and became inf as float32:
    pearson 0.00 (by hand -9.00), no word; in training a non-finite loss naming a step."""
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    rows = [(f"text {i}", str(i % 5)) for i in range(8)]
    train = write_csv(tmp_path / "tr.csv", rows, header=("text", "score"))
    dev = write_csv(tmp_path / "dv.csv", rows[:4] + [("big", "1e39")], header=("text", "score"))
    task = OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "text_fields": ["text"],
                             "label_column": "score", "metric": "pearson_spearman"})
    with pytest.raises(DataError, match=r"data row 5: target 1e\+39 is past the float32 range"):
        custom_task(task)


def test_an_undefined_correlation_of_values_that_are_not_finite_is_said():
    """bg1: scipy's warning was silenced inside the correlation, and the 0.0 reported for a NaN correlation with it."""
    import warnings

    from scipy.stats import pearsonr

    from sdp.metrics import DegenerateMetricWarning, _correlation

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = _correlation("pearson", pearsonr, np.array([1.0, 2.0, 3.0]), np.array([1.0, np.inf, 2.0]))
    assert value == 0.0 and any(issubclass(w.category, DegenerateMetricWarning) for w in caught), caught


def test_a_model_folder_with_a_weight_that_is_not_finite_is_refused(tmp_path, tokenizer):
    """nan1-nan6, dcn: a model folder holding a NaN weight was scored (its NaN logits argmax to the first class:
    accuracy = that class's share), predicted `neg` for every row, and a dense.checkpoint so damaged failed at "prune:
    non-finite loss nan at optimizer step 0" without naming the folder."""
    from safetensors.torch import load_file, save_file

    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import load_saved_model

    model = _classifier(tokenizer, tmp_path / "m")
    weights = load_file(str(model / "model.safetensors"))
    name = next(n for n in weights if n.endswith("classifier.weight"))
    weights[name][0, 0] = float("nan")
    save_file(weights, str(model / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=r"weight classifier\.weight holds 1 value\(s\) that are not finite"):
        load_saved_model(model, cpu=True)


def test_a_model_naming_one_class_twice_is_refused_as_the_models(tmp_path, tokenizer):
    """dup1, dup2: a model whose config.json names one class twice was refused by sdp-eval as task.label_names (which
    the user never gave), and sdp-predict labelled rows with it unchecked."""
    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import check_saved_model

    model = _classifier(tokenizer, tmp_path / "m", names=("pos", "pos"))
    assert json.loads((model / "config.json").read_text())["id2label"] == {"0": "pos", "1": "pos"}
    with pytest.raises(ModelLoadError, match=r"config\.json id2label names 'pos' more than once"):
        check_saved_model(model)
    with pytest.raises(ModelLoadError, match=r"id2label names 'pos' more than once"):
        _eval(tmp_path, model, "e", write_csv(tmp_path / "dv.csv", [("a", "pos"), ("b", "pos")]))
    generic = _classifier(tokenizer, tmp_path / "g", names=("LABEL_1", "LABEL_1"))  # the review: LABEL_i names too
    with pytest.raises(ModelLoadError, match=r"id2label names 'LABEL_1' more than once"):
        check_saved_model(generic)
    config = json.loads((generic / "config.json").read_text())
    for id2label, said in (({"0": "neg", "1": "pos", "2": "a", "3": "b", "x": "mid"}, r"ids that are not whole numbers "
                            r"\(\['x'\]\)"), (["neg", "pos"], r"id2label is not an object of id: name")):
        (generic / "config.json").write_text(json.dumps({**config, "id2label": id2label}))
        with pytest.raises(ModelLoadError, match=said):  # transformers' reading: a ValueError traceback
            check_saved_model(generic)


def test_a_stop_signal_before_any_checkpoint_says_there_is_none(tmp_path):
    """ks1: a SIGTERM during setup was recorded as "... the newest checkpoint holds every finished stage", of none."""
    from sdp.run.signals import PhaseInterrupted, stop_between_stages

    with pytest.raises(PhaseInterrupted), stop_between_stages(tmp_path):
        raise PhaseInterrupted(128 + 15)
    error = json.loads((tmp_path / "metrics.json").read_text())["error"]
    assert "no checkpoint was written yet: the next launch starts the run over" in error, error


def test_review_export_and_a_pretrained_folder_refuse_a_weight_that_is_not_finite(tmp_path, tokenizer, capsys):
    """The review of the fixes: sdp-export of a NaN model wrote a graph of NaN outputs, exit 0; a local model.pretrained
    folder with a NaN weight loaded unchecked."""
    from omegaconf import OmegaConf
    from safetensors.torch import load_file, save_file

    from sdp.models.inspect import ModelLoadError
    from sdp.models.presets import load_model

    model = _classifier(tokenizer, tmp_path / "m")
    weights = load_file(str(model / "model.safetensors"))
    name = next(n for n in weights if n.endswith("classifier.weight"))
    weights[name][0, 0] = float("nan")
    save_file(weights, str(model / "model.safetensors"), metadata={"format": "pt"})
    from cli.export import main

    with pytest.raises(SystemExit) as exc:
        main([str(model), "--out", str(tmp_path / "m.onnx")])
    assert exc.value.code == 2 and "holds 1 value(s) that are not finite" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()
    cfg = OmegaConf.create({"name": "m", "pretrained": str(model), "package": None, "architecture": None,
                            "trust_remote_code": False})
    with pytest.raises(ModelLoadError, match=r"model\.pretrained .*holds 1 value\(s\) that are not finite"):
        load_model(cfg, 2, ("neg", "pos"), tokenizer)
