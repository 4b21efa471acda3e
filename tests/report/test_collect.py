"""Collecting runs: discovery, validation, failed runs, duplicates and conflicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import mrpc, run_record, write_run

from sdp.objectives.naming import method_name as derive_method  # the runner's names: one table (naming.py)
from sdp.report.collect import collect_runs, find_metrics_files, load_trace


def test_find_skips_report_folders(glue_tree: Path) -> None:
    # A resume=false restart moves the old run into previous-<time>/: never a second record of the run.
    write_run(glue_tree, "runs/sweepA/j0/previous-20261127-140000", run_record("mrpc", "MP", 0.5, 1, mrpc(0.1, 0.1), None))
    found = [p.relative_to(glue_tree).as_posix() for p in find_metrics_files(glue_tree)]
    assert not any(p.startswith(("tables/", "baselines/", "bench/")) for p in found)
    assert found == sorted(found) and len(found) == 10


def test_collection_counts(glue_tree: Path) -> None:
    coll = collect_runs(glue_tree)
    assert coll.n_found == 10
    assert len(coll.runs) == 5
    assert coll.n_identical_duplicates == 1
    assert list(coll.failed["path"]) == ["runs/bad/j8"]
    assert coll.failed["error"].iloc[0] == "RuntimeError: CUDA out of memory"
    assert [p for p, _ in coll.malformed] == ["runs/bad/j7/metrics.json", "runs/bad/j9/metrics.json"]
    assert "invalid JSON" in coll.malformed[0][1]


def test_conflict_keeps_newest(glue_tree: Path) -> None:
    coll = collect_runs(glue_tree)
    [conflict] = coll.conflicts
    assert conflict.paths == ["runs/sweepA/j2", "runs/sweepB/j2"]
    assert conflict.kept == "runs/sweepB/j2"
    assert conflict.seed == 1 and conflict.key["method"] == "SDP-CC"
    kept = coll.runs[(coll.runs["method"] == "SDP-CC") & (coll.runs["seed"] == 1)]
    assert list(kept["path"]) == ["runs/sweepB/j2"]


def test_conflict_tie_on_mtime_is_deterministic(tmp_path: Path) -> None:
    for name, f1 in (("b", 0.9), ("a", 0.8)):
        write_run(tmp_path, name, run_record("mrpc", "MP", 0.5, 1, mrpc(f1, 0.7), None))
    coll = collect_runs(tmp_path)
    assert coll.conflicts[0].kept == "b"  # same mtime: the last path wins


def test_conflict_keeps_the_later_recorded_finish_not_the_file_time(tmp_path: Path) -> None:
    """A checkout gives every file the same arbitrary time: the record's own finished_at decides."""
    write_run(tmp_path, "a", run_record("mrpc", "MP", 0.5, 1, mrpc(0.9, 0.7), None,
                                        finished_at="2026-11-27T10:00:00+00:00"), mtime_offset=0)
    write_run(tmp_path, "b", run_record("mrpc", "MP", 0.5, 1, mrpc(0.8, 0.7), None,
                                        finished_at="2026-11-26T10:00:00+00:00"), mtime_offset=99)
    assert collect_runs(tmp_path).conflicts[0].kept == "a"


@pytest.mark.parametrize("a_time, b_time", [
    ("2026-12-05T03:00:00+05:00", "2026-12-04T23:30:00+00:00"),  # a: 22:00 UTC, before b, though later as text
    ("not a time", "1733400000"),  # a: no time at all; b: epoch seconds
])
def test_conflict_keeps_the_later_instant_not_the_later_text(tmp_path: Path, a_time, b_time) -> None:
    """t02/t03: of two records of one config and seed, sdp-tables kept the one whose finished_at was larger as
    text and called it the newest: another UTC offset, or a value that is no time at all, won over the later one."""
    write_run(tmp_path, "a", run_record("mrpc", "MP", 0.5, 1, mrpc(0.9, 0.7), None, finished_at=a_time))
    write_run(tmp_path, "b", run_record("mrpc", "MP", 0.5, 1, mrpc(0.8, 0.7), None, finished_at=b_time))
    assert collect_runs(tmp_path).conflicts[0].kept == "b"


