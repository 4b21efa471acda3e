"""scripts/grid.py, the one grid runner: every grid config (scripts/grids/) composes and gives a plan whose runs
compose as sdp-run configs; the study's and the calibration's plans are the ones the two scripts they replace made
(tests/fixtures/grid_plans.json, written by main's scripts/study.py and scripts/calibrate.py at 239e785); bad
input is one line; the study.py shim gives the plan its old command line gave."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import grid  # noqa: E402
import grid_calibration  # noqa: E402
import study  # noqa: E402

PLANS = json.loads((Path(__file__).parent / "fixtures" / "grid_plans.json").read_text())
EXTRA = {"sweeps": ["dense={root}"]}  # options a grid cannot do without


def _jobs(chains: list[list[tuple]], root: Path) -> list[list]:
    return [[[str(d.relative_to(root)), [o.replace(str(root), "<root>") for o in over], list(req[0]) if req else []]
             for d, over, *req in chain] for chain in chains]


def test_the_study_plan_is_the_one_scripts_study_py_made(tmp_path):
    """Same chains in the same order: same run folders, same overrides, same files kept for later runs."""
    opts = grid.compose_grid("study", [f"root={tmp_path}"])
    assert grid.make_grid(opts).base == ["experiment=study"] and opts.title == "Study" and opts.jobs == 2
    assert _jobs(grid.HOOKS[opts.hook].plan(opts, tmp_path), tmp_path) == PLANS["study"]


def test_the_calibration_phases_are_the_ones_scripts_calibrate_py_ran(tmp_path):
    opts = grid.compose_grid("calibrate", [f"root={tmp_path}"])
    phases = [grid_calibration.dense_jobs(opts, tmp_path), grid_calibration.mp_jobs(opts, tmp_path),
              grid_calibration.setting_jobs(opts, tmp_path, grid_calibration.knee(opts, tmp_path))]
    assert [_jobs([p], tmp_path)[0] for p in phases] == PLANS["calibrate"]
    # --plan says why the settings are missing while MP is unfinished, and not once they are listed (README walk)
    assert "once every MP run is done" in grid_calibration.plan_note(opts, tmp_path)
    done = grid.compose_grid("calibrate", [])
    assert grid_calibration.plan_note(done, REPO / done.root) is None  # the committed calibration: MP all done
    assert len(grid.jobs_of(opts)) == 2 + 4  # the settings wait for the knee: not listed before MP is done


@pytest.mark.parametrize("name", grid.names())
def test_every_grid_composes_and_one_run_of_each_kind_validates_for_sdp_run(name, tmp_path, monkeypatch):
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401  (registers the structured schema)
    from sdp import validate
    from sdp.validate import validate_config

    monkeypatch.setattr(validate, "EXPORT_PACKAGES", ())  # the structured grid's ONNX export: an install, not a config

    opts = grid.compose_grid(name, [f"root={tmp_path}", *(o.format(root=tmp_path) for o in EXTRA.get(name, []))])
    jobs = grid.jobs_of(opts)
    assert jobs and all(d.is_relative_to(tmp_path) for d, *_ in jobs)
    if opts.hook == "calibration":  # its settings are planned once MP has run: here at the last candidate
        jobs += grid_calibration.setting_jobs(opts, tmp_path, opts.candidate_sparsities[-1])
    kinds = {}  # one run of each kind: what differs but the task, seed, sparsity and the paths
    for _, over, *_ in jobs:  # the dense models are not there: each run's own config is what is checked
        over = [o for o in over if not o.startswith(("dense.checkpoint=", "prune.reference_mask="))]
        kinds.setdefault(tuple(o for o in over if not o.startswith(("task=", "seed=", "sparsity="))), over)
    assert len(kinds) == {"calibrate": 2 + 12, "sweeps": 3}.get(name, 4)
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        for over in kinds.values():
            validate_config(compose("config", overrides=[*grid.make_grid(opts).base, *over, "data_dir=null"]))


def test_the_structured_grid_runs_at_the_measured_levels_and_the_old_command_gives_its_plan(tmp_path):
    """results/structured/README.md's command (the shim) and scripts/structured_grid.sh's (the grid) agree."""
    levels = json.loads((REPO / "results" / "structured" / "levels_quiet" / "levels.json").read_text())["levels"]
    opts = grid.compose_grid("structured", [f"root={tmp_path}"])
    assert list(opts.sparsities) == [lv["sparsity"] for lv in levels] and opts.title == "Study (structured_grid)"
    old = grid.compose_grid(*_split(study.translate(["--experiment", "structured_grid", "--root", str(tmp_path),
                                                     "--tasks", "sst2,mrpc", "--sparsities", "0.5,0.66,0.83",
                                                     "--seeds", "1,2,3", "--jobs", "2"])))
    assert grid.jobs_of(old) == grid.jobs_of(opts) and grid.make_grid(old).base == grid.make_grid(opts).base
    assert (old.title, old.jobs) == (opts.title, opts.jobs)


def _split(argv: list[str]) -> tuple[str, list[str]]:
    return argv[0], [a for a in argv[1:] if a != "--plan"]


def test_the_shim_passes_every_old_option_on(tmp_path):
    name, over = _split(study.translate(["--experiment", "study_full", "--root", str(tmp_path), "--tasks", "rte,sst2",
                                         "--add", "sst2:0.95", "--override", "prune.max_steps=2", "--reuse-any-code"]))
    opts = grid.compose_grid(name, over)
    assert (opts.experiment, opts.title, list(opts.add), list(opts.overrides), opts.reuse_any_code) == (
        "study_full", "Study (study_full)", ["sst2:0.95"], ["prune.max_steps=2"], True)
    assert list(opts.seeds) == [1, 2, 3] and list(opts.sparsities) == [0.9, 0.8, 0.7, 0.5]  # study.py's defaults


@pytest.mark.parametrize(("args", "message"), [
    (["nope"], r"'nope' is not a grid; the grids are calibrate, structured, study, study_full, sweeps"),
    (["study", "tasks_typo=[sst2]"], r"grid study: Could not override 'tasks_typo'"),
    (["study", "tasks=[sst2"], r"grid study: 'tasks=\[sst2' is not an override in Hydra's syntax"),
    (["study", "jobs=two"], r"grid study: Value 'two' of type 'str' could not be converted to Integer"),
    (["study", "methods=[kd,mp]"], r"methods=\['kd', 'mp'\] must start with mp"),
    (["study", "add=[qqp:0.95]"], r"add item 'qqp:0.95' names task 'qqp', which is not in tasks="),
    (["study", "add=[sst2]"], r"add item 'sst2' must be TASK:SPARSITY"),
    (["study", "experiment=nope"], r"experiment='nope' is not a preset in conf/experiment/"),
    (["sweeps"], r"dense=<folder> is required"),
])
def test_bad_grid_input_is_one_line_naming_it(args, message):
    with pytest.raises(SystemExit, match=message) as err:
        grid.compose_grid(args[0], args[1:])
    assert "\n" not in str(err.value.code)


def test_plan_lists_runs_and_what_a_launch_does_with_them_and_starts_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(grid.Grid, "_call", lambda *a: pytest.fail("--plan started a run"))
    done = tmp_path / "dense" / "sst2_seed1"
    done.mkdir(parents=True)
    from sdp.run.code import code_identity

    (done / "metrics.json").write_text(json.dumps({"status": "completed", "code": code_identity()}))
    (done / "dense_model").mkdir()
    (done / "dense_model" / "model.safetensors").touch()  # its later runs are unfinished: they read it
    grid.main(["study", f"root={tmp_path}", "tasks=[sst2]", "seeds=[1]", "sparsities=[0.9]", "--plan"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("# Study: 4 runs under") and out[0].endswith(": 1 done, 3 to run")
    assert out[1].split("\t")[:2] == ["dense/sst2_seed1", "done"]
    assert out[2].split("\t")[:2] == ["runs/sst2/mp_s0.9_seed1", "to run"]
    assert not (tmp_path / "PROGRESS.md").exists()


def test_a_mapping_given_on_the_command_line_replaces_the_grids(tmp_path):
    """Round 28 (noticed): `grid.py calibrate 'settings={cc: ["regularizer=cross_correlation"]}'` merged into the file's
    settings, so all twelve ran (about 7 minutes) where one was asked for."""
    opts = grid.compose_grid("calibrate", [f"root={tmp_path}", 'settings={cc: ["regularizer=cross_correlation"]}'])
    assert dict(opts.settings) == {"cc": ["regularizer=cross_correlation"]}
    assert len(grid.compose_grid("calibrate", [f"root={tmp_path}"]).settings) > 1  # the file's, when not given
