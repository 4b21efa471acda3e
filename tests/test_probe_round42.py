"""Probe round 42 (docs/probe_round42.md, a deciding round; probe only): its findings, fixed by the lead. Each test
fails on 7d2dcca (the round's BASE) and passes after its fix. Hand-written files and tiny models, offline."""

from __future__ import annotations

import json
import signal
from types import SimpleNamespace

import pytest
from records import write_csv
from test_probe_round32 import _classifier
from test_probe_round33 import _eval


def test_a_row_read_whole_as_a_training_row_cut_at_the_models_length_is_said_so(tokenizer):
    """rh1: sdp-eval at task.max_seq_length=32 of a model trained at 13: a dev row of 13 tokens is, as the model
    read it, a training row cut at 13 (longer by a whole word), and was said to be "read whole, differing in what the
    tokenizer sets aside". Its twin's length is not known (a hash): at the length the hashes were made at, an edge."""
    import datasets

    from sdp.data.token_cuts import CutRows, reach
    from sdp.data.token_repeats import _said

    texts = ["the dialogue was charming in every single scene so they slept", "a film"]
    assert len(tokenizer(texts[0])["input_ids"]) == 13
    rows = datasets.Dataset.from_dict({"text": texts})
    ds = datasets.Dataset.from_dict({"input_ids": [tokenizer(t, truncation=True, max_length=32)["input_ids"]
                                                   for t in texts]})
    cuts = CutRows(tokenizer, {"validation": rows}, {"validation": ds}, ("text",), 32)
    how = reach(cuts, "validation", [1, 2], hashed_at=13)
    assert how == ["edge", "whole"], how
    text = _said([1, 2], ds, how, "split validation", 32, "rows model_dir was trained on", edge_at=13)
    assert "1 exactly 13 tokens long, the length model_dir was trained at, differing past it from a longer twin" \
        in text and "raise task.max_seq_length" not in text, text


@pytest.mark.parametrize("files", [
    {"metrics.json": "not json {", "notes.txt": "mine"},  # oth2
    {"metrics.json": '{"status": "failed"}', "data.csv": "a,b"},  # oth3
    {"model/config.json": "{}", "data.csv": "a,b"},  # oth5
    {"metrics.json": '{"status": "completed", "accuracy": 0.9}', "model/config.json": "{}"},  # oth1
])
def test_a_folder_of_no_sdp_run_is_not_taken_for_a_dead_one(tmp_path, files):
    """oth1-oth5: sdp-run took a folder without sdp's run.json for a dead sdp run, moved the user's or another tool's
    files to previous-<time>/ and said "the run that was here left no checkpoint": a metrics.json that does not read,
    or holds a status sdp writes, a model/ beside the user's data (oth4, another tool's run.json with a `config` key:
    open, docs/errors.md)."""
    from sdp.run.rundir import RunHoldsDataError
    from sdp.sweep import check_no_users_files

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    with pytest.raises(RunHoldsDataError, match=r"(not sdp's|of no sdp run)"):
        check_no_users_files(tmp_path)


@pytest.mark.parametrize("files", [  # sdp writes a run's records under the folder's lock, which stays (round 43, a5)
    {"metrics.json": '{"status": "failed", "error": "x", "error_type": "DataError", "before_run": true}',
     ".sdp.lock": ""},
    {"metrics.json": '{"status": "interrupted", "error": "interrupted by SIGTERM"}', "checkpoints/x": "",
     ".sdp.lock": ""},
    {".sdp.lock": "", "run.log": "started"},
    {"metrics.json": '{"status": "completed", "config_hash": "abc", "final": {"main": 0.8}}',
     "run.log": "2026-12-01 10:00:00,000 INFO task=rte\n"},  # a record older than run.json: beside sdp's run.log
    {"metrics.json": '{"status": "killed", "error": "its process was stopped"}', "checkpoints/x": "", ".sdp.lock": ""},
    {"metrics.json": '{"status": "completed", "kind": "eval", "task": "rte", "model_dir": "/m", "final": {"main": 0.8},'
                     ' "finished_at": "2026-12-07T10:00:00+00:00"}'},
    {"previous-20261207-100000/metrics.json": "{}"},
])
def test_sdp_s_own_folders_are_still_runs(tmp_path, files):
    from sdp.sweep import check_no_users_files

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    check_no_users_files(tmp_path)


def test_a_stop_signal_on_one_rank_is_named_on_every_rank():
    """d_hup: SIGHUP to rank 1 in the pruning stage: rank 0, which got none, recorded "interrupted by SIGTERM" and
    exited 143 (hand_over's default). The ranks now share which signal came."""
    import torch

    from sdp.run.preemption import StopSignals
    from sdp.training.checkpoint import Checkpointer

    accelerator = SimpleNamespace(num_processes=2, device="cpu",
                                  gather=lambda t: torch.cat([t, torch.tensor([float(signal.SIGHUP)])]))
    rank0 = SimpleNamespace(accelerator=accelerator, signals=StopSignals())
    assert Checkpointer.stop_requested(rank0) and rank0.signals.received == signal.SIGHUP


