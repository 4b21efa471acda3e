"""Record files and data files written by hand for the reporting and data tests of probe rounds 29-33."""
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
    (run_dir / "run.json").write_text(json.dumps({"config": cfg, "config_hash": f"h-{method}"}))


def write_csv(path: Path, rows: list[tuple[str, str]], header=("text", "label")) -> str:
    """A small custom-task CSV (a header, then ``rows``); its path, as a string for a config."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def write_rte_folder(data_dir: Path, train: list[str], dev: list[str]) -> Path:
    """``data_dir``/glue/RTE with train.tsv and dev.tsv of ``train`` and ``dev`` (tab-separated rows after the header);
    the folder."""
    folder = data_dir / "glue" / "RTE"
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.tsv", train), ("dev.tsv", dev)):
        (folder / name).write_text("\n".join(["index\tsentence1\tsentence2\tlabel", *rows]) + "\n")
    return folder


def rte_rows(n: int, first: str = "premise number {i}", second: str = "hypothesis {i}") -> list[str]:
    """``n`` RTE rows (index, two sentences, a label alternating entailment / not_entailment)."""
    return [f"{i}\t{first.format(i=i)}\t{second.format(i=i)}\t{('entailment', 'not_entailment')[i % 2]}"
            for i in range(n)]


PAIR_SCORES = {"MP": (0.9417, 0.925, 0.475), "SDP-CC": (0.9167, 0.925, 0.475)}  # by seed: SDP-CC - MP -2.5, 0, 0


def write_custom_pair_runs(root: Path, tag: str, task: dict, run_json: dict | None = None,
                           scores: dict | None = None, record_keys: dict | None = None) -> None:
    """Completed MP and SDP-CC runs of seeds 1-3 (``scores``: PAIR_SCORES) on a custom ``task`` (run.json's task node,
    plus the ``run_json`` keys; metrics.json's ``record_keys``), in folders ``<tag>-<method>-<seed>``: the pairs
    claims.md counts by dataset and seed."""
    for method, finals in (scores or PAIR_SCORES).items():
        for seed, final in enumerate(finals, start=1):
            name = f"{tag}-{method}-{seed}"
            write_record(root, name, method, seed, final)
            path, run = root / name / "metrics.json", root / name / "run.json"
            record = json.loads(path.read_text())
            record.update(task="custom", config_hash=f"h-{method}-{tag}", **(record_keys or {}))
            path.write_text(json.dumps(record))
            config = json.loads(run.read_text())
            config["config"]["task"] = task
            config["config"]["regularizer"] = {"name": "cross_correlation" if method == "SDP-CC" else "none"}
            run.write_text(json.dumps({**config, **(run_json or {})}))


def two_label_said(caplog, data_dir: Path, task, max_train=None, carve=None, max_eval=None) -> str:
    """The "under another label" warnings a run's load of ``data_dir``'s ``task`` says, with its sample and carve."""
    import logging

    from omegaconf import OmegaConf

    from sdp.data.loading import load_run_splits

    cfg = OmegaConf.create({"data_dir": str(data_dir), "max_train_samples": max_train, "max_eval_samples": max_eval,
                            "task": {"validation_from_train": carve, "validation_seed": 0}})
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        load_run_splits(cfg, task)
    return "\n".join(r.getMessage() for r in caplog.records if "under another label" in r.getMessage())
