"""One pass: a run is validated, its folder prepared and its completion checked once, whichever way it is started
(sdp-run's run_job, or the library entry point sdp.recipe.run); issue 24, "one pass"."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

_spec = importlib.util.spec_from_file_location("scale_helpers", Path(__file__).with_name("helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)


def _count_checks(monkeypatch) -> Counter:
    """Count the calls of the three checks: each is wrapped in its own module and in every sdp module that imported it
    by name (a lazy ``from sdp.validate import validate_config`` then finds the wrapped one too)."""
    import sdp.recipe
    import sdp.run.rundir
    import sdp.sweep
    import sdp.validate  # noqa: F401

    checks = {"validate_config": sdp.validate.validate_config, "completed_here": sdp.run.rundir.completed_here,
              "prepare_run_dir": sdp.run.rundir.prepare_run_dir}
    calls: Counter = Counter()
    for name, real in checks.items():
        def counted(*args, _name=name, _real=real, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        for module in [m for n, m in sys.modules.items() if n == "sdp" or n.startswith("sdp.")]:
            if getattr(module, name, None) is real:
                monkeypatch.setattr(module, name, counted)
    return calls


def _cfg(data_dir: Path, run_dir: Path):
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401  (registers the schema)

    with initialize_config_dir(config_dir=str(h.REPO_ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=[*h.smoke_args(data_dir), f"output_dir={run_dir}",
                                            f"output_root={run_dir.parent}", f"cache_dir={run_dir.parent / 'cache'}"])


def test_each_check_runs_once_per_run(tmp_path, data_dir, monkeypatch):
    """Through run_job and through sdp.recipe.run: validate_config, completed_here and prepare_run_dir once each, the
    recipe's setup included (its training is stubbed out: the checks all come before it)."""
    from sdp.recipe import PruneRecipe, run
    from sdp.sweep import run_job

    trained = []
    monkeypatch.setattr(PruneRecipe, "train", lambda self: trained.append(self.run_dir) or {"status": "stub"})
    calls = _count_checks(monkeypatch)
    assert run_job(_cfg(data_dir, tmp_path / "job")) == {"status": "stub"}
    assert trained == [tmp_path / "job"]  # setup ran, the run got as far as training
    assert calls == {"validate_config": 1, "completed_here": 1, "prepare_run_dir": 1}

    calls.clear()
    assert run(_cfg(data_dir, tmp_path / "library")) == {"status": "stub"}
    assert trained[-1] == tmp_path / "library"
    assert calls == {"validate_config": 1, "completed_here": 1, "prepare_run_dir": 1}
