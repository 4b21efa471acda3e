"""Items probe rounds 39-40 left open or noticed, fixed by the lead in session 21 (docs/errors.md, "Left open by
rounds 39 and 40, fixed in session 21"). Each test fails on 5374998 and passes after its fix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from test_probe_round39 import _run_config

# A terminal's session: the signals at their default action (a test run under nohup, or in the background of a script,
# starts with SIGHUP or SIGQUIT ignored, and an ignored one is kept ignored: that is the next test's case)
_TERMINAL = "import signal\nfor sig in (signal.SIGHUP, signal.SIGQUIT):\n    signal.signal(sig, signal.SIG_DFL)\n"
_IN_STAGE = _TERMINAL + """
import os, signal, sys
from sdp.run.preemption import StopSignals
stop = StopSignals()
with stop.installed():
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))
print("received", signal.Signals(stop.received).name)
"""


@pytest.mark.parametrize("sig", ["SIGHUP", "SIGQUIT"])
def test_a_closed_terminal_or_ctrl_backslash_in_a_stage_checkpoints_and_stops(sig):
    """Round 40, noticed (kh1, kq1): SIGHUP (a closed terminal or ssh session) and SIGQUIT (Ctrl-\\) killed the run as a
    SIGKILL does, losing the stage's updates since its last checkpoint. They now only set the flag, as SIGTERM does."""
    done = subprocess.run([sys.executable, "-c", _IN_STAGE, sig], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"received {sig}", (done.returncode, done.stderr[-2000:])


def test_a_run_started_under_nohup_keeps_ignoring_sighup():
    """nohup's choice is kept: SIGHUP is no stop signal of a process that ignores it (else closing the terminal would
    stop the run nohup was asked to keep going)."""
    code = (_TERMINAL + "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
            "from sdp.run.preemption import stop_signals\nprint(signal.SIGHUP in stop_signals(), "
            "signal.SIGQUIT in stop_signals())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "True"], done.stderr[-2000:]


def test_sigquit_between_stages_is_recorded_as_an_interruption(tmp_path):
    code = (_TERMINAL + "import os, signal, sys\nfrom sdp.run.signals import stop_between_stages\n"
            "with stop_between_stages(sys.argv[1]):\n    os.kill(os.getpid(), signal.SIGQUIT)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 128 + signal.SIGQUIT, done.stderr[-2000:]
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "interrupted" and "SIGQUIT" in record["error"], record


def test_a_stop_signal_on_rank_1_outside_a_stage_is_an_interruption_not_a_failure(tmp_path, monkeypatch):
    """Round 39's d3 fix named rank 1's signal in the record, whose status stayed `failed`: the run was stopped, and the
    same command resumes it (sdp-tables lists it with the failed runs; an interrupted run is resumable)."""
    from sdp.run.signals import PhaseInterrupted, stop_between_stages
    from sdp.sweep import record_failure

    cfg = _run_config(f"output_dir={tmp_path}")
    peer = RuntimeError("[gloo/transport/tcp/pair.cc:553] Connection closed by peer [127.0.0.1]:11184")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(SystemExit), stop_between_stages(tmp_path, main_process=False):
        raise PhaseInterrupted(128 + 15)
    monkeypatch.setenv("RANK", "0")
    record_failure(tmp_path, cfg, peer, lock_held=True)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "interrupted", record
    assert record["error"].startswith("rank 1: interrupted by SIGTERM outside a training stage (then rank 0:"), record
    assert not (tmp_path / "error.txt").exists()  # rank 0's gloo traceback is no cause (review of round 42's fixes)

    # rank 0's own error, not a peer's leaving: a failure (review)
    record_failure(tmp_path, cfg, RuntimeError("CUDA out of memory"), lock_held=True)
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "failed"
    # another rank's error beside the signal (out of memory on rank 2, then the launcher's SIGTERM to rank 1): a failure
    (tmp_path / "rank-2.error").write_text("RuntimeError: CUDA out of memory\n")
    record_failure(tmp_path, cfg, peer, lock_held=True)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "failed" and "rank 2: RuntimeError: CUDA out of memory" in record["error"], record
    # of three ranks, rank 2 met rank 1's leaving as rank 0 did: its note is a symptom, the run interrupted (review)
    (tmp_path / "rank-2.error").write_text(f"RuntimeError: {peer}\n")
    record_failure(tmp_path, cfg, peer, lock_held=True)
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "interrupted"
    # an error on rank 1 alone is still a failure
    (tmp_path / "rank-2.error").unlink()
    monkeypatch.setenv("RANK", "1")
    record_failure(tmp_path, cfg, RuntimeError("out of memory"), lock_held=True)
    monkeypatch.setenv("RANK", "0")
    record_failure(tmp_path, cfg, peer, lock_held=True)
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "failed"


def test_an_undefined_metric_is_said_in_one_line_not_as_a_python_warning():
    """Round 40, noticed: sdp-eval printed `/.../sdp/metrics.py:126: DegenerateMetricWarning: mcc is undefined ...`
    (the source path and line of sdp's own code, then the warning's class) where its other words are one line each."""
    code = ("import warnings\nfrom sdp.errors import user_errors\nfrom sdp.metrics import DegenerateMetricWarning\n"
            "with user_errors(prog='sdp-eval'):\n    warnings.warn('mcc is undefined on constant predictions', "
            "DegenerateMetricWarning)\nwarnings.warn('after', DegenerateMetricWarning)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = done.stderr.splitlines()
    assert lines[0] == "sdp-eval: warning: mcc is undefined on constant predictions", done.stderr
    assert "DegenerateMetricWarning: after" in lines[1]  # Python's own form again outside


def test_costs_round_a_half_second_up():
    """Round 40, noticed (sx7): costs.md said `2 | 2-2` of a run of 2.5 s (`:.0f` rounds half to even)."""
    import pandas as pd

    from sdp.report.collect import _COLUMNS
    from sdp.report.costs import render_costs

    runs = pd.DataFrame([{**dict.fromkeys(_COLUMNS, ""), "path": p, "task": "rte", "model": "m", "method": "MP",
                          "seed": seed, "target_sparsity": 0.5, "config_hash": p, "row_setup": "", "final_main": 61.0,
                          "whole_launch": True, "wall_seconds": s, "dense_only": False, "own_dense_stage": True}
                         for p, seed, s in (("a", 1, 2.5), ("b", 2, 4.5))])
    assert "| 4 | 3-5 | 2 | 0 |" in render_costs(runs, pd.DataFrame())  # mean 3.5, by hand: 4


@pytest.mark.parametrize("key", ["dense.checkpoint", "prune.teacher_checkpoint"])
@pytest.mark.parametrize("task", ["sst2", "custom"])
def test_a_checkpoint_whose_id2label_is_unreadable_or_names_a_class_twice_is_refused(tmp_path, tokenizer, key, task):
    """Round 40's dup1/dup2 fix checked sdp-eval's and sdp-predict's model; a dense.checkpoint or teacher whose id2label
    ids are not numbers was a ValueError traceback from validate.py (`int('a')`), and one naming a class twice (of a
    task=custom run, whose labels validate.py does not compare) was taken."""
    from test_probe_round32 import _classifier

    from sdp.models.inspect import ModelLoadError
    from sdp.validate import validate_config

    extra = ["task=custom", f"task.train_file={tmp_path / 'tr.csv'}", "task.text_fields=[text]"] if task == "custom" \
        else ["task=sst2"]
    model = _classifier(tokenizer, tmp_path / "m", names=("negative", "positive"))
    config = json.loads((model / "config.json").read_text())
    for id2label, said in (({"a": "negative", "1": "positive"}, r"has ids that are not whole numbers \(\['a'\]\)"),
                           ({"\u00b2": "negative", "1": "positive"}, r"has ids that are not whole numbers"),  # isdigit()
                           ({"--1": "negative", "1": "positive"}, r"has ids that are not whole numbers"),
                           (["negative"], r"is not an object of id: name"),
                           ({"0": "positive", "1": "positive"}, r"names 'positive' more than once")):
        (model / "config.json").write_text(json.dumps({**config, "id2label": id2label}))
        cfg = _run_config(*extra, f"{key}={model}", *(["method=kd", "prune.teacher=checkpoint"] if key.startswith("prune") else []))
        with pytest.raises(ModelLoadError, match=rf"{key} '.*m': config.json id2label {said}"):
            validate_config(cfg)


def test_a_training_target_whose_squared_error_is_past_float32_is_refused(tmp_path):
    """Round 40, noticed: a training target of 2e19 (finite in float32) failed the run at its first update with
    `non-finite loss inf at optimizer step 0`, naming no row. Now refused with its row before anything runs; a dev
    target that large is only scored (a correlation), and kept."""
    from omegaconf import OmegaConf
    from records import write_csv

    from sdp.data.custom import SCORING_ONLY, custom_task, read_custom_split
    from sdp.data.tasks import DataError

    rows = [(f"text {i}", str(i % 5)) for i in range(8)]
    big = write_csv(tmp_path / "big.csv", rows[:4] + [("big", "2e19")], header=("text", "score"))
    plain = write_csv(tmp_path / "plain.csv", rows, header=("text", "score"))

    def task(train, dev):
        return OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "text_fields": ["text"],
                                 "label_column": "score", "metric": "pearson_spearman"})

    with pytest.raises(DataError, match=r"train_file='.*big.csv' data row 5: target 2e\+19 is too large to train on "
                                        r"\(\|x\| <= 1e\+15\)"):
        custom_task(task(big, plain))
    assert custom_task(task(plain, big)).is_regression  # a dev target that large: scored only
    token = SCORING_ONLY.set(True)  # sdp-eval reads the training file, and trains nothing
    try:
        spec = custom_task(task(big, plain))
    finally:
        SCORING_ONLY.reset(token)
    # its rows read again outside that (sdp-eval's carve of the training file, review): not refused there either
    assert read_custom_split(spec, None, "train")[4]["label"] == 2e19


@pytest.mark.parametrize("theirs", ['{"eval_accuracy": 0.91, "epoch": 3}', "[0.91]", '{"status": "done"}'])
def test_a_folder_of_another_tools_metrics_and_model_is_not_set_aside_as_a_dead_run(tmp_path, theirs):
    """A folder holding another tool's metrics.json and model/ (no run.json) was read as a dead sdp run: its files
    moved to previous-<time>/ and the run wrote there. It is refused before anything is touched; sdp's own records (a
    failed launch's, an interrupted one) are still a run's."""
    from sdp.run.rundir import RunHoldsDataError
    from sdp.sweep import check_no_users_files

    (tmp_path / "model").mkdir()
    (tmp_path / "metrics.json").write_text(theirs)
    with pytest.raises(RunHoldsDataError, match=r"holds a metrics.json that is not sdp's .* and no run.json"):
        check_no_users_files(tmp_path)
    for ours in ('{"status": "failed", "error": "x", "error_type": "DataError", "before_run": true}',
                 '{"status": "interrupted", "error": "interrupted by SIGTERM ..."}'):
        (tmp_path / ".sdp.lock").write_text("")  # sdp writes its records under the folder's lock, which stays
        (tmp_path / "metrics.json").write_text(ours)
        check_no_users_files(tmp_path)


def test_a_rank_killed_outright_is_said_beside_rank_0s_error(tmp_path, monkeypatch):
    """Round 39, left: a rank killed hard (SIGKILL, out of memory) leaves no note, and rank 0's record named the symptom
    alone (`Connection closed by peer`), as if the run had failed for a network reason."""
    from sdp.sweep import record_failure

    cfg = _run_config(f"output_dir={tmp_path}")
    peer = RuntimeError("[gloo/transport/tcp/pair.cc:553] Connection closed by peer [127.0.0.1]:11184")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    record_failure(tmp_path, cfg, peer, lock_held=True)
    error = json.loads((tmp_path / "metrics.json").read_text())["error"]
    assert error.startswith("RuntimeError: [gloo") and "another rank ended without a note: killed outright" in error
    monkeypatch.setenv("WORLD_SIZE", "1")  # one process: no peer to blame
    record_failure(tmp_path, cfg, peer, lock_held=True)
    assert "another rank" not in json.loads((tmp_path / "metrics.json").read_text())["error"]
    monkeypatch.setenv("WORLD_SIZE", "2")  # the same words from a download or a closed pipe: no peer's (review)
    for other in (OSError("Hub download: ConnectionResetError(104, 'Connection reset by peer')"),
                  BrokenPipeError(32, "Broken pipe"),  # and rank 0's own NCCL error (second review)
                  RuntimeError("DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled cuda error, "
                               "Cuda failure 'out of memory'")):
        record_failure(tmp_path, cfg, other, lock_held=True)
        assert "another rank" not in json.loads((tmp_path / "metrics.json").read_text())["error"], other


def test_a_recorded_recovery_that_counted_empty_events_is_recounted_from_the_trace(tmp_path):
    """Round 39, left: records made before its sr1 fix (the committed structured runs) keep an analysis.recovery that
    counts events that removed nothing as pruning steps (13 steps of which 10 empty: mean loss jump 0.0043, by hand
    0.0185 over the 3 real ones), and claims.md read it. Recounted from the run's trace; a summary counted as now is
    read as recorded."""
    from sdp.report.trace_read import recovery_as_counted_now

    events = [{"event": "prune", "step": 10, "loss_before": 1.0, "loss_after": 1.5, "recovery_steps": 4,
               "removed": 80, "removed_mass": 0.3},
              {"event": "prune", "step": 12, "loss_before": 1.2, "loss_after": 1.2, "recovery_steps": 1,
               "removed": 0, "removed_mass": 0.0},
              {"event": "prune", "step": 20, "loss_before": 1.1, "loss_after": 1.2, "recovery_steps": None,
               "removed": 40, "removed_mass": 0.1}]
    (tmp_path / "trace.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    recorded = {"pruning_steps": 3, "mean_loss_jump": 0.2, "mean_recovery_steps": 2.5, "unrecovered": 1,
                "smoothing": 0.9, "probe_size": 32, "loss": "task"}
    now = recovery_as_counted_now(tmp_path, recorded)
    assert now["pruning_steps"] == 2 and now["mean_loss_jump"] == pytest.approx(0.3)  # (0.5 + 0.1) / 2
    assert now["mean_recovery_steps"] == 4 and now["unrecovered"] == 1 and now["probe_size"] == 32
    assert now["mean_removed_mass"] == pytest.approx(0.2) and "1 pruning event(s) that removed nothing" in now["recounted"]
    assert recovery_as_counted_now(tmp_path, {**recorded, "pruning_steps": 2}) == {**recorded, "pruning_steps": 2}


def test_sdp_export_and_a_pretrained_folder_read_id2label_as_the_others_do(tmp_path, tokenizer):
    """Review: sdp-export of a model whose id2label ids are not numbers, and model.pretrained=<such a folder>, were
    transformers' `ValueError: invalid literal for int()` traceback (the dense.checkpoint refusal suggests the latter).
    Of a pretrained folder the ids only: the run gives the model the task's own names."""
    from test_probe_round32 import _classifier

    from sdp.models.inspect import ModelLoadError, check_pretrained_dir

    model = _classifier(tokenizer, tmp_path / "m")
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "id2label": {"a": "neg", "1": "pos"}}))
    done = subprocess.run([sys.executable, "-m", "cli.export", str(model), "--out", str(tmp_path / "m.onnx")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "config.json id2label has ids that are not whole numbers (['a'])" in done.stderr, (
        done.returncode, done.stderr[-2000:])
    assert not (tmp_path / "m.onnx").exists()
    with pytest.raises(ModelLoadError, match=r"model.pretrained '.*m': config.json id2label has ids that are not"):
        check_pretrained_dir({"pretrained": str(model)})
    (model / "config.json").write_text(json.dumps({**config, "id2label": {"0": "pos", "1": "pos"}}))
    check_pretrained_dir({"pretrained": str(model)})  # names twice: not the run's names, kept


def test_a_local_sweeps_jobs_keep_the_terminal_signals_the_sweep_found(tmp_path, monkeypatch):
    """Review: jobs are forked from the sweep's process and inherited its handler for SIGHUP and SIGQUIT, which drops
    them in a job's process: a closed terminal during a job's setup left it running to its end while the sweep waited.
    A job gets what the sweep found (the default action; SIGHUP stays ignored under nohup)."""
    import multiprocessing

    import sdp.local_launch as local_launch

    def report():  # in the job, where Hydra's setup would run: its dispositions, as the exit code
        found = (signal.getsignal(signal.SIGHUP), signal.getsignal(signal.SIGQUIT))
        os._exit({(signal.SIG_DFL, signal.SIG_DFL): 10, (signal.SIG_IGN, signal.SIG_DFL): 11}.get(found, 12))

    monkeypatch.setattr(local_launch, "setup_globals", report)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGHUP, signal.SIGQUIT)}
    try:
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)  # a terminal's (a test run in a script's background ignores it)
        for start, code in ((signal.SIG_DFL, 10), (signal.SIG_IGN, 11)):  # started plainly, and under nohup
            signal.signal(signal.SIGHUP, start)
            with local_launch._Stop({}).installed():
                receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
                job = multiprocessing.get_context("fork").Process(target=local_launch._job, args=(None, 0, [], send))
                job.start()
                job.join(120)
            assert job.exitcode == code, (start, job.exitcode)
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


