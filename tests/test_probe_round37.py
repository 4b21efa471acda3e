"""Probe round 37 (docs/probe_round37.md): each test fails on 49c2525 (the round's BASE) and passes after its fix."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from records import write_csv, write_rte_folder


def _said(caplog, run, *words: str) -> str:
    """The sdp warnings ``run()`` logs that hold every one of ``words``."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        run()
    return "\n".join(m for r in caplog.records if all(w in (m := r.getMessage()) for w in words))


def _custom(tmp_path: Path, train: list, dev: list, *extra: str):
    from sdp.cli.eval import compose_config

    return compose_config(["task=custom", "task.text_fields=[text]", "task.label_column=label",
                           f"task.train_file={write_csv(tmp_path / 'tr.csv', train)}",
                           f"task.validation_file={write_csv(tmp_path / 'dv.csv', dev)}", *extra])


def test_a_custom_training_files_checks_are_made_among_the_rows_a_run_trains_on(tmp_path, caplog):
    """ct1, ct2, cs2: "the model is trained on both labels" was said of a custom training file's rows its sample (or
    carve) left out, and dev rows repeating rows the sample left out were "partly a training score" (GLUE files were
    checked among the rows trained since round 36). 12 rows, rows 2 and 7 again under the other label (rows 10, 11):
    the sample of 4 is rows 9, 2, 7, 4 (default_rng(0).permutation(12)[:4]); dev repeats rows 0-5 (2 and 4 trained)."""
    import sdp.recipe
    from sdp.crosslingual import resolve_run_task

    train = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(10)]
    train += [(f"film number {i} here", ("neg", "pos")[i % 2]) for i in (2, 7)]
    dev = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(6)] + [("a new film", "pos")] * 2
    assert np.random.default_rng(0).permutation(12)[:4].tolist() == [9, 2, 7, 4]
    whole = _custom(tmp_path, train, dev)
    assert "4 of 12 rows repeat another row" in _said(caplog, lambda: resolve_run_task(whole), "under another label")
    assert "6 of 8 rows repeat a row of task.train_file" in _said(caplog, lambda: resolve_run_task(whole), "task.train")
    sampled = _custom(tmp_path, train, dev, "max_train_samples=4")
    assert _said(caplog, lambda: resolve_run_task(sampled), "under another label") == ""  # 10, 11 not sampled
    text = _said(caplog, lambda: resolve_run_task(sampled), "repeat a row of task.train_file")
    assert "2 of 8 rows" in text and "among the 4 rows this run trains on" in text and "[3, 5]" in text, text
    # a carve of 3 rows (sort(default_rng(0).permutation(12)[:3]) = 2, 7, 9) holds one of each pair out: quiet
    carved = _custom(tmp_path, train, dev, "task.validation_from_train=0.25")
    assert _said(caplog, lambda: resolve_run_task(carved), "under another label") == ""
    train[4] = ("film number 9 here", "pos")  # row 9's text under the other label, both in the sample: said
    text = _said(caplog, lambda: resolve_run_task(_custom(tmp_path, train, dev, "max_train_samples=4")), "under")
    assert "2 of the 4 rows this run trains on (max_train_samples=4)" in text and "[5, 10]" in text, text
    assert "resolve_run_task(cfg)" in Path(sdp.recipe.__file__).read_text()  # the run reads its files so


