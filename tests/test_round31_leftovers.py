"""Round 31's noticed cases (issue 26), fixed by the lead; each test fails on 4696465 (the merge of round 31)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from records import write_record

REPO = Path(__file__).resolve().parents[1]


def test_the_score_band_is_cut_at_100_and_the_title_says_so(tmp_path, monkeypatch):
    """pl1, noticed: seeds at 100, 100 and 80 drew the ± std band up to 104.9, past any score."""
    import matplotlib.axes

    from sdp.report.report import build_report

    bands, titles = [], []
    real_fill, real_title = matplotlib.axes.Axes.fill_between, matplotlib.axes.Axes.set_title
    monkeypatch.setattr(matplotlib.axes.Axes, "fill_between",
                        lambda self, x, lo, hi, **kw: bands.append((list(lo), list(hi))) or real_fill(self, x, lo, hi, **kw))
    monkeypatch.setattr(matplotlib.axes.Axes, "set_title",
                        lambda self, text, **kw: titles.append(text) or real_title(self, text, **kw))
    for seed, final in ((1, 1.0), (2, 1.0), (3, 0.8)):
        write_record(tmp_path, f"mp{seed}", "MP", seed, final, own=f"fp{seed}")
    build_report(tmp_path, plots=True)
    ((low, high),) = bands
    assert high == [100.0] and abs(low[0] - (93.3333 - 11.547)) < 1e-3, bands
    assert "rte: score vs sparsity (line: mean, band: ± std, cut at ±100, dots: seeds; n=3 per point)" in titles


def test_hydra_help_with_sdps_overrides_is_hydras_help(tmp_path):
    """Noticed: `sdp-run debug=smoke --hydra-help` was a traceback from inside Hydra (Could not override 'debug')."""
    proc = subprocess.run([sys.executable, "-m", "cli.run", "debug=smoke", "task=rte", "--hydra-help"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("Hydra (") and "== Flags ==" in proc.stdout and "Traceback" not in proc.stderr
    kept = subprocess.run([sys.executable, "-m", "cli.run", "--config-dir", str(tmp_path), "debug=smoke", "--hydra-help"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)  # a flag's value is no override
    assert kept.returncode == 0 and kept.stdout.startswith("Hydra ("), kept.stderr[-2000:]


def test_the_floor_legend_says_why_a_floor_is_unknown(monkeypatch, tmp_path):
    """cp2, noticed: claims.md said a custom task's floor was unknown for "no local dev files: SDP_DATA_DIR", with
    SDP_DATA_DIR set and the custom dev file named; floors are read for GLUE tasks only."""
    from sdp.report.floors import floor_legend

    legend = floor_legend({"custom": None, "rte": None, "xnli": None, "mrpc": 0.6838}, [])
    assert ("Floors (x 100): mrpc 68.38; unknown for rte (no local dev file: SDP_DATA_DIR); unknown for custom, xnli "
            "(read for GLUE tasks only).") in legend, legend


def test_a_killed_launchs_temporaries_are_removed_when_the_run_starts_again(tmp_path):
    """kX, noticed: a structured run killed while writing model/ (its ONNX graph) resumed and completed, and kept the
    hidden `.model.<random>.tmp/` (4.6 MB) of the killed launch in its folder."""
    out = tmp_path / "run"
    args = [sys.executable, "-m", "cli.run", "debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=2",
            "prune.max_steps=2", f"cache_dir={tmp_path / 'cache'}", f"output_dir={out}"]
    first = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    (out / ".model.k2j4x1_9.tmp").mkdir()  # mkdtemp's and mkstemp's names: 8 random characters
    (out / ".model.k2j4x1_9.tmp" / "model.safetensors").write_bytes(b"half")
    (out / ".metrics.json.a8c1zz9q.tmp").write_text("{")
    (out / ".model.q9abcdef.old").mkdir()
    again = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "already completed" in again.stderr + again.stdout, again.stderr[-2000:]
    assert sorted(p.name for p in out.glob(".*")) == [".hydra", ".sdp.lock"], sorted(p.name for p in out.glob(".*"))


def test_only_sdps_temporaries_go_and_an_old_version_that_is_the_only_copy_comes_back(tmp_path):
    """Review of the fix above: a user's hidden `.notes.v1.old` matched too; and a kill between atomic_dir's two renames
    leaves the old model/ in `.model.<random>.old/x` as its only copy, which was deleted with the rest."""
    from sdp.io import remove_dead_temporaries

    (tmp_path / ".notes.v1.old").write_text("mine")
    (tmp_path / ".model.q9abcdef.old" / "x").mkdir(parents=True)
    (tmp_path / ".model.q9abcdef.old" / "x" / "config.json").write_text("{}")
    (tmp_path / ".model.k2j4x1_9.tmp").mkdir()
    assert remove_dead_temporaries(tmp_path) == [".model.k2j4x1_9.tmp", ".model.q9abcdef.old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes.v1.old", "model"]
    assert (tmp_path / "model" / "config.json").read_text() == "{}"


def test_a_dense_checkpoint_copied_away_from_its_run_still_says_its_training_rows(tmp_path, tokenizer, caplog):
    """dc2's Left: the check read a non-tuning run's training rows from the run.json beside its dense_model/ only, so
    a folder copied away from its run was taken unsaid. Every run's config.json records them now."""
    import json
    import logging
    import shutil

    import datasets
    from omegaconf import OmegaConf
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from sdp.run.data_record import record_data
    from sdp.run_summary import record_training

    task = {"name": "custom", "validation_from_train": None, "validation_seed": 0, "max_seq_length": 32}
    run = tmp_path / "dte"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"data_fingerprint": {"train": "f0c4f6541ab43dc1"}}))
    config = AutoConfig.for_model("bert", vocab_size=tokenizer.vocab_size, hidden_size=8, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=8, num_labels=2)
    model = AutoModelForSequenceClassification.from_config(config)
    record_training(model, tokenizer, OmegaConf.create({"task": task, "max_train_samples": None}), run)
    model.save_pretrained(run / "dense_model")
    copy = tmp_path / "elsewhere" / "dense_model"
    shutil.copytree(run / "dense_model", copy)  # away from its run.json
    cfg = OmegaConf.create({"task": task, "max_train_samples": None, "resume": False, "dense": {"checkpoint": str(copy)}})
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})})
    (tmp_path / "run").mkdir()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        record_data(tmp_path / "run", cfg, raw, main_process=False)
    assert "was fine-tuned on other training rows than this run trains on (training data fingerprint " \
        "f0c4f6541ab43dc1 there" in caplog.text, caplog.text


