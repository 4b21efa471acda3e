"""Issue 25, the new-user walk's findings: a re-run is quiet about the lock a finished run left; a launch that
failed before its run started is not a failed run and its folder is reused silently; interrupted runs are
resumable, not failed, in summary.md; a multi-process CPU launch and hydra/launcher=gpu without a GPU say what
runs, once; `make stop-grids` stops only this repository's grids."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401  (registers the schema)
from sdp.report.collect import collect_runs
from sdp.run.lock import LOCK_NAME, read_holder, run_lock
from sdp.sweep import run_job

REPO = Path(__file__).resolve().parents[2]
SMOKE = ["debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=2", "prune.max_steps=2",
         "max_train_samples=16", "max_eval_samples=8", "prune.teacher_cache=off"]
KILLED = "was killed without releasing its lock"


def _run(tmp_path: Path, data_dir: Path, run_dir: Path, *extra: str) -> dict:
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[*SMOKE, f"data_dir={data_dir}", f"output_dir={run_dir}",
                                           f"cache_dir={tmp_path / 'cache'}", *extra])
    return run_job(cfg)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_a_finished_runs_lock_is_silent_and_a_killed_ones_is_named_once(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="sdp")
    # A run that ended, in its own process (as every re-run finds it): its lock record is emptied as it lets go.
    code = f"from sdp.run.lock import run_lock\nwith run_lock({str(tmp_path)!r}):\n    pass\n"
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(), cwd=REPO)
    assert read_holder(tmp_path) is None
    with run_lock(tmp_path):
        assert read_holder(tmp_path)["pid"] == os.getpid()  # a live holder is still named by a refusal
    assert KILLED not in caplog.text
    # A run killed outright leaves its record: the next launch says so once, the one after it says nothing.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(),
                                                  "started": 0}))
    for _ in range(2):
        with run_lock(tmp_path):
            pass
    assert caplog.text.count(KILLED) == 1 and f"PID {int(dead.stdout)}" in caplog.text


def test_a_launch_that_failed_before_its_run_started_is_no_failed_run_and_its_folder_is_reused(
        tmp_path, data_dir, monkeypatch, caplog):  # fmt: skip
    import sdp.recipe

    run_dir = tmp_path / "out" / "run"

    def no_data(*args, **kwargs):
        raise FileNotFoundError("no GLUE files under the data folder")

    monkeypatch.setattr(sdp.recipe, "build_data", no_data)  # as a missing data folder fails, after run.json
    with pytest.raises(FileNotFoundError):
        _run(tmp_path, data_dir, run_dir)
    assert json.loads((run_dir / "metrics.json").read_text())["before_run"] is True
    coll = collect_runs(tmp_path / "out")
    assert coll.failed.empty and coll.n_launch_errors == 1
    monkeypatch.undo()
    caplog.clear()
    assert _run(tmp_path, data_dir, run_dir)["status"] == "completed"
    assert "left no checkpoint" not in caplog.text and not list(run_dir.glob("previous-*")), caplog.text
    assert not (run_dir / "error.txt").exists() and KILLED not in caplog.text
    # A failure once the data and model are loaded is a failed run (and is not cleared by the next launch).
    other = tmp_path / "out" / "other"
    monkeypatch.setattr(sdp.recipe.PruneRecipe, "train", lambda self: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        _run(tmp_path, data_dir, other, "seed=3")
    assert json.loads((other / "metrics.json").read_text())["before_run"] is False
    coll = collect_runs(tmp_path / "out")
    assert list(coll.failed["path"]) == ["other"] and coll.n_launch_errors == 0 and len(coll.runs) == 1


def test_a_launch_stopped_while_loading_leaves_nothing_to_set_aside(tmp_path):
    from sdp.run.rundir import clear_launch_error

    loaded = {"precision": {"master_dtype": "float32"}}  # data and model loaded, no update yet
    for record, trained, expect in (({}, False, True), (loaded, False, True), (loaded, True, False)):
        (tmp_path / "run.json").write_text(json.dumps({"config": {}, **record}))
        (tmp_path / "metrics.json").write_text(json.dumps({"status": "interrupted", "phase": "between updates"}))
        if trained:
            (tmp_path / "trace.jsonl").write_text("{}\n")
        assert clear_launch_error(tmp_path) is expect
        assert (tmp_path / "metrics.json").exists() is not expect and (tmp_path / "run.json").exists() is not expect


def test_interrupted_runs_are_resumable_not_failed_in_summary(tmp_path):
    from sdp.report.report import build_report

    root = tmp_path / "sweep"
    for name, record in {"stopped": {"status": "interrupted", "stage": "prune", "step": 13, "error":
                                     "interrupted by SIGINT in the prune stage at optimizer step 13; checkpoint saved"},
                         "broken": {"status": "failed", "error": "RuntimeError: boom", "before_run": False}}.items():
        (root / name).mkdir(parents=True)
        (root / name / "metrics.json").write_text(json.dumps(record))
    report = build_report(root, plots=False)
    assert list(report.collection.failed["path"]) == ["broken"]
    assert list(report.collection.interrupted["path"]) == ["stopped"]
    text = (root / "tables" / "summary.md").read_text()
    assert "- failed runs: 1" in text and "- interrupted runs (stopped by a signal" in text and ": 1" in text
    assert "## Interrupted runs (resumable)" in text and "at optimizer step 13" in text


def test_a_multi_process_cpu_launch_says_what_runs():
    from omegaconf import OmegaConf

    from sdp.run.launch import cpu_processes_line

    line = cpu_processes_line(OmegaConf.create({"cpu": False}), 2, cuda=False)
    assert line.startswith("no GPU visible") and "on the CPU: one run in 2 processes (DDP over gloo" in line
    assert cpu_processes_line(OmegaConf.create({"cpu": True}), 2, cuda=True).startswith("cpu=true: one run in 2")
    assert cpu_processes_line(OmegaConf.create({"cpu": False}), 2, cuda=True) is None  # GPUs: nothing to say


def test_gpu_launcher_without_a_gpu_sizes_jobs_to_the_cores_and_says_so_once(monkeypatch, caplog):
    from sdp import gpu_placement

    monkeypatch.setattr(gpu_placement, "visible_gpus", lambda: 0)
    monkeypatch.setattr(gpu_placement, "cpu_cores", lambda: 2)
    monkeypatch.setenv(gpu_placement.NOTED_ENV, "")  # restored (unset) afterwards: later sweeps must say it again
    assert [gpu_placement.sweep_jobs("4") for _ in range(3)] == [2, 2, 2]  # the resolver runs again per job
    assert caplog.text.count("no GPU visible") == 1 and "running 2 jobs side by side on the CPU (2 cores" in caplog.text
    assert gpu_placement.sweep_jobs("1") == 1
    monkeypatch.setattr(gpu_placement, "visible_gpus", lambda: 2)
    assert gpu_placement.sweep_jobs("4") == 8


def test_stop_grids_stops_this_repositorys_grid_and_nothing_else(tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO / "scripts"))
    import grid_pids

    monkeypatch.setattr(grid_pids, "GRIDS", tmp_path / ".grids")
    # A process whose command line names the study, as the old `pkill -f` patterns matched: never touched.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "scripts/study.py",
                                  "cli.run results/study"])
    grid = subprocess.Popen([sys.executable, "-c", "import signal, sys, time\n"
                             "signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))\ntime.sleep(60)"])
    try:
        assert grid_pids.stop() == []
        entry = {"pid": grid.pid, "start": grid_pids.start_time(grid.pid), "script": "study.py",
                 "root": "results/study", "runs": []}
        (tmp_path / ".grids").mkdir()
        (tmp_path / ".grids" / f"{grid.pid}.json").write_text(json.dumps(entry))
        stale = {**entry, "pid": bystander.pid, "start": "1"}  # a PID since reused by another process
        (tmp_path / ".grids" / "1.json").write_text(json.dumps(stale))
        lines = grid_pids.stop()
        assert len(lines) == 1 and f"SIGTERM to study.py (PID {grid.pid}" in lines[0]
        assert grid.wait(timeout=30) in (143, -signal.SIGTERM)  # SIGTERM, whether or not its handler was in yet
        assert bystander.poll() is None and not (tmp_path / ".grids" / "1.json").exists()
    finally:
        for proc in (bystander, grid):
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
