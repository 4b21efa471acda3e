"""model=hf: any saved encoder by path or Hub id, its derived name, and the prunable-set check at load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from transformers import AutoModelForSequenceClassification, BertConfig, DistilBertConfig

import sdp.config  # noqa: F401  (schema and the sdp_model_name resolver)
from sdp.models.presets import ModelLoadError, load_tokenizer
from sdp.pruning.patterns import BUILTIN_INCLUDE, PrunableSetError, check_prunable
from sdp.recipe import run

CONF = str(Path(__file__).resolve().parents[2] / "conf")
TINY = {"num_hidden_layers": 2, "num_attention_heads": 2, "hidden_size": 32, "intermediate_size": 64}


def compose_cfg(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _distilbert(vocab: int = 100):
    cfg = DistilBertConfig(vocab_size=vocab, dim=32, n_layers=2, n_heads=2, hidden_dim=64, num_labels=2)
    return AutoModelForSequenceClassification.from_config(cfg)


@pytest.fixture(scope="module")
def saved_tiny_bert(tmp_path_factory, tokenizer) -> Path:
    """A tiny BERT saved as a user would save theirs: save_pretrained of model and tokenizer."""
    path = tmp_path_factory.mktemp("models") / "my-tiny-bert"
    config = BertConfig(vocab_size=len(tokenizer), **TINY, num_labels=2)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


def test_name_is_derived_from_the_path_or_hub_id():
    assert compose_cfg(["model=hf", "model.pretrained=/data/models/my-model/"]).model.name == "my-model"
    cfg = compose_cfg(["model=hf", "model.pretrained=distilbert/distilbert-base-uncased"])
    assert cfg.model.name == "distilbert-base-uncased"
    assert list(cfg.prune.include) == list(BUILTIN_INCLUDE.values())


def test_bundled_preset_with_pretrained_is_refused():
    cfg = compose_cfg(["model=minilm", "model.pretrained=bert-base-uncased"])
    # the value quoted as Hydra reads it back, whatever it holds (`~/m` advised raw was refused: probe round 53, pm_pkg_q)
    with pytest.raises(ModelLoadError, match="model=hf model.pretrained='bert-base-uncased'"):
        load_tokenizer(cfg.model)


def test_builtin_patterns_select_bert_and_distilbert_blocks():
    distil = check_prunable(_distilbert(), BUILTIN_INCLUDE.values())
    assert len(distil) == 2 * 6 and all(".transformer.layer." in n for n in distil)  # q k v out lin1 lin2
    bert = AutoModelForSequenceClassification.from_config(BertConfig(vocab_size=100, **TINY))
    assert len(check_prunable(bert, BUILTIN_INCLUDE.values())) == 2 * 6


def test_bad_patterns_name_the_problem():
    model = _distilbert()
    with pytest.raises(PrunableSetError, match=r"no prunable weights.*transformer\.layer\."):
        check_prunable(model, [r"encoder\.layer\.\d+\."])  # BERT naming on DistilBERT
    with pytest.raises(PrunableSetError, match="not nn.Linear weights"):
        check_prunable(model, ["layer_norm"])
    with pytest.raises(PrunableSetError, match="not a regular expression"):
        check_prunable(model, ["("])


def test_hf_preset_runs_a_saved_model(saved_tiny_bert, data_dir, tmp_path):
    cfg = compose_cfg(["debug=smoke", "model=hf", f"model.pretrained={saved_tiny_bert}", "task=rte",
                       f"data_dir={data_dir}", f"cache_dir={tmp_path}/cache"])
    metrics = run(cfg, run_dir=tmp_path / "run")
    assert metrics["status"] == "completed" and metrics["model"] == "my-tiny-bert"
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["model"] == "my-tiny-bert"


def test_wrong_include_fails_before_training(saved_tiny_bert, data_dir, tmp_path):
    cfg = compose_cfg(["debug=smoke", "model=hf", f"model.pretrained={saved_tiny_bert}", "task=rte",
                       f"data_dir={data_dir}", f"cache_dir={tmp_path}/cache", r"prune.include=[transformer\.h\.]"])
    with pytest.raises(PrunableSetError, match="no prunable weights"):
        run(cfg, run_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "trace.jsonl").exists()  # no update of the dense stage ran
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_encoder_sparsity_covers_distilbert_and_is_null_without_an_encoder():
    import torch

    from sdp.pruning.masks import sparsity_report

    model = _distilbert()
    prunable = check_prunable(model, BUILTIN_INCLUDE.values())
    with torch.no_grad():
        for weight in prunable.values():
            weight.zero_()
    report = sparsity_report(model, prunable)["achieved_sparsity"]
    assert report["prunable"] == 1.0 and 0.5 < report["encoder"] < 1.0  # DistilBERT's stack is `transformer`
    head = torch.nn.Sequential(torch.nn.Linear(4, 2))
    assert sparsity_report(head, {"0.weight": head[0].weight})["achieved_sparsity"]["encoder"] is None


@pytest.mark.parametrize("half", ["float16", "bfloat16"])
def test_half_precision_checkpoint_trains_in_fp32(saved_tiny_bert, data_dir, tmp_path, half):
    """A checkpoint stored in fp16/bf16 (as many Hub models are) trains with fp32 master weights: transformers 5
    loads the stored dtype, and AdamW on fp16 weights gave a NaN loss at update 1. run.json records both dtypes."""
    import torch
    from safetensors import safe_open

    folder = tmp_path / f"tiny-{half}"
    model = AutoModelForSequenceClassification.from_pretrained(saved_tiny_bert, dtype=getattr(torch, half))
    model.save_pretrained(folder, safe_serialization=True)
    load_tokenizer(compose_cfg(["model=hf", f"model.pretrained={saved_tiny_bert}"]).model).save_pretrained(folder)
    with safe_open(str(folder / "model.safetensors"), "pt") as f:  # the test's premise: stored in half precision
        assert {f.get_tensor(k).dtype for k in f.keys()} == {getattr(torch, half)}
    cfg = compose_cfg(["debug=smoke", "model=hf", f"model.pretrained={folder}", "task=rte", "train.mixed_precision=no",
                       f"data_dir={data_dir}", f"cache_dir={tmp_path}/cache"])
    metrics = run(cfg, run_dir=tmp_path / "run")  # a non-finite loss raises FloatingPointError
    assert metrics["status"] == "completed"
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "trace.jsonl").read_text().splitlines()
              if '"event": "train"' in line]
    assert losses and all(np.isfinite(losses))
    precision = json.loads((tmp_path / "run" / "run.json").read_text())["precision"]
    assert precision == {"checkpoint_dtype": half, "master_dtype": "float32", "mixed_precision": "no"}
    with safe_open(str(tmp_path / "run" / "model" / "model.safetensors"), "pt") as f:  # what the run saves: fp32
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float32}
