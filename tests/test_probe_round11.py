"""What probe round 11 found (issue 26; docs/probe_round11.md): metrics recomputed by hand, session 6's records and
floors, paths, data edges, schedule arithmetic, the Hydra command line, eval/predict round trips. Each test fails on
the main the probe ran (40c1589) and passes after its fix, but for the controls named as such. Synthetic files and
tiny models; one debug=smoke run (module fixture) serves the tests of what a run writes."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from offline_env import offline_env as _env

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- one smoke run (a01, m07, x04, d06)
@pytest.fixture(scope="module")
def smoke_run(data_dir, tmp_path_factory) -> Path:
    """debug=smoke on RTE at 32 tokens, 3 dense updates with warmup_ratio 0.5 (1 warmup update), 2 pruning updates."""
    out = tmp_path_factory.mktemp("r11") / "run"
    done = subprocess.run(
        [sys.executable, "-m", "cli.run", "debug=smoke", "task=rte", f"data_dir={data_dir}", "train.num_threads=1",
         "dense.max_steps=3", "prune.max_steps=2", "train.warmup_ratio=0.5", f"cache_dir={out.parent / 'cache'}",
         f"output_dir={out}"], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_the_trace_gives_each_update_the_lr_it_used(smoke_run):
    """a01: trace.jsonl's lr was read after the schedule stepped, i.e. the next update's: 5e-05 for a first dense
    update that warmup ran at 0, and 0.0 for a last one that ran at 2.5e-05. Linear warmup over int(0.5 * 3) = 1
    update, then decay to 0 at update 3: the updates ran at 0, 5e-05, 2.5e-05."""
    records = [json.loads(line) for line in (smoke_run / "trace.jsonl").read_text().splitlines()]
    dense = [r["lr"] for r in records if r.get("event") == "train" and r.get("stage") == "dense"]
    assert dense == pytest.approx([0.0, 5e-05, 2.5e-05])
    prune = [r["lr"] for r in records if r.get("event") == "train" and r.get("stage") == "prune"]
    assert prune == pytest.approx([0.0, 5e-05])  # int(0.5 * 2) = 1 warmup update, then the peak


def test_eval_and_predict_take_the_length_the_model_was_trained_at(smoke_run, data_dir, tmp_path, monkeypatch):
    """m07, x04: sdp-eval and sdp-predict scored a model trained at 32 tokens at the task's (or their own) default
    128: the MRPC model of the probe got 38.14 from sdp-eval where its run said 41.84, and sdp-predict changed 48 of
    408 labels, unsaid. The run writes its length into config.json; both take it unless told another."""
    from cli import eval as sdp_eval
    from cli import predict as sdp_predict

    model = smoke_run / "model"
    assert json.loads((model / "config.json").read_text())["sdp_max_seq_length"] == 32
    assert sdp_eval.main([f"model_dir={model}", "task=rte", f"data_dir={data_dir}", "max_eval_samples=8",
                          f"output_dir={tmp_path / 'ev'}", f"cache_dir={tmp_path / 'cache'}"]) == 0
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["max_seq_length"] == 32
    assert sdp_eval.main([f"model_dir={model}", "task=rte", f"data_dir={data_dir}", "max_eval_samples=8",
                          "task.max_seq_length=64", f"output_dir={tmp_path / 'ev64'}",
                          f"cache_dir={tmp_path / 'cache'}"]) == 0  # told another: that one
    assert json.loads((tmp_path / "ev64" / "metrics.json").read_text())["max_seq_length"] == 64

    import sdp.prediction

    lengths = []
    monkeypatch.setattr(sdp.prediction, "predict_labels",
                        lambda saved, texts, batch, length, *_: lengths.append(length) or ["x"] * len(texts))
    rows = tmp_path / "pairs.tsv"
    rows.write_text("a\tb\nA man plays.\tSomeone plays.\n", encoding="utf-8")
    for extra in ([], ["max_seq_length=100"]):
        assert sdp_predict.main([f"model_dir={model}", f"input={rows}", "text_fields=a,b", *extra]) == 0
    assert lengths == [32, 100]


def test_the_run_log_says_how_many_rows_reach_max_seq_length(smoke_run):
    """d06: texts cut to task.max_seq_length were not counted anywhere (55 of 64 RTE training pairs at 32 tokens)."""
    log = (smoke_run / "run.log").read_text()
    assert "rte/train: " in log and " rows reach task.max_seq_length=32 tokens" in log
    assert "rte/validation: " in log


# ------------------------------------------------------------------------------------------------- f1 (m08)
def test_custom_f1_names_the_class_it_scores(tmp_path, caplog):
    """m08: task.metric=f1 is the F1 of the second class of the sorted labels: 'equivalent'/'not_equivalent' was
    scored as not_equivalent's F1 (43.73 in the probe, where the GLUE convention is the paraphrase class), unsaid."""
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task

    rows = [(f"first text {i}", f"second text {i}", "equivalent" if i % 2 else "not_equivalent") for i in range(12)]
    for name, part in (("train.tsv", rows[:8]), ("dev.tsv", rows[8:])):
        (tmp_path / name).write_text("s1\ts2\tlabel\n" + "".join("\t".join(r) + "\n" for r in part))

    def cfg(**extra):
        return OmegaConf.create({"name": "custom", "train_file": str(tmp_path / "train.tsv"), "metric": "f1",
                                 "validation_file": str(tmp_path / "dev.tsv"), "text_fields": ["s1", "s2"],
                                 "label_column": "label", "label_names": None, "test_file": None, **extra})

    with caplog.at_level(logging.WARNING, logger="sdp"):
        spec = custom_task(cfg())
    assert spec.label_names == ("equivalent", "not_equivalent")
    assert "task.metric=f1 is the F1 of class 'not_equivalent'" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):  # control: the order given, nothing to say
        assert custom_task(cfg(label_names=["not_equivalent", "equivalent"])).label_names[1] == "equivalent"
    assert "task.metric=f1" not in caplog.text


