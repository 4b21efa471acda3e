"""stages=dense: the dense stage only, a first-class run (it replaced the trick ``sparsity=0.0 prune.max_steps=1``,
which took one pruning-stage update and so saved a model one update past the dense one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from safetensors.torch import load_file

import sdp.config  # noqa: F401
from sdp.recipe import run
from sdp.validate import ConfigError, validate_config

CONF = str(Path(__file__).resolve().parents[1] / "conf")


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=["debug=smoke", "task=rte", "train.num_threads=1", *overrides])


def test_stages_dense_trains_and_saves_the_dense_model_only(tmp_path, data_dir):
    run_dir = tmp_path / "dense"
    metrics = run(_cfg("stages=dense", f"data_dir={data_dir}", f"output_dir={run_dir}", f"cache_dir={tmp_path / 'c'}"))
    assert metrics["status"] == "completed" and metrics["stages"] == "dense"
    # The log says what ran: no sparsity, schedule or "-> pruned ... at 0.00%" (probe round 12's note).
    log_text = (run_dir / "run.log").read_text()
    assert "RESULT rte tiny-bert dense only (stages=dense): dev accuracy=" in log_text
    assert "-> pruned" not in log_text and "schedule:" not in log_text and "sparsity=0.5" not in log_text
    assert metrics["target_sparsity"] == 0.0 and metrics["achieved_sparsity"]["prunable"] == 0.0  # sdp-tables: dense only
    assert metrics["final"] == metrics["dense"]
    assert metrics["method"] == "Dense"  # it said "SDP-CC", the default regularizer's (probe round 26, noticed)
    trace = [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]
    assert {r["stage"] for r in trace if r["event"] == "train"} == {"dense"}
    assert not [r for r in trace if r["event"] == "prune"]
    # model/ is the dense model itself: no pruning-stage update moved it.
    dense, final = (load_file(str(run_dir / d / "model.safetensors")) for d in ("dense_model", "model"))
    assert dense.keys() == final.keys() and len(dense) > 10
    assert all(torch.equal(dense[k], final[k]) for k in dense)


def test_stages_takes_dense_or_both():
    validate_config(_cfg("stages=dense+prune", "data_dir=/unused"))
    with pytest.raises(ConfigError, match=r"stages='prune' is not one of \['dense', 'dense\+prune'\]"):
        validate_config(_cfg("stages=prune", "data_dir=/unused"))
