"""Record files and data files written by hand for the reporting and data tests of probe rounds 29-31."""
from __future__ import annotations

import csv
import json
from pathlib import Path


def write_record(root: Path, name: str, method: str, seed: int, final: float, *, own: str | None = None,
            given: tuple[str, str] | None = None, threads: int = 1) -> None:
    """A completed run: its own dense stage (whose model's fingerprint is ``own``, or unrecorded if None), or given
    dense.checkpoint ``given`` = (path, fingerprint)."""
    run_dir = root / name
    run_dir.mkdir(parents=True)
    prints = {"train": "t0", "validation": "v0", **({"model:dense.checkpoint": given[1]} if given else {})}
    record = {"status": "completed", "task": "rte", "model": "tiny-bert", "method": method, "schedule": "cubic",
              "teacher": "frozen", "seed": seed, "target_sparsity": 0.8, "final": {"main": final, "accuracy": final},
              "dense": {"main": 0.55, "accuracy": 0.55}, "config_hash": f"h-{method}",
              "versions": {"sdp": "aaa", "sdp_dirty": False, "num_threads": threads}, "wall_seconds": 10.0 * threads,
              "finished_at": f"2026-12-06T10:0{seed}:00+00:00", "data_fingerprint": prints,
              "model_sha256": {"model.safetensors": f"sha-{name}"}, **({"dense_model_fingerprint": own} if own else {})}
    (run_dir / "metrics.json").write_text(json.dumps(record))
    (run_dir / "trace.jsonl").write_text(json.dumps({"event": "train", "step": 1, "loss": 1.0}) + "\n")
    cfg = {"task": {"name": "rte"}, "model": {"name": "tiny-bert"}, "regularizer": {"name": method.lower()},
           "sparsity": 0.8, "prune": {"criterion": "magnitude", "teacher": "frozen"},
           "dense": {"max_steps": 20, **({"checkpoint": given[0]} if given else {})}}
    (run_dir / "run.json").write_text(json.dumps({"config": cfg}))


def write_csv(path: Path, rows: list[tuple[str, str]], header=("text", "label")) -> str:
    """A small custom-task CSV (a header, then ``rows``); its path, as a string for a config."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)
