"""Issue 15: a run folder belongs to one run, on one dataset, and says why it failed.

Each test is one row of the "Run-integrity case" table (docs/errors.md) (ROWS maps the row to its test). Runs
are the seconds-long tiny-bert smoke runs of tests/scale/test_bad_inputs.py, in process.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401  (registers the schema)
from sdp.run.lock import LOCK_NAME, RunLockedError, run_lock
from sdp.sweep import run_job

REPO_ROOT = Path(__file__).resolve().parents[2]
SMOKE = ["debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=2", "prune.max_steps=2",
         "max_train_samples=16", "max_eval_samples=8", "prune.teacher_cache=off"]

ROWS = {
    "second run into a folder in use": "test_second_run_into_locked_folder_is_refused",
    "second sdp-run process into a folder in use": "test_second_process_into_a_running_folder_is_refused",
    "config error into a folder in use": "test_config_error_into_a_folder_in_use_writes_nothing_there",
    "config error into an unfinished run's folder": "test_config_error_into_an_unfinished_run_keeps_its_record",
    "re-run of a completed run with a twin elsewhere": "test_a_folders_own_completed_run_is_returned_first",
    "completed run on another number of processes": "test_a_completed_run_stands_only_for_as_many_processes",
    "stale lock of a dead run": "test_stale_lock_is_taken_over",
    "resume=false on an old run": "test_resume_false_moves_the_old_run_aside",
    "skip or resume on changed data": "test_changed_data_is_refused_naming_the_split",
    "resume with another config": "test_refused_resume_lists_keys_and_keeps_the_folder",
    "re-run of a completed run with another config": "test_completed_run_of_another_config_lists_keys",
    "files under umask 022": "test_files_honour_the_umask",
    "read-only SDP_CACHE_DIR": "test_unwritable_cache_is_a_warning",
    "runs tokenizing the same data at once": "test_runs_tokenizing_the_same_data_at_once_share_one_cache",
    "config error on the command line": "test_config_error_is_one_line_exit_2_without_torch",
    "sdp-tables results_dir missing or a file": "test_tables_results_dir_missing_or_file",
    "sdp-tables out_dir or baselines wrong": "test_tables_out_dir_or_baselines_wrong",
    "corrupt latest checkpoint": "test_corrupt_checkpoint_falls_back_then_names_the_file",
    "corrupt pruning-stage checkpoints": "test_corrupt_prune_checkpoints_restart_from_dense_model",
    "signal during evaluation": "test_signal_during_evaluation_leaves_a_resumable_run",
    "signal during the teacher prefill or saving": "test_signal_during_prefill_or_saving_leaves_a_resumable_run",
    "failure during a run": "test_a_failure_during_the_run_is_recorded_before_the_lock_is_released",
    "one exception object raised in two jobs": "test_each_job_records_its_failure_even_when_a_library_raises_one_exception_twice",
    "bad config through the library entry point": "test_run_validates_before_looking_at_the_folder",
    "tokenizer changed in place": "test_the_cache_key_follows_the_tokenizers_content",
    "sdp-tables through a symlinked folder or over a FIFO": "test_tables_follow_symlinks_and_skip_special_files",
    "relaunch where the run left nothing to resume from": "test_a_dead_runs_leftovers_are_set_aside",
    "trace cut short": "test_a_trace_cut_short_is_repaired_to_its_last_complete_line",
    "output_root a file, .sdp.lock a folder, out_dir read-only": "test_filesystem_errors_are_one_line_naming_the_path",
}


def _small_rte(root: Path, data_dir: Path, flip: bool = False) -> Path:
    dst = root / "glue" / "RTE"
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("train.tsv", "dev.tsv"):
        lines = (data_dir / "glue" / "RTE" / name).read_text(encoding="utf-8").split("\n")[:40]
        if flip and name == "train.tsv":  # the same rows with the labels swapped
            swap = {"entailment": "not_entailment", "not_entailment": "entailment"}
            lines = [lines[0]] + ["\t".join([*ln.split("\t")[:-1], swap.get(ln.split("\t")[-1], "")])
                                  for ln in lines[1:] if ln]
        (dst / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=[*SMOKE, *overrides])


@pytest.fixture
def data(tmp_path, data_dir) -> Path:
    return _small_rte(tmp_path / "data", data_dir)


def _run(tmp_path: Path, data: Path, run_dir: Path, *extra: str) -> dict:
    return run_job(_cfg(f"data_dir={data}", f"output_dir={run_dir}", f"cache_dir={tmp_path / 'cache'}", *extra))


def test_second_run_into_locked_folder_is_refused(tmp_path, data):
    run_dir = tmp_path / "run"
    first = _run(tmp_path, data, run_dir)
    before = (run_dir / "metrics.json").read_bytes()
    with run_lock(run_dir):  # a live run holds the folder
        with pytest.raises(RunLockedError, match=rf"in use by another run: PID {os.getpid()} on host"):
            _run(tmp_path, data, run_dir, "sparsity=0.3", "resume=false")
    assert (run_dir / "metrics.json").read_bytes() == before  # the first run's result is intact
    assert first["status"] == "completed" and not list(run_dir.glob("previous-*"))


def test_config_error_into_a_folder_in_use_writes_nothing_there(tmp_path, data):
    """A config error is found before the job takes the folder's lock: a live run (no metrics.json yet) that
    holds the folder must not get this job's error.txt or a failed metrics.json."""
    live = tmp_path / "live"
    live.mkdir()
    with run_lock(live):
        with pytest.raises(Exception, match=r"sparsity=1.5 must be in \[0, 1\)"):
            _run(tmp_path, data, live, "sparsity=1.5")
    assert sorted(p.name for p in live.iterdir()) == [LOCK_NAME]


