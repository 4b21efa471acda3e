"""Task registry, label mapping, load_splits, subsampling, tokenization cache, collation, data loaders."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch

from sdp.data import loading, tokenize
from sdp.data.loading import load_splits, remap_labels_by_name, resolve_data_dir
from sdp.data.tasks import TASKS, DataError, DataFileNotFoundError, TaskSpec, get_task, register_task
from sdp.data.tokenize import make_collator, make_dataloader, tokenize_splits


def _glue_local_tests():
    """The sibling test module (its MNLI/QQP file writers), imported by path: tests/ has no packages."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_sdp_test_glue_local", Path(__file__).with_name("test_glue_local.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GLUE = ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli"]


# ----------------------------------------------------------------------------------------------- registry


def test_registry_has_all_glue_tasks():
    assert set(GLUE) <= set(TASKS)
    assert get_task("MNLI").eval_splits == ("validation_matched", "validation_mismatched")
    assert get_task("mnli").label_names == ("entailment", "neutral", "contradiction")
    assert get_task("wnli").label_names == ("not_entailment", "entailment")
    assert get_task("stsb").is_regression and get_task("stsb").num_labels == 1
    assert get_task("mrpc").metric_names == ("f1", "accuracy")
    assert get_task("cola").num_labels == 2 and not get_task("cola").is_regression
    for name in GLUE:
        spec = get_task(name)
        assert spec.hub_path == "nyu-mll/glue" and spec.hub_name == name and spec.source == "glue"


def test_unknown_task_names_value_and_allowed():
    with pytest.raises(ValueError, match=r"unknown task 'mnlii'.*cola.*wnli"):
        get_task("mnlii")


def test_register_task_for_other_sources():
    spec = TaskSpec(
        name="toy_xnli",
        text_fields=("premise", "hypothesis"),
        label_names=("entailment", "neutral", "contradiction"),
        metric_names=("accuracy",),
        source="toy",
        languages=("en", "de"),
    )
    try:
        register_task(spec)
        register_task(spec)  # identical: no-op
        assert get_task("toy_xnli") is spec
        with pytest.raises(DataError, match="already registered"):
            register_task(dataclasses.replace(spec, metric_names=("f1",)))
    finally:
        TASKS.pop("toy_xnli", None)


def test_taskspec_validation():
    with pytest.raises(DataError, match="local_label_format"):
        TaskSpec(
            name="bad",
            text_fields=("a",),
            label_names=("x", "y"),
            metric_names=("accuracy",),
            local_label_format="float",
        )


# -------------------------------------------------------------------------------------------- labels


def _reversed_mnli_dataset() -> datasets.Dataset:
    names = ["contradiction", "neutral", "entailment"]  # reverse of the task order
    feats = datasets.Features(
        {
            "premise": datasets.Value("string"),
            "hypothesis": datasets.Value("string"),
            "label": datasets.ClassLabel(names=names),
            "idx": datasets.Value("int32"),
        }
    )
    return datasets.Dataset.from_dict(
        {
            "premise": ["p0", "p1", "p2", "p3"],
            "hypothesis": ["h0", "h1", "h2", "h3"],
            "label": [0, 1, 2, 0],
            "idx": [10, 11, 12, 13],
        },
        features=feats,
    )


def test_remap_labels_by_name_reversed_classlabel():
    task = get_task("mnli")
    out = remap_labels_by_name(_reversed_mnli_dataset(), task)
    # contradiction (src 0) -> 2, neutral (1) -> 1, entailment (2) -> 0
    assert out["label"] == [2, 1, 0, 2]
    assert out.features["label"].names == list(task.label_names)
    assert [out.features["label"].int2str(i) for i in out["label"]] == [
        "contradiction",
        "neutral",
        "entailment",
        "contradiction",
    ]
    assert out.column_names == ["premise", "hypothesis", "label"]


def test_remap_labels_mismatch_names_both_sets():
    ds = datasets.Dataset.from_dict(
        {"sentence1": ["a"], "sentence2": ["b"], "label": [0]},
        features=datasets.Features(
            {
                "sentence1": datasets.Value("string"),
                "sentence2": datasets.Value("string"),
                "label": datasets.ClassLabel(names=["no", "yes"]),
            }
        ),
    )
    with pytest.raises(DataError, match=r"\['no', 'yes'\].*'entailment', 'not_entailment'"):
        remap_labels_by_name(ds, get_task("rte"))


