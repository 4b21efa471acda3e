"""Fixtures of the pruning tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def config_error():
    """``config_error(overrides)``: the one-line ConfigError that validation raises for the smoke config with
    ``overrides`` (composed offline, nothing loaded), as a string."""
    from hydra import compose, initialize_config_dir

    from sdp import validate
    from sdp.errors import ConfigError

    def error(overrides: list[str]) -> str:
        conf = str(Path(__file__).resolve().parents[2] / "conf")
        with initialize_config_dir(config_dir=conf, version_base="1.3"):
            cfg = compose(config_name="config",
                          overrides=["debug=smoke", "task=rte", "data_dir=/nonexistent", *overrides])
        with pytest.raises(ConfigError) as err:
            validate.validate_config(cfg)
        assert "\n" not in str(err.value)
        return str(err.value)

    return error