def _files(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run folder but run.log (a refused job still logs why), by relative path."""
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and p.name not in ("run.log", LOCK_NAME)}


def test_config_error_into_an_unfinished_run_keeps_its_record(tmp_path, data):
    """A config error is not the failure of the run already in the folder: its interrupted metrics.json (it
    resumes from there) is not replaced by a failed one, and no error.txt is added."""
    run_dir = tmp_path / "run"
    _run(tmp_path, data, run_dir)
    record = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps({**record, "status": "interrupted"}))
    # with a checkpoint to resume from (the completed run's were cleaned up); without one, the dead run's files
    # would be set aside and the run start over (test_a_dead_runs_leftovers_are_set_aside)
    (run_dir / "checkpoints" / "dense-0000001").mkdir(parents=True)
    (run_dir / "checkpoints" / "dense-0000001" / "state.json").write_text("{}")
    before = _files(run_dir)
    with pytest.raises(Exception, match=r"sparsity=1.5 must be in \[0, 1\)"):
        _run(tmp_path, data, run_dir, "sparsity=1.5")
    assert _files(run_dir) == before


def test_a_folders_own_completed_run_is_returned_first(tmp_path, data):
    """The same config completed in two folders: a re-run into the second returns the second's own metrics
    and writes nothing there (it used to return the first's and add a skipped.json pointing at it)."""
    first, second = tmp_path / "runs" / "a", tmp_path / "runs" / "b"
    _run(tmp_path, data, first, f"output_root={tmp_path / 'runs'}")
    own = _run(tmp_path, data, second, f"output_root={tmp_path / 'runs'}", "resume=false")
    before = _files(second)
    again = _run(tmp_path, data, second, f"output_root={tmp_path / 'runs'}")
    assert again == own and _files(second) == before


def test_a_completed_run_stands_only_for_as_many_processes(tmp_path, data, monkeypatch):
    """train.batch_size is per process: a 1-process result is not skipped to for a 2-process launch (config_hash
    cannot see the process count), and a 2-process re-run into its folder is refused."""
    import sdp.run.rundir as rundir
    from sdp.run.launch import apply_launcher_settings
    from sdp.sweep import find_completed

    root = tmp_path / "runs"
    run_dir = root / "a"
    _run(tmp_path, data, run_dir, f"output_root={root}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["distributed"]["world_size"] == 1
    assert find_completed(root, metrics["config_hash"], metrics["seed"]) == run_dir
    monkeypatch.setattr(rundir, "launcher_world_size", lambda env=None: 2)
    assert find_completed(root, metrics["config_hash"], metrics["seed"]) is None
    cfg = _cfg(f"data_dir={data}", f"output_dir={run_dir}", f"cache_dir={tmp_path / 'cache'}", f"output_root={root}")
    apply_launcher_settings(cfg)  # as run_job does first: mixed_precision inherit -> no
    with pytest.raises(rundir.ResumeRefusedError, match=r"completed run of this config on 1 process\(es\); this "
                                                        r"launch has 2: the global batch"):
        rundir.completed_metrics(run_dir, cfg)


def test_a_failure_during_the_run_is_recorded_before_the_lock_is_released(tmp_path, data, monkeypatch):
    """The folder's lock is taken once for the whole job, failure record included: released and taken again,
    another job could take the folder in between, and the failure would be lost (or written into its run)."""
    import sdp.run.failure
    import sdp.sweep

    taken, real = [], sdp.sweep.run_lock

    def counting_lock(*args, **kwargs):
        taken.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(sdp.sweep, "run_lock", counting_lock)
    monkeypatch.setattr(sdp.run.failure, "run_lock", counting_lock)  # the failure record's (sdp/run/failure.py)
    run_dir = tmp_path / "run"
    with pytest.raises(FloatingPointError, match="non-finite loss"):
        _run(tmp_path, data, run_dir, "dense.lr=1e30", "dense.max_steps=6")
    assert taken == [run_dir]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "non-finite loss" in metrics["error"]
    assert "non-finite loss" in (run_dir / "error.txt").read_text()


def test_each_job_records_its_failure_even_when_a_library_raises_one_exception_twice(tmp_path, monkeypatch):
    """Which failure was recorded under the lock is the job's own note, not a mark on the exception object: a
    library that re-raises one cached exception in two jobs gets both recorded."""
    import sdp.sweep

    cached = RuntimeError("a library's cached error")

    def fail(cfg, run_dir):
        raise cached

    monkeypatch.setattr(sdp.sweep, "_run_locked", fail)
    for name in ("first", "second"):
        with pytest.raises(RuntimeError, match="cached error"):
            run_job(_cfg(f"output_dir={tmp_path / name}"))
        assert "cached error" in (tmp_path / name / "error.txt").read_text()


def test_run_validates_before_looking_at_the_folder(tmp_path):
    """sdp.recipe.run, the library entry point, checks the config first as the command line does: a bad value
    is a ConfigError even in a folder that holds another config's completed run."""
    from sdp.recipe import run
    from sdp.validate import ConfigError

    (tmp_path / "metrics.json").write_text(json.dumps({"status": "completed", "config_hash": "other", "seed": 1}))
    with pytest.raises(ConfigError, match=r"sparsity=1.5 must be in \[0, 1\)"):
        run(_cfg("sparsity=1.5"), tmp_path)


def test_second_process_into_a_running_folder_is_refused(tmp_path, data):
    """Two real ``python -m cli.run`` processes into one folder. The first is paused (SIGSTOP) once it holds the
    lock, so the second always meets a live run however slow this machine is; the first then completes."""
    import signal
    import time

    from sdp.run.lock import read_holder

    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    args = [sys.executable, "-m", "cli.run", *SMOKE, f"data_dir={data}", f"hydra.run.dir={run_dir}",
            f"cache_dir={tmp_path / 'cache'}"]
    with open(tmp_path / "first.out", "w") as out:
        first = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300  # a hang guard, not a timing
        while (read_holder(run_dir) or {}).get("pid") != first.pid:
            assert first.poll() is None, (tmp_path / "first.out").read_text()
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGSTOP)  # it holds the lock (torch is imported after it): keep it there
        second = subprocess.run([*args, "sparsity=0.3"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                timeout=300)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.returncode == 2, second.stdout + second.stderr
    lines = [ln for ln in second.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("sdp-run: error: RunLockedError: "), second.stderr
    assert f"is in use by another run: PID {first.pid} on host" in lines[0]
    assert first.wait(timeout=600) == 0, (tmp_path / "first.out").read_text()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["target_sparsity"] == 0.5  # the first run's, intact
    assert (tmp_path / "first.out").read_text().count("RESULT") == 1 and (run_dir / "model").is_dir()


def test_stale_lock_is_taken_over(tmp_path, data):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run_dir / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename,
                                                 "started": 0}))
    assert _run(tmp_path, data, run_dir)["status"] == "completed"


def test_resume_false_moves_the_old_run_aside(tmp_path, data):
    run_dir = tmp_path / "run"
    _run(tmp_path, data, run_dir)
    old_trace = (run_dir / "trace.jsonl").read_text()
    _run(tmp_path, data, run_dir, "sparsity=0.3", "regularizer=none", "resume=false")
    (previous,) = run_dir.glob("previous-*")
    assert (previous / "trace.jsonl").read_text() == old_trace
    assert json.loads((previous / "metrics.json").read_text())["target_sparsity"] == 0.5
    new = [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]
    prunes = [r for r in new if r.get("event") == "prune"]
    assert prunes and all(r["target_sparsity"] <= 0.3 + 1e-9 for r in prunes if "target_sparsity" in r)
    assert len(new) < 2 * len(old_trace.splitlines())  # not appended to the old trace
    assert json.loads((run_dir / "metrics.json").read_text())["target_sparsity"] == 0.3
    # The new run's log is the folder's run.log; the old one moved aside untouched by the new run.
    assert "sparsity=0.3" in (run_dir / "run.log").read_text()
    assert "sparsity=0.3" not in (previous / "run.log").read_text()


def test_resume_false_refused_by_the_launcher_keeps_the_completed_run(tmp_path, data, monkeypatch):
    """A launch error (here a conflicting accumulation from the environment) is found before resume=false moves
    the folder's completed run aside: the run and its record stay where they were."""
    run_dir = tmp_path / "run"
    _run(tmp_path, data, run_dir)
    before = (run_dir / "metrics.json").read_bytes()
    monkeypatch.setenv("ACCELERATE_GRADIENT_ACCUMULATION_STEPS", "4")
    with pytest.raises(Exception, match="ACCELERATE_GRADIENT_ACCUMULATION_STEPS=4"):
        _run(tmp_path, data, run_dir, "resume=false")
    assert (run_dir / "metrics.json").read_bytes() == before and not list(run_dir.glob("previous-*"))


def test_resume_false_into_a_fresh_folder_moves_nothing(tmp_path, data):
    run_dir = tmp_path / "fresh"
    assert _run(tmp_path, data, run_dir, "resume=false")["status"] == "completed"
    assert not list(run_dir.glob("previous-*")) and "sparsity=0.5" in (run_dir / "run.log").read_text()


def test_changed_data_is_refused_naming_the_split(tmp_path, data, data_dir):
    from sdp.data.fingerprint import DataChangedError

    run_dir = tmp_path / "run"
    metrics = _run(tmp_path, data, run_dir)
    assert set(metrics["data_fingerprint"]) == {"train", "validation"}
    flipped = _small_rte(tmp_path / "flipped", data_dir, flip=True)
    other = tmp_path / "other"
    with pytest.raises(DataChangedError, match=r"split train \("):  # skip-done from another folder
        run_job(_cfg(f"data_dir={flipped}", f"output_dir={other}", f"output_root={tmp_path}",
                     f"cache_dir={tmp_path / 'cache'}"))
    before = _files(run_dir)
    with pytest.raises(DataChangedError, match=r"split train \("):  # the completed run in this folder
        _run(tmp_path, flipped, run_dir)
    assert _files(run_dir) == before  # a refusal: run.json and .hydra/config.yaml used to take the new data_dir
    # An unfinished run (killed after the data was recorded) on other data: refused too, and not recorded as
    # a failure over the run that is to resume.
    record = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps({**record, "status": "interrupted"}))
    # with a checkpoint to resume from (the completed run's were cleaned up); without one, the dead run's files
    # would be set aside and the run start over (test_a_dead_runs_leftovers_are_set_aside)
    (run_dir / "checkpoints" / "dense-0000001").mkdir(parents=True)
    (run_dir / "checkpoints" / "dense-0000001" / "state.json").write_text("{}")
    before = _files(run_dir)
    with pytest.raises(DataChangedError, match=r"unfinished run .* split train \("):
        _run(tmp_path, flipped, run_dir)
    assert _files(run_dir) == before


