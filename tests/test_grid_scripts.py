"""scripts/gridrun.py and scripts/commit_records.py: a redone run that does not reproduce its committed record
stops its chain on every launch and is never committed over it; PROGRESS.md keeps its hand-written notes; the
study's chains (scripts/grid_study.py) as the design says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import gridrun  # noqa: E402

from sdp.run.code import code_identity  # noqa: E402


def _record(dense: float, final: float) -> dict:
    return {"status": "completed", "dense": {"main": dense}, "final": {"main": final}, "code": code_identity()}


def test_committed_record_is_read_from_git_head(tmp_path):
    tracked = subprocess.run(["git", "ls-files", "results/*metrics.json"], cwd=REPO, capture_output=True,
                             text=True).stdout.split()
    if tracked:  # a clone of the repository: its committed records
        run_dir = REPO / Path(tracked[0]).parent
        head = subprocess.run(["git", "show", f"HEAD:{tracked[0]}"], cwd=REPO, capture_output=True, text=True).stdout
        assert gridrun.committed_record(run_dir) == json.loads(head)
    assert gridrun.committed_record(tmp_path) is None  # outside the repository: nothing committed


def test_a_mismatching_redo_stops_its_chain_on_every_launch(tmp_path, monkeypatch):
    run_dir = tmp_path / "runs" / "mp"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps(_record(0.84, 0.70)))  # what the redo gave
    monkeypatch.setattr(gridrun, "committed_record", lambda d: _record(0.84, 0.76))  # what was committed
    grid = gridrun.Grid(tmp_path, [])
    for _ in range(2):  # the first launch after the redo, and every later one
        assert grid.launch(run_dir, []) is None and grid.failed == ["runs/mp"]
    monkeypatch.setattr(gridrun, "committed_record", lambda d: _record(0.84, 0.70))
    assert gridrun.Grid(tmp_path, []).launch(run_dir, [])["final"]["main"] == 0.70  # reproduced: goes on
    monkeypatch.setattr(gridrun, "committed_record", lambda d: None)
    assert gridrun.Grid(tmp_path, []).launch(run_dir, []) is not None  # never committed: nothing to compare


def test_commit_records_leaves_out_committed_and_mismatching_records(tmp_path, monkeypatch, capsys):
    import commit_records

    monkeypatch.setattr(commit_records, "REPO", tmp_path)
    for name in ("new", "committed", "redone"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(_record(0.8, 0.7)))
    committed = {"committed": _record(0.8, 0.7), "redone": _record(0.8, 0.75)}
    monkeypatch.setattr(commit_records, "committed_record", lambda d: committed.get(d.name))
    assert commit_records.finished_runs(tmp_path) == [tmp_path / "new"]
    assert "MISMATCH, not committed: redone" in capsys.readouterr().out


def test_a_redo_that_does_not_reproduce_fails_once(tmp_path, monkeypatch):
    """A finished run redone for a missing file (resume=false) whose scores differ: one failure, chain stops."""
    run_dir = tmp_path / "dense"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps(_record(0.84, 0.84)))
    monkeypatch.setattr(gridrun, "committed_record", lambda d: _record(0.84, 0.84))

    def redo(self, run_dir, overrides):  # stands in for the sdp-run process: another dense model
        (run_dir / "metrics.json").write_text(json.dumps(_record(0.80, 0.80)))
        return 0

    monkeypatch.setattr(gridrun.Grid, "_call", redo)
    grid = gridrun.Grid(tmp_path, [])
    assert grid.launch(run_dir, [], ("dense_model/model.safetensors",)) is None
    assert grid.failed == ["dense"]


def test_study_chains_share_one_dense_model_per_task_and_seed_and_run_mp_first(tmp_path):
    """The study's design in code: per (task, seed) one dense model passed to every run; per sparsity MP first,
    then KD and SDP-CC comparing their masks with MP's; the first seed whole, then the other seeds' headline
    sparsities (>= 0.8), then their lower ones; every run composes with the frozen presets."""
    import grid
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401

    opts = grid.compose_grid("study", ["tasks=[cola,sst2]", "sparsities=[0.9,0.5]", "seeds=[1,2]"])
    chains = grid.HOOKS[opts.hook].plan(opts, tmp_path)
    order = [(c[0][0].name, sorted({o for _, over, *_ in c[1:] for o in over if o.startswith("sparsity=")}))
             for c in chains]
    assert order == [("cola_seed1", ["sparsity=0.5", "sparsity=0.9"]), ("sst2_seed1", ["sparsity=0.5", "sparsity=0.9"]),
                     ("cola_seed2", ["sparsity=0.9"]), ("sst2_seed2", ["sparsity=0.9"]),
                     ("cola_seed2", ["sparsity=0.5"]), ("sst2_seed2", ["sparsity=0.5"])]
    for chain in chains:
        (dense_dir, dense_over, _), *runs = chain
        assert "stages=dense" in dense_over and len(runs) % len(opts.methods) == 0
        for i in range(0, len(runs), 3):
            group = runs[i:i + 3]
            assert [next(o for o in over if o.startswith("method=")) for _, over, *_ in group] == [
                "method=mp", "method=kd", "method=sdp_cc"]
            mp_dir = group[0][0]
            for run_dir, over, *_ in group:
                assert f"dense.checkpoint={dense_dir / 'dense_model'}" in over
                assert (f"prune.reference_mask={mp_dir}" in over) == (run_dir != mp_dir)
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        for _, over, *_ in chains[0]:
            cfg = compose("config", overrides=["experiment=study", *over])
            assert cfg.max_train_samples == 4000 and cfg.prune.lr_schedule == "constant"


def test_full_study_chains_take_a_tasks_extra_sparsity_and_compose_the_full_data_preset(tmp_path):
    """The full-data study (issue 23): SST-2 also at 0.95 (add=[sst2:0.95]), the other tasks at 0.9 and 0.8 only;
    experiment=study_full is the study's budget on the whole training set."""
    import grid
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401

    opts = grid.compose_grid("study_full", ["tasks=[rte,sst2]", "seeds=[1,2]"])
    chains = grid.HOOKS[opts.hook].plan(opts, tmp_path)
    sparsities = {c[0][0].name: sorted({o for _, over, *_ in c[1:] for o in over if o.startswith("sparsity=")})
                  for c in chains}
    assert sparsities == {"rte_seed1": ["sparsity=0.8", "sparsity=0.9"], "rte_seed2": ["sparsity=0.8", "sparsity=0.9"],
                          "sst2_seed1": ["sparsity=0.8", "sparsity=0.9", "sparsity=0.95"],
                          "sst2_seed2": ["sparsity=0.8", "sparsity=0.9", "sparsity=0.95"]}
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=study_full", *chains[1][1][1]])
    assert cfg.max_train_samples is None and cfg.prune.lr_schedule == "constant" and cfg.dense.epochs == 3
    assert cfg.task.name == "sst2" and cfg.regularizer.name == "none"  # MP, the chain's first pruning run