@pytest.mark.parametrize("sig", ["SIGHUP", "SIGQUIT"])
def test_a_closed_terminal_during_sdp_eval_leaves_no_empty_default_folder(tmp_path, monkeypatch, sig):
    """Review: round 27's fix (SIGTERM ends sdp-eval through the clean-up of its empty default folder) held for SIGTERM
    only; a closed terminal or Ctrl-\\ left outputs/evals/<time>_... behind, which sdp-tables then listed."""
    import sdp.evaluation
    from cli.eval import main

    def killed(cfg, model_dir, out_dir, length_given=True):
        assert out_dir.is_dir()
        os.kill(os.getpid(), getattr(signal, sig))
        raise AssertionError(f"{sig} did not stop the evaluation")

    def sentinel(signum, frame):  # stands in for the default action, which would end pytest itself
        raise AssertionError(f"sdp-eval installed no {sig} handler")

    before = signal.signal(getattr(signal, sig), sentinel)
    try:
        monkeypatch.setattr(sdp.evaluation, "evaluate_saved", killed)
        code = main([f"model_dir={tmp_path / 'run' / 'model'}", "task=rte", f"output_root={tmp_path / 'out'}"])
        assert code == 128 + getattr(signal, sig) and not list((tmp_path / "out" / "evals").iterdir())
    finally:
        signal.signal(getattr(signal, sig), before)
