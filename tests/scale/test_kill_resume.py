"""SIGKILL in the middle of the pruning stage, then resume in the same run directory: the result is
exactly that of an uninterrupted run with the same seed (CPU, one thread: deterministic)."""

from __future__ import annotations

import importlib.util
import json
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

_spec = importlib.util.spec_from_file_location("scale_helpers", Path(__file__).with_name("helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)


def _latest(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "checkpoints" / "latest.json").read_text())
    except (OSError, ValueError):
        return None


def test_sigkill_mid_prune_then_resume_equals_uninterrupted(tmp_path, data_dir):
    # 8 dense + 16 prune updates (2 epochs of 8 batches); a checkpoint after every update.
    args = h.smoke_args(data_dir, "train.checkpoint_every=1")
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "killed"
    ref = h.cli([*args, f"output_dir={ref_dir}"])
    victim = h.cli([*args, f"output_dir={run_dir}"])
    killed_at = None
    deadline = time.time() + 240
    while time.time() < deadline and victim.poll() is None:
        latest = _latest(run_dir)
        if latest and latest["stage"] == "prune" and latest["step"] >= 5:
            victim.send_signal(signal.SIGKILL)
            killed_at = latest
            break
        time.sleep(0.02)
    victim.communicate(timeout=60)
    assert killed_at is not None, "the run ended before it could be killed mid-prune"
    assert victim.returncode == -signal.SIGKILL
    assert not (run_dir / "metrics.json").exists()
    state = json.loads((run_dir / "checkpoints" / killed_at["name"] / "state.json").read_text())
    assert state["stage"] == "prune" and 0 < state["sparsity"] < 0.5

    out = h.finish(h.cli([*args, f"output_dir={run_dir}"]))
    assert "resumed prune stage at optimizer step" in out
    h.finish(ref)

    resumed, reference = h.metrics(run_dir), h.metrics(ref_dir)
    assert resumed["status"] == "completed"
    assert h.comparable(resumed) == h.comparable(reference)
    a = load_file(str(run_dir / "model" / "model.safetensors"))
    b = load_file(str(ref_dir / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    events = [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]
    assert any(e["event"] == "resume" and e["stage"] == "prune" for e in events)
    assert not (run_dir / "checkpoints").exists()  # removed once metrics.json is written

    # A completed run re-run in its directory returns its metrics without recomputing.
    before = (run_dir / "metrics.json").stat().st_mtime_ns
    out = h.finish(h.cli([*args, f"output_dir={run_dir}"]))
    assert "already completed" in out
    assert (run_dir / "metrics.json").stat().st_mtime_ns == before


@pytest.fixture(autouse=True)
def _no_slow_marker():
    """This test must stay in `make test` (not marked slow)."""
    yield