def _shared_job_grid(tmp_path, monkeypatch, dense_code: int):
    """Two chains that start with the same dense job, both at the dense launch at once (a barrier), the dense
    job slow enough that the second waits on the folder's lock."""
    import threading
    import time

    calls, barrier, real_launch = [], threading.Barrier(2), gridrun.Grid.launch
    monkeypatch.setattr(gridrun, "committed_record", lambda d: None)

    def run(self, run_dir, overrides):  # stands in for the sdp-run process
        calls.append(self.label(run_dir))
        if run_dir.name == "dense":
            time.sleep(0.3)
            if dense_code:
                return dense_code
        (run_dir / "metrics.json").write_text(json.dumps(_record(0.8, 0.7)))
        return 0

    def launch(self, run_dir, *args):
        if run_dir.name == "dense":
            barrier.wait(timeout=10)
        return real_launch(self, run_dir, *args)

    monkeypatch.setattr(gridrun.Grid, "_call", run)
    monkeypatch.setattr(gridrun.Grid, "launch", launch)
    grid = gridrun.Grid(tmp_path, [], jobs=2)
    dense, high, low = tmp_path / "dense", tmp_path / "high", tmp_path / "low"
    grid.run_chains([[(dense, []), (high, [])], [(dense, []), (low, [])]])
    return grid, calls


