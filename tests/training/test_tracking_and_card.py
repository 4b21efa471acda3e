"""tracker=tensorboard writes readable event files; every run's model/ has a card; push_to_hub uploads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401
from sdp.recipe import run

CONF = str(Path(__file__).resolve().parents[2] / "conf")


class FakeHfApi:
    """Stands in for huggingface_hub.HfApi (no network here): records what would be uploaded."""

    calls: list[tuple] = []

    def create_repo(self, repo_id, exist_ok=False):
        FakeHfApi.calls.append(("create_repo", repo_id))

    def upload_folder(self, folder_path, repo_id, commit_message="", ignore_patterns=None):
        import fnmatch

        names = [p.name for p in Path(folder_path).iterdir()]  # as huggingface_hub filters them (fnmatch)
        kept = sorted(n for n in names if not any(fnmatch.fnmatch(n, pat) for pat in ignore_patterns or []))
        FakeHfApi.calls.append(("upload_folder", repo_id, kept))
        return "https://huggingface.co/me/pruned/commit/0"


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory, data_dir) -> tuple[Path, dict]:
    pytest.importorskip("tensorboard")
    import huggingface_hub

    tmp = tmp_path_factory.mktemp("tracked")
    mp = pytest.MonkeyPatch()
    mp.setattr(huggingface_hub, "HfApi", FakeHfApi)
    try:
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose(config_name="config", overrides=[
                "debug=smoke", "task=rte", f"data_dir={data_dir}", f"cache_dir={tmp}/cache",
                "tracker=tensorboard", "push_to_hub=me/pruned"])
        metrics = run(cfg, run_dir=tmp / "run")
    finally:
        mp.undo()
    return tmp / "run", metrics


def test_tensorboard_events_hold_the_logged_tags(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, metrics = tracked_run
    # The scalars' folder (add_hparams writes the config into a sub-folder of its own).
    accs = [EventAccumulator(str(d)).Reload() for d in {p.parent for p in run_dir.rglob("events.out.tfevents.*")}]
    (acc,) = [a for a in accs if a.Tags()["scalars"] and "hparams" not in str(a.path)] or accs[:1]
    tags = set(acc.Tags()["scalars"])
    for tag in ("train/dense/loss", "train/dense/lr", "train/prune/loss", "train/prune/task_loss",
                "train/prune/distill", "train/prune/sparsity", "train/prune/lr", "prune/achieved_sparsity",
                "prune/loss_before", "final/main", "dense/main", "final/achieved_sparsity"):
        assert tag in tags, (tag, sorted(tags))
    final = acc.Scalars("final/main")[-1].value
    assert final == pytest.approx(metrics["final"]["main"], abs=1e-6)
    dense_updates = len(acc.Scalars("train/dense/loss"))
    assert dense_updates >= 1 and len(acc.Scalars("train/prune/sparsity")) >= 1
    # One axis for both stages (W&B drops a value logged at a step below one it has seen).
    last_dense = max(e.step for e in acc.Scalars("train/dense/loss"))
    assert min(e.step for e in acc.Scalars("train/prune/loss")) > last_dense
    assert min(e.step for e in acc.Scalars("prune/achieved_sparsity")) >= last_dense
    assert acc.Scalars("final/main")[-1].step >= max(e.step for e in acc.Scalars("train/prune/loss"))
    assert (run_dir / "trace.jsonl").read_text().strip()  # the always-on record stays


def test_model_card_and_push(tracked_run):
    run_dir, metrics = tracked_run
    card = (run_dir / "model" / "README.md").read_text()
    achieved = 100 * metrics["achieved_sparsity"]["prunable"]
    for text in ("| Base model | tiny-bert (random init) |", "| Task and data | rte:", "SDP-CC",
                 "| Target sparsity | 50.0%", f"| Achieved sparsity | {achieved:.2f}%",
                 f"main {100 * metrics['dense']['main']:.2f}", f"main {100 * metrics['final']['main']:.2f}",
                 f"| sdp version | {metrics['versions']['sdp_version']} (commit {metrics['versions']['sdp'][:12]}",
                 "```\npython"):
        assert text in card, text
    assert ("create_repo", "me/pruned") in FakeHfApi.calls
    upload = next(c for c in FakeHfApi.calls if c[0] == "upload_folder")
    assert upload[1] == "me/pruned" and {"README.md", "model.safetensors", "config.json"} <= set(upload[2])
    # the training rows' hashes stay local (sdp/models/card.py NOT_UPLOADED)
    assert (run_dir / "model" / "sdp_training_rows.u64").is_file() and "sdp_training_rows.u64" not in upload[2]


def test_card_of_a_tuning_run_names_the_held_out_split():
    from sdp.models.card import model_card

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["debug=smoke", "task=rte", "task.validation_from_train=0.1"])
    metrics = {"achieved_sparsity": {"prunable": 0.5}, "method": "SDP-CC", "nonzero_params": 1, "total_params": 2,
               "dense": {"main": 0.6}, "final": {"main": 0.55}, "seed": 42, "versions": {"sdp": "x"}}
    card = model_card(metrics, cfg, "sdp-run ...")
    assert "scored on 10% of the training rows held out (task.validation_from_train)" in card
    assert "Scores are percent on 10% of the training rows held out" in card
    assert "dev split" not in card and "validation data" not in card


def test_card_names_every_option_the_method_ran_with():
    """The Method row named the regularizer and alpha only: KD's temperature, a criterion's options and the teacher
    checkpoint were left out, and a custom task's test rows were counted without naming the file (left by probe
    rounds 17-21)."""
    from sdp.models.card import model_card

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "debug=smoke", "task=rte", "method=kd", "regularizer.temperature=7.5", "prune.criterion=movement",
            "prune.teacher=checkpoint", "prune.teacher_checkpoint=/models/t"])
    cfg.prune.criterion_options = {"beta": 0.25}  # a plug-in criterion's option, as validate would pass it on
    metrics = {"achieved_sparsity": {"prunable": 0.5}, "method": "KD", "nonzero_params": 1, "total_params": 2,
               "dense": {"main": 0.6}, "final": {"main": 0.55}, "seed": 42, "versions": {"sdp": "x"},
               "eval_examples": {"validation": 32, "test": 16}}
    method = next(line for line in model_card(metrics, cfg, "sdp-run ...").splitlines() if line.startswith("| Method"))
    assert method == ("| Method | KD (regularizer kd (temperature 7.5, alpha 1.0); weight_reg none (beta 0.0); "
                      "criterion movement (beta 0.25); teacher checkpoint /models/t) |")
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "debug=smoke", "task=custom", "task.train_file=tr.csv", "task.validation_file=dv.csv",
            "task.test_file=te.csv", "task.text_fields=[text]"])
    data = next(line for line in model_card(metrics, cfg, "sdp-run ...").splitlines() if line.startswith("| Task"))
    assert "32 rows of validation, 16 rows of test (task.test_file te.csv)" in data


def test_a_failed_push_keeps_the_finished_runs_record(tmp_path, monkeypatch, caplog, tokenizer):
    """The upload comes after metrics.json: a login or network failure is an error line with the command to
    retry, never a finished run recorded as failed (nor a raise that other DDP ranks would wait on)."""
    import json
    import logging

    from omegaconf import OmegaConf
    from transformers import BertConfig, BertForSequenceClassification

    import sdp.run_summary as summary

    def refuse(*args):
        raise OSError("401 Client Error: Unauthorized")

    monkeypatch.setattr(summary, "push_to_hub", refuse)
    monkeypatch.setattr(summary, "write_model_card", lambda *args: None)
    model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=16))
    cfg = OmegaConf.create({"push_to_hub": "me/pruned"})
    with caplog.at_level(logging.ERROR, logger="sdp"):
        summary.write_outputs(tmp_path, cfg, {"task": "rte", "status": "completed"}, {"per_matrix": {"w": 0.5}},
                              model, tokenizer)
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "completed"
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert f"`hf upload me/pruned {tmp_path / 'model'} --exclude sdp_training_rows.u64`" in caplog.text, caplog.text
    assert "Unauthorized" in caplog.text


def test_every_tracker_name_is_one_accelerate_integrates():
    from accelerate.tracking import LOGGER_TYPE_TO_CLASS

    from sdp.run.tracking import TRACKERS

    assert set(TRACKERS) - {"none"} <= set(LOGGER_TYPE_TO_CLASS)


def test_a_tracker_without_its_package_is_a_config_error_before_torch(monkeypatch):
    import importlib.util

    from sdp.validate import ConfigError, validate_config

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["debug=smoke", "task=rte", "tracker=wandb"])
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ConfigError, match=r"tracker=wandb needs the 'wandb' package, which is not installed: "
                                          r"pip install 'sdp-prune\[wandb\]'"):
        validate_config(cfg)


def test_a_resumed_process_logs_the_pruning_stage_where_it_left_off():
    """A process that resumes inside the pruning stage never ran the dense stage, yet its steps continue after it."""
    from omegaconf import OmegaConf

    from sdp.run.tracking import Tracker

    tracker = Tracker(accelerator=None, cfg=OmegaConf.create({"tracker": "none"}), prune_offset=10)  # dense updates
    assert tracker.global_step("prune", 4) == 14 and tracker.global_step("dense", 3) == 3


def test_mlflow_logs_into_the_job_folder_unless_the_user_chose_a_server(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    import sdp.run.tracking as tracking

    monkeypatch.setattr(tracking, "tracker_error", lambda name: None)  # mlflow need not be installed here
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = OmegaConf.create({"tracker": "mlflow"})
    monkeypatch.setattr(tracking, "USER_MLFLOW_URI", None)
    for job in ("job0", "job1"):  # each job of a multirun: its own store
        assert tracking.accelerator_kwargs(cfg, tmp_path / job) == {"log_with": "mlflow", "project_dir": str(tmp_path / job)}
        assert tracking.os.environ["MLFLOW_TRACKING_URI"] == f"sqlite:///{(tmp_path / job).resolve()}/mlflow.db"
    monkeypatch.setattr(tracking, "USER_MLFLOW_URI", "http://mlflow.example:5000")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    tracking.accelerator_kwargs(cfg, tmp_path / "job2")
    assert tracking.os.environ["MLFLOW_TRACKING_URI"] == "http://mlflow.example:5000"
