"""The review of probe round 39's merge (796efb1): each test fails there and passes after its fix."""

from __future__ import annotations

import json

import pytest
from test_probe_round39 import _run_config


def test_rank_notes_are_left_and_read_only_in_a_folder_the_launch_holds(tmp_path, monkeypatch):
    """A launch refused before the lock (a config error) on two processes left rank 1's note in a folder another run
    held, and that run's failure was then recorded as caused by it; an old note led a later launch's config error."""
    from sdp.sweep import record_failure

    cfg = _run_config(f"output_dir={tmp_path}")
    monkeypatch.setenv("RANK", "1")
    record_failure(tmp_path, cfg, ValueError("sparsity=1.5 must be in [0, 1)"))  # before this launch's lock
    assert not list(tmp_path.glob("rank-*.error"))
    record_failure(tmp_path, cfg, RuntimeError("killer on rank 1"), lock_held=True)  # during its own run: noted
    assert [p.name for p in tmp_path.glob("rank-*.error")] == ["rank-1.error"]
    monkeypatch.setenv("RANK", "0")
    record_failure(tmp_path, cfg, ValueError("sparsity=1.5 must be in [0, 1)"))  # another launch's config error
    assert json.loads((tmp_path / "metrics.json").read_text())["error"] == "ValueError: sparsity=1.5 must be in [0, 1)"


def test_a_failed_runs_cause_on_another_rank_reaches_the_tables(tmp_path):
    """sdp-tables' "Failed runs" showed error.txt's last line, rank 0's gloo error, where metrics.json's error leads
    with rank 1's cause."""
    from sdp.report.collect import load_run

    run = tmp_path / "run"
    run.mkdir()
    said = "rank 1: RuntimeError: killer on rank 1 (then rank 0: RuntimeError: [gloo] Connection closed by peer)"
    (run / "metrics.json").write_text(json.dumps({"status": "failed", "error": said, "task": "rte", "seed": 1}))
    (run / "error.txt").write_text("Traceback ...\nRuntimeError: [gloo] Connection closed by peer\n")
    assert load_run(run / "metrics.json", tmp_path)["error"] == said


def test_another_tools_run_json_is_refused_before_its_files_are_touched(tmp_path):
    """The "not sdp's run.json" refusal came inside the lock, after a dead run's set-aside had moved the other tool's
    model/ and metrics.json into previous-<time>/ (and run.log was appended to); it comes first now."""
    from sdp.run.rundir import RunHoldsDataError
    from sdp.sweep import check_no_users_files

    (tmp_path / "run.json").write_text(json.dumps({"tool": "mlflow-ish", "id": 7}))
    (tmp_path / "model").mkdir()
    (tmp_path / "metrics.json").write_text(json.dumps({"accuracy": 0.9}))
    with pytest.raises(RunHoldsDataError, match=r"holds a run\.json that is not sdp's"):
        check_no_users_files(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "model", "run.json"]


def test_a_metrics_json_holding_a_list_is_no_record(tmp_path):
    """`[0.91, 0.88]` as metrics.json was an AttributeError traceback ('list' object has no attribute 'get')."""
    from sdp.run.rundir import read_metrics

    (tmp_path / "metrics.json").write_text("[0.91, 0.88]")
    assert read_metrics(tmp_path) is None


def test_a_glue_score_written_with_an_underscore_is_refused(tmp_path):
    """A glue/STS-B score `0_5` was read as 5.0 (Python's digit grouping), unsaid, as a custom target was (rh)."""
    from omegaconf import OmegaConf

    from sdp.crosslingual import resolve_task
    from sdp.data.glue_local import read_glue_split
    from sdp.data.tasks import DataError

    folder = tmp_path / "glue" / "STS-B"
    folder.mkdir(parents=True)
    head = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
    rows = [f"{i}\tmain\tx\t2012\t{i}\ts\ts\tone {i}\ttwo {i}\t{score}" for i, score in enumerate(("1.5", "0_5"))]
    (folder / "train.tsv").write_text("\n".join([head, *rows]) + "\n")
    task = resolve_task(OmegaConf.create({"name": "stsb"}))
    with pytest.raises(DataError, match=r"cannot parse score '0_5' .*\(digits are not grouped with '_'\)"):
        read_glue_split(task, tmp_path, "train")
    from sdp.data.spec import grouping_hint

    assert [bool(grouping_hint(v)) for v in ("4_2", "-1_000.5", "n_an", "1_e5", "N_A", 42)] == [True, True] + [False] * 4


