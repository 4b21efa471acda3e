"""task.validation_from_train (issue 10): a held-out split carved from train, disjoint and deterministic."""

from __future__ import annotations

import datasets
import pytest

from sdp.data.loading import VALIDATION_FROM_TRAIN, carve_validation, load_splits
from sdp.data.tasks import DataError, get_task


def _rows(n=101):
    return datasets.Dataset.from_dict({"sentence": [f"s{i}" for i in range(n)], "label": [i % 2 for i in range(n)]})


def test_carve_is_disjoint_complete_and_deterministic():
    ds = _rows()
    train, val = carve_validation(ds, 0.1, seed=0)
    assert len(val) == 10 and len(train) == 91
    assert not set(train["sentence"]) & set(val["sentence"])
    assert set(train["sentence"]) | set(val["sentence"]) == set(ds["sentence"])
    train2, val2 = carve_validation(ds, 0.1, seed=0)
    assert val2["sentence"] == val["sentence"] and train2["sentence"] == train["sentence"]
    _, val3 = carve_validation(ds, 0.1, seed=1)
    assert val3["sentence"] != val["sentence"]  # the seed really chooses the rows


@pytest.mark.parametrize("fraction", [0.0, 1.0, 0.001])
def test_carve_refuses_empty_splits(fraction):
    with pytest.raises(DataError, match="validation_from_train"):
        carve_validation(_rows(), fraction)


def test_load_splits_never_reads_dev_and_holds_out_train_rows(data_dir):
    task = get_task("rte")
    kwargs = dict(max_train_samples=400, validation_from_train=0.25, validation_seed=0)
    out = load_splits(task, data_dir, **kwargs).datasets
    assert set(out) == {"train", VALIDATION_FROM_TRAIN}
    assert len(out["train"]) == 300 and len(out[VALIDATION_FROM_TRAIN]) == 100
    key = lambda d: set(zip(d["sentence1"], d["sentence2"]))  # noqa: E731
    assert not key(out["train"]) & key(out[VALIDATION_FROM_TRAIN])
    again = load_splits(task, data_dir, **kwargs).datasets
    assert again[VALIDATION_FROM_TRAIN]["sentence1"] == out[VALIDATION_FROM_TRAIN]["sentence1"]
    # The same 400 subsampled rows as a run without the carve: the carve only splits them.
    plain = load_splits(task, data_dir, max_train_samples=400).datasets
    assert key(plain["train"]) == key(out["train"]) | key(out[VALIDATION_FROM_TRAIN])


def test_a_dense_model_of_the_same_carve_is_accepted_and_of_another_refused(tmp_path):
    """A tuning run's dense.checkpoint from an sdp run: accepted when that run held out the same rows (same task,
    max_train_samples, fraction, carve seed), refused when it trained on them."""
    import json
    from pathlib import Path

    from hydra import compose, initialize_config_dir
    from transformers import BertConfig, BertForSequenceClassification

    import sdp.config  # noqa: F401
    from sdp.validate import ConfigError, validate_config

    run = tmp_path / "dense_run"
    BertForSequenceClassification(BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        num_labels=2, id2label={0: "entailment", 1: "not_entailment"},
        label2id={"entailment": 0, "not_entailment": 1})).save_pretrained(run / "dense_model")
    conf = str(Path(__file__).resolve().parents[2] / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose("config", overrides=["debug=smoke", "task=rte", "max_train_samples=200",
                                           "task.validation_from_train=0.1", f"dense.checkpoint={run / 'dense_model'}"])
    for fraction, carve_seed, refused in ((0.1, 0, None), (0.2, 0, r"task.validation_from_train: 0.2 there, 0.1 here"),
                                          (0.1, 1, r"task.validation_seed: 1 there, 0 here")):
        (run / "run.json").write_text(json.dumps({"config": {
            "task": {"name": "rte", "validation_from_train": fraction, "validation_seed": carve_seed},
            "max_train_samples": 200}, "config_hash": "abc"}))
        if refused is None:
            validate_config(cfg)
        else:
            with pytest.raises(ConfigError, match=refused):
                validate_config(cfg)