def test_a_job_two_chains_share_runs_once(tmp_path, monkeypatch):
    """The study's two chains of one (task, seed) both start with its dense model: run side by side, the second
    waits for the first and finds it done instead of training it again (or failing on the folder's lock)."""
    grid, calls = _shared_job_grid(tmp_path, monkeypatch, dense_code=0)
    assert sorted(calls) == ["dense", "high", "low"]
    assert grid.plan == ["dense", "high", "low"] and grid.known == ["dense", "high", "low"] and grid.failed == []
    assert "- done (3): dense, high, low" in (tmp_path / "PROGRESS.md").read_text()  # the shared job counted once


def test_a_shared_job_that_fails_is_not_tried_again_by_the_other_chain(tmp_path, monkeypatch):
    grid, calls = _shared_job_grid(tmp_path, monkeypatch, dense_code=1)
    assert calls == ["dense"] and grid.failed == ["dense"]  # both chains stop; the next launch of the grid retries


def test_progress_estimates_the_time_left_from_finished_runs(tmp_path):
    def finished(label: str, seconds: float, resumed: bool = False) -> None:
        (tmp_path / label).mkdir(parents=True)
        (tmp_path / label / "metrics.json").write_text(json.dumps({"status": "completed", "wall_seconds": seconds}))
        (tmp_path / label / "trace.jsonl").write_text(json.dumps({"event": "resume"}) if resumed else "")

    finished("dense/a", 10000)
    finished("runs/cola/a1", 2000)
    finished("runs/cola/a2", 4000)
    finished("runs/cola/a3", 50, resumed=True)  # its record holds only its last launch: not a pace
    finished("runs/sst2/a1", 9000)
    grid = gridrun.Grid(tmp_path, [], jobs=2)
    labels = ["dense/a", "dense/b", "dense/c", "runs/cola/a1", "runs/cola/a2", "runs/cola/a3", "runs/cola/b1",
              "runs/cola/b2", "runs/sst2/a1", "runs/mrpc/b1"]
    grid._know(labels)
    grid.running = {"runs/cola/b2"}
    # dense/b, dense/c 10000 s each; runs/cola/b1 3000 s (its folder's mean); runs/cola/b2 running: half of that;
    # runs/mrpc/b1: no finished run in runs/mrpc, so runs/'s mean (2000 + 4000 + 9000) / 3 = 5000 s; two side by side
    assert grid.time_left(["dense/b", "dense/c", "runs/cola/b1", "runs/mrpc/b1"]).startswith(
        f"about {(2 * 10000 + 3000 + 1500 + 5000) / 2 / 3600:.1f} h for 4 waiting and 1 running")
    grid.running = set()
    assert grid.time_left(["dense/b"]).startswith(f"about {10000 / 3600:.1f} h")  # one run left: not halved
    assert "of which there are 4" in grid.time_left(["dense/b"])
    assert grid.time_left([]) == "nothing"
    assert "no finished run" in gridrun.Grid(tmp_path / "new", []).time_left(["x"])
    assert gridrun._folders("runs/cola/mp_s0.9") == ["runs/cola", "runs", ""] and gridrun._folders("x") == [""]