def test_a_jobs_note_says_what_this_job_recorded(tmp_path, monkeypatch):
    """The review of the merge's fix: a sweep's job note read the folder's metrics.json, which may hold an older
    launch's failure (a config error before the lock records nothing in a folder of a run's record); it says what this
    job's record_failure said: its own error, led by another rank's cause where one stopped first."""
    import types

    import hydra.core.hydra_config

    from sdp.sweep import record_failure
    from sdp.sweep_outcome import JOBS_DIR, note_job, notes_dir

    run = tmp_path / "job0"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"config": {"seed": 1}}))
    (run / "metrics.json").write_text(json.dumps({"status": "failed", "error": "RuntimeError: last week's launch"}))
    sweep = tmp_path / "sweep"
    monkeypatch.setattr(hydra.core.hydra_config.HydraConfig, "get", staticmethod(lambda: types.SimpleNamespace(
        job=types.SimpleNamespace(num=0), sweep=types.SimpleNamespace(dir=str(sweep)))))
    cfg = _run_config(f"output_dir={run}")
    exc = ValueError("sparsity=1.5 must be in [0, 1)")
    note_job("failed", run, exc, record_failure(run, cfg, exc))
    note = json.loads((notes_dir(str(sweep)) / JOBS_DIR / "0.json").read_text())
    assert note["error"] == "ValueError: sparsity=1.5 must be in [0, 1)", note
    (run / "rank-1.error").write_text("RuntimeError: killer on rank 1\n")  # a note of this launch's rank 1
    peer = RuntimeError("[gloo] Connection closed by peer")
    note_job("failed", run, peer, record_failure(run, cfg, peer, lock_held=True))
    note = json.loads((notes_dir(str(sweep)) / JOBS_DIR / "0.json").read_text())
    assert note["error"].startswith("rank 1: RuntimeError: killer on rank 1 (then rank 0: RuntimeError: [gloo]"), note


def test_run_job_notes_a_failed_job_as_it_recorded_it(tmp_path, monkeypatch):
    """The wiring in sdp/sweep.py run_job: a failure under the lock with rank 1's note is noted as recorded, led by
    rank 1's cause; a config error before the lock, in a folder of an older launch's failed record, as its own."""
    import types

    import hydra.core.hydra_config

    import sdp.sweep
    from sdp.sweep_outcome import JOBS_DIR, notes_dir

    sweep = tmp_path / "sweep"
    monkeypatch.setattr(hydra.core.hydra_config.HydraConfig, "get", staticmethod(lambda: types.SimpleNamespace(
        job=types.SimpleNamespace(num=0), sweep=types.SimpleNamespace(dir=str(sweep)))))
    monkeypatch.setattr(sdp.sweep, "in_multirun", lambda: True)
    monkeypatch.setattr(sdp.sweep, "check_unchanged", lambda: None)
    monkeypatch.setattr(sdp.sweep, "drop_hydras_empty_folder", lambda *args: None)

    def stopped(cfg, run_dir):
        (run_dir / "rank-1.error").write_text("RuntimeError: killer on rank 1\n")
        raise RuntimeError("[gloo] Connection closed by peer")

    monkeypatch.setattr(sdp.sweep, "_run_locked", stopped)
    assert sdp.sweep.run_job(_run_config(f"output_dir={tmp_path / 'inner'}")) is None
    note = json.loads((notes_dir(str(sweep)) / JOBS_DIR / "0.json").read_text())["error"]
    assert note.startswith("rank 1: RuntimeError: killer on rank 1 (then rank 0: RuntimeError: [gloo]"), note
    run = tmp_path / "outer"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"config": {"seed": 1}}))
    (run / "metrics.json").write_text(json.dumps({"status": "failed", "error": "RuntimeError: last week's launch"}))
    assert sdp.sweep.run_job(_run_config(f"output_dir={run}", "sparsity=1.5")) is None
    note = json.loads((notes_dir(str(sweep)) / JOBS_DIR / "0.json").read_text())["error"]
    assert "sparsity=1.5" in note and "last week" not in note, note
