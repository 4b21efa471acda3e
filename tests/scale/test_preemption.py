"""Preemption through submitit's own protocol: SIGUSR2 (its time-limit signal) mid-prune to a job started
by ``hydra/launcher=submitit_local``. The run checkpoints after the update in progress, hands over to
submitit's handler, which requeues the job (the local executor restarts it, as ``scontrol requeue``
does on SLURM); the requeued job resumes in the same run directory. The result equals an uninterrupted
run exactly (CPU, one thread), and trace.jsonl holds every (stage, step) record once."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

_spec = importlib.util.spec_from_file_location("scale_helpers", Path(__file__).with_name("helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)


def _job_pids(marker: str) -> list[int]:
    """PIDs of submitit task processes (``python -m submitit.core._submit <folder>``) under ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "submitit.core._submit" in cmd and any(marker in part for part in cmd):
            pids.append(int(entry.name))
    return pids


def _latest(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "checkpoints" / "latest.json").read_text())
    except (OSError, ValueError):
        return None


def trace_keys(run_dir: Path) -> list[tuple]:
    """(event, stage, step) of every train / prune / checkpoint record of trace.jsonl."""
    events = [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]
    return [(e["event"], e.get("stage", "prune"), e["step"]) for e in events
            if e["event"] in ("train", "prune", "checkpoint")]


def test_sigusr2_mid_prune_requeues_and_resumes_to_the_uninterrupted_result(tmp_path, data_dir):
    args = h.smoke_args(data_dir, "train.checkpoint_every=1")  # 8 dense + 16 prune updates
    ref_dir, sweep = tmp_path / "ref", tmp_path / "sweep"
    ref = h.cli([*args, f"output_dir={ref_dir}"])
    job = h.cli(["-m", "hydra/launcher=submitit_local", f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=job",
                 "hydra.launcher.timeout_min=20", *args])
    run_dir = sweep / "job"

    deadline, sent = time.time() + 240, None
    while time.time() < deadline and job.poll() is None and sent is None:
        latest = _latest(run_dir)
        pids = _job_pids(str(sweep))
        if latest and latest["stage"] == "prune" and latest["step"] >= 3 and pids:
            os.kill(pids[0], signal.SIGUSR2)
            sent = latest
        time.sleep(0.02)
    assert sent is not None, "the job ended before it could be signalled mid-prune"
    h.finish(job)
    h.finish(ref)

    logs = "\n".join(p.read_text() for p in (sweep / ".submitit").rglob("*.*") if p.suffix in (".out", ".err"))
    assert "received SIGUSR2" in logs and "asking submitit to requeue" in logs, logs[-3000:]
    assert "Requeued job" in logs  # submitit's own line: its protocol, not a re-launch by the test
    assert "resumed prune stage at optimizer step" in logs

    h.assert_same_result(run_dir, ref_dir)

    # The updates between the checkpoint and the signal ran twice; their records are in the trace once.
    keys = trace_keys(run_dir)
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    assert sorted(k for k in keys if k[0] != "checkpoint") == sorted(k for k in trace_keys(ref_dir)
                                                                    if k[0] != "checkpoint")
