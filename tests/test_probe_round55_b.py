"""Probe round 55 (docs/probe_round55.md, a deciding round; probe only), part B: inputs a relaunch or a resume
checks (rm_skip, rm_skipfile, pm_stm, pm_added, rs_stm). Each test fails on e2fac3a. In-process calls on hand-made
folders, offline; nothing is trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from records import write_csv

CONF = str(Path(__file__).resolve().parents[1] / "conf")


def _compose(overrides: list[str]):
    import sdp.config  # noqa: F401  (the structured schema)

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _custom(tmp_path: Path, overrides: list[str]):
    """A custom task of two small files, with ``overrides``."""
    train = write_csv(tmp_path / "tr.csv", [(f"a good film {i}", ("neg", "pos")[i % 2]) for i in range(6)])
    dev = write_csv(tmp_path / "dv.csv", [(f"a bad film {i}", ("neg", "pos")[i % 2]) for i in range(4)])
    return _compose(["task=custom", f"task.train_file={train}", f"task.validation_file={dev}",
                     "task.text_fields=[text]", "task.label_column=label", *overrides])


def _splits(cfg) -> dict[str, str]:
    from sdp.crosslingual import resolve_run_task
    from sdp.data.fingerprint import split_fingerprints
    from sdp.data.loading import load_run_splits

    return split_fingerprints(load_run_splits(cfg, resolve_run_task(cfg)).datasets)


def _mask(path: Path, kept: list[bool]) -> Path:
    """An sdp mask file of one 2x2 matrix at ``path`` (a run folder's mask.safetensors, where path is a folder)."""
    from sdp.pruning.overlap import MASK_FILE, save_masks

    path.mkdir(parents=True, exist_ok=True)
    save_masks(path / MASK_FILE, {"w": torch.tensor(kept).reshape(2, 2)})
    return path / MASK_FILE


# --------------------------------------------------------------------------- rm_skip, rm_skipfile
def test_a_reference_mask_re_pointed_under_a_completed_run_is_refused(tmp_path):
    """rm_skip: `prune.reference_mask=<a link to a run folder>` re-pointed at another run's folder, the same command:
    "already completed", the old mask's overlap returned (the key is not in the run's identity). The mask file read
    (the folder's mask.safetensors) is fingerprinted and recorded: the skip is refused, naming both files; a record
    from before the key is not refused for lacking it."""
    from sdp.data.fingerprint import DataChangedError
    from sdp.run.same_data import input_fingerprints, model_folders, verify_completed_data

    first, second = _mask(tmp_path / "mp_1", [True, False, True, False]), _mask(tmp_path / "mp_2", [True] * 4)
    link = tmp_path / "ref"
    link.symlink_to(tmp_path / "mp_1")
    cfg = _custom(tmp_path, ["model=tiny-bert", f"prune.reference_mask={link}"])
    then, folders = {**_splits(cfg), **input_fingerprints(cfg)}, model_folders(cfg)
    assert "model:prune.reference_mask" in then and folders["prune.reference_mask"] == str(first.resolve())
    verify_completed_data({"data_fingerprint": then}, cfg, "the completed run", folders)  # nothing changed
    link.unlink()
    link.symlink_to(tmp_path / "mp_2")
    with pytest.raises(DataChangedError) as refused:
        verify_completed_data({"data_fingerprint": then}, cfg, "the completed run", folders)
    said = str(refused.value)
    assert "the content of prune.reference_mask (" in said, said
    assert f"prune.reference_mask read from {str(first)!r} then, from {str(second)!r} now" in said, said
    verify_completed_data({"data_fingerprint": _splits(cfg)}, cfg, "the completed run", None)  # a record from before


def test_a_reference_mask_file_overwritten_in_place_is_refused(tmp_path):
    """rm_skipfile: the mask file itself copied over (the same path): refused as another mask; unset, or naming
    nothing there, it is not fingerprinted (nothing is read)."""
    from sdp.data.fingerprint import DataChangedError
    from sdp.run.same_data import input_fingerprints, model_folders, verify_completed_data

    mask = _mask(tmp_path / "rmx", [True, False, True, False])
    cfg = _custom(tmp_path, ["model=tiny-bert", f"prune.reference_mask={mask}"])
    then, folders = {**_splits(cfg), **input_fingerprints(cfg)}, model_folders(cfg)
    _mask(tmp_path / "rmx", [False, True, False, True])
    with pytest.raises(DataChangedError, match=r"prune.reference_mask \(.*the same path, another mask"):
        verify_completed_data({"data_fingerprint": then}, cfg, "the completed run", folders)
    for overrides in ([], [f"prune.reference_mask={tmp_path / 'nothing'}"]):
        assert "model:prune.reference_mask" not in input_fingerprints(_custom(tmp_path, overrides))


# --------------------------------------------------------------------------- pm_stm, pm_added, rs_stm
def _model_folder(tokenizer, path: Path) -> Path:
    """A local model.pretrained folder with its tokenizer, without special_tokens_map.json or added_tokens.json
    (the probe's pmy)."""
    tokenizer.save_pretrained(path)
    for name in ("special_tokens_map.json", "added_tokens.json"):
        (path / name).unlink(missing_ok=True)
    (path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    return path


@pytest.mark.parametrize("name, content", [("special_tokens_map.json", {"cls_token": "[SEP]"}),
                                           ("added_tokens.json", {"good film": 30522})])
def test_a_model_folder_that_gains_special_or_added_tokens_is_refused_on_a_skip(tmp_path, tokenizer, name, content):
    """pm_stm, pm_added: a model.pretrained folder that gained special_tokens_map.json (`[CLS]` read as `[SEP]`) or
    added_tokens.json after its run: "already completed". Those files are hashed under a key of their own
    (model:model.pretrained.tokenizer_extra), present wherever a tokenizer is: the skip is refused under the
    folder's key; the older key keeps its value (a record from before compares on it alone, and is not refused)."""
    from sdp.data.fingerprint import DataChangedError
    from sdp.run.same_data import input_fingerprints, model_folders, verify_completed_data

    folder = _model_folder(tokenizer, tmp_path / "pmy")
    cfg = _custom(tmp_path, ["model=hf", f"model.pretrained={folder}"])
    then, folders = {**_splits(cfg), **input_fingerprints(cfg)}, model_folders(cfg)
    assert "model:model.pretrained.tokenizer_extra" in then
    (folder / name).write_text(json.dumps(content))
    now = input_fingerprints(cfg)
    assert now["model:model.pretrained.tokenizer"] == then["model:model.pretrained.tokenizer"]  # as it was
    with pytest.raises(DataChangedError) as refused:
        verify_completed_data({"data_fingerprint": then}, cfg, "the completed run", folders)
    said = str(refused.value)
    assert "the content of model.pretrained.tokenizer_extra (" in said, said
    assert "(model.pretrained: the same path" not in said and "(the same path, other weights" in said, said
    old = {k: v for k, v in then.items() if not k.endswith(".tokenizer_extra")}  # a record from before the key
    verify_completed_data({"data_fingerprint": old}, cfg, "the completed run", folders)


def test_a_resume_across_a_special_tokens_map_added_is_refused(tmp_path, tokenizer):
    """rs_stm: a run killed, special_tokens_map.json copied into its model.pretrained folder, resumed: it went on
    under the new tokenizer's ids (`[102, ...]` after `[101, ...]`), unsaid. The resume (record_data) is refused;
    a record without the key (from before) resumes."""
    import datasets

    from sdp.data.fingerprint import DataChangedError
    from sdp.run.data_record import record_data

    folder = _model_folder(tokenizer, tmp_path / "pmw")
    cfg = _custom(tmp_path, ["model=hf", f"model.pretrained={folder}"])
    run_dir = tmp_path / "rss"
    run_dir.mkdir()
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a good film"], "label": [0]})})
    record_data(run_dir, cfg, raw, main_process=True, fields=("text",))
    record = json.loads((run_dir / "run.json").read_text())
    assert "model:model.pretrained.tokenizer_extra" in record["data_fingerprint"]
    (folder / "special_tokens_map.json").write_text(json.dumps({"cls_token": "[SEP]"}))
    with pytest.raises(DataChangedError, match=r"the content of model.pretrained.tokenizer_extra \("):
        record_data(run_dir, cfg, raw, main_process=True, fields=("text",))
    record["data_fingerprint"].pop("model:model.pretrained.tokenizer_extra")  # as a run from before recorded it
    (run_dir / "run.json").write_text(json.dumps(record))
    record_data(run_dir, cfg, raw, main_process=True, fields=("text",))


def test_a_reference_mask_gone_since_keeps_the_skip():
    """The review of round 55's fixes: a completed run whose prune.reference_mask file was deleted or moved since (its
    MP partner's folder cleaned up) was refused "(the same path, another mask)"; a run may start without one."""
    from sdp.data.fingerprint import changed_splits

    old = {"train": "t", "model:prune.reference_mask": "c0b6dea9257d11c7"}
    assert changed_splits(old, {"train": "t"}) == []
    assert changed_splits(old, {"train": "t", "model:prune.reference_mask": "853b000000000000"}) == [
        "model:prune.reference_mask"]
    assert changed_splits({"train": "t", "model:dense.checkpoint": "a"}, {"train": "t"}) == ["model:dense.checkpoint"]
