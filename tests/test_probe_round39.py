"""Probe round 39 (docs/probe_round39.md): each test fails on ebbd21a (the round's BASE) and passes after its fix."""

from __future__ import annotations

import pytest
from records import write_csv
from test_probe_round33 import _eval


def _regression(tmp_path, train, dev):
    from sdp.cli.eval import compose_config

    return compose_config(["task=custom", "task.text_fields=[text]", "task.label_column=score",
                           "task.metric=pearson_spearman",
                           f"task.train_file={write_csv(tmp_path / 'tr.csv', train, ('text', 'score'))}",
                           f"task.validation_file={write_csv(tmp_path / 'dv.csv', dev, ('text', 'score'))}"])


def test_a_regression_target_written_with_an_underscore_is_refused(tmp_path):
    """rh, rh2: '4_2' is no number in a data file, but Python's float() reads it as 42.0 (digit grouping): a training
    target so written trained as 42 (the model of a file with 42 written plainly), a dev target '1_5' scored as 15."""
    from sdp.crosslingual import resolve_run_task
    from sdp.data.tasks import DataError

    rows = [(f"film number {i} here", f"{i % 5}.5") for i in range(8)]
    dev = [(f"a new film {i}", f"{i % 4}.25") for i in range(6)]
    resolve_run_task(_regression(tmp_path, rows, dev))  # as written: read
    with pytest.raises(DataError, match=r"data row 3: target '4_2' is not a finite number.*not grouped with '_'"):
        resolve_run_task(_regression(tmp_path, rows[:2] + [("film number 2 here", "4_2")] + rows[3:], dev))
    with pytest.raises(DataError, match=r"task.validation_file=.*data row 2: target '1_5' is not a finite number"):
        resolve_run_task(_regression(tmp_path, rows, dev[:1] + [("a new film 1", "1_5")] + dev[2:]))


def _run_config(*overrides: str):
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401  (registers the structured schema)

    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[1] / "conf"), version_base=None):
        return compose(config_name="config", overrides=["debug=smoke", *overrides])


@pytest.mark.parametrize("record", ['{"tool": "mlflow-ish", "id": 7}', "[1, 2]"])
def test_a_folder_holding_another_tools_run_json_is_not_called_a_run(tmp_path, record):
    """ot1: sdp-run into a folder whose run.json is another tool's (no config: not a run's, by sdp/run/nesting.py)
    was refused as "an unfinished run of another config", advising resume=false to move "the old run" aside; a
    run.json holding a JSON list was an AttributeError traceback ('list' object has no attribute 'get')."""
    from sdp.run.rundir import ResumeRefusedError, check_resumable, read_run_record, set_aside_dead_run

    (tmp_path / "run.json").write_text(record)
    cfg = _run_config(f"output_dir={tmp_path}")
    assert set_aside_dead_run(tmp_path, cfg) is None and (tmp_path / "run.json").read_text() == record
    with pytest.raises(ResumeRefusedError, match=r"holds a run\.json that is not sdp's \(no config with its config_hash") as err:
        check_resumable(tmp_path, cfg)
    assert "unfinished run" not in str(err.value) and "resume=false" not in str(err.value)
    assert read_run_record(tmp_path) == (None if record.startswith("[") else {"tool": "mlflow-ish", "id": 7})


def test_a_structured_event_that_removes_nothing_is_no_pruning_step(data_dir, tmp_path):
    """sr1, sr2: with whole layers (or heads) removed at once, an event overshoots its target and the next ones find
    nothing to remove; each was measured and recorded as a pruning step (loss jump 0, removed mass 0, one of them
    "never recovered"), so analysis.recovery (claims.md's recovery and mass rows) and the recovery plot counted 7
    steps where 1 removed anything. Now only an event that removed weights is a pruning step; the model is the same."""
    import json

    from sdp.pruning import export
    from sdp.recipe import run

    if export.missing_export_packages():
        pytest.skip("the export extra is not installed")
    cfg = _run_config("task=rte", f"data_dir={data_dir}", f"cache_dir={tmp_path / 'cache'}", "cpu=true",
                      "train.num_threads=1", "max_train_samples=24", "max_eval_samples=12", "train.batch_size=6",
                      "dense.max_steps=2", "prune.max_steps=8", "task.max_seq_length=24", "sparsity=0.5",
                      "prune.granularity=structured", "prune.structures=[layers]", f"output_dir={tmp_path / 'run'}")
    metrics = run(cfg, tmp_path / "run")
    events = [json.loads(line) for line in (tmp_path / "run" / "trace.jsonl").read_text().splitlines()]
    events = [e for e in events if e.get("event") == "prune"]
    assert [e["removed"] for e in events] == [8192], events  # one of the two layers (4 x 32 x 32 + 2 x 32 x 64)
    recovery = metrics["analysis"]["recovery"]
    assert recovery["pruning_steps"] == 1 and recovery["unrecovered"] + (recovery["mean_recovery_steps"] is not None) == 1
    assert recovery["mean_removed_mass"] == pytest.approx(events[0]["removed_mass"])
    assert recovery["mean_loss_jump"] == pytest.approx(events[0]["loss_after"] - events[0]["loss_before"])
    assert metrics["achieved_sparsity"]["prunable"] == 0.5


