"""hydra/launcher=local with one job's process killed by SIGKILL (as the out-of-memory killer does): the other job
finishes, the sweep's outcome names the killed one and exits 1, and the same command again resumes it (issue 26).
With Hydra's joblib launcher the whole sweep died with a TerminatedWorkerError and no job wrote its metrics.json."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import time
from pathlib import Path

_spec = importlib.util.spec_from_file_location("scale_helpers", Path(__file__).with_name("helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)

ROWS = {"a job of a local sweep killed": "test_a_killed_job_leaves_the_others_and_is_resumed"}


def _job_dir(sweep: Path, seed: int) -> Path | None:
    found = [d for d in sweep.glob(f"*seed={seed}*") if d.is_dir()] if sweep.is_dir() else []
    return found[0] if found else None


def _kill_mid_run(proc, sweep: Path, seed: int) -> int:
    """SIGKILL the process that runs seed ``seed``'s job (the lock file names it) once it has checkpointed."""
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        job = _job_dir(sweep, seed)
        try:
            latest = json.loads((job / "checkpoints" / "latest.json").read_text())
            pid = json.loads((job / ".sdp.lock").read_text())["pid"]
        except (OSError, ValueError, TypeError, KeyError):
            time.sleep(0.02)
            continue
        if latest["stage"] == "prune" and latest["step"] >= 1 and pid != proc.pid:
            os.kill(pid, signal.SIGKILL)
            return pid
        time.sleep(0.02)
    out, _ = proc.communicate(timeout=60)
    raise AssertionError("the job ended before it could be killed:\n" + out[-3000:])


def test_a_killed_job_leaves_the_others_and_is_resumed(tmp_path, data_dir):
    root = tmp_path / "out"
    sweep = root / "sweep"
    args = ["-m", *h.smoke_args(data_dir), "hydra/launcher=local", "seed=1,2", "train.checkpoint_every=1",
            "dense.max_steps=3", "prune.max_steps=12", f"output_root={root}", f"hydra.sweep.dir={sweep}",
            f"cache_dir={tmp_path / 'cache'}"]
    proc = h.cli(args)
    _kill_mid_run(proc, sweep, 2)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, out[-4000:]
    assert "sweep: 2 jobs noted: 1 completed, 0 failed, 0 refused, 1 killed" in out, out[-4000:]
    summary = out.split("sweep: 2 jobs noted")[1]
    assert "killed by SIGKILL (what the out-of-memory killer sends)" in summary and str(_job_dir(sweep, 2)) in summary
    assert "sdp-run: error: 1 of 2 jobs of the sweep failed, were refused or were killed" in out
    assert "TerminatedWorkerError" not in out
    assert h.metrics(_job_dir(sweep, 1))["status"] == "completed"  # the sibling finished
    killed = _job_dir(sweep, 2)
    assert (killed / "checkpoints" / "latest.json").is_file()
    # Its folder says so (it held no record: sdp-tables did not list it at all), and the tables list it.
    assert h.metrics(killed)["status"] == "killed" and "SIGKILL" in h.metrics(killed)["error"]
    from sdp.report.collect import collect_runs

    failed = collect_runs(root).failed
    assert list(failed["status"]) == ["killed"] and list(failed["seed"]) == [2], failed

    before = (_job_dir(sweep, 1) / "metrics.json").read_bytes()
    again = h.finish(h.cli(args))  # the same command: the killed job resumes, the completed one is returned
    assert "sweep: 2 jobs noted: 2 completed, 0 failed, 0 refused" in again, again[-4000:]
    assert "already completed" in again and "resumed prune stage at optimizer step" in again
    assert h.metrics(killed)["status"] == "completed"
    assert (_job_dir(sweep, 1) / "metrics.json").read_bytes() == before


def test_a_local_sweep_with_no_job_slot_is_one_line(tmp_path):
    """hydra.launcher.n_jobs=0: one line and exit 2 before any job (joblib's traceback, 'n_jobs == 0 in Parallel
    has no meaning')."""
    proc = h.cli(["-m", "hydra/launcher=local", "hydra.launcher.n_jobs=0", "seed=1,2", f"output_root={tmp_path}/out",
                  f"hydra.sweep.dir={tmp_path}/sweep"])
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, out
    assert "sdp-run: error: ConfigError: hydra.launcher.n_jobs=0 must be a whole number >= 1" in out
    assert "Traceback" not in out and not (tmp_path / "out").exists()
