"""Hydra multirun: a failing job is recorded and the others finish; a re-launch skips completed runs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("scale_helpers", Path(__file__).with_name("helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)


def _jobs(sweep_dir: Path) -> dict[str, Path]:
    return {d.name: d for d in sweep_dir.iterdir() if d.is_dir() and not d.name.startswith(".")}


def _finish_with_a_failed_job(proc) -> str:
    """The sweep runs every job, then says which failed and exits 1 (sdp/sweep_outcome.py): Hydra alone exits 0."""
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, out[-4000:]
    assert "sweep: 2 jobs noted: 1 completed, 1 failed, 0 refused" in out, out[-4000:]
    assert "max_train_samples=0 must be a positive number" in out.split("sweep: 2 jobs noted")[1]
    assert "sdp-run: error: 1 of 2 jobs of the sweep failed or were refused" in out
    return out


def test_multirun_records_failure_and_skips_completed(tmp_path, data_dir):
    root = tmp_path / "out"
    args = ["-m", *h.smoke_args(data_dir), f"output_root={root}", "dense.max_steps=2", "prune.max_steps=3",
            "max_train_samples=64,0"]  # 0 fails validation; 64 runs
    first = _finish_with_a_failed_job(h.cli([*args, f"hydra.sweep.dir={root}/sweep1"]))
    jobs = _jobs(root / "sweep1")
    ok = next(d for n, d in jobs.items() if "max_train_samples=64" in n)
    bad = next(d for n, d in jobs.items() if "max_train_samples=0" in n)
    assert h.metrics(ok)["status"] == "completed"
    failed = h.metrics(bad)
    assert failed["status"] == "failed" and failed["error_type"] == "ConfigError"
    assert "max_train_samples=0 must be a positive number" in failed["error"]
    assert "Traceback" in (bad / "error.txt").read_text()
    assert "the sweep goes on" in first

    second = _finish_with_a_failed_job(h.cli([*args, f"hydra.sweep.dir={root}/sweep2"]))
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


def test_slurm_sweep_off_a_slurm_node_is_one_line_and_starts_nothing(tmp_path, monkeypatch):
    """No srun on the PATH: exit 2 with one line naming the launcher and the way out, before any job runs (it was
    submitit's traceback, 'Could not detect srun')."""
    import os
    import sys

    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and not (Path(p) / "srun").exists())
    monkeypatch.setenv("PATH", path or os.path.dirname(sys.executable))
    proc = h.cli(["-m", "hydra/launcher=slurm", "task=rte,mrpc", f"output_root={tmp_path}/runs",
                  f"hydra.sweep.dir={tmp_path}/sweep"])
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, out
    assert "sdp-run: error: LauncherError: hydra/launcher=slurm submits each job to SLURM" in out, out
    assert "hydra/launcher=local" in out and "Traceback" not in out and "srun" in out
    assert not (tmp_path / "runs").exists()  # no job ran


def test_skip_search_ignores_a_restarted_runs_old_files(tmp_path):
    """A ``resume=false`` restart moves the old run into ``previous-<time>/``; that old, completed record must
    not make the interrupted restart (or a twin job) look done."""
    from sdp.run.code import code_identity
    from sdp.sweep import find_completed

    record = {"status": "completed", "config_hash": "abc", "seed": 1, "code": code_identity()}
    old = tmp_path / "job" / "previous-20261127-101010"
    old.mkdir(parents=True)
    (old / "metrics.json").write_text(json.dumps(record))
    assert find_completed(tmp_path, "abc", 1) is None
    elsewhere = tmp_path / "other_job"
    elsewhere.mkdir()
    (elsewhere / "metrics.json").write_text(json.dumps(record))
    assert find_completed(tmp_path, "abc", 1) == elsewhere  # a real completed run is still found