def test_a_training_target_a_batch_of_which_overflows_is_refused(tmp_path):
    """tb3: targets of 1e18 passed the bound (|x| <= 1e18), and a batch of 512 of them made the loss inf at the first
    update (Hydra's traceback): their squares sum past float32 in 341 rows."""
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    rows = [(f"text {i}", "1e18" if i == 3 else str(i % 5)) for i in range(8)]
    train = write_csv(tmp_path / "tr.csv", rows, header=("text", "score"))
    dev = write_csv(tmp_path / "dv.csv", rows[:2], header=("text", "score"))
    task = OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "text_fields": ["text"],
                             "label_column": "score", "metric": "pearson_spearman"})
    with pytest.raises(DataError, match=r"data row 4: target 1e\+18 is too large to train on \(\|x\| <= 1e\+15\)"):
        custom_task(task)


def test_a_class_named_null_is_refused(tmp_path, tokenizer):
    """id_null: id2label `{"0": "neg", "1": null}` printed the class `None`."""
    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import check_saved_model

    model = _classifier(tokenizer, tmp_path / "m")
    config = json.loads((model / "config.json").read_text())
    for name in (None, "", " ", ["neg"], True):  # round 43's g1, g2 too
        (model / "config.json").write_text(json.dumps({**config, "id2label": {"0": "neg", "1": name}}))
        with pytest.raises(ModelLoadError, match=r"config.json id2label names no class for the id\(s\) \[1\] \(a null"):
            check_saved_model(model)


def test_sdp_eval_calls_another_tools_metrics_json_so(tmp_path):
    """eo1: sdp-eval refused an output folder of another tool's metrics.json as "a training run's"."""
    from sdp.errors import ConfigError
    from sdp.eval_output import check_out_dir

    (tmp_path / "metrics.json").write_text('{"eval_accuracy": 0.9}')
    with pytest.raises(ConfigError, match=r"holds another tool's \(no record of sdp's\) metrics.json"):
        check_out_dir(tmp_path)


def test_an_interrupted_record_keeps_no_earlier_failures_traceback(tmp_path):
    """er2: a failed run relaunched and then interrupted kept the first launch's error.txt beside `interrupted`."""
    from sdp.run.signals import PhaseInterrupted, stop_between_stages

    (tmp_path / "error.txt").write_text("Traceback ... RuntimeError: the first launch's\n")
    with pytest.raises(PhaseInterrupted), stop_between_stages(tmp_path):
        raise PhaseInterrupted(128 + 15)
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "interrupted"
    assert not (tmp_path / "error.txt").exists()


def test_a_checkpoint_refused_for_its_process_count_records_nothing():
    """d_ws: a one-process relaunch of a two-process run was refused, rightly, and the refusal replaced its
    `interrupted` record with `failed` (sdp-tables listed a resumable run as failed). A refusal records nothing."""
    from sdp.errors import CheckpointRefusedError, is_user_error
    from sdp.sweep import REFUSALS

    assert is_user_error(CheckpointRefusedError("x")) and CheckpointRefusedError in REFUSALS


def test_sdp_evals_f1_advice_can_be_followed(tmp_path, tokenizer):
    """f1adv: sdp-eval advised listing task.label_names in the other order to score the other class's F1, and then
    refused that order (a saved model's class order is fixed)."""
    model = _classifier(tokenizer, tmp_path / "m")
    dev = write_csv(tmp_path / "dv.csv", [(f"a dev text {i}", ("neg", "pos")[i % 2]) for i in range(8)])
    warnings = _eval(tmp_path, model, "f1", dev, "task.metric=f1").get("warnings") or []
    said = [w for w in warnings if "task.metric=f1 is the F1 of class 'pos'" in w]
    assert said and "needs a model trained with it second" in said[0] and "list them as" not in said[0], warnings


def test_review_a_launchs_error_is_not_recorded_among_the_users_files(tmp_path):
    """Review of the oth fix: a config error (found before the run takes the folder) was recorded among the user's
    files (.sdp.lock, error.txt, metrics.json): sdp's marks, so the next launch took the folder for a run's and moved
    the user's files aside."""
    from test_probe_round39 import _run_config

    from sdp.errors import ConfigError
    from sdp.sweep import record_failure

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "reviews.csv").write_text("text,label\n")
    record_failure(notes, _run_config(f"output_dir={notes}"), ConfigError("sparsity=1.5 must be in [0, 1)"))
    assert sorted(p.name for p in notes.iterdir()) == ["reviews.csv"]