def test_the_recovery_plot_reads_no_empty_event_and_says_a_step_went_past_its_target(tmp_path):
    """sr2: a structured run's recovery plot drew an event that removed nothing (recorded before the fix) as a pruning
    step of jump 0 recovered in 1, and drew a step that went to 61.72% at its target, 49.85%, as "sparsity after the
    step". Records kept from before the fix are read without such events; the axis says it is the target."""
    import json

    import pandas as pd

    from sdp.report.collect import load_trace
    from sdp.report.plots import recovery, recovery_by_step

    events = [{"event": "prune", "step": 12, "sparsity": 0.4985, "achieved_sparsity": 0.6172, "loss_before": 0.0165,
               "loss_after": 0.0168, "removed": 2240, "recovery_steps": 1},
              {"event": "prune", "step": 14, "sparsity": 0.5, "achieved_sparsity": 0.6172, "loss_before": 0.0150,
               "loss_after": 0.0150, "removed": 0, "recovery_steps": 1}]
    (tmp_path / "tr0").mkdir()
    (tmp_path / "tr0" / "trace.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    assert [e["step"] for e in load_trace(tmp_path / "tr0" / "trace.jsonl")[0]] == [12]
    runs = pd.DataFrame([{"task": "custom", "target_sparsity": 0.5, "has_trace": True, "path": "tr0", "model": "m",
                          "method": "MP (taylor)", "teacher": "frozen", "schedule": "cubic", "setup": "s1"}])
    frame, problems = recovery_by_step(runs, tmp_path, "custom", 0.5)
    assert problems == [] and frame["sparsity"].tolist() == [49.85] and frame["past"].tolist() == [True]
    assert recovery(runs, tmp_path, "custom", 0.5, tmp_path / "plots")[0].is_file()


def test_a_compact_model_with_a_removed_layer_away_from_its_run_counts_as_its_run(tmp_path, tokenizer):
    """sp1: sdp-eval of a structured model whose run removed a whole layer, copied away, reported encoder 50.00% and
    1002850 non-zero where its run (and card) said 49.25% and 1002978: the removed layer's LayerNorms, non-zero in the
    masked network the run measured, were not counted. Here: 2 layers cut to 1 (every weight of the kept one non-zero);
    by hand 8544 + 128 of the unpruned 17088 encoder parameters are non-zero, 8192 of 16384 prunable weights."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    model = BertForSequenceClassification(BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        num_labels=2, pad_token_id=tokenizer.pad_token_id, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1}))
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.05)  # every weight non-zero, LayerNorms included (as after training)
    nonzero = sum(int((p != 0).sum()) for p in model.parameters())
    model.config.sdp_max_seq_length = 32
    model.config.sdp_unpruned = {"num_hidden_layers": 2, "intermediate_size": 64, "encoder_params": 17088}
    model.save_pretrained(tmp_path / "sl" / "model")
    tokenizer.save_pretrained(tmp_path / "sl" / "model")
    dev = write_csv(tmp_path / "dv.csv", [(f"a dev text {i}", ("neg", "pos")[i % 2]) for i in range(8)])
    record = _eval(tmp_path, tmp_path / "sl" / "model", "e", dev)
    assert record["achieved_sparsity"]["prunable"] == pytest.approx(0.5)
    assert record["achieved_sparsity"]["encoder"] == pytest.approx(1 - (8544 + 128) / 17088)
    assert record["nonzero_params"] == nonzero + 128 and record["compact_params"]["nonzero"] == nonzero


def test_a_rank_that_stops_first_is_named_in_the_record(tmp_path, monkeypatch):
    """d1, d3: on two processes, an error on rank 1 (or a stop signal there outside a training stage) stopped rank 0
    in its next collective, and only rank 0 records: metrics.json said `failed`, `RuntimeError: ... Connection closed by
    peer ...` (gloo's words), and what stopped the run was said only on rank 1's console. Rank 1 now leaves a note in the
    run folder, which rank 0's record leads with; the next launch into the folder clears it."""
    import json

    from sdp.run.rundir import clear_launch_error
    from sdp.run.signals import PhaseInterrupted, stop_between_stages
    from sdp.sweep import record_failure

    cfg = _run_config(f"output_dir={tmp_path}")
    peer = RuntimeError("[gloo/transport/tcp/pair.cc:553] Connection closed by peer [127.0.0.1]:11184")
    for what, stop in (("RuntimeError: killer: raised in prune_event call 3 on rank 1",
                        lambda: record_failure(tmp_path, cfg, RuntimeError("killer: raised in prune_event call 3 on "
                                                                           "rank 1"), lock_held=True)),
                       ("interrupted by SIGTERM outside a training stage", None)):
        monkeypatch.setenv("RANK", "1")
        if stop is None:
            with pytest.raises(SystemExit), stop_between_stages(tmp_path, main_process=False):
                raise PhaseInterrupted(128 + 15)
        else:
            stop()
        assert not (tmp_path / "metrics.json").exists()  # rank 1 writes no record
        monkeypatch.setenv("RANK", "0")
        record_failure(tmp_path, cfg, peer, lock_held=True)
        error = json.loads((tmp_path / "metrics.json").read_text())["error"]
        assert error.startswith(f"rank 1: {what} (then rank 0: RuntimeError: [gloo"), error
        clear_launch_error(tmp_path)  # the next launch: the note is not its run's
        (tmp_path / "metrics.json").unlink(missing_ok=True)
        record_failure(tmp_path, cfg, peer, lock_held=True)
        assert json.loads((tmp_path / "metrics.json").read_text())["error"].startswith("RuntimeError: [gloo"), what
        (tmp_path / "metrics.json").unlink()