def test_hub_path_uses_load_dataset_and_remaps(monkeypatch):
    calls = []

    def fake_load_dataset(path, name=None, **kw):
        calls.append((path, name))
        ds = _reversed_mnli_dataset()
        return datasets.DatasetDict(
            {
                "train": ds,
                "validation_matched": ds,
                "validation_mismatched": ds.select([0]),
                "test_matched": ds,
            }
        )

    monkeypatch.delenv("SDP_DATA_DIR", raising=False)
    monkeypatch.setattr(loading.datasets, "load_dataset", fake_load_dataset)
    dsets = load_splits(get_task("mnli"), None, max_eval_samples=3).datasets
    assert calls == [("nyu-mll/glue", "mnli")]
    assert list(dsets) == ["train", "validation_matched", "validation_mismatched"]
    assert dsets["train"]["label"] == [2, 1, 0, 2]
    assert dsets["train"]["idx"] == [0, 1, 2, 3]
    assert len(dsets["validation_matched"]) == 3 and dsets["validation_matched"]["idx"] == [0, 1, 2]
    assert dsets["validation_mismatched"]["label"] == [2]


# ------------------------------------------------------------------------------------- local loading


def test_load_splits_local_mrpc(data_dir):
    task = get_task("mrpc")
    dsets = load_splits(task, data_dir).datasets
    assert list(dsets) == ["train", "validation"]
    assert len(dsets["train"]) == 3668 and len(dsets["validation"]) == 408
    val = dsets["validation"]
    assert set(val.column_names) == {"sentence1", "sentence2", "label", "idx"}
    assert val["idx"] == list(range(408))
    assert val[0]["label"] == task.label_names.index("equivalent") == 1
    assert val[1]["label"] == 0
    assert set(val["label"]) == {0, 1}


def test_load_splits_local_labels_by_name(data_dir):
    """WNLI's file writes 0/1, mapped through label_names: 0 -> not_entailment (id 0)."""
    rte = load_splits(get_task("rte"), data_dir).datasets["validation"]
    assert rte[0]["label"] == get_task("rte").label_names.index("not_entailment") == 1
    wnli = load_splits(get_task("wnli"), data_dir).datasets["validation"]
    assert wnli["label"][:2] == [0, 1]
    stsb = load_splits(get_task("stsb"), data_dir, max_train_samples=5).datasets
    assert stsb["validation"].features["label"].dtype == "float32"
    assert stsb["validation"][0]["label"] == pytest.approx(5.0)
    assert len(stsb["train"]) == 5


def test_subsampling_deterministic_and_mixed(data_dir):
    task = get_task("sst2")
    a = load_splits(task, data_dir, max_train_samples=20, max_eval_samples=10).datasets
    b = load_splits(task, data_dir, max_train_samples=20, max_eval_samples=10).datasets
    assert len(a["train"]) == 20 and len(a["validation"]) == 10
    assert a["train"]["sentence"] == b["train"]["sentence"]
    assert a["train"]["idx"] == list(range(20))
    assert len(set(a["train"]["label"])) == 2  # not just the first (all-negative) rows of the file
    full = load_splits(get_task("rte"), data_dir, max_eval_samples=10_000).datasets
    assert len(full["validation"]) == 277


@pytest.mark.parametrize("bad", [0, -3])
def test_max_samples_must_be_positive(data_dir, bad):
    with pytest.raises(DataError, match=rf"max_train_samples .* got {bad}"):
        load_splits(get_task("rte"), data_dir, max_train_samples=bad)
    with pytest.raises(DataError, match=rf"max_eval_samples .* got {bad}"):
        load_splits(get_task("rte"), data_dir, max_eval_samples=bad)


def test_load_splits_mnli_qqp_tmp(tmp_path):
    helpers = _glue_local_tests()
    helpers.write_mnli(tmp_path)
    helpers.write_qqp(tmp_path)
    mnli = load_splits(get_task("mnli"), tmp_path).datasets
    assert list(mnli) == ["train", "validation_matched", "validation_mismatched"]
    assert mnli["train"]["label"] == [0, 2, 1, 0]
    assert mnli["validation_mismatched"]["label"] == [2]
    qqp = load_splits(get_task("qqp"), str(tmp_path)).datasets
    assert qqp["train"]["label"] == [1, 0, 1]
    assert qqp["validation"]["idx"] == [0, 1]