# ------------------------------------------------------------------------------------------------ floors (s04b)
def _rte_dev(folder: Path, labels: list[str]) -> None:
    (folder / "glue" / "RTE").mkdir(parents=True)
    (folder / "glue" / "RTE" / "dev.tsv").write_text(
        "index\tsentence1\tsentence2\tlabel\n" + "".join(f"{i}\ta {i}\tb {i}\t{lab}\n" for i, lab in
                                                           enumerate(labels)))


@pytest.mark.parametrize("scored, marked", [(4, False), (10, True)])
def test_a_floor_is_judged_only_on_the_rows_it_is_of(tmp_path, monkeypatch, scored, marked):
    """s04b: claims.md's floor is the best constant prediction on the whole dev file; runs scored on a sample of it
    (max_eval_samples) were judged against it: RTE runs that predicted one class on 32 rows scored 62.50, that
    sample's floor, and were "not at a floor" (52.71). They are not judged now, and the line says so; runs scored on
    the whole file still are (the control, scored=10)."""
    from sdp.report.report import build_report

    data = tmp_path / "data"
    _rte_dev(data, ["entailment"] * 6 + ["not_entailment"] * 4)  # floor 0.6
    monkeypatch.setenv("SDP_DATA_DIR", str(data))
    root = tmp_path / "res"
    for seed in (1, 2, 3):
        for method in ("MP", "SDP-CC(mean)"):
            run = root / "runs" / "rte" / f"{method}_s0.5_seed{seed}"
            run.mkdir(parents=True)
            (run / "metrics.json").write_text(json.dumps({  # as tests/report/conftest.py's run_record
                "status": "completed", "task": "rte", "model": "minilm", "method": method, "schedule": "cubic",
                "teacher": "frozen", "seed": seed, "target_sparsity": 0.5, "final": {"accuracy": 0.6, "main": 0.6},
                "dense": {"accuracy": 0.6, "main": 0.6}, "versions": {"sdp": "aaa", "sdp_dirty": False},
                "eval_examples": {"validation": scored}}))
    build_report(root, plots=False)
    text = (root / "tables" / "claims.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| rte | 0.5 |"))
    assert row.endswith("‡ |") is marked
    assert ("Not judged: 2 cell(s) whose runs were scored on a sample of the dev split" in text) is not marked