def test_setup_pairs_a_moved_checkout_and_splits_other_dense_models(tmp_path: Path) -> None:
    from sdp.report.setups import pair_hash, setup_hash

    base = {"task": {"name": "sst2"}, "sparsity": 0.9, "regularizer": {"name": "kd", "temperature": 2.0},
            "dense": {"checkpoint": str(tmp_path / "dense" / "sst2_seed1" / "dense_model"), "epochs": 3}}
    moved = {**base, "dense": {**base["dense"], "checkpoint": "/elsewhere/study/dense/sst2_seed1/dense_model"}}
    assert pair_hash(base, tmp_path) == pair_hash(moved, "/elsewhere/study")  # same study, another path
    mp = {**base, "sparsity": 0.8, "regularizer": {"name": "none"}}
    assert pair_hash(base, tmp_path) == pair_hash(mp, tmp_path)  # method and sparsity left out
    seed2 = {**base, "dense": {**base["dense"], "checkpoint": str(tmp_path / "dense" / "sst2_seed2" / "dense_model")}}
    assert pair_hash(base, tmp_path) != pair_hash(seed2, tmp_path)  # another dense model: no pair...
    assert setup_hash(base) == setup_hash(seed2) == setup_hash(mp)  # ...but one setup: the seeds pool
    assert setup_hash({**base, "dense": {**base["dense"], "epochs": 1}}) != setup_hash(base)  # another budget
    assert pair_hash({}) is None and setup_hash({}) is None


def test_config_yaml_fallback(tmp_path: Path) -> None:
    rec = run_record("mrpc", "MP", 0.5, 1, mrpc(0.8, 0.7), None)
    for key in ("method", "seed", "target_sparsity", "model", "teacher"):
        del rec[key]
    write_run(tmp_path, "r", rec)
    (tmp_path / "r" / ".hydra").mkdir()
    (tmp_path / "r" / ".hydra" / "config.yaml").write_text(  # the layout of conf/config.yaml
        "sparsity: 0.8\nseed: 7\nmodel:\n  name: minilm\nregularizer:\n  name: cross_correlation\n"
        "weight_reg:\n  name: cosine\nprune:\n  teacher: refresh\n"
    )
    run = collect_runs(tmp_path).runs.iloc[0]
    assert (run["method"], run["seed"], run["target_sparsity"], run["model"], run["teacher"]) == (
        "SDP-CC+AWR-cos", 7, 0.8, "minilm", "refresh")  # fmt: skip


def test_derive_method() -> None:
    assert derive_method("none", "none") == "MP"
    assert derive_method("kd", "none") == "KD"
    assert derive_method("none", "frobenius") == "AWR-fro"
    assert derive_method("cross_correlation", "cosine") == "SDP-CC+AWR-cos"


def test_wrong_types_are_malformed(tmp_path: Path) -> None:
    write_run(tmp_path, "a", "[1, 2]")
    write_run(tmp_path, "b", {**run_record("mrpc", "MP", 0.5, 1, mrpc(0.8, 0.7), None), "seed": "x"})
    write_run(tmp_path, "c", {**run_record("mrpc", "MP", 1.5, 1, mrpc(0.8, 0.7), None)})
    write_run(tmp_path, "d", {**run_record("mrpc", "MP", 0.5, 1, {"f1": 0.8}, None)})
    coll = collect_runs(tmp_path)
    assert coll.runs.empty
    assert [p for p, _ in coll.malformed] == [f"{x}/metrics.json" for x in "abcd"]


def test_missing_results_dir(tmp_path: Path) -> None:
    coll = collect_runs(tmp_path / "nope")
    assert coll.runs.empty and coll.n_found == 0


def test_load_trace_ignores_other_events(tmp_path: Path) -> None:
    lines = [json.dumps({"event": "train", "step": 1, "loss": 0.1}), "garbage",
             json.dumps({"event": "prune", "step": 2, "sparsity": 0.3, "loss_before": 1, "loss_after": 2})]
    (tmp_path / "trace.jsonl").write_text("\n".join(lines) + "\n\n")
    events, bad = load_trace(tmp_path / "trace.jsonl")
    assert [e["step"] for e in events] == [2] and bad == 1


