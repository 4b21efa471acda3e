"""sdp/validate.py holds the allowed values without importing the registries (they import torch):
its lists must stay the registries' keys. The method components (regularizer, weight_reg) have no list there:
validation reads their registry (sdp/objectives/registry.py), which imports no torch."""

from __future__ import annotations

from sdp import validate
from sdp.objectives.representations import REPRESENTATIONS
from sdp.objectives.teacher import CACHE_MODES, TEACHER_MODES
from sdp.pruning.masks import SCOPES


def test_choice_lists_match_the_registries():
    assert sorted(validate.REPRESENTATIONS) == sorted(REPRESENTATIONS)
    from sdp.objectives.distill_terms import representation as term

    assert sorted(term.REPRESENTATIONS) == sorted(REPRESENTATIONS)
    assert tuple(validate.TEACHER_MODES) == tuple(TEACHER_MODES)
    assert tuple(validate.CACHE_MODES) == tuple(CACHE_MODES)
    assert tuple(validate.SCOPES) == tuple(SCOPES)


def test_new_choice_lists_match_their_modules():
    from sdp.objectives.cross_correlation import OFF_TARGETS
    from sdp.objectives.monitor import DROPOUT_MODES

    assert tuple(validate.OFF_TARGETS) == tuple(OFF_TARGETS)
    from sdp.objectives.distill_terms import cross_correlation as term

    assert tuple(term.OFF_TARGETS) == tuple(OFF_TARGETS)
    assert tuple(validate.DROPOUT_MODES) == tuple(DROPOUT_MODES)


def test_the_component_registries_import_no_torch():
    import subprocess
    import sys

    code = "import sys, sdp.validate, sdp.objectives.registry as r; print(len(r.DISTILL_TERMS.names()), 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["5", "False"]


def test_every_float_key_is_checked_for_nan_and_inf():
    """Walked generically: each float of the composed config, set to NaN or inf, is refused naming its key."""
    import math
    from pathlib import Path

    import pytest
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import sdp.config  # noqa: F401
    from sdp.errors import ConfigError

    conf = str(Path(__file__).resolve().parents[1] / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        base = compose("config", overrides=["debug=smoke", "task=rte"])
        tree = OmegaConf.to_container(base, resolve=True)
        keys = []

        def walk(node, key):
            if isinstance(node, dict):
                for name, child in node.items():
                    walk(child, f"{key}.{name}" if key else name)
            elif isinstance(node, float):
                keys.append(key)

        walk(tree, "")
        for must in ("dense.lr", "dense.epochs", "regularizer.alpha", "weight_reg.beta", "prune.lr", "sparsity"):
            assert must in keys, keys
        for i, key in enumerate(keys):
            for bad in [("nan", "inf", "-inf")[i % 3]]:  # one each, in turn: every key, every kind
                cfg = compose("config", overrides=["debug=smoke", "task=rte", f"{key}={bad}"])
                assert not math.isfinite(OmegaConf.select(cfg, key))
                with pytest.raises(ConfigError, match=rf"^{key.replace('.', '[.]')}={bad.replace('-', '[-]')} must be a "
                                                      "finite number$"):
                    validate.validate_config(cfg)
