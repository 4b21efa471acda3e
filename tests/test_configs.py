"""Every config in conf/ composes and validates: each option of each group, and each preset
(as lightning-hydra-template's tests/test_configs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401  (registers the structured schema)
from sdp.validate import ConfigError, validate_config

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = ("model", "task", "schedule", "regularizer", "weight_reg", "budget", "method", "experiment", "debug",
          "hparams_search")
PRESETS = ("budget", "method", "experiment", "debug", "hparams_search")  # `# @package _global_` files: they set keys, not a name
# Options that need a value only the user can give (`???` in their file).
REQUIRED = {("model", "hf"): ["model.pretrained=org/my-encoder"],
            ("task", "custom"): ["task.train_file=train.tsv", "task.validation_file=dev.tsv",
                                 "task.text_fields=[text]", "task.label_column=label"]}


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


CASES = [(g, o) for g in GROUPS for o in _options(g)]


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        return compose(config_name="config", overrides=overrides)


def test_every_group_has_options():
    assert all(_options(g) for g in GROUPS), {g: _options(g) for g in GROUPS}


@pytest.mark.parametrize(("group", "option"), CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_config_composes_and_validates(group, option):
    cfg = _compose([f"{group}={option}", "data_dir=null", *REQUIRED.get((group, option), [])])
    validate_config(cfg)
    if (group, option) == ("model", "hf"):
        assert cfg.model.name == "my-encoder"  # derived from model.pretrained
    elif group not in PRESETS:
        assert cfg[group].name == option  # each group file names itself


def test_an_option_of_another_term_is_an_error_naming_it_and_the_terms_options():
    cfg = _compose(["regularizer=kd", "regularizer.lambda_off=0.1"])
    with pytest.raises(ConfigError, match=r"regularizer=kd does not take regularizer\.lambda_off; its options are \['temperature'\]"):
        validate_config(cfg)
    cfg = _compose(["regularizer=cross_correlation", "regularizer.temperature=3"])
    with pytest.raises(ConfigError, match=r"does not take regularizer\.temperature.*'lambda_off'"):
        validate_config(cfg)
    validate_config(_compose(["regularizer=cross_correlation", "regularizer.lambda_off=0.1"]))


def test_study_gives_every_method_the_calibrated_budget_and_the_command_line_budget_wins():
    cfg = _compose(["experiment=study", "method=sdp_cc"])
    assert (cfg.prune.lr_schedule, cfg.schedule.start, cfg.prune.epochs) == ("constant", 0.1, 2)
    assert (cfg.regularizer.name, cfg.regularizer.representation) == ("cross_correlation", "mean")
    assert cfg.prune.monitor_representation == "mean" and cfg.max_train_samples == 4000
    cfg = _compose(["experiment=study", "method=kd"])
    assert (cfg.regularizer.name, cfg.regularizer.temperature, cfg.prune.lr_schedule) == ("kd", 2.0, "constant")
    cfg = _compose(["experiment=study", "method=mp", "budget=mvp10"])  # a budget named by the user wins
    assert (cfg.prune.lr_schedule, cfg.prune.epochs, cfg.prune.lr, cfg.regularizer.name) == ("linear", 10, 3e-5, "none")


@pytest.mark.parametrize("launcher", sorted(p.stem for p in (CONF / "hydra" / "launcher").glob("*.yaml")))
def test_every_launcher_composes(launcher):
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(config_name="config", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.startswith("hydra_plugins.")


def test_the_search_scores_a_split_carved_from_train():
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(config_name="config", overrides=["hparams_search=optuna"], return_hydra_config=True)
    assert cfg.task.validation_from_train == 0.1  # never the dev split
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper") and cfg.hydra.sweeper.direction == "maximize"
    assert "regularizer.alpha" in cfg.hydra.sweeper.params


def test_a_sweep_jobs_folder_name_fits_the_file_system():
    """Probe round 4 (issue 26): a sweep with many overrides named a folder over 255 bytes (OSError 'File name too
    long', every job lost); the name is cut, keeping the run id that makes it unique. Short names are unchanged."""
    from omegaconf import OmegaConf


    assert sdp.config.job_dir("seed=1,task=rte", "abcd1234") == "seed=1,task=rte,id=abcd1234"
    long = ",".join(f"train.option_{i}=0.123456789" for i in range(20))
    cut = sdp.config.job_dir(long, "abcd1234")
    assert len(cut.encode()) == 255 and cut.endswith("...,id=abcd1234") and cut.startswith("train.option_0=")
    node = OmegaConf.create({"d": long, "dir": "${sdp_job_dir:${d},abcd1234}"})
    assert node.dir == cut


def test_a_sweep_jobs_folder_name_holds_no_path_separator():
    """A swept or given file path in a job's overrides (task.train_file=/tmp/a/tr.csv) nested the job's folder under
    the path's parts; its '/' is written '_', so every job is one folder under sweeps/."""
    name = sdp.config.job_dir("task.train_file=/tmp/a/tr.csv,seed=1", "abcd1234")
    assert name == "task.train_file=_tmp_a_tr.csv,seed=1,id=abcd1234" and "/" not in name


def test_the_cards_default_prunable_set_is_the_schemas():
    """The card names prune.include only where it differs from the default; sdp/models/ is a leaf and cannot import
    the schema, so the two copies are checked here."""
    from sdp.config import PruneConfig
    from sdp.models.card import DEFAULT_INCLUDE

    assert DEFAULT_INCLUDE == PruneConfig().include
