"""Shared helpers of the scale-out / fault-tolerance tests (imported by path: tests have no __init__)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# Differ between any two runs by nature; a resumed run's warnings also say how it was stopped (checked apart).
VOLATILE = ("wall_seconds", "versions", "finished_at", "warnings")


def smoke_args(data_dir: Path, *extra: str) -> list[str]:
    """A seconds-long real-data run: tiny-bert on 64 RTE examples, one thread."""
    return ["debug=smoke", "task=rte", f"data_dir={data_dir}", "train.num_threads=1", *extra]


def env(**extra: str) -> dict[str, str]:
    e = dict(os.environ)
    e.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
             OMP_NUM_THREADS="1", PYTHONPATH=str(REPO_ROOT))
    e.update(extra)
    return e


# Where a run given no output_root looks for completed runs of its config: not the checkout's outputs/, whose runs
# (a README walk's smoke run, the same config) made a test's run skip to them ("completed already in ...").
TEST_ROOT = Path(tempfile.mkdtemp(prefix="sdp-test-outputs-"))


def cli(args: list[str], **popen) -> subprocess.Popen:
    root = [] if any(a.startswith("output_root=") for a in args) else [f"output_root={TEST_ROOT}"]
    return subprocess.Popen([sys.executable, "-m", "cli.run", *args, *root], cwd=REPO_ROOT, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-4000:]
    return out


def metrics(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text())


def comparable(m: dict) -> dict:
    return {k: v for k, v in m.items() if k not in VOLATILE}


def assert_same_result(run_dir: Path, ref_dir: Path) -> None:
    """A resumed run equals the uninterrupted one: completed, same metrics (but timings), same weights bit for bit."""
    import torch
    from safetensors.torch import load_file

    resumed, reference = metrics(run_dir), metrics(ref_dir)
    assert resumed["status"] == "completed"
    assert comparable(resumed) == comparable(reference)
    assert set(reference.get("warnings", [])) <= set(resumed.get("warnings", []))
    a = load_file(str(run_dir / "model" / "model.safetensors"))
    b = load_file(str(ref_dir / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