def test_refused_resume_lists_keys_and_keeps_the_folder(tmp_path, data):
    from sdp.run.rundir import ResumeRefusedError

    run_dir = tmp_path / "run"
    _run(tmp_path, data, run_dir)
    (run_dir / "metrics.json").write_text(json.dumps({"status": "interrupted"}))  # half-finished
    hydra_before = (run_dir / ".hydra" / "config.yaml").read_bytes()
    with pytest.raises(ResumeRefusedError, match=r"Differing keys: sparsity: 0\.5 -> 0\.7"):
        _run(tmp_path, data, run_dir, "sparsity=0.7")
    assert (run_dir / ".hydra" / "config.yaml").read_bytes() == hydra_before
    assert json.loads((run_dir / "metrics.json").read_text()) == {"status": "interrupted"}
    assert not (run_dir / "error.txt").exists()


def test_completed_run_of_another_config_lists_keys(tmp_path, data):
    """The refusal names the keys that differ (a dense.checkpoint under another checkout is such a key, a path
    in the identity), and the completed run's record is left as it was: run.json and .hydra/config.yaml used
    to be rewritten with the refused config before the refusal."""
    from sdp.run.rundir import RunDirError

    run_dir = tmp_path / "run"
    _run(tmp_path, data, run_dir)
    before = {name: (run_dir / name).read_bytes() for name in ("metrics.json", "run.json", ".hydra/config.yaml")}
    with pytest.raises(RunDirError, match=r"holds a completed run of another config .*Differing keys: "
                                          r"sparsity: 0\.5 -> 0\.7\. Choose another output_dir"):
        _run(tmp_path, data, run_dir, "sparsity=0.7")
    assert {name: (run_dir / name).read_bytes() for name in before} == before
    assert not (run_dir / "error.txt").exists()