def test_load_trace_derives_recovery_from_train_losses(tmp_path: Path) -> None:
    """The runner's prune records carry only step and sparsity; losses come from its train records."""
    recs = [
        {"event": "train", "stage": "dense", "step": 9, "loss": 0.1},
        {"event": "train", "stage": "prune", "step": 9, "task_loss": 0.5, "loss": 0.9},
        {"event": "prune", "step": 10, "sparsity": 0.3},
        {"event": "train", "stage": "prune", "step": 10, "task_loss": 0.8, "loss": 1.2},
        {"event": "train", "stage": "prune", "step": 12, "task_loss": 0.6},
        {"event": "train", "stage": "prune", "step": 14, "task_loss": 0.45},
        {"event": "prune", "step": 20, "sparsity": 0.6},
        {"event": "train", "stage": "prune", "step": 20, "task_loss": 0.9},
    ]
    (tmp_path / "trace.jsonl").write_text("\n".join(json.dumps(r) for r in recs))
    events, bad = load_trace(tmp_path / "trace.jsonl")
    assert bad == 0
    assert (events[0]["loss_before"], events[0]["loss_after"], events[0]["recovery_steps"]) == (0.5, 0.8, 4)
    assert (events[1]["loss_before"], events[1]["loss_after"], events[1]["recovery_steps"]) == (0.45, 0.9, None)


def test_tuning_runs_never_enter_the_tables(tmp_path: Path) -> None:
    """Calibration runs score a split carved from train: they are counted, never collected as dev scores."""
    acc = {"accuracy": 0.9, "main": 0.9}
    write_run(tmp_path, "runs/dev", run_record("sst2", "MP", 0.9, 1, acc, acc, eval_examples={"validation": 872}))
    write_run(tmp_path, "study/calibration/runs/mp_s0.9_seed1",
              run_record("sst2", "MP", 0.9, 2, acc, acc, eval_examples={"validation_from_train": 800}))
    write_run(tmp_path, "study/dense/sst2_seed1", run_record("sst2", "MP", 0.0, 1, acc, acc))  # a shared dense model
    col = collect_runs(tmp_path)
    assert list(col.runs["path"]) == ["runs/dev"] and col.n_tuning == 1 and col.n_found == 3
    assert col.n_dense_only == 1


def test_seeds_with_their_own_dense_model_pool_into_one_cell(tmp_path: Path) -> None:
    """A study gives each seed its own dense model (dense.checkpoint): config_hash keeps that path (a resume or
    a sweep skip must not mistake one dense model for another), cell_hash leaves it out, and the report pools."""
    from sdp.report.aggregate import aggregate_cells
    from sdp.run.env import cell_hash, config_hash

    def cfg(seed: int) -> dict:
        return {"seed": seed, "sparsity": 0.9, "dense": {"epochs": 3, "checkpoint": f"study/dense/seed{seed}"},
                "prune": {"reference_mask": f"study/mp_seed{seed}", "epochs": 2}}

    assert config_hash(cfg(1)) != config_hash(cfg(2))
    assert cell_hash(cfg(1)) == cell_hash(cfg(2))
    assert cell_hash({**cfg(1), "dense": {"epochs": 3}}) == config_hash({**cfg(1), "dense": {"epochs": 3}})
    assert cell_hash({**cfg(1), "sparsity": 0.8}) != cell_hash(cfg(1))  # other keys still split cells
    for seed, f1 in ((1, 0.8), (2, 0.7)):
        rec = run_record("mrpc", "MP", 0.9, seed, mrpc(f1, 0.7), mrpc(0.9, 0.8))
        rec.update(config_hash=config_hash(cfg(seed)), cell_hash=cell_hash(cfg(seed)))
        write_run(tmp_path, f"runs/s{seed}", rec)
    cells = aggregate_cells(collect_runs(tmp_path).runs)
    final = cells[(cells["method"] == "MP") & (cells["metric"] == "f1")]
    assert list(final["n"]) == [2] and list(final["variant"]) == [""]


