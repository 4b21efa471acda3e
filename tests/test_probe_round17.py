"""What probe round 17 found (issue 26; docs/probe_round17.md): a model card (model/README.md) that stated fixed
text and config values instead of what the run did (unstructured magnitude pruning for a structured run, the whole
train split for a sample, the configured epochs for a run cut by max_steps, a target of 70% and a pruning schedule for
a dense-only run, a command without the plug-ins it needs), a bad SDP_JOBS_PER_GPU as a 40-line traceback, and
docs/usage.md's experiment list. Each test fails on the commit the probe ran (64a1732) and passes after its fix."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401  (registers the schema and the components before composing)

REPO = Path(__file__).resolve().parents[1]
CONF = str(REPO / "conf")


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=["debug=smoke", "task=rte", *overrides])


def _metrics(**extra):
    metrics = {"achieved_sparsity": {"prunable": 0.5}, "method": "SDP-CC", "nonzero_params": 1, "total_params": 2,
               "dense": {"main": 0.625}, "final": {"main": 0.625}, "seed": 42, "versions": {"sdp": "x"},
               "stages": "dense+prune", "target_sparsity": 0.5, "eval_examples": {"validation": 32}}
    return {**metrics, **extra}


def test_card_says_the_rows_and_updates_a_run_used():
    """c02, c03: `sdp-run debug=smoke ... prune.max_steps=4` (64 train rows, 32 dev rows, 4 pruning updates) got a
    card saying `rte: its train split; scored on its dev split(s)` and `cubic, scope global, 2.0 pruning epochs`."""
    from sdp.models.card import model_card

    card = model_card(_metrics(), _cfg("prune.max_steps=4"), "sdp-run ...")
    assert "its train split (a sample of at most 64 rows: max_train_samples)" in card
    assert "its dev split(s) (32 rows of validation: max_eval_samples=32)" in card
    assert "2.0 pruning epochs, at most 4 updates (prune.max_steps)" in card


def test_card_of_a_dense_only_run_claims_no_pruning():
    """c04: `stages=dense sparsity=0.7`: the card said `Target sparsity | 70.0%`, `pruned to 0.0%`, a cubic schedule
    of 2.0 pruning epochs and a `Pruned score`, for a model never pruned (its record: target_sparsity 0)."""
    from sdp.models.card import model_card

    card = model_card(_metrics(stages="dense", target_sparsity=0.0, achieved_sparsity={"prunable": 0.0}),
                      _cfg("stages=dense", "sparsity=0.7"), "sdp-run ...")
    assert "| Target sparsity | 0.0% of the prunable weights |" in card
    assert "no pruning stage ran" in card and "| Schedule | none (stages=dense) |" in card
    assert "pruning stage did not run" in card
    assert "pruned to" not in card and "Pruned score" not in card and "70.0%" not in card


def test_card_of_a_structured_run_says_what_was_removed_and_the_forms(tmp_path):
    """c01: `prune.granularity=structured 'prune.structures=[ffn]' schedule=one_shot` got a card reading
    `Unstructured magnitude pruning ... iterative magnitude pruning`, with the masked network's parameter count
    (1011426) for a folder holding 1005056."""
    from sdp.models.card import write_model_card

    (tmp_path / "structure.json").write_text(json.dumps(
        {"layers": [{"heads": 2, "ffn": 10}, {"heads": 2, "ffn": 15}],
         "encoder_params": {"dense": 17088, "standard": 10718, "onnx": 10393}}))
    cfg = _cfg("prune.granularity=structured", "prune.criterion=taylor", "prune.structures=[ffn]",
               "schedule=one_shot")
    card = write_model_card(tmp_path, _metrics(achieved_sparsity={"prunable": 0.5, "encoder": 0.4925}), cfg).read_text()
    assert "Unstructured" not in card and "magnitude" not in card
    assert "whole structures (ffn) removed in one step, ranked by `taylor`" in card
    assert "parameters non-zero in the masked network" in card
    # the encoder's share of zeros is the masked network's too (a removed layer's LayerNorm is not zero there: probe
    # round 44, noticed)
    assert "49.25% of all the encoder's parameters in the masked network (" in card, card
    assert "17088 dense, 10718 in `model.safetensors`, 10393 in `model.onnx`" in card


def test_card_command_names_the_plugins_it_needs(monkeypatch):
    """c05: a run with SDP_PLUGINS=my_cls regularizer=cls_l1 printed `Reproduce with: sdp-run ... regularizer=cls_l1`,
    which does not compose without the plug-in."""
    from sdp.models.card import model_card

    monkeypatch.setenv("SDP_PLUGINS", "my_cls")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    card = model_card(_metrics(), _cfg(), "sdp-run regularizer=cls_l1")
    assert "```\nSDP_PLUGINS=my_cls sdp-run regularizer=cls_l1\n```" in card
    # a plug-in found through PYTHONPATH (round 27, noticed): the command names that entry too, not the others
    import types

    plugin = types.ModuleType("my_cls")
    plugin.__file__ = "/home/me/my plugins/my_cls.py"
    monkeypatch.setitem(sys.modules, "my_cls", plugin)
    monkeypatch.setenv("PYTHONPATH", "/opt/cluster/lib:/home/me/my plugins")
    card = model_card(_metrics(), _cfg(), "sdp-run regularizer=cls_l1")
    assert "```\nPYTHONPATH='/home/me/my plugins' SDP_PLUGINS=my_cls sdp-run regularizer=cls_l1\n```" in card
    monkeypatch.setenv("PYTHONPATH", "/opt/cluster/lib")  # the plug-in came from elsewhere: not named
    card = model_card(_metrics(), _cfg(), "sdp-run regularizer=cls_l1")
    assert "```\nSDP_PLUGINS=my_cls sdp-run regularizer=cls_l1\n```" in card


def test_a_bad_jobs_per_gpu_is_one_line(tmp_path):
    """q08: `SDP_JOBS_PER_GPU=0 sdp-run -m hydra/launcher=gpu ...` (or abc, -2) was OmegaConf's 40-line traceback
    from inside the launcher's resolver, exit 1."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "CUDA_VISIBLE_DEVICES": "", "SDP_JOBS_PER_GPU": "0"}
    env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.run([sys.executable, "-m", "sdp.cli.run", "-m", "hydra/launcher=gpu", "debug=smoke", "task=rte",
                           "seed=1,2", f"output_root={tmp_path / 'out'}"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "sdp-run: error: ConfigError: SDP_JOBS_PER_GPU='0' must be an integer >= 1" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_usage_lists_every_experiment_preset():
    """u02: `sdp-run --help` lists experiment: ..., structured, structured_grid, ...; docs/usage.md's config-group
    table named five presets and not these two."""
    row = next(line for line in (REPO / "docs" / "usage.md").read_text().splitlines()
               if line.startswith("| `experiment` |"))
    listed = set(re.findall(r"`([a-z_0-9]+)`", row.split("|")[2]))
    presets = {p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml")}
    assert presets <= listed, sorted(presets - listed)


@pytest.mark.parametrize("overrides", [["prune.granularity=structured", "prune.criterion=taylor"],
                                       ["prune.criterion=taylor"], ["prune.criterion=movement"]])
def test_a_gradient_criterion_whose_only_event_precedes_every_update_is_refused(overrides):
    """Round 17 noticed: structured `prune.criterion=taylor schedule=one_shot` (its one event at step 0, before any
    gradient) ranked by l2 with a warning, and its record and tables said taylor: a taylor-vs-l2 comparison at one
    shot showed two identical masks under two names. Refused; a later start ranks by taylor (control)."""
    from sdp.validate import ConfigError, validate_config

    with initialize_config_dir(config_dir=CONF, version_base=None):
        cfg = compose(config_name="config", overrides=["data_dir=null", "schedule=one_shot", *overrides])
        later = compose(config_name="config", overrides=["data_dir=null", "schedule=one_shot", "schedule.start=0.1",
                                                         *overrides])
    with pytest.raises(ConfigError, match=r"schedule=one_shot with schedule.start=0 prunes before the first one"):
        validate_config(cfg)
    validate_config(later)
