"""Probe round 43's findings left open at its merge (docs/probe_round43.md): another tool's records shaped as sdp's
(a5, a7, a8, b2, b6), a user's hidden files (a6) and another Hydra app's run.json (a4, a4e, a4r; round 42's oth4)."""
from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from sdp.errors import ConfigError
from sdp.eval_output import check_out_dir
from sdp.run.nesting import is_run_folder, run_folder_above
from sdp.run.rundir import RunHoldsDataError
from sdp.run.users_files import check_no_users_files

OTHERS = {  # another tool's metrics.json with the keys sdp's records of that status hold
    "a5": {"status": "failed", "error": "CUDA out of memory", "error_type": "OutOfMemoryError", "job": "trainer-7"},
    "a8": {"status": "interrupted", "error": "preempted by the scheduler", "step": 1200},
    "a7": {"status": "completed", "config_hash": "9f1c2e", "accuracy": 0.91, "epoch": 3},
}


@pytest.mark.parametrize("case", sorted(OTHERS))
def test_another_tools_record_shaped_as_sdps_is_not_a_dead_run(tmp_path, case):
    """a5, a7, a8: the record and the user's data.csv were moved aside as a dead run's (a5, a8), or refused as "a
    completed run of another config" with resume=false advised, which would move them (a7)."""
    (tmp_path / "data.csv").write_text("text,label\n")
    (tmp_path / "metrics.json").write_text(json.dumps(OTHERS[case]))
    with pytest.raises(RunHoldsDataError, match=r"holds a metrics.json that is not sdp's"):
        check_no_users_files(tmp_path)
    with pytest.raises(ConfigError, match=r"holds another tool's \(no record of sdp's\) metrics.json"):  # b2
        check_out_dir(tmp_path)


def test_sdps_own_failure_record_is_still_sdps(tmp_path):
    """The other side of a5: a launch that failed before its run started records its failure (under the folder's
    lock), and the next launch takes that folder as sdp's, not as another tool's."""
    from sdp.run.failure import record_failure

    cfg = OmegaConf.create({"task": {"name": "rte"}, "model": {"name": "tiny-bert"}, "seed": 1, "sparsity": 0.5})
    record_failure(tmp_path / "run", cfg, ValueError("a config error"))
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "failed"
    check_no_users_files(tmp_path / "run")  # no error


def test_another_tools_eval_record_is_not_named_sdp_evals(tmp_path):
    """b6: `{"kind": "eval", ...}` of another tool was named "the evaluation record of model_dir=None on task None"."""
    (tmp_path / "metrics.json").write_text(json.dumps({"kind": "eval", "status": "completed", "accuracy": 0.91,
                                                       "tool": "lm-eval"}))
    with pytest.raises(ConfigError, match=r"holds another tool's \(no record of sdp's\) metrics.json"):
        check_out_dir(tmp_path, tmp_path / "model", "sst2")


def test_a_users_hidden_files_are_theirs(tmp_path):
    """a6: `.git/` and `.env` were left out as "a stray .DS_Store", and resume=false moved them aside as the
    previous run's files. A file browser's leavings still count as no one's."""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n")
    (tmp_path / ".env").write_text("TOKEN=secret\n")
    with pytest.raises(RunHoldsDataError, match=r"holds 2 file\(s\) of no sdp run \(\.env, \.git\)"):
        check_no_users_files(tmp_path)
    junk = tmp_path / "junk"
    junk.mkdir()
    for name in (".DS_Store", "._data.csv", ".ipynb_checkpoints"):
        (junk / name).write_text("")
    check_no_users_files(junk)  # no error


def test_another_hydra_apps_run_json_is_not_a_run_folder(tmp_path):
    """a4, a4e, a4r (round 42's oth4): a run.json whose config holds a task and a model was sdp's run record: the
    folder was "an unfinished run of another config" (resume=false advised, moving the user's files), and sdp-eval
    and sdp-run were refused inside it as inside a training run. sdp's run.json holds the config_hash with it."""
    other = {"config": {"task": {"name": "sst2"}, "model": {"name": "bert-base-uncased"}, "lr": 2e-5},
             "state": "finished", "id": "hydra-app-1"}
    (tmp_path / "data.csv").write_text("text,label\n")
    (tmp_path / "run.json").write_text(json.dumps(other))
    assert not is_run_folder(tmp_path)
    with pytest.raises(RunHoldsDataError, match=r"holds a run.json that is not sdp's"):
        check_no_users_files(tmp_path)
    assert run_folder_above(tmp_path / "evals", itself=False) is None  # a4e, a4r
    (tmp_path / "run.json").write_text(json.dumps({**other, "config_hash": "0a1b2c"}))
    assert is_run_folder(tmp_path)


