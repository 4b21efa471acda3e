"""What probe round 19 found (issue 26; docs/probe_round19.md): a gradient criterion (movement, taylor) whose first
pruning event at update 0 already prunes (schedule.initial_sparsity > 0, or schedule.end=0) ranked those weights by
|w| under its own name, and they stayed pruned; and sdp-tables left every run at sparsity 0 out as a "dense-only"
run, including runs that went through the pruning stage (distilled and trained on: their own final score). Each
test fails on the commit the probe ran (eacfaaa) and passes after its fix. Offline, no training."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401  (registers the schema and the components before composing)

REPO = Path(__file__).resolve().parents[1]
CONF = str(REPO / "conf")


def _cfg(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF, version_base=None):
        return compose(config_name="config", overrides=["data_dir=null", *overrides])


@pytest.mark.parametrize("overrides, first", [
    (["prune.criterion=movement", "schedule.initial_sparsity=0.3", "sparsity=0.5"], "prunes to 0.3"),
    (["prune.criterion=taylor", "schedule=linear", "schedule.initial_sparsity=0.2"], "prunes to 0.2"),
    (["prune.granularity=structured", "prune.criterion=taylor", "schedule.end=0"], "prunes to the target sparsity"),
])
def test_a_gradient_criterion_whose_first_event_prunes_before_any_update_is_refused(overrides, first):
    """o02: `prune.criterion=movement schedule.initial_sparsity=0.3 sparsity=0.5` ran (exit 0, a log warning
    "no update before this pruning event; ranking by |w| this once"): the event at update 0 pruned 30% by |w|, and
    masks are nested, so 60% of the final mask was magnitude pruning recorded as movement. Round 17's refusal
    covered schedule=one_shot only. A later start, or initial_sparsity 0, still runs (controls)."""
    from sdp.validate import ConfigError, validate_config

    with pytest.raises(ConfigError, match=rf"with schedule.start=0 {first} .*before the first update"):
        validate_config(_cfg(overrides))
    plain = [o for o in overrides if "initial_sparsity" not in o and "schedule.end" not in o]
    validate_config(_cfg([o for o in overrides if "schedule.end" not in o] + ["schedule.start=0.1"]))
    validate_config(_cfg(plain))


def test_a_run_through_the_pruning_stage_at_sparsity_0_is_a_run_in_the_tables(tmp_path: Path) -> None:
    """r05: `sdp-run -m ... method=mp,kd sparsity=0.0` (stages dense+prune: each trained on through the pruning
    stage, another model_sha256 each) gave `_No rows._` in glue.md and summary.md "dense-only runs left out
    (sparsity 0, nothing pruned; ...): 2", costs.md "dense model (sparsity 0)" for both. A stages=dense record,
    and an older sparsity-0 record without `stages` (the trick it replaced), stay dense models."""
    from sdp.report.collect import collect_runs
    from sdp.report.costs import render_costs
    from tests.report.conftest import run_record, write_run

    acc = {"accuracy": 0.6, "main": 0.6}
    write_run(tmp_path, "kd0", run_record("rte", "KD", 0.0, 1, acc, {"accuracy": 0.5, "main": 0.5},
                                          stages="dense+prune", wall_seconds=3.0))
    write_run(tmp_path, "dense", run_record("rte", "MP", 0.0, 1, acc, acc, stages="dense", wall_seconds=2.0))
    write_run(tmp_path, "old_dense", run_record("sst2", "MP", 0.0, 1, acc, acc))
    col = collect_runs(tmp_path)
    assert list(col.runs["path"]) == ["kd0"] and col.n_dense_only == 2
    costs = render_costs(col.runs, col.dense_only)
    assert "| dense + pruning | KD |" in costs and costs.count("dense model (sparsity 0)") == 2
    # the older record has no time: a row that counts it left out (round 46, Left: it was dropped unsaid)
    assert "| sst2 | minilm | — | dense model (sparsity 0) | — | — | — | 0 | 1 |" in costs, costs


def test_a_first_event_that_rounds_to_update_0_is_refused_as_the_stage_is_built():
    """Round 19's note: the config check reads schedule.start as written, so `schedule.start=0.001` (a fraction)
    of a 10-update stage, which rounds to update 0, got through it. The stage as built is checked too
    (sdp/training/loop.py build_stage), at its real length; a magnitude ranking, or an event at update 0 that
    prunes nothing, is taken (controls)."""
    from sdp.pruning.criteria.base import CriterionScheduleError, check_first_event
    from sdp.pruning.criteria.magnitude import Magnitude
    from sdp.pruning.criteria.movement import Movement
    from sdp.pruning.schedules import schedule_from_config
    from sdp.validate import validate_config

    cfg = _cfg(["prune.criterion=movement", "schedule.start=0.001", "schedule.initial_sparsity=0.3"])
    validate_config(cfg)  # the config alone does not tell
    schedule = schedule_from_config(cfg.schedule, cfg.sparsity, 10)
    assert schedule.pruning_steps()[0] == 0
    with pytest.raises(CriterionScheduleError, match=r"first event prunes to 30% at update 0, before any"):
        check_first_event(Movement(), schedule)
    check_first_event(Magnitude(), schedule)
    check_first_event(Movement(), schedule_from_config(_cfg(["schedule.start=0.001"]).schedule, 0.5, 10))