def test_resolve_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("SDP_DATA_DIR", raising=False)
    assert resolve_data_dir(None) is None
    assert resolve_data_dir(str(tmp_path)) == tmp_path
    monkeypatch.setenv("SDP_DATA_DIR", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path
    monkeypatch.setenv("SDP_DATA_DIR", str(tmp_path / "gone"))
    with pytest.raises(DataFileNotFoundError, match="SDP_DATA_DIR.*gone"):
        resolve_data_dir(None)
    with pytest.raises(DataError, match="missing_dir"):
        resolve_data_dir(tmp_path / "missing_dir")
    with pytest.raises(DataError, match="missing_dir"):
        load_splits(get_task("rte"), tmp_path / "missing_dir")


def test_load_splits_missing_file(tmp_path):
    (tmp_path / "glue" / "RTE").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"RTE/train\.tsv"):
        load_splits(get_task("rte"), tmp_path)


# ---------------------------------------------------------------------------------------- tokenizing


@pytest.fixture()
def small_rte(data_dir):
    return load_splits(get_task("rte"), data_dir, max_train_samples=16, max_eval_samples=8).datasets


def test_tokenize_columns_truncation(small_rte, tokenizer):
    tok = tokenize_splits(small_rte, get_task("rte"), tokenizer, max_seq_length=32)
    for name, ds in tok.items():
        assert set(ds.column_names) <= {"input_ids", "attention_mask", "token_type_ids", "labels", "idx"}
        assert {"input_ids", "attention_mask", "labels", "idx"} <= set(ds.column_names)
        assert ds["idx"] == small_rte[name]["idx"]
        assert ds["labels"] == small_rte[name]["label"]
        lengths = [len(x) for x in ds["input_ids"]]
        assert max(lengths) <= 32
        assert len(set(lengths)) > 1  # no padding here


def test_collator_dynamic_padding(small_rte, tokenizer):
    task = get_task("rte")
    tok = tokenize_splits(small_rte, task, tokenizer, max_seq_length=512)["validation"]
    collate = make_collator(tokenizer)
    feats = [tok[i] for i in range(4)]
    batch = collate(feats)
    longest = max(len(f["input_ids"]) for f in feats)
    assert longest < 512
    assert batch["input_ids"].shape == (4, longest)
    assert batch["attention_mask"].shape == (4, longest)
    assert batch["labels"].dtype == torch.long and batch["labels"].tolist() == [f["labels"] for f in feats]
    assert batch["idx"].dtype == torch.long and batch["idx"].tolist() == [0, 1, 2, 3]
    assert int(batch["attention_mask"].sum()) == sum(len(f["input_ids"]) for f in feats)
    batch8 = make_collator(tokenizer, pad_to_multiple_of=8)(feats)
    assert batch8["input_ids"].shape[1] % 8 == 0


def test_collator_regression_float_labels(data_dir, tokenizer):
    task = get_task("stsb")
    dsets = load_splits(task, data_dir, max_train_samples=4, max_eval_samples=4).datasets
    tok = tokenize_splits(dsets, task, tokenizer, max_seq_length=64)
    batch = make_collator(tokenizer)([tok["validation"][i] for i in range(4)])
    assert batch["labels"].dtype == torch.float32
    np.testing.assert_allclose(
        batch["labels"].numpy(), np.asarray(dsets["validation"]["label"], dtype=np.float32)
    )


def test_dataloader_seeded(small_rte, tokenizer):
    tok = tokenize_splits(small_rte, get_task("rte"), tokenizer, max_seq_length=64)["train"]
    collate = make_collator(tokenizer)

    def order(seed):
        return [
            b["idx"].tolist() for b in make_dataloader(tok, collate, batch_size=5, shuffle=True, seed=seed)
        ]

    assert order(1) == order(1)
    assert order(1) != order(2)
    batches = list(make_dataloader(tok, collate, batch_size=5, shuffle=False, seed=0, drop_last=True))
    assert len(batches) == 3 and batches[0]["idx"].tolist() == [0, 1, 2, 3, 4]


def test_tokenize_cache_hit_and_miss(small_rte, tokenizer, tmp_path, monkeypatch):
    task = get_task("rte")
    cache = tmp_path / "tokcache"
    first = tokenize_splits(small_rte, task, tokenizer, max_seq_length=32, cache_dir=cache)
    entries = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and (entries[0] / "dataset_dict.json").is_file()

    def boom(*args, **kwargs):
        raise AssertionError("tokenization ran again despite a cache hit")

    monkeypatch.setattr(tokenize, "_tokenize", boom)
    monkeypatch.setattr(datasets.Dataset, "map", boom)
    second = tokenize_splits(small_rte, task, tokenizer, max_seq_length=32, cache_dir=str(cache))
    for name in first:
        assert second[name]["input_ids"] == first[name]["input_ids"]
        assert second[name]["idx"] == first[name]["idx"]
    # different max_seq_length or different data -> miss
    with pytest.raises(AssertionError, match="cache hit"):
        tokenize_splits(small_rte, task, tokenizer, max_seq_length=33, cache_dir=cache)
    changed = datasets.DatasetDict({**small_rte, "validation": small_rte["validation"].select(range(7))})
    with pytest.raises(AssertionError, match="cache hit"):
        tokenize_splits(changed, task, tokenizer, max_seq_length=32, cache_dir=cache)
    monkeypatch.undo()
    tokenize_splits(small_rte, task, tokenizer, max_seq_length=33, cache_dir=cache)
    assert len([p for p in Path(cache).iterdir() if not p.name.startswith(".")]) == 2