def test_a_decimal_comma_is_named():
    """Round 43, noticed: `1,08` was refused as "not a finite number" with no word of its comma (`1_0` had a hint)."""
    from sdp.data.spec import grouping_hint

    assert grouping_hint("1,08") == " (the decimal mark is '.', not ',')"
    assert grouping_hint(" -3,5 ") == " (the decimal mark is '.', not ',')"
    assert grouping_hint("1,2,3") == "" and grouping_hint("a,b") == ""
    assert grouping_hint("1,000") == (" (digits are not grouped with ',', and the decimal mark is '.': write the number "
                                      "as meant, e.g. 1000 or 1.000)")  # review: a thousand to some
    assert grouping_hint("1,000,000") == " (digits are not grouped with ',')"
    assert grouping_hint("4_2") == " (digits are not grouped with '_')"


def test_a_dense_checkpoint_of_outputs_that_are_not_finite_is_named_by_its_path():
    """Round 43, noticed: a dense.checkpoint whose outputs are NaN was named "the model (dense evaluation)" in the
    run's record, not by the path the user gave (sdp/recipe.py passes it as ``loaded``)."""
    import numpy as np

    from sdp.errors import NonFiniteOutputError
    from sdp.metrics import compute_metrics_noting

    outputs = {"validation": (np.array([[np.nan, 1.0], [0.5, 0.2]]), np.array([0, 1]))}
    with pytest.raises(NonFiniteOutputError, match=r"^the model \(dense.checkpoint '/m/ft'\) \(dense evaluation\) gives "
                                                   r"outputs that are not finite \(NaN or inf\) for 1 of 2 rows"):
        compute_metrics_noting(None, outputs, None, [], label="dense", loaded="dense.checkpoint '/m/ft'")


@pytest.mark.parametrize("files", [
    # a record older than run.json, beside sdp's run.log (results/study/calibration), copied without the lock
    {"metrics.json": '{"status": "completed", "config_hash": "abc"}',
     "run.log": "2026-11-20 10:00:00,000 INFO task=rte\n"},
    # a launch's failure before its run started, copied without the lock (`cp -r c1/* c2/`)
    {"metrics.json": '{"status": "failed", "error": "x", "error_type": "ConfigError", "before_run": true}'},
    # sdp's own passing file: another rank's write probe (its atomic writes come after its lock: round 45, u1)
    {".write-probe.x1y2z3": ""},
    # Hydra's .hydra/ written before sdp runs (hydra.output_subdir=.hydra, output_dir unset)
    {".hydra/config.yaml": "", ".hydra/hydra.yaml": "", ".hydra/overrides.yaml": ""},
])
def test_sdps_own_folders_without_the_lock_are_still_sdps(tmp_path, files):
    """Review of round 43's fixes: records of sdp without run.json or lock beside them (16 committed results folders;
    a folder copied without hidden files) were "another tool's"; another rank's `.write-probe.*` refused a fresh
    two-process launch (18 of 150); hydra.output_subdir=.hydra refused every fresh run."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    check_no_users_files(tmp_path)  # no error
    if "metrics.json" in files:
        with pytest.raises(ConfigError, match=r"holds a training run's metrics.json"):
            check_out_dir(tmp_path)


def test_another_apps_hydra_folder_is_theirs(tmp_path):
    """The other side: a .hydra/ holding more than Hydra's three files is the user's."""
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "notes.txt").write_text("mine")
    with pytest.raises(RunHoldsDataError, match=r"holds 1 file\(s\) of no sdp run \(\.hydra\)"):
        check_no_users_files(tmp_path)


def test_another_tools_completed_record_beside_a_model_is_not_its_run(tmp_path):
    """Review of round 43's fixes: sdp-eval of ot/model beside another tool's `{"status": "completed", "config_hash":
    ..., "method": "MP", "seed": 7}` recorded the model as that run's (method MP, seed 7, sparsity 0.9), no word."""
    from sdp.saved_model import source_run

    (tmp_path / "model").mkdir()
    record = {"status": "completed", "config_hash": "9f1c2e", "seed": 7, "method": "MP", "target_sparsity": 0.9}
    (tmp_path / "metrics.json").write_text(json.dumps(record))
    assert source_run(tmp_path / "model") == {}
    (tmp_path / "run.json").write_text(json.dumps({"config": {"seed": 7}, "config_hash": "9f1c2e"}))  # sdp's run
    assert source_run(tmp_path / "model") == record


@pytest.mark.parametrize("log", ["", "2026-12-07 19:00:00,000 INFO step 1\n"])
def test_another_tools_failure_beside_a_run_log_is_not_sdps(tmp_path, log):
    """Review of 1631167: another tool's `{"status": "failed", ...}` beside an empty run.log (or one in Python's
    common log format) was sdp's, and the user's data.csv moved aside. A run.log vouches only for a completed record
    (records older than run.json), and only once it has begun."""
    (tmp_path / "data.csv").write_text("text,label\n")
    (tmp_path / "run.log").write_text(log)
    (tmp_path / "metrics.json").write_text(json.dumps({"status": "failed", "error": "boom", "error_type": "ValueError",
                                                       "job": 3}))
    with pytest.raises(RunHoldsDataError, match=r"holds a metrics.json that is not sdp's"):
        check_no_users_files(tmp_path)
