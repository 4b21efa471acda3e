"""What probe round 15 found (issue 26; docs/probe_round15.md): model folders whose files say one thing and do another
(a tokenizer without a vocabulary, a left-padding tokenizer, problem_type against the label count, a config.json
that does not describe its weights), a pair read in the other order, a tokenize-cache entry under another key's
name, sdp-export --out through a symlink, an output_dir that holds the run's data, and an output symlink replaced
instead of written. Each test fails on the commit the probe ran (0cd6e62) and passes after its fix. Tiny models."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _model(tokenizer, path: Path, num_labels: int = 2, **extra) -> Path:
    """A tiny BERT classifier (RTE's labels) or regression model, saved as a run's model/ is."""
    from transformers import BertConfig, BertForSequenceClassification

    labels = {0: "entailment", 1: "not_entailment"} if num_labels == 2 else {0: "LABEL_0"}
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=num_labels, pad_token_id=tokenizer.pad_token_id,
                        id2label=labels, label2id={v: k for k, v in labels.items()}, **extra)
    import torch

    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _edit(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


@pytest.fixture()
def model_dir(tokenizer, tmp_path) -> Path:
    return _model(tokenizer, tmp_path / "model")


def test_a_folder_whose_tokenizer_is_only_its_config_is_refused(model_dir, tmp_path):
    """a09, a09b: tokenizer.json deleted, tokenizer_config.json kept: a 5-token tokenizer read every word as [UNK];
    sdp-eval scored it (47.29 where the model's own tokenizer gives 53.07), model.pretrained trained on it."""
    from omegaconf import OmegaConf

    from sdp.models.inspect import ModelLoadError, check_pretrained_dir
    from sdp.saved_model import check_saved_model

    for name in ("tokenizer.json", "vocab.txt"):
        (model_dir / name).unlink(missing_ok=True)
    assert (model_dir / "tokenizer_config.json").is_file()
    with pytest.raises(ModelLoadError, match="has no tokenizer files"):
        check_saved_model(model_dir)
    with pytest.raises(ModelLoadError, match="tokenizer_config.json alone holds no vocabulary"):
        check_pretrained_dir(OmegaConf.create({"pretrained": str(model_dir), "tokenizer": None}))


def test_a_left_padding_tokenizer_pads_on_the_right(tokenizer, tmp_path):
    """t01, t07: padding_side=left in a model's tokenizer_config.json shifted each shorter row's positions, so a score
    depended on its batch: sdp-eval 53.43 at batch 32, 53.07 at batch 1; a run from such a folder trained on it."""
    from sdp.data.tokenize import make_collator
    from sdp.prediction import predict_labels
    from sdp.saved_model import load_saved_model

    path = _model(tokenizer, tmp_path / "reg", num_labels=1, problem_type="regression")
    _edit(path / "tokenizer_config.json", padding_side="left")
    saved = load_saved_model(path, cpu=True)
    assert saved.tokenizer.padding_side == "left"
    rows = [{"input_ids": [101, 2000, 102], "attention_mask": [1, 1, 1]},
            {"input_ids": [101, 2000, 2001, 2002, 2003, 102], "attention_mask": [1] * 6}]
    batch = make_collator(saved.tokenizer)(rows)
    assert batch["attention_mask"][0].tolist() == [1, 1, 1, 0, 0, 0]  # padding after the tokens
    texts = [("A man plays.", "Someone plays."), ("A man plays a guitar on a stage tonight.", "Music.")] * 2
    one = [float(v) for v in predict_labels(saved, texts, 1, 32)]
    four = [float(v) for v in predict_labels(saved, texts, 4, 32)]
    assert four == pytest.approx(one, abs=1e-5)


def test_problem_type_against_the_label_count_is_refused(model_dir):
    """a01: problem_type "regression" on a 2-label classifier: sdp-predict printed its first logit as a score."""
    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import check_saved_model

    _edit(model_dir / "config.json", problem_type="regression")
    with pytest.raises(ModelLoadError, match="problem_type 'regression' but has 2 label"):
        check_saved_model(model_dir)


def test_a_pair_in_the_other_order_is_refused(model_dir, tmp_path, capsys):
    """e01, e02: a model trained on (sentence2, sentence1) was scored on task=rte's (sentence1, sentence2), 51.62
    where its own order gives 53.07, and sdp-predict text_fields=sentence1,sentence2 labelled the reversed pairs."""
    from cli.predict import main

    _edit(model_dir / "config.json", sdp_text_fields=["sentence2", "sentence1"])
    data = tmp_path / "pairs.tsv"
    data.write_text("sentence1\tsentence2\nA man plays.\tSomeone plays.\n")
    assert main([f"model_dir={model_dir}", f"input={data}", "text_fields=sentence1,sentence2"]) == 2
    assert "in the other order (sentence1, sentence2)" in capsys.readouterr().err
    from sdp.saved_model import text_order_error  # sdp-eval's check: the same words

    config = json.loads((model_dir / "config.json").read_text())
    assert "task=custom task.text_fields=[sentence2,sentence1]" in text_order_error(
        model_dir, config, ("sentence1", "sentence2"), "task=rte")
    assert "give task.text_fields=[sentence2,sentence1]" in text_order_error(
        model_dir, config, ("sentence1", "sentence2"), "task.text_fields")
    assert text_order_error(model_dir, config, ("sentence2", "sentence1"), "task.text_fields") is None
    assert text_order_error(model_dir, config, ("premise", "hypothesis"), "task.text_fields") is None


def test_a_cache_entry_under_another_keys_name_is_rebuilt(tokenizer, tmp_path):
    """c08: the entry of a 24-token tokenization copied to the 32-token key's name matched its own file hashes and
    was loaded: a run at 32 tokens trained on 24-token rows, no word."""
    import datasets

    from sdp.data.tasks import get_task
    from sdp.data.tokenize import tokenize_splits

    task = get_task("rte")
    long = "A man plays a guitar on a stage in front of a large crowd tonight " * 3
    split = datasets.Dataset.from_dict({"sentence1": [long] * 4, "sentence2": ["Someone plays music."] * 4,
                                        "label": [0, 1, 0, 1], "idx": list(range(4))})
    dsets, cache = datasets.DatasetDict({"train": split, "validation": split}), tmp_path / "cache"
    tokenize_splits(dsets, task, tokenizer, 32, cache_dir=cache)
    (key32,) = [p.name for p in cache.iterdir()]
    tokenize_splits(dsets, task, tokenizer, 16, cache_dir=cache)
    (key16,) = [p.name for p in cache.iterdir() if p.name != key32]
    shutil.rmtree(cache / key32)
    shutil.copytree(cache / key16, cache / key32)
    out = tokenize_splits(dsets, task, tokenizer, 32, cache_dir=cache)
    assert [len(ids) for ids in out["train"]["input_ids"]] == [32] * 4


def test_export_refuses_an_out_link_to_a_file_that_is_not_onnx(model_dir, tmp_path, capsys):
    """o05: --out m.onnx, a symlink to <model_dir>/model.safetensors, wrote the graph over the weights, exit 0."""
    from cli.export import main

    weights = model_dir / "model.safetensors"
    before = weights.read_bytes()
    link = tmp_path / "m.onnx"
    link.symlink_to(weights)
    with pytest.raises(SystemExit) as exc:
        main([str(model_dir), "--out", str(link)])
    assert exc.value.code == 2
    assert weights.read_bytes() == before
    assert "a link to" in capsys.readouterr().err


def test_a_config_that_does_not_describe_the_weights_is_one_line(model_dir, capsys):
    """a05, a10: max_position_embeddings edited in config.json: a RuntimeError traceback in sdp-eval, sdp-predict and
    sdp-export ("For details look at the above report!"), "a classification head of another shape" for
    model.pretrained."""
    from cli.export import main
    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import load_saved_model

    _edit(model_dir / "config.json", max_position_embeddings=64)
    with pytest.raises(ModelLoadError, match=r"position_embeddings.weight: stored \[512, 32\], config.json gives"):
        load_saved_model(model_dir, cpu=True)
    with pytest.raises(SystemExit) as exc:
        main([str(model_dir), "--out", str(model_dir / "x.onnx")])
    assert exc.value.code == 2
    assert "does not describe its weights" in capsys.readouterr().err


def test_a_run_refuses_an_output_dir_that_holds_its_data(tmp_path):
    """o03d: output_dir= the data's folder with resume=false moved train.tsv and dev.tsv into previous-<time>/, then
    failed with "data file '.../train.tsv' does not exist"."""
    data = tmp_path / "data"
    data.mkdir()
    rows = "".join(f"{i}\tA man plays {i}.\tSomeone plays.\t{'entailment' if i % 2 else 'not_entailment'}\n"
                   for i in range(16))
    for name in ("train.tsv", "dev.tsv"):
        (data / name).write_text("index\tsentence1\tsentence2\tlabel\n" + rows)
    sdp_run = Path(sys.executable).parent / "sdp-run"
    done = subprocess.run([str(sdp_run), "debug=smoke", "task=custom", f"task.train_file={data / 'train.tsv'}",
                           f"task.validation_file={data / 'dev.tsv'}", "task.text_fields=[sentence1,sentence2]",
                           "task.label_column=label", f"output_dir={data}", "resume=false",
                           f"cache_dir={tmp_path / 'cache'}"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "RunHoldsDataError: output_dir" in done.stderr and "holds data this run reads" in done.stderr
    assert not (data / "error.txt").exists() and not (data / "metrics.json").exists()  # nothing written there
    assert (data / "train.tsv").is_file() and (data / "dev.tsv").is_file()


def test_an_output_symlink_is_written_through(tmp_path):
    """o04: sdp-predict output=<a symlink> replaced the link by a file; the file it named kept its old content."""
    from sdp.io import atomic_write

    target, link = tmp_path / "labels.txt", tmp_path / "latest.txt"
    target.write_text("old\n")
    link.symlink_to(target)
    atomic_write(link, lambda tmp: tmp.write_text("new\n"))
    assert link.is_symlink() and target.read_text() == "new\n"


def test_a_run_folder_beside_the_tasks_files_in_the_data_folder_is_taken(tmp_path):
    """o03d's check refuses only a run folder that holds the task's data: one inside the data folder, beside the
    task's own folder, moves nothing of it aside (the check compared against the whole data folder at first)."""
    from omegaconf import OmegaConf

    from sdp.run.rundir import RunHoldsDataError
    from sdp.sweep import check_data_outside

    (tmp_path / "glue" / "RTE").mkdir(parents=True)
    cfg = OmegaConf.create({"data_dir": str(tmp_path), "task": {"name": "rte"}})
    check_data_outside(tmp_path / "runs" / "r1", cfg)  # beside glue/RTE: taken
    for held in (tmp_path, tmp_path / "glue", tmp_path / "glue" / "RTE"):
        with pytest.raises(RunHoldsDataError, match="holds data this run reads"):
            check_data_outside(held, cfg)
