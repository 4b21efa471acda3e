"""Hydra multirun: a failing job is recorded and the others finish; a re-launch skips completed runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

_spec = importlib.util.spec_from_file_location("scale_helpers", Path(__file__).with_name("helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)


def _jobs(sweep_dir: Path) -> dict[str, Path]:
    return {d.name: d for d in sweep_dir.iterdir() if d.is_dir() and not d.name.startswith(".")}


def test_multirun_records_failure_and_skips_completed(tmp_path, data_dir):
    root = tmp_path / "out"
    args = ["-m", *h.smoke_args(data_dir), f"output_root={root}", "dense.max_steps=2", "prune.max_steps=3",
            "max_train_samples=64,0"]  # 0 fails validation; 64 runs
    first = h.finish(h.cli([*args, f"hydra.sweep.dir={root}/sweep1"]))
    jobs = _jobs(root / "sweep1")
    ok = next(d for n, d in jobs.items() if "max_train_samples=64" in n)
    bad = next(d for n, d in jobs.items() if "max_train_samples=0" in n)
    assert h.metrics(ok)["status"] == "completed"
    failed = h.metrics(bad)
    assert failed["status"] == "failed" and failed["error_type"] == "ConfigError"
    assert "max_train_samples=0 must be a positive number" in failed["error"]
    assert "Traceback" in (bad / "error.txt").read_text()
    assert "the sweep goes on" in first

    second = h.finish(h.cli([*args, f"hydra.sweep.dir={root}/sweep2"]))
    assert "skipping" in second and str(ok) in second
    jobs2 = _jobs(root / "sweep2")
    ok2 = next(d for n, d in jobs2.items() if "max_train_samples=64" in n)
    assert not (ok2 / "metrics.json").exists() and not (ok2 / "model").exists()  # nothing recomputed
    assert json.loads((ok2 / "skipped.json").read_text())["completed_in"] == str(ok)
    bad2 = next(d for n, d in jobs2.items() if "max_train_samples=0" in n)
    assert h.metrics(bad2)["status"] == "failed"  # failed runs are retried (and fail again here)


def test_slurm_launcher_config_composes():
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401

    with initialize_config_dir(config_dir=str(h.REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["hydra/launcher=slurm", "task=rte"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert cfg.hydra.launcher.gpus_per_node == 1 and cfg.hydra.launcher.tasks_per_node == 1


def test_skip_search_ignores_a_restarted_runs_old_files(tmp_path):
    """A ``resume=false`` restart moves the old run into ``previous-<time>/``; that old, completed record must
    not make the interrupted restart (or a twin job) look done."""
    from sdp.sweep import find_completed

    record = {"status": "completed", "config_hash": "abc", "seed": 1}
    old = tmp_path / "job" / "previous-20261127-101010"
    old.mkdir(parents=True)
    (old / "metrics.json").write_text(json.dumps(record))
    assert find_completed(tmp_path, "abc", 1) is None
    elsewhere = tmp_path / "other_job"
    elsewhere.mkdir()
    (elsewhere / "metrics.json").write_text(json.dumps(record))
    assert find_completed(tmp_path, "abc", 1) == elsewhere  # a real completed run is still found
