"""The review of session 24's last fixes (79be6c2, 40f1e61, 4fce56b): a model folder key or model.pretrained written
with `~` (read as home). Each test fails on 58c8c96 and passes after its fix. Hand-written configs, offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

CONF = str(Path(__file__).resolve().parents[1] / "conf")


def _compose(overrides: list[str]):
    import sdp.config  # noqa: F401  (the structured schema)

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def test_a_model_folder_at_a_tilde_names_the_run_folder_of_the_folder_read(tmp_path, monkeypatch):
    """`dense.checkpoint='~/dm'` under two homes is two configs (config_hash reads it expanded: local_config) but was
    one default run folder (sdp_run_id hashed `~/dm` as written): the second run was refused as "a completed run of
    another config". The folder's id now follows the folder read; `~/dm` and its path under one home are one."""
    from sdp.config import run_id

    cfg = _compose(["task=rte", "model=tiny-bert", "seed=1", "dense.checkpoint='~/dm'"])
    ids = {}
    for home in ("h1", "h2"):
        monkeypatch.setenv("HOME", str(tmp_path / home))
        ids[home] = run_id(_root_=cfg)
    assert ids["h1"] != ids["h2"], ids
    written = _compose(["task=rte", "model=tiny-bert", "seed=1", f"dense.checkpoint={tmp_path}/h2/dm"])
    assert run_id(_root_=written) == ids["h2"]


def test_a_pretrained_folder_at_a_tilde_is_checked_as_its_path_is(tmp_path, monkeypatch, tokenizer):
    """`model=hf model.pretrained='~/m' task.max_seq_length=1024` ran to completion on a 512-position model (the
    preset's config was looked up at `~/m` as written: no folder, no checks); its path is refused."""
    from test_probe_round32 import _classifier

    from sdp.errors import ConfigError
    from sdp.validate import validate_config

    monkeypatch.setenv("HOME", str(tmp_path))
    _classifier(tokenizer, tmp_path / "m")
    for source in (f"{tmp_path}/m", "'~/m'"):
        cfg = _compose(["task=rte", "model=hf", f"model.pretrained={source}", "task.max_seq_length=1024"])
        with pytest.raises(ConfigError, match="max_seq_length=1024 is longer than model=m takes"):
            validate_config(cfg)


def test_the_record_names_the_model_folder_read_and_a_refusal_says_it_moved(tmp_path, monkeypatch):
    """run.json named no folder for `~/dm` (only `~/dm`), and a relaunch under another home whose dm holds other
    weights was refused as "(the same path, other weights, ...)": it is not the same folder."""
    from omegaconf import OmegaConf

    from sdp.data.fingerprint import DataChangedError, check_same_data
    from sdp.run.same_data import model_folders

    (tmp_path / "h1" / "dm").mkdir(parents=True)
    (tmp_path / "h2" / "dm").mkdir(parents=True)
    cfg = OmegaConf.create({"dense": {"checkpoint": "~/dm"}, "prune": {}, "model": {"pretrained": None}})
    monkeypatch.setenv("HOME", str(tmp_path / "h1"))
    then = model_folders(cfg)
    assert then == {"dense.checkpoint": str(tmp_path / "h1" / "dm")}
    monkeypatch.setenv("HOME", str(tmp_path / "h2"))
    now = model_folders(cfg)
    old, new = {"train": "t", "model:dense.checkpoint": "aaaa"}, {"train": "t", "model:dense.checkpoint": "bbbb"}
    with pytest.raises(DataChangedError) as refused:
        check_same_data(old, new, "the completed run in 'r'", (then, now))
    assert (f"dense.checkpoint read from '{tmp_path}/h1/dm' then, from '{tmp_path}/h2/dm' now" in str(refused.value)
            and "the same path" not in str(refused.value)), refused.value
    with pytest.raises(DataChangedError, match="the same path, other weights"):  # one folder, other content
        check_same_data(old, new, "the completed run in 'r'", (now, now))


def test_the_card_names_the_folder_a_tilde_meant(tmp_path, monkeypatch):
    """The model card's base model was `~/m` alone: whose home it was is not in the card."""
    from omegaconf import OmegaConf
    from test_probe_round17 import _cfg, _metrics

    from sdp.models.card import model_card

    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = _cfg()
    OmegaConf.update(cfg, "model.pretrained", "~/m", force_add=True)
    assert f"| Base model | ~/m ({tmp_path}/m) |" in model_card(_metrics(), cfg, "sdp-run ...")


def test_a_refusal_says_which_key_moved_and_which_changed_in_place(tmp_path):
    """The review of session 25: with one key moved and another changed at its path, the bracket named the move
    alone."""
    from sdp.data.fingerprint import DataChangedError, check_same_data

    old = {"model:dense.checkpoint": "a", "model:model.pretrained": "b"}
    new = {"model:dense.checkpoint": "c", "model:model.pretrained": "d"}
    then = {"dense.checkpoint": "/h1/dm", "model.pretrained": "/m"}
    now = {"dense.checkpoint": "/h2/dm", "model.pretrained": "/m"}
    with pytest.raises(DataChangedError) as refused:
        check_same_data(old, new, "the run", (then, now))
    assert ("(dense.checkpoint read from '/h1/dm' then, from '/h2/dm' now; model.pretrained: the same path, other "
            "weights, config or tokenizer)") in str(refused.value), refused.value