def test_review_an_interruption_rank_0_records_shows_the_signal_not_a_traceback(tmp_path, monkeypatch):
    """Review: the interrupted record written for another rank's stop signal kept rank 0's gloo traceback as
    error.txt, which sdp-tables showed of the run instead of the signal."""
    from test_probe_round39 import _run_config

    from sdp.report.collect import load_run
    from sdp.sweep import record_failure

    (tmp_path / "rank-1.error").write_text("interrupted by SIGTERM outside a training stage\n")
    (tmp_path / "error.txt").write_text("Traceback ... an earlier launch's\n")
    monkeypatch.setenv("RANK", "0")
    peer = RuntimeError("[gloo/transport/tcp/pair.cc:553] Connection closed by peer [127.0.0.1]:11184")
    record_failure(tmp_path, _run_config(f"output_dir={tmp_path}"), peer, lock_held=True)
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "interrupted"
    assert not (tmp_path / "error.txt").exists()
    run = load_run(tmp_path / "metrics.json", tmp_path)
    assert run["error"].startswith("rank 1: interrupted by SIGTERM"), run["error"]


def test_review_the_teachers_overflow_names_the_precision_the_run_computes_in():
    """Review: under train.mixed_precision=fp16 on a CPU accelerate computes in float32, and the refusal said fp16."""
    import torch
    from omegaconf import OmegaConf

    from sdp.training.loop import build_stage

    cpu_fp16 = SimpleNamespace(mixed_precision="fp16", native_amp=False, prepare_optimizer=lambda o: o)
    stage = build_stage("prune", OmegaConf.create({"lr": 1e-3, "lr_schedule": "linear"}),
                        OmegaConf.create({"weight_decay": 0.0, "warmup_ratio": 0.0}), torch.nn.Linear(2, 2),
                        cpu_fp16, 4)
    assert stage.precision == "no"


def test_review_a_sweep_says_where_a_failure_was_recorded_and_reads_a_records_own_error(tmp_path):
    """Second review: a sweep said "job failed (recorded in <folder>/error.txt)" of a failure not written there (the
    user's files); a killed job's record beside an earlier launch's error.txt was shown as that launch's error; another
    tool's run.log beside the user's notes made the folder a run's."""
    from test_probe_round39 import _run_config

    from sdp.errors import ConfigError
    from sdp.report.collect import load_run
    from sdp.run.failure import was_recorded
    from sdp.run.rundir import RunHoldsDataError
    from sdp.sweep import check_no_users_files, record_failure

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "reviews.csv").write_text("text,label\n")
    said = record_failure(notes, _run_config(f"output_dir={notes}"), ConfigError("sparsity=1.5 must be in [0, 1)"))
    assert not was_recorded(notes, said)
    empty = tmp_path / "new"
    said = record_failure(empty, _run_config(f"output_dir={empty}"), ConfigError("sparsity=1.5 must be in [0, 1)"))
    assert was_recorded(empty, said)

    run = tmp_path / "run"
    run.mkdir()
    (run / "error.txt").write_text("Traceback ...\nConfigError: an earlier launch's\n")
    (run / "metrics.json").write_text(json.dumps({"status": "killed", "error": "its process died (SIGKILL)"}))
    assert load_run(run / "metrics.json", tmp_path)["error"] == "its process died (SIGKILL)"

    (notes / "run.log").write_text("[main] another tool's log line\n")
    with pytest.raises(RunHoldsDataError, match=r"of no sdp run \(reviews.csv, run.log\)"):
        check_no_users_files(notes)
    (notes / "run.log").write_text("2026-12-07 10:00:00,123 INFO task=rte model=tiny-bert\n")
    with pytest.raises(RunHoldsDataError, match=r"of no sdp run \(reviews.csv, run.log\)"):  # a copy of sdp's: round 46
        check_no_users_files(notes)
    (notes / ".sdp.lock").write_text("")
    check_no_users_files(notes)  # sdp's own run.log, under its lock: a launch killed before its run.json


def test_round43_previous_folders_and_paired_overlaps(tmp_path):
    """Probe round 43, a2/a9: a `previous-experiments/` folder or a `previous-notes.txt` file of the user's was sdp's
    mark (any name starting `previous-`): only move_aside's `previous-<date>-<time>` folders are. cl1: claims.md's MP
    overlap with the dense mask averaged in an MP run with no SDP-CC partner (tests/report covers the tables)."""
    from sdp.run.rundir import RunHoldsDataError
    from sdp.sweep import check_no_users_files

    for mine in ("previous-experiments/", "previous-notes.txt"):
        d = tmp_path / mine.strip("/").replace(".", "_")
        d.mkdir()
        (d / mine).mkdir() if mine.endswith("/") else (d / mine).write_text("mine")
        (d / "data.csv").write_text("a,b\n")
        with pytest.raises(RunHoldsDataError, match=r"of no sdp run"):
            check_no_users_files(d)