def test_a_stopped_grid_passes_the_signal_on_and_counts_its_run_interrupted(tmp_path, monkeypatch):
    """Ctrl-C (or make stop-grids' SIGTERM) to the driver: its run gets the signal from it, once (the run has its own
    session), checkpoints and stops; it is 'interrupted (resumable)', not failed; no further run starts; the driver
    exits 128 + the signal and removes its pid file."""
    import os
    import signal
    import threading
    import time

    import grid_pids

    monkeypatch.setattr(grid_pids, "GRIDS", tmp_path / ".grids")
    child = ("import json, pathlib, signal, sys, time\nd = pathlib.Path(sys.argv[1])\n"
             "def stop(s, f):\n    (d / 'metrics.json').write_text(json.dumps({'status': 'interrupted'}))\n"
             "    (d / 'signals').write_text(str(s))\n    sys.exit(128 + s)\n"
             "signal.signal(signal.SIGINT, stop)\n(d / 'started').touch()\ntime.sleep(120)\n")
    monkeypatch.setattr(gridrun.Grid, "command", lambda self, d, o: [sys.executable, "-c", child, str(d)])
    root = tmp_path / "grid"
    first, second = root / "a", root / "b"

    registered: list[int] = []

    def ctrl_c():  # the grid's handler is in place once its first run has started
        deadline = time.time() + 120
        while not (first / "started").exists() and time.time() < deadline:
            time.sleep(0.05)
        registered.append(len(list((tmp_path / ".grids").glob("*.json"))))  # its pid file, while it runs
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=ctrl_c, daemon=True).start()
    grid = gridrun.Grid(root, [], jobs=1)
    with pytest.raises(SystemExit) as stopped:
        grid.run_chains([[(first, [])], [(second, [])]])
    assert stopped.value.code == 128 + signal.SIGINT and registered == [1]
    assert grid.interrupted == ["a"] and grid.failed == [] and not second.exists()
    assert (first / "signals").read_text() == str(int(signal.SIGINT))
    assert "interrupted this launch, resumable (1): a" in (root / "PROGRESS.md").read_text()
    assert not list((tmp_path / ".grids").glob("*.json"))


def test_progress_keeps_the_hand_written_notes_below_its_marker(tmp_path):
    """results/study/PROGRESS.md lost a paragraph to a rewrite: the text below the NOTES line is kept, and in a file
    written before that line existed, the text below the generated footer."""
    (tmp_path / "PROGRESS.md").write_text("# Study: progress (written by scripts/gridrun.py)\n\n- done (1): a\n\n"
                                          f"{gridrun.FOOTER}\n\nComplete on 2026-11-28: by hand.\n\nSecond note.\n")
    grid = gridrun.Grid(tmp_path, [], title="Study")
    for _ in range(2):  # the first rewrite adds the marker; later ones keep what is below it
        grid.write_progress()
        text = (tmp_path / "PROGRESS.md").read_text()
        assert text.count(gridrun.NOTES) == 1 and "- done (0): none" in text and "- done (1)" not in text
        assert text.endswith(f"{gridrun.NOTES}\nComplete on 2026-11-28: by hand.\n\nSecond note.\n")
    (tmp_path / "PROGRESS.md").unlink()
    grid.write_progress()
    assert (tmp_path / "PROGRESS.md").read_text().endswith(f"{gridrun.NOTES}\n")


def test_a_run_s_session_gets_the_run_s_nice_where_autogroup_scheduling_exists(tmp_path):
    """With autogroup scheduling a run in its own session competes as a whole group whatever its nice, so the
    driver writes the run's nice into /proc/<pid>/autogroup; where there is none it says so and goes on."""
    (tmp_path / "123").mkdir()
    (tmp_path / "123" / "autogroup").write_text("/autogroup-7 nice 0\n")
    assert gridrun.lower_autogroup(123, 19, proc_root=tmp_path)
    assert (tmp_path / "123" / "autogroup").read_text() == "19\n"
    assert not gridrun.lower_autogroup(456, 19, proc_root=tmp_path)  # no such process, or no autogroup
    assert gridrun.Grid.command.__code__.co_names.count("RUN_NICE") == 1  # the run's nice and its group's agree


def test_a_launch_that_changes_nothing_but_the_time_leaves_progress_md_as_it_was(tmp_path, monkeypatch):
    """`make study` on the finished study rewrote the committed PROGRESS.md with only a new "Updated" line (a
    README walk found the tree dirty after it); a change in what it lists is still written."""
    grid = gridrun.Grid(tmp_path, [], title="Study")
    monkeypatch.setattr(gridrun.time, "strftime", lambda *a: "2026-11-28 10:00:00 UTC")
    grid.write_progress()
    before = (tmp_path / "PROGRESS.md").read_text()
    monkeypatch.setattr(gridrun.time, "strftime", lambda *a: "2026-12-05 02:31:14 UTC")
    grid.write_progress()
    assert (tmp_path / "PROGRESS.md").read_text() == before
    grid.failed.append("runs/x")
    grid.write_progress()
    after = (tmp_path / "PROGRESS.md").read_text()
    assert "Updated 2026-12-05 02:31:14 UTC." in after and "failed this launch (1): runs/x" in after