def test_tokenize_cache_keeps_a_copy_another_process_published_meanwhile(small_rte, tokenizer, tmp_path,
                                                                        monkeypatch):
    # DDP ranks and parallel sweep jobs tokenize the same key at once; the loser must not delete the winner's
    # copy (the winner may be memory-mapping it: that race failed a 2-process DDP test in CI).
    task, cache = get_task("rte"), tmp_path / "tokcache"
    real_tokenize = tokenize._tokenize
    published = {}

    def tokenize_while_another_process_publishes(dsets, *args):
        result = real_tokenize(dsets, *args)
        target = cache / tokenize.tokenize_cache_key(small_rte, task, tokenizer, 32)
        result.save_to_disk(str(target))  # as sdp publishes: the splits and the record of their content
        (target / tokenize.CONTENT_RECORD).write_text(json.dumps(tokenize._record(target, target.name)))
        (target / "winner.marker").write_text("")
        published["target"] = target
        return result

    monkeypatch.setattr(tokenize, "_tokenize", tokenize_while_another_process_publishes)
    out = tokenize_splits(small_rte, task, tokenizer, max_seq_length=32, cache_dir=cache)
    assert (published["target"] / "winner.marker").is_file()
    assert out["train"]["input_ids"] == real_tokenize(small_rte, task, tokenizer, 32)["train"]["input_ids"]
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []  # our temporary copy is gone


def test_tokenize_cache_replaces_an_unreadable_copy_and_survives_a_vanished_one(small_rte, tokenizer, tmp_path,
                                                                               monkeypatch, caplog):
    task, cache = get_task("rte"), tmp_path / "tokcache"
    tokenize_splits(small_rte, task, tokenizer, max_seq_length=32, cache_dir=cache)
    (target,) = [p for p in cache.iterdir()]
    for arrow in target.rglob("*.arrow"):
        arrow.unlink()
    with caplog.at_level("WARNING"):
        tokenize_splits(small_rte, task, tokenizer, max_seq_length=32, cache_dir=cache)
    assert "ignoring unreadable tokenize cache" in caplog.text
    assert datasets.load_from_disk(str(target))["train"].num_rows == small_rte["train"].num_rows  # rebuilt

    real_load = datasets.load_from_disk
    monkeypatch.setattr(datasets, "load_from_disk", lambda path: (_ for _ in ()).throw(FileNotFoundError(path)))
    caplog.clear()
    with caplog.at_level("WARNING"):
        out = tokenize_splits(small_rte, task, tokenizer, max_seq_length=32, cache_dir=cache)
    assert "could not be read back" in caplog.text
    assert out["train"]["input_ids"] == real_load(str(target))["train"]["input_ids"]


def test_tokenize_cache_keeps_a_copy_another_process_rebuilt_over_a_broken_one(small_rte, tokenizer, tmp_path,
                                                                              monkeypatch):
    # Two jobs find the same broken copy and both rebuild it; the one that finishes second must keep the
    # first one's good copy (it may be reading it), not delete it as "unreadable".
    task, cache = get_task("rte"), tmp_path / "tokcache"
    tokenize_splits(small_rte, task, tokenizer, max_seq_length=32, cache_dir=cache)
    (target,) = list(cache.iterdir())
    for arrow in target.rglob("*.arrow"):
        arrow.unlink()
    real_tokenize = tokenize._tokenize

    def tokenize_while_another_process_rebuilds(dsets, *args):
        result = real_tokenize(dsets, *args)
        shutil.rmtree(target)
        result.save_to_disk(str(target))  # as sdp publishes: the splits and the record of their content
        (target / tokenize.CONTENT_RECORD).write_text(json.dumps(tokenize._record(target, target.name)))
        (target / "winner.marker").write_text("")
        return result

    monkeypatch.setattr(tokenize, "_tokenize", tokenize_while_another_process_rebuilds)
    out = tokenize_splits(small_rte, task, tokenizer, max_seq_length=32, cache_dir=cache)
    assert (target / "winner.marker").is_file()
    assert out["train"].num_rows == small_rte["train"].num_rows