def test_marks_that_are_part_of_a_letter_are_kept_in_the_row_key():
    """Review of round 31's fix: text_key dropped every combining mark and format character, so Hindi `कम`/`कुम`, Thai
    `ไม่`/`ไม`, Japanese `かき`/`かぎ` and Persian with its zero-width non-joiner read as one text: valid label sets were
    refused as twins and honest rows warned of as repeats. Accents on Latin, Greek and Cyrillic letters still go."""
    from sdp.data.file_scan import text_key

    for a, b in (("कम", "कुम"), ("हंस", "हस"), ("ไม่", "ไม"), ("أمل", "امل"), ("かき", "かぎ"), ("はは", "ぱぱ"),
                 ("می\u200cخواهم", "میخواهم")):
        assert text_key(a) != text_key(b), (a, b)
    for a, b in (("très", "tres"), ("tre\u0300s", "TRÈS"), ("pos", "pos\u200b"), ("soft\u00adware", "software"),
                 ("Ёлка", "елка"), ("GOOD  film", "good film")):
        assert text_key(a) == text_key(b), (a, b)


def test_predict_to_dev_stdout_appended_to_a_file_keeps_the_file(tmp_path, tokenizer):
    """Review of round 31's fix: `sdp-predict output=/dev/stdout >> labels.txt` opened /dev/stdout anew for writing,
    which on Linux reopens labels.txt and empties it: the lines already there were lost."""
    from test_probe_round31 import _classifier

    model = _classifier(tokenizer, tmp_path / "m")
    out = tmp_path / "labels.txt"
    out.write_text("old1\nold2\n")
    with out.open("a") as fh:
        proc = subprocess.run([sys.executable, "-m", "cli.predict", f"model_dir={model}", "output=/dev/stdout"],
                              input="a film\nanother one\n", stdout=fh, stderr=subprocess.PIPE, text=True, cwd=REPO,
                              timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = out.read_text().splitlines()
    assert lines[:2] == ["old1", "old2"] and len(lines) == 4 and set(lines[2:]) <= {"neg", "pos"}, lines


def test_every_warning_of_an_evaluation_is_in_its_record(tmp_path, tokenizer):
    """Review of round 31's ew1 fix: only the data's warnings were kept; `scoring at task.max_seq_length=32, the length
    model_dir was trained and scored at` (sdp-eval without task.max_seq_length=) stayed on the console only."""
    import json

    from records import write_csv
    from sdp.cli.eval import compose_config
    from test_probe_round31 import _classifier

    from sdp.evaluation import evaluate_saved

    model = _classifier(tokenizer, tmp_path / "m", length=32)
    dev = write_csv(tmp_path / "dv.csv", [(f"a dev text number {i}", ("neg", "pos")[i % 2]) for i in range(8)])
    cfg = compose_config(["task=custom", f"task.validation_file={dev}", "task.text_fields=[text]",
                          "task.label_column=label", f"cache_dir={tmp_path / 'c'}"])
    evaluate_saved(cfg, model, tmp_path / "ev", length_given=False)
    said = json.loads((tmp_path / "ev" / "metrics.json").read_text()).get("warnings") or []
    assert any("scoring at task.max_seq_length=32, the length model_dir was trained" in w for w in said), said