def test_runs_on_another_number_of_processes_are_another_cell(tmp_path: Path) -> None:
    """train.batch_size is per process: two processes train on twice the global batch, so their runs neither pool
    with one-process seeds nor count as duplicates of them (the newest used to replace the other)."""
    for seed in (1, 2):
        write_run(tmp_path, f"one/{seed}", run_record("mrpc", "MP", 0.9, seed, mrpc(0.8, 0.7), None, config_hash="h"))
        write_run(tmp_path, f"two/{seed}", run_record("mrpc", "MP", 0.9, seed, mrpc(0.6, 0.5), None, config_hash="h",
                                                      distributed={"world_size": 2}), mtime_offset=9)
    coll = collect_runs(tmp_path)
    assert not coll.conflicts and len(coll.runs) == 4
    assert sorted(set(coll.runs["config_hash"])) == ["h", "h/ws2"]


def test_a_nan_dense_score_drops_the_dense_score_not_the_run(tmp_path):
    """A dense model that diverged (dense.main NaN, as Python's json writes it): the run's pruned score still
    counts, it has no Dense score or delta, and summary.md says why (it used to make the whole run malformed)."""
    from sdp.report.report import build_report

    root = tmp_path / "results"
    write_run(root, "r1", json.dumps(run_record("sst2", "MP", 0.9, 1, {"main": 0.8}, {"main": float("nan")})))
    coll = collect_runs(root)
    assert len(coll.runs) == 1 and not coll.malformed and coll.runs.iloc[0]["dense"] is None
    assert coll.warnings == ["`r1`: `dense.main` is nan, not a finite number: no Dense score or delta for this run"]
    build_report(root, plots=False)
    assert "| minilm | MP | 90% | 80.00 (n=1) |" in (root / "tables" / "glue.md").read_text()
    assert "- `r1`: `dense.main` is nan" in (root / "tables" / "summary.md").read_text()
    # A newer run of the same config and seed supersedes it: its warning goes with it.
    write_run(root, "r2", run_record("sst2", "MP", 0.9, 1, {"main": 0.7}, {"main": 0.9}), mtime_offset=10)
    coll = collect_runs(root)
    assert list(coll.runs["path"]) == ["r2"] and coll.warnings == []


def test_evaluations_and_launch_errors_are_not_runs(tmp_path: Path) -> None:
    """sdp-eval's record ("kind": "eval") is listed as an evaluation and a launch that failed before its run
    started ("before_run", a config error) is counted apart: neither is a run, completed or failed."""
    from sdp.report.report import build_report

    acc = {"accuracy": 0.9, "main": 0.9}
    write_run(tmp_path, "runs/done", run_record("rte", "MP", 0.5, 1, acc, acc))
    write_run(tmp_path, "evals/e1", {"kind": "eval", "status": "completed", "task": "rte", "model": "tiny-bert",
                                     "method": "MP", "seed": None, "target_sparsity": 0.5,
                                     "final": {"accuracy": 0.7, "main": 0.7}})
    write_run(tmp_path, "runs/typo", {"status": "failed", "error": "ConfigError: sparsity=2", "before_run": True,
                                      "task": "rte", "seed": 42, "target_sparsity": 2})
    write_run(tmp_path, "runs/crashed", {"status": "failed", "error": "RuntimeError: boom", "before_run": False,
                                         "task": "rte", "seed": 1, "target_sparsity": 0.5})
    col = collect_runs(tmp_path)
    assert list(col.runs["path"]) == ["runs/done"] and list(col.failed["path"]) == ["runs/crashed"]
    assert list(col.evaluations["path"]) == ["evals/e1"] and col.evaluations["final_main"].tolist() == [0.7]
    assert col.n_launch_errors == 1 and not col.malformed
    summary = (build_report(tmp_path, plots=False).files and (tmp_path / "tables" / "summary.md").read_text())
    assert "- failed runs: 1" in summary and "- launch errors left out" in summary and ": 1" in summary
    assert "| `evals/e1` | rte | tiny-bert | MP | 50% | — | — | 70.00 |" in summary  # a record without eval_examples
