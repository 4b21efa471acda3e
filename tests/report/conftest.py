"""Builders of small hand-written results/ trees for the reporting tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

BASE_TIME = 1_700_000_000  # fixed mtimes, so "newest wins" does not depend on write order


def run_record(task: str, method: str, sparsity: float, seed: int, final: dict, dense: dict | None,
               version: str = "aaa", **extra: Any) -> dict[str, Any]:  # fmt: skip
    rec = {
        "status": "completed", "task": task, "model": "minilm", "method": method, "schedule": "cubic",
        "teacher": "frozen", "seed": seed, "target_sparsity": sparsity, "final": final, "dense": dense,
        "versions": {"sdp": version, "sdp_dirty": False},
    }  # fmt: skip
    rec.update(extra)
    return rec


def write_run(root: Path, rel: str, record: dict | str, mtime_offset: int = 0, trace: list | None = None) -> Path:
    run_dir = root / rel
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "metrics.json"
    path.write_text(record if isinstance(record, str) else json.dumps(record))
    os.utime(path, (BASE_TIME + mtime_offset, BASE_TIME + mtime_offset))
    if trace is not None:
        (run_dir / "trace.jsonl").write_text("\n".join(t if isinstance(t, str) else json.dumps(t) for t in trace))
    return path


def mrpc(f1: float, acc: float) -> dict:
    return {"f1": f1, "accuracy": acc, "main": (f1 + acc) / 2}


def stsb(p: float, s: float) -> dict:
    return {"pearson": p, "spearman": s, "main": (p + s) / 2}


TRACE = [
    {"event": "train", "step": 10, "loss": 0.9},
    {"event": "prune", "step": 20, "sparsity": 0.25, "loss_before": 0.5, "loss_after": 0.7, "recovery_steps": 8},
    "this line is not json",
    {"event": "prune", "step": 40, "sparsity": 0.5, "loss_before": 0.45, "loss_after": 0.9, "recovery_steps": 15},
]


@pytest.fixture
def glue_tree(tmp_path: Path) -> Path:
    """MRPC + STS-B sweep: 2 seeds, a missing cell, an identical and a conflicting duplicate, a malformed
    file, a failed run, mixed code versions and a one-row published CSV."""
    root = tmp_path / "results"
    sw = "runs/sweepA"
    write_run(root, f"{sw}/j0", run_record("mrpc", "MP", 0.5, 1, mrpc(0.80, 0.70), mrpc(0.90, 0.80)))
    write_run(root, f"{sw}/j1", run_record("mrpc", "MP", 0.5, 2, mrpc(0.82, 0.72), mrpc(0.92, 0.82), version="bbb"), trace=TRACE)
    write_run(root, f"{sw}/j2", run_record("mrpc", "SDP-CC", 0.5, 1, mrpc(0.84, 0.74), mrpc(0.90, 0.80)))
    write_run(root, f"{sw}/j3", run_record("mrpc", "SDP-CC", 0.5, 2, mrpc(0.86, 0.76), mrpc(0.92, 0.82)), trace=TRACE)
    write_run(root, f"{sw}/j4", run_record("stsb", "MP", 0.5, 1, stsb(0.80, 0.78), stsb(0.88, 0.86)))
    # identical duplicate of j0 (collapsed silently) and a newer, conflicting duplicate of j2 (kept)
    write_run(root, "runs/sweepB/j0", run_record("mrpc", "MP", 0.5, 1, mrpc(0.80, 0.70), mrpc(0.90, 0.80)), 5)
    write_run(root, "runs/sweepB/j2", run_record("mrpc", "SDP-CC", 0.5, 1, mrpc(0.85, 0.75), mrpc(0.90, 0.80)), 10)
    write_run(root, "runs/bad/j7", '{"status": "completed", "task": ')
    write_run(root, "runs/bad/j9", {**run_record("mrpc", "KD", 0.5, 1, mrpc(0.8, 0.7), None), "final": None})
    failed = write_run(root, "runs/bad/j8", {"status": "failed", "task": "mrpc", "method": "KD", "seed": 3,
                                             "target_sparsity": 0.5})  # fmt: skip
    (failed.parent / "error.txt").write_text("Traceback ...\nRuntimeError: CUDA out of memory\n")
    # Never collected: reports and references live beside the runs.
    write_run(root, "tables/old", run_record("mrpc", "MP", 0.5, 9, mrpc(0.1, 0.1), None))
    (root / "baselines").mkdir()
    (root / "baselines" / "published_glue.csv").write_text(
        "method,model,sparsity,task,metric,value,source,note\nMP+KD,bert-base,0.5,mrpc,f1,88.8,Someone 2020,\n"
    )
    return root


def lang(dense: float, final: float) -> dict:
    return {"dense": dense, "final": final, "drop": round(dense - final, 10)}


@pytest.fixture
def xglue_tree(tmp_path: Path) -> Path:
    """XNLI zero-shot runs with per-language scores: MP with 2 seeds, SDP-CC+AWR-cos with 1."""
    root = tmp_path / "results"

    def rec(method: str, seed: int, en: tuple, de: tuple) -> dict:
        per = {"en": lang(*en), "de": lang(*de)}
        final = {"accuracy": (en[1] + de[1]) / 2, "main": (en[1] + de[1]) / 2}
        dense = {"accuracy": (en[0] + de[0]) / 2, "main": (en[0] + de[0]) / 2}
        return run_record("xnli", method, 0.9, seed, final, dense, per_language=per)

    write_run(root, "runs/x/a", rec("MP", 1, (0.80, 0.75), (0.70, 0.60)))
    write_run(root, "runs/x/b", rec("MP", 2, (0.82, 0.77), (0.72, 0.64)))
    write_run(root, "runs/x/c", rec("SDP-CC+AWR-cos", 1, (0.80, 0.78), (0.70, 0.66)))
    return root