def test_local_launcher_runs_jobs_side_by_side(tmp_path, data_dir):
    """hydra/launcher=local: each job in its own process, its own folder and its own run.log."""
    root = tmp_path / "out"
    out = h.finish(h.cli(["-m", *h.smoke_args(data_dir), "hydra/launcher=local", "seed=1,2", f"output_root={root}",
                          f"hydra.sweep.dir={root}/sweep", f"cache_dir={tmp_path / 'cache'}"]))
    assert "sweep of 2 jobs, 2 at a time, each in its own process" in out
    jobs = _jobs(root / "sweep")
    assert len(jobs) == 2
    for name, d in jobs.items():
        seed = 1 if "seed=1" in name else 2
        assert h.metrics(d)["status"] == "completed" and h.metrics(d)["seed"] == seed
        log = (d / "run.log").read_text()
        assert f"seed={seed}" in log and f"seed={3 - seed}" not in log  # no lines of the other job


def test_gpu_launcher_without_a_gpu_says_so_and_runs_side_by_side(tmp_path, data_dir):
    """hydra/launcher=gpu, the documented switch for GPU sweeps: SDP_JOBS_PER_GPU jobs per visible GPU; with no
    GPU it says so, once, and runs that many side by side on the CPU (at most one per core), each job placed (and
    saying where)."""
    from sdp import gpu_placement

    root = tmp_path / "out"
    proc = subprocess.Popen(
        [h.sys.executable, "-m", "cli.run", "-m", *h.smoke_args(data_dir), "hydra/launcher=gpu", "seed=1,2,3",
         f"output_root={root}", f"hydra.sweep.dir={root}/sweep", f"cache_dir={tmp_path / 'cache'}"],
        cwd=h.REPO_ROOT, env=h.env(CUDA_VISIBLE_DEVICES="", SDP_JOBS_PER_GPU="3", SDP_GPU_SWEEP_NOTED=""),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    out = h.finish(proc)
    n = min(3, gpu_placement.cpu_cores())  # SDP_JOBS_PER_GPU, but at most one job per core (issue 25)
    assert "hydra/launcher=gpu: no GPU visible" in out and f"running {n} jobs side by side on the CPU" in out
    assert out.count("no GPU visible") == 1, out  # said once, not once per job (nor in each job's placement line)
    assert f"sweep of 3 jobs, {n} at a time, each in its own process" in out
    jobs = _jobs(root / "sweep")
    assert len(jobs) == 3
    for d in jobs.values():
        assert h.metrics(d)["status"] == "completed"
        assert "hydra/launcher=gpu: job placed on cpu" in (d / "run.log").read_text()


def test_gpu_launcher_refuses_a_bad_jobs_per_gpu():
    from sdp.gpu_placement import jobs_per_gpu

    with pytest.raises(ValueError, match="SDP_JOBS_PER_GPU='0' must be an integer >= 1"):
        jobs_per_gpu("0")
    assert jobs_per_gpu("8") == 8


def test_optuna_search_tunes_on_a_split_carved_from_train(tmp_path, data_dir):
    """hparams_search=optuna: every trial is scored on the held-out part of train (dev never read) and the best
    trial's held-out score is what optimization_results.yaml reports."""
    import yaml

    root = tmp_path / "out"
    h.finish(h.cli(["-m", *h.smoke_args(data_dir), "hparams_search=optuna", "hydra.sweeper.n_trials=2",
                    f"output_root={root}", f"hydra.sweep.dir={root}/sweep", f"cache_dir={tmp_path / 'cache'}"]))
    trials = list(_jobs(root / "sweep").values())
    assert len(trials) == 2
    scores = {}
    for d in trials:
        m = h.metrics(d)
        assert m["status"] == "completed" and set(m["eval_examples"]) == {"validation_from_train"}
        scores[float(d.name.split("regularizer.alpha=")[1].split(",")[0])] = m["final"]["main"]
    assert all(0.1 <= alpha <= 10.0 for alpha in scores)
    result = yaml.safe_load((root / "sweep" / "optimization_results.yaml").read_text())
    assert result["best_value"] == max(scores.values())
    assert scores[result["best_params"]["regularizer.alpha"]] == result["best_value"]


def test_optuna_search_goes_on_after_a_failed_trial(tmp_path, data_dir):
    """A failed trial is a failed trial, not the end of the search: the job returns None (a NaN stopped Optuna at
    the first failure, exit 1). With the seeded sampler, trial #2 draws a batch larger than the data."""
    import yaml

    root = tmp_path / "out"
    out = h.finish(h.cli(["-m", *h.smoke_args(data_dir), "hparams_search=optuna", "hydra.sweeper.n_trials=3",
                          '+hydra.sweeper.params={train.batch_size: "choice(8, 4096)"}', "dense.max_steps=2",
                          "prune.max_steps=2", f"output_root={root}", f"hydra.sweep.dir={root}/sweep",
                          f"cache_dir={tmp_path / 'cache'}"]))
    statuses = sorted(h.metrics(d)["status"] for d in _jobs(root / "sweep").values())
    assert statuses == ["completed", "completed", "failed"] and "Failed experiment" in out
    result = yaml.safe_load((root / "sweep" / "optimization_results.yaml").read_text())
    assert result["best_params"]["train.batch_size"] == 8


def test_a_sweep_with_a_refused_job_says_so_and_exits_1(tmp_path, data_dir):
    """Seed 2's folder is held by another live run (this test holds its lock): that job is refused, which a script
    could not tell from a clean sweep before (exit 0), and the sweep's other job completes."""
    from sdp.run.lock import run_lock

    held = tmp_path / "run_2"
    held.mkdir()
    with run_lock(held):
        proc = h.cli(["-m", *h.smoke_args(data_dir), "dense.max_steps=2", "prune.max_steps=2", "seed=1,2",
                      f"output_dir={tmp_path}/run_${{seed}}", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                      f"cache_dir={tmp_path / 'cache'}"])
        out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, out[-4000:]
    assert "sweep: 2 jobs noted: 1 completed, 0 failed, 1 refused" in out
    assert "RunLockedError" in out.split("sweep: 2 jobs noted")[1]
    assert h.metrics(tmp_path / "run_1")["seed"] == 1 and not (held / "metrics.json").exists()


def test_a_sweep_into_one_fixed_output_dir_is_refused_before_any_job(tmp_path):
    """Every job of `-m task=rte,mrpc output_dir=X` would write into X: one line, exit 2, nothing started (it
    was one refused job after another)."""
    proc = h.cli(["-m", f"output_dir={tmp_path}/run", "task=rte,mrpc", f"hydra.sweep.dir={tmp_path}/sweep"])
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, out
    assert f"sdp-run: error: ConfigError: output_dir={tmp_path}/run is one folder for every job of this sweep " \
           "(task=rte,mrpc)" in out and "Traceback" not in out
    assert not (tmp_path / "run").exists()


def test_which_sweeps_share_one_output_dir():
    from omegaconf import OmegaConf

    from sdp.sweep_outcome import _one_folder_for_many_jobs

    def config(output_dir, overrides, params=None):
        return OmegaConf.create({"output_dir": output_dir, "seed": 1, "task": {"name": "rte"}, "hydra": {
            "overrides": {"task": overrides}, "sweeper": {"params": params}}})

    assert _one_folder_for_many_jobs(config("out", ["output_dir=out", "seed=1,2"])) == "seed=1,2"
    assert _one_folder_for_many_jobs(config("out", ["output_dir=out"], {"seed": "1,2"})) == \
        "hydra.sweeper.params.seed=1,2"  # the sweeper's own params (Optuna, or Hydra's basic sweeper's)
    assert _one_folder_for_many_jobs(config("out", ["output_dir=out", "seed=1"])) is None  # one job
    assert _one_folder_for_many_jobs(config(None, ["seed=1,2"])) is None  # each job its own folder
    assert _one_folder_for_many_jobs(config("out_${seed}", ["seed=1,2"])) is None  # names the swept key
    assert _one_folder_for_many_jobs(config("o/${task.name}", ["task=rte,mrpc"])) is None  # a swept group's value
    # Hydra's job values differ per job and do not exist before the jobs: never resolved here.
    assert _one_folder_for_many_jobs(config("o/${hydra:job.override_dirname}", ["seed=1,2"])) is None
    assert _one_folder_for_many_jobs(config("o/${hydra:job.num}", ["seed=1,2", "x=${hydra:runtime.cwd}"])) is None
    # An interpolation of something every job shares is still one folder.
    assert _one_folder_for_many_jobs(config("o/${task.name}", ["seed=1,2"])) == "seed=1,2"
    assert _one_folder_for_many_jobs(config("a", ["+output_dir=a,b"])) is None  # swept itself
