"""What probe round 6 found silently wrong (issue 26; docs/probe_round6.md): each now a one-line error, or a change
that the run's identity sees. Tiny model folders and files only: no training here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdp.data.tasks import DataError

CONF = str(Path(__file__).resolve().parents[1] / "conf")
RTE_LABELS = {0: "entailment", 1: "not_entailment"}


def _compose(*overrides: str):
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401  (registers the schema)

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("config", overrides=["debug=smoke", "task=rte", *overrides])


def _model_dir(path: Path, zero_share: float = 0.0) -> Path:
    """A tiny RTE BERT folder, the first ``zero_share`` of each encoder matrix's entries set to exact zeros (as an
    unstructured run's model/ holds its pruned weights)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=64, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, num_labels=2, id2label=RTE_LABELS,
                        label2id={v: k for k, v in RTE_LABELS.items()})
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".layer." in name and name.endswith(".weight") and p.dim() == 2:
                p.view(-1)[: int(p.numel() * zero_share)] = 0.0
    model.save_pretrained(path, safe_serialization=True)
    (path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n")
    (path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    return path


def test_predict_text_fields_naming_one_column_twice_is_refused(tmp_path):
    """p01: sdp-predict text_fields=sentence1,sentence1 labelled every row as a pair of one text, without a word
    (task.text_fields refuses it since round 5)."""
    from sdp.prediction import file_texts

    path = tmp_path / "in.tsv"
    path.write_text("s1\ts2\nA man plays.\tSomeone plays.\n")
    assert file_texts(path, ["s1", "s2"]) == [("A man plays.", "Someone plays.")]
    with pytest.raises(DataError, match=r"text_fields='s1,s1' names 's1' twice: a pair is two different columns"):
        file_texts(path, ["s1", "s1"])


def test_an_unstructured_pruned_model_is_no_dense_checkpoint(tmp_path):
    """r01: an unstructured run's model/ (half its encoder weights exact zeros) given as dense.checkpoint ran as a
    dense model: its pruned score reported as "dense", pruned again from there, labelled as the method."""
    from sdp.models.inspect import ModelLoadError, encoder_zero_fraction
    from sdp.validate import validate_config

    dense, pruned = _model_dir(tmp_path / "dense"), _model_dir(tmp_path / "pruned", zero_share=0.5)
    assert encoder_zero_fraction(dense) == 0.0
    assert encoder_zero_fraction(pruned) == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ModelLoadError, match=r"dense.checkpoint '.*pruned' is pruned already: 50.0% of its encoder "
                                             r"weights are exact zeros"):
        validate_config(_compose(f"dense.checkpoint={pruned}"))


@pytest.mark.parametrize("overrides, message", [
    (["regularizer=kd", "regularizer.alpha=0"], r"regularizer.alpha=0.0 must be > 0 with regularizer=kd"),
    (["regularizer=cross_correlation", "regularizer.alpha=0"],
     r"regularizer.alpha=0.0 must be > 0 with regularizer=cross_correlation"),
    (["weight_reg=cosine", "weight_reg.beta=0"], r"weight_reg.beta=0.0 must be > 0 with weight_reg=cosine"),
    (["regularizer=kd", "regularizer.temperature=1e9"], r"kd temperature must be > 0 and at most 100, got 1000000000"),
])
def test_a_method_term_that_adds_nothing_is_refused(overrides, message):
    """k01/k02/k03: KD at alpha=0, AWR at beta=0, and KD at T=1e9 (float32: the term is exactly 0; at 1e4 it is
    negative) ran as MP, labelled KD or AWR-cos in metrics.json and the tables."""
    from sdp.errors import ConfigError
    from sdp.validate import validate_config

    with pytest.raises(ConfigError, match=message):
        validate_config(_compose(*overrides))
    validate_config(_compose("regularizer=none", "weight_reg=none"))  # MP itself: both weights 0, as it should be


def test_a_local_models_tokenizer_is_part_of_its_fingerprint(tmp_path):
    """f02b/f03b: model.pretrained=<local folder> whose tokenizer_config.json was edited in place (do_lower_case off,
    same vocabulary: "The" became [UNK]) returned the old run as "already completed", and a killed run resumed
    across the edit trained on the ids of both tokenizers. A record from before (no tokenizer key) is not compared
    on it."""
    from omegaconf import OmegaConf

    from sdp.data.fingerprint import DataChangedError, check_same_data
    from sdp.run.same_data import input_fingerprints

    folder = _model_dir(tmp_path / "lm")
    cfg = OmegaConf.create({"model": {"pretrained": str(folder)}, "dense": {"checkpoint": None}, "prune": {}})
    before = input_fingerprints(cfg)
    # and the tokenizer's other files (none here), a key of their own (probe round 55, pm_stm)
    assert set(before) == {"model:model.pretrained", "model:model.pretrained.tokenizer",
                           "model:model.pretrained.tokenizer_extra"}
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    after = input_fingerprints(cfg)
    assert after["model:model.pretrained"] == before["model:model.pretrained"]  # the weights are the same
    with pytest.raises(DataChangedError, match=r"the content of model.pretrained.tokenizer \(\w+ -> \w+\) changed"):
        check_same_data(before, after, "the completed run")
    check_same_data({"model:model.pretrained": before["model:model.pretrained"], "train": "x"},
                    {**after, "train": "x"}, "a record from before")  # no tokenizer key recorded: not compared


def test_an_edited_plugin_is_other_code(tmp_path, monkeypatch):
    """f01: a run with a plug-in term (SDP_PLUGINS), the plug-in's forward edited, the same command: "already
    completed: returning its metrics.json", the old code's result. Its source is now part of the code identity."""
    from sdp.run import code

    plain = code.fingerprint()
    assert "plugins" not in plain
    (tmp_path / "my_term_p6.py").write_text("SCALE = 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SDP_PLUGINS", "my_term_p6")
    first = code.fingerprint()
    assert first["id"] != plain["id"] and set(first["plugins"]) == {"my_term_p6"}
    assert code.fingerprint()["id"] == first["id"]  # unchanged: the same identity
    (tmp_path / "my_term_p6.py").write_text("SCALE = 1e6\n")
    assert code.fingerprint()["id"] != first["id"]
    monkeypatch.delenv("SDP_PLUGINS")
    assert code.fingerprint()["id"] == plain["id"]  # without plug-ins the identity is what it was


@pytest.mark.parametrize("mark", ["--skip-worktree", "--assume-unchanged"])
def test_an_edit_git_is_told_to_ignore_is_other_code(tmp_path, mark):
    """i02: `git update-index --skip-worktree sdp/metrics.py`, then an edit that halves every accuracy: git diff and
    status do not see it, so the code identity stayed, and the same command returned the old result as this
    code's ("already completed"), while a fresh folder recorded the new score under the same identity."""
    import subprocess

    from sdp.run import code

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    for name in code.PACKAGE_DIRS:
        (tmp_path / name).mkdir()
        (tmp_path / name / "m.py").write_text("SCALE = 1.0\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "first")
    clean = code.fingerprint(tmp_path, tmp_path / "sdp")
    assert clean["commit"] and clean["diff"] is None
    git("update-index", mark, "sdp/m.py")
    assert code.fingerprint(tmp_path, tmp_path / "sdp")["id"] == clean["id"]  # marked, not edited: the same code
    (tmp_path / "sdp" / "m.py").write_text("SCALE = 0.5\n")
    edited = code.fingerprint(tmp_path, tmp_path / "sdp")
    assert edited["id"] != clean["id"] and edited["diff"] is not None


def test_export_of_a_structured_runs_model_reports_the_runs_dense_size(tmp_path, monkeypatch):
    """x03: sdp-export of a structured run's model/ (its smaller standard form) printed that form's size as "dense"
    (13318 for a run whose dense encoder had 17088), so the compression it implied was wrong; the run recorded the
    dense size in model/structure.json."""
    import sdp.pruning.export as export

    monkeypatch.setattr(export, "export_onnx", lambda model, path, **kw: path)  # the ONNX file itself is not the point
    model = _model_dir(tmp_path / "model")
    _, plain = export.export_model_dir(model, tmp_path / "m.onnx")
    assert plain["dense_from"].startswith("the model itself") and plain["encoder_params"]["dense"] < 99999
    (model / "structure.json").write_text(json.dumps({"encoder_params": {"dense": 99999}}))
    _, record = export.export_model_dir(model, tmp_path / "m.onnx")
    assert record["encoder_params"]["dense"] == 99999 and record["dense_from"] == "structure.json"
    assert record["encoder_params"]["standard"] == plain["encoder_params"]["standard"]