def test_make_tables_refuses_a_data_folder_without_the_dev_files(tmp_path):
    """s06b: `make tables` refused an SDP_DATA_DIR that is not a folder, but took any folder (an empty one, the level
    above glue/) and rewrote the committed claims.md without its floor marks. (-o: the install stamp is not remade;
    BIN: no sdp-tables to run, should the check pass.)"""
    done = subprocess.run(["make", "-s", "-o", ".venv/.installed", "tables", f"SDP_DATA_DIR={tmp_path}",
                           f"BIN={tmp_path / 'no-bin'}"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "has no CoLA dev file (glue/CoLA/dev.tsv)" in done.stderr


# -------------------------------------------------------------------------------------- command line (h05b, p01b)
@pytest.mark.parametrize("deletion", ["~sparsity", "~regularizer"])
def test_removing_a_key_sdp_reads_is_one_line(tmp_path, deletion):
    """h05b: `~sparsity` or `~regularizer` failed inside Hydra, while it named the run folder: exit 1 and a 100-line
    traceback ending in 'An error occurred during Hydra's exception formatting'."""
    done = subprocess.run([sys.executable, "-m", "cli.run", "debug=smoke", deletion, f"output_dir={tmp_path / 'r'}"],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"sdp-run: error: ConfigError: {deletion} removes" in done.stderr
    assert "Traceback" not in done.stderr


def test_sdp_eval_takes_a_model_dir_quoted_as_its_other_arguments_must_be():
    """p01b: a path with non-ASCII characters must be quoted for Hydra (output_dir='/tmp/ü'), but model_dir='/tmp/ü'
    was taken with its quotes ("does not exist"); and the unquoted output_dir's error did not say to quote it."""
    from cli.eval import compose_config, parse_args
    from sdp.errors import ConfigError

    assert parse_args(["model_dir='/tmp/my runs/model'", "task=rte"])[0] == "/tmp/my runs/model"
    assert parse_args(['model_dir="/tmp/x/model"', "task=rte"])[0] == "/tmp/x/model"
    with pytest.raises(ConfigError, match="is quoted: output_dir='évals/rte'"):
        compose_config(["task=rte", "output_dir=/tmp/ünï côde/evals"])


# -------------------------------------------------------------------------------------------- GLUE files (d04b)
def test_an_empty_text_in_a_glue_file_is_said(tmp_path, caplog):
    """d04b: an RTE row with an empty second sentence was trained on as a pair with an empty text, without a word
    (task=custom refuses such a cell). The GLUE files are read as published, so it is said, naming the line."""
    from sdp.data.glue_local import read_glue_split
    from sdp.data.tasks import get_task

    folder = tmp_path / "glue" / "RTE"
    folder.mkdir(parents=True)
    (folder / "train.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\tA man.\tA person.\tentailment\n"
                                      "1\tA dog.\t\tnot_entailment\n")
    with caplog.at_level(logging.WARNING, logger="sdp"):
        assert len(read_glue_split(get_task("rte"), tmp_path, "train")) == 2
    assert "1 row(s) with an empty text field (lines [3])" in caplog.text


def test_eval_on_a_custom_file_with_unknown_labels_names_the_file_given(smoke_run, tmp_path, capsys):
    """Round 11's note on m09: sdp-eval task=custom task.validation_file=<file with labels 0/1> on a model of named
    classes said `task.train_file=...: unknown label(s)`, a key the user never gave (the scored file stands in for
    the train split). It names task.validation_file now."""
    from cli.eval import main as eval_main

    dev = tmp_path / "dev.tsv"
    dev.write_text("s1\ts2\tlabel\n" + "".join(f"a{i} b\tc d{i}\t{i % 2}\n" for i in range(6)))
    code = eval_main([f"model_dir={smoke_run / 'model'}", "task=custom", f"task.validation_file={dev}",
                      "task.text_fields=[s1,s2]", "task.label_column=label", "task.metric=accuracy",
                      f"output_dir={tmp_path / 'ev'}"])
    err = capsys.readouterr().err
    assert code == 2 and f"task.validation_file={str(dev)!r}: unknown label(s) ['0', '1']" in err, err[-2000:]
    assert "task.train_file" not in err
