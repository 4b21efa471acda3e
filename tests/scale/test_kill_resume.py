"""SIGTERM, then SIGKILL, in the middle of the pruning stage, each followed by a resume in the same run directory: the result is
exactly that of an uninterrupted run with the same seed (CPU, one thread: deterministic)."""

from __future__ import annotations

import importlib.util
import json
import signal
import time
from pathlib import Path

_spec = importlib.util.spec_from_file_location("scale_helpers", Path(__file__).with_name("helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)


def _latest(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "checkpoints" / "latest.json").read_text())
    except (OSError, ValueError):
        return None


def _stop_at(proc, run_dir: Path, sig: int, min_step: int) -> dict:
    """Send ``sig`` once the latest checkpoint is in the prune stage at ``min_step`` or later."""
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        latest = _latest(run_dir)
        if latest and latest["stage"] == "prune" and latest["step"] >= min_step:
            proc.send_signal(sig)
            out, _ = proc.communicate(timeout=120)
            return {"latest": latest, "out": out}
        time.sleep(0.02)
    out, _ = proc.communicate(timeout=60)
    raise AssertionError("the run ended before it could be stopped mid-prune:\n" + out[-3000:])


def test_sigterm_then_sigkill_mid_prune_then_resume_equals_uninterrupted(tmp_path, data_dir):
    # 8 dense + 16 prune updates (2 epochs of 8 batches); a checkpoint after every update.
    args = h.smoke_args(data_dir, "train.checkpoint_every=1")
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "killed"
    ref = h.cli([*args, f"output_dir={ref_dir}"])

    # 1. SIGTERM: the run checkpoints after the update in progress and exits 128+15.
    victim = h.cli([*args, f"output_dir={run_dir}"])
    stopped = _stop_at(victim, run_dir, signal.SIGTERM, 3)
    assert victim.returncode == 128 + signal.SIGTERM, stopped["out"][-3000:]
    interrupted = h.metrics(run_dir)
    assert interrupted["status"] == "interrupted" and "SIGTERM" in interrupted["error"]
    assert _latest(run_dir)["step"] == interrupted["step"]

    # 2. Resume, then SIGKILL (no chance to clean up) later in the prune stage, in the second epoch.
    victim = h.cli([*args, f"output_dir={run_dir}"])
    killed = _stop_at(victim, run_dir, signal.SIGKILL, 10)
    assert victim.returncode == -signal.SIGKILL
    assert "resumed prune stage at optimizer step" in killed["out"]
    state = json.loads((run_dir / "checkpoints" / killed["latest"]["name"] / "state.json").read_text())
    assert state["stage"] == "prune" and 0 < state["sparsity"] <= 0.5 and state["position"]["epoch"] == 1

    # 3. Resume to the end.
    out = h.finish(h.cli([*args, f"output_dir={run_dir}"]))
    assert "resumed prune stage at optimizer step" in out
    h.finish(ref)

    h.assert_same_result(run_dir, ref_dir)
    events = [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "resume" and e["stage"] == "prune" for e in events) == 2
    assert not (run_dir / "checkpoints").exists()  # removed once metrics.json is written

    # A completed run re-run in its directory returns its metrics without recomputing.
    before = (run_dir / "metrics.json").stat().st_mtime_ns
    out = h.finish(h.cli([*args, f"output_dir={run_dir}"]))
    assert "already completed" in out
    assert (run_dir / "metrics.json").stat().st_mtime_ns == before