def test_repeat_counts_are_made_over_the_rows_a_sample_scores(tmp_path, caplog):
    """gd1, fr1, cv2, cv3: a GLUE dev file holding training rows said "3 of 8 rows repeat a row trained on" where the
    3 rows scored (max_eval_samples) held 2 (rows 2, 4 of permutation(8)[:3] = 2, 4, 3; trained 9, 2, 7, 4); a custom
    dev file, and a carve, were counted whole too."""
    from omegaconf import OmegaConf

    from sdp.crosslingual import resolve_task
    from sdp.data.loading import load_run_splits

    labels = ("entailment", "not_entailment")
    train = [f"{i}\tpremise {i}\thypothesis {i}\t{labels[i % 2]}" for i in range(12)]
    write_rte_folder(tmp_path, train, train[:8])
    task = resolve_task(OmegaConf.create({"name": "rte"}))

    def glue(eval_samples):
        cfg = OmegaConf.create({"data_dir": str(tmp_path), "max_train_samples": 4, "max_eval_samples": eval_samples,
                                "task": {"validation_from_train": None, "validation_seed": 0}})
        return _said(caplog, lambda: load_run_splits(cfg, task), "repeat a row trained on")

    assert "3 of 8 rows" in glue(None)
    text = glue(3)
    assert "2 of 3 rows" in text and "rows [3, 5]" in text, text
    from sdp.crosslingual import resolve_run_task

    rows = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(12)]
    cfg = _custom(tmp_path, rows, rows[:8], "max_eval_samples=3")
    text = _said(caplog, lambda: resolve_run_task(cfg), "repeat a row of task.train_file")
    assert "3 of the 3 rows scored (max_eval_samples=3)" in text and "[3, 4, 5]" in text, text
    carve = _custom(tmp_path, rows + rows[:4], rows[:2], "task.validation_from_train=0.5", "max_eval_samples=2")
    held = np.sort(np.random.default_rng(0).permutation(16)[:8])  # 0 2 3 4 5 7 10 11; scored: 3 and 5
    scored, kept = held[np.random.default_rng(0).permutation(8)[:2]], set(range(16)) - set(held.tolist())
    partner = {**{i: i + 12 for i in range(4)}, **{i + 12: i for i in range(4)}}  # rows 0-3 are rows 12-15's texts
    assert sum(partner.get(int(i)) in kept for i in held) == 3 and sum(partner.get(int(i)) in kept for i in scored) == 1
    text = _said(caplog, lambda: load_run_splits(carve, resolve_task(carve.task)), "held-out rows repeat")
    assert "1 of 2 held-out rows" in text, text


def test_a_test_splits_rows_read_as_dev_rows_are_said(caplog):
    """tc1, tc2: a test file of the dev rows differing only past task.max_seq_length was scored as a second,
    independent score (98 of 120 rows the dev rows again as the model read them), by sdp-run and sdp-eval."""
    import datasets

    from sdp.data.token_repeats import warn_token_repeats, warn_tokens_among

    def split(texts, ids):
        return datasets.Dataset.from_dict({"text": texts, "label": [0] * len(texts)}), datasets.Dataset.from_dict(
            {"input_ids": ids, "attention_mask": [[1] * len(i) for i in ids]})

    parts = {"train": split(["a b c", "d e f"], [[1, 2, 3], [1, 4, 3]]),
             "validation": split(["x y z w", "p q r s"], [[1, 7, 3], [1, 8, 3]]),
             "test": split(["x y z CUT", "new row", "p q r s"], [[1, 7, 3], [1, 9, 3], [1, 8, 3]])}
    raw = datasets.DatasetDict({k: v[0] for k, v in parts.items()})
    tokenized = datasets.DatasetDict({k: v[1] for k, v in parts.items()})
    task = SimpleNamespace(name="custom", train_split="train", eval_splits=("validation", "test"), text_fields=("text",),
                           is_regression=False)
    for run in (lambda: warn_token_repeats(task, raw, tokenized, 3),
                lambda: warn_tokens_among(task, raw, {s: tokenized[s] for s in ("validation", "test")}, None, 3)):
        text = _said(caplog, run, "split test")
        assert "1 of 3 rows are rows of split validation as the model reads them" in text, text
        assert "rows [1]" in text and "partly a dev score" in text, text  # row 3 is a dev row's text: said by text


