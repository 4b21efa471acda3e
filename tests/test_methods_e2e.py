"""Every method end to end on tiny-bert (issue 3): distillation terms, AWR regularizers and their
combinations, the three teachers, the four schedules, and the analysis measurements."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401  (registers the structured schema)
from sdp.pruning.schedules import resolve_schedule
from sdp.recipe import run

CONF = str(Path(__file__).resolve().parents[1] / "conf")
TARGET = 0.5
PRUNE_STEPS = 5


def compose_cfg(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


@pytest.fixture(scope="module")
def base(data_dir, tmp_path_factory) -> list[str]:
    cache = tmp_path_factory.mktemp("tokenized")
    return [
        "debug=smoke", "task=rte", f"data_dir={data_dir}", f"cache_dir={cache}", "cpu=true",
        f"sparsity={TARGET}", "max_train_samples=24", "max_eval_samples=12", "train.batch_size=6",
        "train.eval_batch_size=12", "dense.max_steps=2", f"prune.max_steps={PRUNE_STEPS}", "task.max_seq_length=24",
        "train.num_threads=1",  # tiny matrices: threads only contend on a shared machine
    ]


@pytest.fixture(scope="module")
def teacher_checkpoint(base, tmp_path_factory) -> Path:
    """A saved tiny-bert STS-B checkpoint (random weights) for prune.teacher=checkpoint."""
    from sdp.data.tasks import get_task
    from sdp.models.presets import load_model, load_tokenizer

    cfg = compose_cfg(base)
    task = get_task("stsb")
    tok = load_tokenizer(cfg.model)
    out = tmp_path_factory.mktemp("teacher_ckpt")
    load_model(cfg.model, task.num_labels, task.label_names, tok).save_pretrained(out, safe_serialization=True)
    return out


def _trace(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]


def _check_run(run_dir: Path, metrics: dict, method: str) -> list[dict]:
    assert metrics["status"] == "completed" and metrics["method"] == method
    on_disk = json.loads((run_dir / "metrics.json").read_text())
    assert on_disk["method"] == method
    per_matrix = json.loads((run_dir / "sparsity.json").read_text())
    assert per_matrix and all(0.0 <= v < 1.0 for v in per_matrix.values())
    total = metrics["prunable_params"]
    assert abs(metrics["achieved_sparsity"]["prunable"] * total - round(TARGET * total)) <= 1
    analysis = on_disk["analysis"]
    assert set(analysis) == {"recovery", "separability", "weights", "mask_overlap", "cross_correlation"}
    # Every method, MP included, reports CC(student, teacher) and how far its mask moved.
    cc = analysis["cross_correlation"]
    assert cc["representation"] == "cls" and cc["batches"] >= 1
    assert all(math.isfinite(cc[k]) and cc[k] >= 0 for k in ("cc_diag", "cc_off", "cc_off_teacher"))
    assert 0.0 < analysis["mask_overlap"]["dense_magnitude"] <= 1.0
    assert (run_dir / "mask.safetensors").is_file() and (run_dir / "dense_mask.safetensors").is_file()
    assert analysis["weights"]["dense"]["density"] == 1.0
    assert analysis["weights"]["final"]["density"] == pytest.approx(1 - metrics["achieved_sparsity"]["prunable"])
    records = [r for r in _trace(run_dir) if r["event"] == "prune"]
    assert records and analysis["recovery"]["pruning_steps"] == len(records)
    for r in records:
        assert math.isfinite(r["loss_before"]) and math.isfinite(r["loss_after"])
        assert r["recovery_steps"] is None or (isinstance(r["recovery_steps"], int) and r["recovery_steps"] >= 1)
        assert abs(r["achieved_sparsity"] - r["sparsity"]) * total <= 1
    assert not (run_dir / "teacher_cache").exists()  # scratch cache removed at stage end
    train = [r for r in _trace(run_dir) if r["event"] == "train" and r["stage"] == "prune"]
    assert len(train) == PRUNE_STEPS
    assert all({"cc_diag", "cc_off", "cc_off_teacher", "updates"} <= set(r) for r in train)
    return records


# (id, overrides, display name)
METHODS = [
    ("mp-linear", ["regularizer=none", "schedule=linear"], "MP"),
    ("kd-exponential-lazy", ["regularizer=kd", "schedule=exponential", "prune.teacher_prefill=false"], "KD"),
    ("mse-mean-disk", ["regularizer=mse", "regularizer.representation=mean", "prune.teacher_cache=disk"], "MSE(mean)"),
    ("cos-pooled-nocache", ["regularizer=cosine", "regularizer.representation=pooled", "prune.teacher_cache=off"],
     "COS(pooled)"),
    ("cc-pooled-oneshot", ["regularizer.representation=pooled", "schedule=one_shot"], "SDP-CC(pooled)"),
    ("cc-mean-layerwise", ["regularizer.representation=mean", "prune.scope=layerwise",
                           "prune.exclude=[attention\\.output]"], "SDP-CC(mean)"),
    ("cc-all-layers-steps", ["regularizer.representation=all_layers", "regularizer.normalize=false",
                             "schedule.unit=steps", "schedule.start=1", "schedule.end=3", "schedule.frequency=1"],
     "SDP-CC(all_layers)"),
    ("awr-cos", ["regularizer=none", "weight_reg=cosine"], "AWR-cos"),
    ("awr-fro", ["regularizer=none", "weight_reg=frobenius", "weight_reg.beta=0.5"], "AWR-fro"),
    ("cc+awr-cos-refresh", ["weight_reg=cosine", "prune.teacher=refresh"], "SDP-CC+AWR-cos"),
    # Issue 10's options: D on a dropout-free pass, no dropout at all, constant LR, zero off-diagonal target,
    # a held-out split carved from train.
    ("cc-distill-off-constant-lr", ["prune.dropout=distill_off", "prune.lr_schedule=constant",
                                    "regularizer.off_target=zero"], "SDP-CC"),
    ("kd-dropout-off-heldout", ["regularizer=kd", "prune.dropout=off", "task.validation_from_train=0.25"], "KD"),
    # CC statistics over the global batch: gathered and pooled over the accumulation window (GradCache).
    ("cc-gather-pooled-k2", ["regularizer.gather=true", "train.gradient_accumulation_steps=2"], "SDP-CC"),
]


@pytest.mark.parametrize("overrides, method", [m[1:] for m in METHODS], ids=[m[0] for m in METHODS])
def test_method_runs_end_to_end(base, tmp_path, overrides, method):
    cfg = compose_cfg(base + overrides)
    metrics = run(cfg, run_dir=tmp_path)
    records = _check_run(tmp_path, metrics, method)
    # The record names the term's options, the representation among them (probe round 10, t06: "mse" alone).
    assert metrics["regularizer_options"].get("representation") == cfg.regularizer.get("representation")
    assert metrics["regularizer_options"]["alpha"] == cfg.regularizer.alpha
    assert metrics["weight_reg_options"] == {k: v for k, v in cfg.weight_reg.items() if k != "name"}
    per_matrix = json.loads((tmp_path / "sparsity.json").read_text())
    # The pruning events are the schedule's, less a no-op first event at s_i = 0.
    sched = resolve_schedule(cfg.schedule.name, TARGET, PRUNE_STEPS, start=cfg.schedule.start,
                             end=cfg.schedule.end, frequency=cfg.schedule.frequency, unit=cfg.schedule.unit)
    want = [t for t in sched.pruning_steps() if sched.sparsity_at(t) > 0]
    assert sorted(r["step"] for r in records) == want
    for r in records:
        assert r["sparsity"] == pytest.approx(sched.sparsity_at(r["step"]))
    if cfg.schedule.name == "one_shot":
        assert [(r["step"], r["sparsity"]) for r in records] == [(0, TARGET)]
    if cfg.prune.teacher == "refresh":  # the teacher was refreshed, and its cache emptied, at each step
        assert f"'version': {len(records)}" in (tmp_path / "run.log").read_text()
    if cfg.prune.scope == "layerwise":
        assert not any("attention.output" in n for n in per_matrix)
        assert all(abs(v - TARGET) <= 1 / 1024 + 1e-9 for v in per_matrix.values())
    separability = metrics["analysis"]["separability"]
    if cfg.task.name == "stsb":
        assert separability is None
    else:
        expected_split = "validation_from_train" if cfg.task.validation_from_train else "validation"
        assert separability["split"] == expected_split
        for which in ("dense", "final"):
            assert separability[which]["fisher_ratio"] >= 0 and separability[which]["snr"] >= 0


def test_checkpoint_teacher_kd_frobenius_regression(base, tmp_path, teacher_checkpoint):
    """prune.teacher=checkpoint with KD + AWR-fro on STS-B (KD is MSE on the score; no separability)."""
    cfg = compose_cfg(base + ["task=stsb", "regularizer=kd", "weight_reg=frobenius", "prune.teacher=checkpoint",
                              f"prune.teacher_checkpoint={teacher_checkpoint}"])
    metrics = run(cfg, run_dir=tmp_path)
    _check_run(tmp_path, metrics, "KD+AWR-fro")
    assert metrics["teacher"] == "checkpoint" and metrics["analysis"]["separability"] is None
    assert "teacher cache prefilled" in (tmp_path / "run.log").read_text()


def test_measurements_in_metrics_and_trace(base, tmp_path):
    """SDP-CC with the defaults, and the analysis block: recovery per pruning step, separability dense vs
    pruned, weight statistics."""
    cfg = compose_cfg(base + ["schedule.unit=steps", "schedule.start=0", "schedule.end=4", "schedule.frequency=2"])
    metrics = run(cfg, run_dir=tmp_path)
    records = _check_run(tmp_path, metrics, "SDP-CC")
    assert sorted(r["step"] for r in records) == [2, 4]  # the event at step 0 (s = 0) prunes nothing
    for r in records:  # the shape the reporting stage reads
        assert {"event", "step", "sparsity", "loss_before", "loss_after", "recovery_steps"} <= set(r)
        assert r["train_loss_ref"] is not None  # the dense stage and warmup gave a loss history
    analysis = metrics["analysis"]
    rec = analysis["recovery"]
    assert rec["probe_size"] == 6 and rec["loss"] == "task" and rec["smoothing"] == 0.9
    jumps = [r["loss_after"] - r["loss_before"] for r in records]
    assert rec["mean_loss_jump"] == pytest.approx(sum(jumps) / len(jumps))
    assert all(r["removed"] > 0 and 0 < r["removed_mass"] < 1 for r in records)
    assert rec["mean_removed_mass"] == pytest.approx(sum(r["removed_mass"] for r in records) / len(records))
    sep = analysis["separability"]
    assert sep["representation"] == "cls" and sep["dense"]["examples"] == 12 and sep["final"]["classes"] >= 1
    w = analysis["weights"]
    assert w["dense"]["surviving"] == w["dense"]["total"] == metrics["prunable_params"]
    assert w["final"]["surviving"] == metrics["prunable_params"] - round(TARGET * metrics["prunable_params"])
    assert w["final"]["mean_abs"] > w["dense"]["mean_abs"]  # magnitude pruning removes the small weights
    assert set(w["final"]["abs_quantiles"]) == {"q10", "q25", "q50", "q75", "q90"}
    # existing keys unchanged
    for key in ("status", "task", "model", "method", "achieved_sparsity", "nonzero_params", "dense", "final"):
        assert key in metrics
    assert "per matrix min" in (tmp_path / "run.log").read_text()


def test_reference_mask_overlap_and_heldout_split(base, tmp_path):
    """An SDP-CC run compared with the MP run of the same dense model: both overlaps in metrics.json."""
    held = ["task.validation_from_train=0.25"]
    mp = run(compose_cfg(base + held + ["regularizer=none"]), run_dir=tmp_path / "mp")
    assert set(mp["final"]) >= {"accuracy", "main"}
    # The same config again: the stored result, its data fingerprint checked against the same carve.
    assert run(compose_cfg(base + held + ["regularizer=none"]), run_dir=tmp_path / "mp") == mp
    assert json.loads((tmp_path / "mp" / "metrics.json").read_text())["eval_examples"] == {
        "validation_from_train": 6}
    cc = run(compose_cfg(base + held + [f"prune.reference_mask={tmp_path / 'mp'}"]), run_dir=tmp_path / "cc")
    overlap = cc["analysis"]["mask_overlap"]
    assert 0.0 < overlap["reference"] <= 1.0 and overlap["reference_path"] == str(tmp_path / "mp")
    from sdp.pruning.overlap import jaccard, load_masks

    assert overlap["reference"] == pytest.approx(jaccard(load_masks(tmp_path / "cc"), load_masks(tmp_path / "mp")))