def test_files_honour_the_umask(tmp_path, data):
    old = os.umask(0o022)
    try:
        run_dir = tmp_path / "run"
        _run(tmp_path, data, run_dir)
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    for name in ("metrics.json", "sparsity.json", "run.json", "model/model.safetensors", "model/config.json"):
        assert mode(run_dir / name) == 0o644, name
    assert mode(run_dir / "model") == 0o755
    caches = [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    assert caches and all(mode(p) == 0o755 for p in caches)


def test_unwritable_cache_is_a_warning(tmp_path, data, caplog):
    if os.geteuid() == 0:
        cache = "/sys/sdp-cache"  # root ignores permission bits: a read-only file system instead
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        cache = str(tmp_path / "ro" / "cache")
    metrics = run_job(_cfg(f"data_dir={data}", f"output_dir={tmp_path / 'run'}", f"cache_dir={cache}"))
    assert metrics["status"] == "completed"
    assert "going on without the cache" in caplog.text


def test_config_error_is_one_line_exit_2_without_torch(tmp_path):
    """The error comes before torch is imported (no timing here: scripts/config_error_speed.sh times it)."""
    code = ("import sys, cli.run as r\nsys.argv = ['sdp-run', 'sparsity=1.5', 'model=tiny-bert', "
            f"'output_dir={tmp_path / 'run'}']\ntry:\n    r.main()\nexcept SystemExit as e:\n"
            "    print('torch_loaded', 'torch' in sys.modules, 'exit', e.code)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert "torch_loaded False exit 2" in proc.stdout, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == ["sdp-run: error: ConfigError: sparsity=1.5 must be in [0, 1)"], proc.stderr
    # The error is recorded in the folder, as a launch that never started: sdp-tables counts no failed run.
    from sdp.report.collect import collect_runs

    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["before_run"] is True
    coll = collect_runs(tmp_path)
    assert coll.failed.empty and coll.n_launch_errors == 1


def test_tables_results_dir_missing_or_file(tmp_path, capsys):
    from cli.tables import main

    assert main([f"results_dir={tmp_path / 'nope'}"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main([f"results_dir={tmp_path / 'file'}"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


def test_tables_out_dir_or_baselines_wrong(tmp_path, capsys):
    from cli.tables import main

    results = tmp_path / "results"
    (results / "runs").mkdir(parents=True)
    (tmp_path / "afile").write_text("x")
    for arg, fragment in ((f"out_dir={tmp_path / 'afile'}", "is a file, not a folder"),
                          (f"baselines={tmp_path / 'typo.csv'}", "does not exist; give the CSV of published rows"),
                          (f"baselines={tmp_path}", "is a folder, not a file")):
        assert main([f"results_dir={results}", arg, "plots=false"]) == 2, arg
        err = capsys.readouterr().err
        assert err.startswith("sdp-tables: error: ") and fragment in err and len(err.splitlines()) == 1, err
    assert sorted(p.name for p in results.rglob("*")) == ["runs"] and (tmp_path / "afile").read_text() == "x"


def _checkpoint(root: Path, name: str, payload: bytes) -> Path:
    from sdp.training.state_io import file_manifest

    d = root / name
    d.mkdir(parents=True)
    (d / "model.safetensors").write_bytes(payload)
    (d / "state.json").write_text(json.dumps({"format": 1, "step": int(name.split("-")[1]),
                                              "files": file_manifest(d)}))
    return d


def test_corrupt_checkpoint_falls_back_then_names_the_file(tmp_path, caplog):
    from sdp.training.checkpoint import load_newest_verified, prune_checkpoints
    from sdp.training.state_io import CheckpointError

    root = tmp_path / "checkpoints"
    for step in (1, 2, 3):
        _checkpoint(root, f"prune-{step:07d}", bytes([step]) * 64)
    prune_checkpoints(root, keep="prune-0000003")
    assert sorted(p.name for p in root.iterdir()) == ["prune-0000002", "prune-0000003"]  # the last two
    (root / "prune-0000003" / "model.safetensors").write_bytes(b"\x03" * 10)  # truncated
    path, state = load_newest_verified(root)
    assert path.name == "prune-0000002" and state["step"] == 2
    assert "prune-0000003/model.safetensors' has 10 bytes, 64 were written" in caplog.text
    (root / "prune-0000002" / "state.json").write_text('{"format": 1, "st')  # truncated JSON
    with pytest.raises(CheckpointError, match=r"model.safetensors' has 10 bytes.*resume=false starts the run over"):
        load_newest_verified(root)


def test_corrupt_prune_checkpoints_restart_from_dense_model(tmp_path, data, monkeypatch, caplog):
    """Both newest pruning-stage checkpoints corrupt: the stage restarts from dense_model/ (through the kept
    stage start, prune-0000000), says so in the log and the trace, and ends as an uninterrupted run does."""
    from sdp.recipe import PruneRecipe
    from sdp.training.state_io import CheckpointError, check_dense_model

    extra = ("prune.max_steps=4", "train.checkpoint_every=1")
    reference = _run(tmp_path, data, tmp_path / "reference", *extra)
    real = PruneRecipe.update

    def killed_at_prune_update_3(self, stage, *args):
        if stage.name == "prune" and stage.step == 2:
            raise RuntimeError("simulated kill")
        return real(self, stage, *args)

    monkeypatch.setattr(PruneRecipe, "update", killed_at_prune_update_3)
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated kill"):
        _run(tmp_path, data, run_dir, *extra)
    monkeypatch.setattr(PruneRecipe, "update", real)
    ckpts = run_dir / "checkpoints"
    assert sorted(p.name for p in ckpts.glob("*-*")) == ["prune-0000000", "prune-0000001", "prune-0000002"]
    for name in ("prune-0000001", "prune-0000002"):  # both newest: truncated
        model = ckpts / name / "model.safetensors"
        model.write_bytes(model.read_bytes()[:100])
    trace = lambda: [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]  # noqa: E731
    dense_updates = [r for r in trace() if r.get("event") == "train" and r["stage"] == "dense"]

    metrics = _run(tmp_path, data, run_dir, *extra)
    assert metrics["status"] == "completed"
    assert "restarting the pruning stage from the dense model" in caplog.text
    (fallback,) = [r for r in trace() if r.get("event") == "checkpoint_fallback"]
    assert (fallback["checkpoint"], fallback["step"]) == ("prune-0000000", 0)
    assert len(fallback["corrupt"]) == 2 and "prune-0000002/model.safetensors' has 100 bytes" in fallback["corrupt"][0]
    records = trace()
    assert [r for r in records if r.get("event") == "train" and r["stage"] == "dense"] == dense_updates
    steps = [r["step"] for r in records if r.get("event") == "train" and r["stage"] == "prune"]
    assert steps == sorted(set(steps)) == [1, 2, 3, 4]  # the trace was cut back: each update once
    for key in ("dense", "final", "achieved_sparsity"):
        assert metrics[key] == reference[key], key
    # Restored from the stage start (saved before the dense weights are measured), the measurement is kept.
    assert metrics["analysis"]["weights"]["dense"] == reference["analysis"]["weights"]["dense"]

    # A corrupt dense_model/ cannot be restarted from: named, with the way out.
    weights = tmp_path / "reference" / "dense_model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"dense model .*model.safetensors' is corrupt.*resume=false"):
        check_dense_model(str(weights.parent))


@pytest.mark.parametrize("sig,call", [("SIGINT", 1), ("SIGTERM", 2), ("SIGUSR2", 2)])
def test_signal_during_evaluation_leaves_a_resumable_run(tmp_path, data, monkeypatch, sig, call):
    """The signal lands in the dense (call 1) or final (call 2) evaluation: status recorded, and the re-run
    trains nothing again (the stage's last update was checkpointed before its evaluation)."""
    import signal

    from sdp.recipe import PruneRecipe
    from sdp.run.signals import PhaseInterrupted

    real, calls = PruneRecipe.evaluate, []

    def evaluate(self, label):
        calls.append(1)
        if len(calls) == call:
            os.kill(os.getpid(), getattr(signal, sig))
        return real(self, label)

    monkeypatch.setattr(PruneRecipe, "evaluate", evaluate)
    run_dir = tmp_path / "run"
    with pytest.raises(PhaseInterrupted):
        _run(tmp_path, data, run_dir)
    status = json.loads((run_dir / "metrics.json").read_text())
    assert status["status"] == "interrupted" and sig in status["error"]
    latest = json.loads((run_dir / "checkpoints" / "latest.json").read_text())
    assert (latest["stage"], latest["step"]) == (("dense", 2) if call == 1 else ("prune", 2))
    monkeypatch.setattr(PruneRecipe, "evaluate", real)
    finished = ("dense",) if call == 1 else ("dense", "prune")

    def updates() -> list:
        lines = (run_dir / "trace.jsonl").read_text().splitlines()
        return [r for r in map(json.loads, lines) if r.get("event") == "train" and r["stage"] in finished]

    before = updates()
    assert len(before) >= 2
    metrics = _run(tmp_path, data, run_dir)
    assert metrics["status"] == "completed"
    assert updates() == before  # no finished stage's update ran again


@pytest.mark.parametrize("phase", ["prefill", "saving"])
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGUSR2"])
def test_signal_during_prefill_or_saving_leaves_a_resumable_run(tmp_path, data, monkeypatch, phase, sig):
    """The signal lands in the teacher prefill (after the dense stage's step-0 checkpoint of the pruning stage)
    or while the final model/ is being written: status recorded, no half-written model/, and the re-run
    completes without training any finished update again."""
    import signal

    import sdp.run_summary
    from sdp.objectives.teacher import Teacher
    from sdp.run.signals import PhaseInterrupted

    calls = []
    real_prefill, real_save = Teacher.prefill, sdp.run_summary.save_model_dir

    def prefill(self, batches):
        calls.append(phase)
        os.kill(os.getpid(), getattr(signal, sig))
        return real_prefill(self, batches)

    def save_model_dir(path, model, tokenizer, *rest):
        # The final model/ (the dense_model/ save goes through the recipe's own reference): the signal
        # arrives halfway, with the weights in the temporary folder and the tokenizer not yet.
        tokenizer_save = tokenizer.save_pretrained

        def interrupted(*args, **kwargs):
            calls.append(phase)
            os.kill(os.getpid(), getattr(signal, sig))
            return tokenizer_save(*args, **kwargs)

        monkeypatch.setattr(tokenizer, "save_pretrained", interrupted)
        return real_save(path, model, tokenizer, *rest)

    if phase == "prefill":
        monkeypatch.setattr(Teacher, "prefill", prefill)
    else:
        monkeypatch.setattr(sdp.run_summary, "save_model_dir", save_model_dir)
    run_dir, extra = tmp_path / "run", ("prune.teacher_cache=memory", "prune.teacher_prefill=true")
    with pytest.raises(PhaseInterrupted) as stop:
        _run(tmp_path, data, run_dir, *extra)
    assert calls == [phase] and stop.value.code == 128 + getattr(signal, sig)
    status = json.loads((run_dir / "metrics.json").read_text())
    assert status["status"] == "interrupted" and sig in status["error"]
    latest = json.loads((run_dir / "checkpoints" / "latest.json").read_text())
    assert (latest["stage"], latest["step"]) == (("prune", 0) if phase == "prefill" else ("prune", 2))
    assert not (run_dir / "model").exists() and not list(run_dir.glob(".model.*"))  # nothing half-written
    monkeypatch.undo()

    def updates() -> list:
        lines = (run_dir / "trace.jsonl").read_text().splitlines()
        return [r for r in map(json.loads, lines) if r.get("event") == "train"]

    before = updates()
    assert {r["stage"] for r in before} == ({"dense"} if phase == "prefill" else {"dense", "prune"})
    metrics = _run(tmp_path, data, run_dir, *extra)
    assert metrics["status"] == "completed" and (run_dir / "model" / "tokenizer.json").is_file()
    after = updates()
    assert after[:len(before)] == before  # no finished update ran again...
    new = [r["stage"] for r in after[len(before):]]
    assert (new == []) if phase == "saving" else (new and set(new) == {"prune"})  # ...only the unstarted stage



def test_runs_tokenizing_the_same_data_at_once_share_one_cache(tmp_path, data_dir, tokenizer, monkeypatch):
    """Three jobs tokenize one dataset into one cache_dir and publish together (a barrier after tokenizing):
    each gets the full tokenized data, one copy stays, no temporary copy is left. The interleavings that
    failed before (a loser deleting the copy the winner was reading; an unreadable copy) are pinned one by
    one in tests/data/test_tasks_and_loading.py."""
    import threading

    from sdp.data import tokenize
    from sdp.data.loading import load_splits
    from sdp.data.tasks import get_task

    task = get_task("rte")
    raw = load_splits(task, data_dir, max_train_samples=16, max_eval_samples=8).datasets
    real, barrier = tokenize._tokenize, threading.Barrier(3)

    def tokenize_then_wait(*args):
        result = real(*args)
        barrier.wait(timeout=60)
        return result

    monkeypatch.setattr(tokenize, "_tokenize", tokenize_then_wait)
    for attempt in range(3):
        cache, results, errors = tmp_path / f"cache{attempt}", [], []

        def job(cache: Path, results: list, errors: list) -> None:
            try:
                results.append(tokenize.tokenize_splits(raw, task, tokenizer, 32, cache))
            except Exception as exc:  # collected: a thread's exception would not fail the test by itself
                errors.append(exc)

        threads = [threading.Thread(target=job, args=(cache, results, errors)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == [] and len(results) == 3
        assert all(r["train"]["input_ids"] == results[0]["train"]["input_ids"] for r in results)
        assert [p.name for p in cache.iterdir()] == [tokenize.tokenize_cache_key(raw, task, tokenizer, 32)]


def test_the_cache_key_follows_the_tokenizers_content(tmp_path, minilm_path):
    """A local model folder whose tokenizer stops lower-casing, changed in place (same name, same vocabulary): the
    cached ids of the old tokenizer are not reused."""
    import datasets
    from transformers import AutoTokenizer

    from sdp.data.tasks import TASKS
    from sdp.data.tokenize import tokenize_splits

    folder = tmp_path / "model"
    AutoTokenizer.from_pretrained(str(minilm_path)).save_pretrained(folder)
    data = datasets.DatasetDict({"train": datasets.Dataset.from_dict(
        {"sentence": ["Hello World", "GREAT Film"], "label": [0, 1], "idx": [0, 1]})})
    cache = tmp_path / "cache"
    lower = AutoTokenizer.from_pretrained(str(folder))
    first = tokenize_splits(data, TASKS["sst2"], lower, 16, cache_dir=cache)["train"]["input_ids"]
    AutoTokenizer.from_pretrained(str(folder), do_lower_case=False).save_pretrained(folder)
    cased = AutoTokenizer.from_pretrained(str(folder))
    assert len(cased) == len(lower) and cased.name_or_path == lower.name_or_path
    second = tokenize_splits(data, TASKS["sst2"], cased, 16, cache_dir=cache)["train"]["input_ids"]
    assert second == tokenize_splits(data, TASKS["sst2"], cased, 16)["train"]["input_ids"]  # its own ids
    assert second != first
    assert len(list(cache.iterdir())) == 2


def test_tables_follow_symlinks_and_skip_special_files(tmp_path):
    """Runs reached through a symlinked folder are collected (a link back up the tree is no loop), and a
    metrics.json that is a FIFO is skipped with a warning instead of blocking the reader forever. In a child
    process: on a FIFO the old reader never returned (the timeout only guards the suite against that)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("report_builders", REPO_ROOT / "tests" / "report" / "conftest.py")
    builders = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builders)
    mrpc, run_record, write_run = builders.mrpc, builders.run_record, builders.write_run

    results, elsewhere = tmp_path / "results", tmp_path / "elsewhere"
    write_run(elsewhere, "sweep/j0", run_record("mrpc", "MP", 0.5, 1, mrpc(0.8, 0.7), mrpc(0.9, 0.8)))
    write_run(results, "local/j1", run_record("mrpc", "MP", 0.5, 2, mrpc(0.82, 0.72), mrpc(0.92, 0.82)))
    (results / "linked").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "sweep" / "loop").symlink_to(elsewhere, target_is_directory=True)  # a cycle
    (results / "odd").mkdir()
    os.mkfifo(results / "odd" / "metrics.json")
    code = f"from cli.tables import main; raise SystemExit(main(['results_dir={results}', 'plots=false']))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "sdp-tables: 2 runs" in proc.stdout, proc.stdout
    assert "warning: `odd/metrics.json` is not a regular file: skipped" in proc.stderr, proc.stderr
    assert "odd/metrics.json` is not a regular file" in (results / "tables" / "summary.md").read_text()


def test_a_dead_runs_leftovers_are_set_aside(tmp_path, data, caplog):
    """resume=true into a folder whose run left outputs but nothing to resume from: metrics.json deleted, or cut
    short (a kill or a full disk), or a completed record whose model/ weights are gone or not the ones it wrote
    (edited after the run: metrics.json's model_sha256 differs). Each time the old files
    move to previous-<time>/ with one line saying so, and the new run's trace is its own (never appended to)."""
    run_dir = tmp_path / "run"
    _run(tmp_path, data, run_dir)
    one_launch = len((run_dir / "trace.jsonl").read_text().splitlines())
    breaks = {"metrics.json deleted": lambda: (run_dir / "metrics.json").unlink(),
              "metrics.json cut short": lambda: (run_dir / "metrics.json").write_text('{"status": "compl'),
              "model weights gone": lambda: (run_dir / "model" / "model.safetensors").unlink(),
              "model weights edited, no weight zeroed": lambda: _doubled(run_dir / "model" / "model.safetensors")}
    for n, (case, breaker) in enumerate(breaks.items(), start=1):
        breaker()
        caplog.clear()
        metrics = _run(tmp_path, data, run_dir)
        assert metrics["status"] == "completed", case
        assert "already completed" not in caplog.text, case
        assert "left no checkpoint to resume from" in caplog.text, case
        assert len(list(run_dir.glob("previous-*"))) == n, case
        trace = (run_dir / "trace.jsonl").read_text().splitlines()
        assert len(trace) == one_launch, case  # one launch's records, not two
        assert (run_dir / "model" / "model.safetensors").is_file(), case
    # An intact completed run is returned as before, nothing moved.
    caplog.clear()
    _run(tmp_path, data, run_dir)
    assert "already completed" in caplog.text and len(list(run_dir.glob("previous-*"))) == 4


def _doubled(path: Path) -> None:
    """Every weight times 2, saved in place: the same file names and nonzero count, other content (an edit a
    count of zeros does not see; metrics.json's model_sha256 does)."""
    from safetensors.torch import load_file, save_file

    save_file({k: v * 2 if v.is_floating_point() else v for k, v in load_file(path).items()}, path,
              metadata={"format": "pt"})


def test_a_trace_cut_short_is_repaired_to_its_last_complete_line(tmp_path, caplog):
    """A resume cuts trace.jsonl back to the checkpoint's length, and always to its last complete line: shorter
    than the checkpoint expects (records lost) or ending in a partial record, the next record is not glued on."""
    from sdp.run.logs import truncate_trace

    path = tmp_path / "trace.jsonl"
    full = '{"event": "train", "step": 1}\n{"event": "train", "step": 2}\n'
    path.write_text(full + '{"event": "tr')
    truncate_trace(path, len(full) + 100)  # the checkpoint saw more than the file holds now
    assert path.read_text() == full
    assert "records were lost" in caplog.text
    path.write_text(full + '{"event": "train", "step": 3}\n{"ev')
    truncate_trace(path, len(full) + 5)  # cut back to the checkpoint, inside a record: to the line before it
    assert path.read_text() == full
    path.write_text(full)
    truncate_trace(path, len(full))
    assert path.read_text() == full


def test_filesystem_errors_are_one_line_naming_the_path(tmp_path, data, capsys):
    """Each was a traceback: output_root is a file (Hydra makes the run folder before any job), the lock file's
    name is taken by a folder, sdp-tables' out_dir cannot be written."""
    from cli.tables import main as tables_main
    from sdp.errors import is_user_error
    from sdp.run.rundir import RunDirError

    afile = tmp_path / "afile"
    afile.write_text("x")
    proc = subprocess.run([sys.executable, "-m", "cli.run", "debug=smoke", "task=rte", f"output_root={afile}"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.startswith("sdp-run: error: RunDirError: cannot create the run folder ") and \
        f"{str(afile)!r} is a file, not a folder" in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert afile.read_text() == "x"

    run_dir = tmp_path / "run"
    (run_dir / LOCK_NAME).mkdir(parents=True)
    with pytest.raises(RunDirError, match=r"lock file '.*\.sdp\.lock' is a folder \(Is a directory\)") as info:
        _run(tmp_path, data, run_dir)
    assert is_user_error(info.value)

    results = tmp_path / "results"
    (results / "runs").mkdir(parents=True)
    out = tmp_path / "read_only"
    out.mkdir()
    out.chmod(0o555)
    try:
        if os.access(out, os.W_OK):  # root ignores permission bits: a read-only file system instead
            out = Path("/proc/sdp-tables")
        assert tables_main([f"results_dir={results}", f"out_dir={out}", "plots=false"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"sdp-tables: error: out_dir={str(out)!r} is not writable (") and \
            len(err.splitlines()) == 1, err
    finally:
        (tmp_path / "read_only").chmod(0o755)