def test_the_recovery_plot_names_setups_as_the_tables_do(tmp_path, monkeypatch):
    """rp1: glue.md named two MP setups [e7adb8fd] and [cddf7723] (row_setup: the setup less the task); the recovery
    plot's legend, `MP (e19732e3, n=3)` and `MP (9e83376f, n=1)`: the setups' own hashes, in no table."""
    import matplotlib.figure
    import pandas as pd

    from sdp.report.plots import recovery

    runs = []
    for name, setup, row in (("a", "e19732e3aaaa", "e7adb8fdbbbb"), ("b", "9e83376fcccc", "cddf7723dddd")):
        (tmp_path / name).mkdir()
        events = [{"event": "prune", "step": s, "sparsity": 0.4 * s, "loss_before": 1.0, "loss_after": 1.1,
                   "recovery_steps": 1} for s in (1, 2)]
        (tmp_path / name / "trace.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
        runs.append({"task": "custom", "target_sparsity": 0.8, "has_trace": True, "path": name, "model": "tiny-bert",
                     "method": "MP", "schedule": "cubic", "teacher": "frozen", "setup": setup, "row_setup": row})
    legends = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: legends.extend(
        t.get_text() for t in fig.axes[0].get_legend().get_texts()))
    recovery(pd.DataFrame(runs), tmp_path, "custom", 0.8, tmp_path)
    assert any("e7adb8fd" in t for t in legends) and any("cddf7723" in t for t in legends), legends
    assert not any("e19732e3" in t or "9e83376f" in t for t in legends), legends


def test_a_run_inside_another_runs_folder_is_refused(tmp_path):
    """nr1: output_dir=<run>/inner ran; a resume=false of <run> then moved it aside with that run's files, unnamed,
    and sdp-tables left it out."""
    from sdp.run.rundir import RunDirError, prepare_run_dir

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text(json.dumps({"config": {"seed": 1}, "config_hash": "abc"}))  # sdp's record (review: one rule)
    with pytest.raises(RunDirError, match="is inside the run folder .*run.* \\(its run.json\\)"):
        prepare_run_dir(tmp_path / "run" / "inner" / "deeper")
    assert not (tmp_path / "run" / "inner").exists()
    assert prepare_run_dir(tmp_path / "run") == tmp_path / "run"  # the run's own folder (a resume) is taken
    assert prepare_run_dir(tmp_path / "other").is_dir()


def test_a_regression_score_with_a_minus_sign_is_read(tmp_path):
    """d6: a score written with U+2212 MINUS SIGN was "target '−1.5' is not a finite number", which prints as one."""
    from sdp.crosslingual import resolve_task
    from sdp.data.loading import load_splits

    rows = [(f"film number {i} here", f"{i % 5}.5") for i in range(10)]
    rows[3] = ("film number 3 here", "\u22121.5")
    cfg = _custom(tmp_path, rows, rows[:5], "task.metric=pearson_spearman")
    splits = load_splits(resolve_task(cfg.task), None).datasets
    assert splits["train"]["label"][3] == -1.5 and splits["validation"]["label"][3] == -1.5


def test_a_row_hash_file_of_another_model_of_the_same_count_is_said_so(tmp_path, tokenizer):
    """hr1: a model folder's sdp_training_rows.u64 replaced by another model's of as many hashes was said "damaged or
    replaced (1200 hashes; its config.json records 1200)": equal counts given as the reason, nothing to do."""
    from test_probe_round36 import _saved_run

    from sdp.data.fingerprint import ROW_KEYS_FILE, row_hashes_read

    run, _ = _saved_run(tmp_path, tokenizer)
    away = tmp_path / "away"
    shutil.copytree(run / "model", away)
    data = (away / ROW_KEYS_FILE).read_bytes()
    (away / ROW_KEYS_FILE).write_bytes(data[:8] + data[:7:-1])  # as many hashes, other ones: another folder's file
    hashes, why = row_hashes_read(away)
    assert hashes is None and "is damaged or replaced" in why, why
    assert "as its config.json records, but not the ones it records" in why and "copy the model folder's own" in why
