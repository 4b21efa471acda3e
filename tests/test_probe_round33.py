"""What probe round 33 found (issue 26; docs/probe_round33.md): rows and labels differing in control, private-use and
other format characters were new rows and classes of their own, unsaid; sdp-eval on part of its model's training file
was a held-out score; sdp-eval printed none of its warnings; a GLUE folder's broken train.tsv refused an evaluation of
its dev.tsv; two CSVs joined, numeric labels written two ways and a label with a line break made classes of their
own; a text column named `label` was a traceback; a line break or backtick in a name broke a table; a `$...$` model
name was a traceback in the plots; a training sample without a class was unsaid; an sdp-run model of LABEL_i labels
was refused by sdp-eval, which also scored an F1 of a class it never named; a reference mask of other training rows
was unsaid; one custom file named two ways made two claims units; two custom setups under one row setup were told
apart by nothing. Each test fails on the commit the probe ran (fd01606) and passes after its fix. Hand-written files,
records and tiny models, offline."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from records import write_csv, write_custom_pair_runs, write_record
from test_probe_round32 import _classifier, _task


def _eval(tmp_path: Path, model: Path, out: str, dev: str, *extra: str) -> dict:
    from sdp.cli.eval import compose_config

    from sdp.evaluation import evaluate_saved

    cfg = compose_config(["task=custom", f"task.validation_file={dev}", "task.text_fields=[text]",
                          "task.label_column=label", f"cache_dir={tmp_path / 'c'}", "task.max_seq_length=32", *extra])
    return evaluate_saved(cfg, model, tmp_path / "res" / out)


def _rows(n: int = 20, names=("neg", "pos")) -> list[tuple[str, str]]:
    return [(f"a good dev text number {i}", names[i % 2]) for i in range(n)]


# --------------------------------------------------------------------------- it1, ct1, pu1, lc1, dc1, gp1, ge1
def test_rows_and_labels_differing_in_other_invisible_characters_are_said(tmp_path, caplog, tokenizer):
    """it1/ct1/pu1: a test file of the dev rows with U+2062, U+0001 or U+E000 before each space scored the dev score
    again, no word; lc1: labels `pos` and `pos` + U+007F made a 3-class model; dc1, gp1 and ge1 (a carve, a GLUE
    folder, sdp-eval on it) compare rows by the same key. The tokenizers drop these characters; emoji tags stay."""
    from sdp.data.custom import custom_task
    from sdp.data.file_scan import text_key
    from sdp.data.tasks import DataError

    for mark in ("\u2062", "\u2063", "\u180e", "\x01", "\x1f", "\x7f", "\ue000", "\ufffd"):
        assert text_key(f"a good{mark} film") == text_key("a good film"), ascii(mark)
        assert tokenizer(f"a good{mark} film")["input_ids"] == tokenizer("a good film")["input_ids"]  # the premise
    england, scotland = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", \
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    assert text_key(england) != text_key(scotland)  # the review of round 32 keeps emoji tags
    train = write_csv(tmp_path / "tr.csv", [(f"train text {i}", ("neg", "pos")[i % 2]) for i in range(20)])
    dev_rows = _rows(10)
    dev = write_csv(tmp_path / "dv.csv", dev_rows)
    for name, mark in (("it", "\u2062"), ("ct", "\x01"), ("pu", "\ue000")):
        test = write_csv(tmp_path / f"{name}.csv", [(t.replace(" ", mark + " "), y) for t, y in dev_rows])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sdp"):
            custom_task(_task(train, dev, test))
        assert f"{name}.csv': 10 of 10 rows repeat a row of task.validation_file='{dev}'" in caplog.text, caplog.text
    labels = write_csv(tmp_path / "lb.csv", [(f"train text {i}", "neg" if i % 2 else "pos" + "\x7f" * (i % 4 == 0))
                                           for i in range(20)])
    with pytest.raises(DataError, match=r"differ only in accents or invisible characters \('pos', 'pos\\x7f'\)"):
        custom_task(_task(labels, dev))


# --------------------------------------------------------------------------- tu1, th1, ts1
def test_sdp_eval_of_part_of_its_models_training_file_is_said(tmp_path, tokenizer):
    """th1: sdp-eval of the first half of the model's training file scored 93.33 as held-out, no word (round 32's check
    compares the whole file's fingerprint only); tu1 and ts1 (the rows upper-cased, a max_eval_samples sample) alike.
    The run's run.json names the training file; its fingerprint says the rows are the model's."""
    from sdp.data.custom import custom_task
    from sdp.data.fingerprint import split_fingerprints
    from sdp.data.loading import load_splits

    rows = [(f"training text number {i} here", ("neg", "pos")[i % 2]) for i in range(20)]
    train = write_csv(tmp_path / "tr.csv", rows)
    other = write_csv(tmp_path / "other.csv", _rows())
    trained = split_fingerprints(load_splits(custom_task(_task(train, other)), None).datasets)["train"]
    model = _classifier(tokenizer, tmp_path / "run" / "model")
    config = json.loads((model / "config.json").read_text())
    config["sdp_training_rows"] = {"task.name": "custom", "max_train_samples": None, "train_fingerprint": trained}
    (model / "config.json").write_text(json.dumps(config))
    (tmp_path / "run" / "run.json").write_text(json.dumps({"config": {"task": {"name": "custom", "train_file": train}}}))
    half = write_csv(tmp_path / "half.csv", rows[:10])
    record = _eval(tmp_path, model, "e1", half)
    assert any("10 of 10 rows repeat a row trained on" in w for w in record.get("warnings", [])), record
    upper = write_csv(tmp_path / "up.csv", [(t.upper(), y) for t, y in rows])
    record = _eval(tmp_path, model, "e2", upper, "max_eval_samples=5")
    assert any("5 of 5 rows repeat a row trained on" in w for w in record.get("warnings", [])), record
    assert not any("trained on" in w for w in _eval(tmp_path, model, "e3", other).get("warnings", []))


# --------------------------------------------------------------------------- cw1
def test_sdp_eval_prints_its_warnings(tmp_path, tokenizer, capsys, monkeypatch):
    """cw1: sdp-eval kept its warnings for the record and printed none of them (the handler that keeps them took the
    place of logging's last-resort console output): `split validation holds the very rows ...` was never seen."""
    for logger in (logging.getLogger(), logging.getLogger("sdp")):  # as at the console: no handler but sdp-eval's
        monkeypatch.setattr(logger, "handlers", [])
    model = _classifier(tokenizer, tmp_path / "m", names=("LABEL_0", "LABEL_1"))
    dev = write_csv(tmp_path / "dv.csv", _rows())
    record = _eval(tmp_path, model, "e", dev, "task.label_names=[neg,pos]")
    said = next(w for w in record.get("warnings", []) if "names no classes" in w)
    assert f"warning: {said}" in capsys.readouterr().err


# --------------------------------------------------------------------------- gt1
def test_a_broken_glue_training_file_does_not_refuse_an_evaluation(tmp_path, tokenizer):
    """gt1: sdp-eval of an RTE model on a folder whose train.tsv has a malformed line was refused (`train.tsv line 51:
    expected 4 tab-separated columns`) though it scores dev.tsv only; it is scored, and the comparison skipped, said."""
    from sdp.cli.eval import compose_config

    from sdp.evaluation import evaluate_saved

    folder = tmp_path / "d" / "glue" / "RTE"
    folder.mkdir(parents=True)
    rows = [f"{i}\tsentence number {i} here\tanother one {i}\t{('entailment', 'not_entailment')[i % 2]}" for i in range(8)]
    (folder / "train.tsv").write_text("index\tsentence1\tsentence2\tlabel\n" + "\n".join(rows) + "\n9\tonly two\n")
    (folder / "dev.tsv").write_text("index\tsentence1\tsentence2\tlabel\n" + "\n".join(rows[:6]) + "\n")
    model = _classifier(tokenizer, tmp_path / "m", names=("entailment", "not_entailment"))
    config = json.loads((model / "config.json").read_text())
    config["sdp_training_rows"] = {"task.name": "rte", "max_train_samples": None, "train_fingerprint": "0123abcd"}
    (model / "config.json").write_text(json.dumps(config))
    cfg = compose_config(["task=rte", f"data_dir={tmp_path / 'd'}", f"cache_dir={tmp_path / 'c'}",
                          "task.max_seq_length=32"])
    record = evaluate_saved(cfg, model, tmp_path / "res" / "e")
    assert record["eval_examples"] == {"validation": 6}, record
    assert any("were not compared with model_dir's training rows" in w for w in record.get("warnings", [])), record


# --------------------------------------------------------------------------- hr1, nz1, pn1, tl1
def test_joined_files_labels_written_two_ways_and_reserved_columns_are_refused(tmp_path):
    """hr1: two CSVs joined by cat made the second header a class `label`; nz1: labels 1 and 01 two classes; pn1: a
    label `pos` + line feed a class whose sdp-predict output took two lines; tl1: a text column named `label` (the
    classes in another) was a tokenizer traceback."""
    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    dev = write_csv(tmp_path / "dv.csv", _rows())
    joined = tmp_path / "joined.csv"
    joined.write_text(Path(write_csv(tmp_path / "a.csv", _rows())).read_text() + Path(dev).read_text())
    with pytest.raises(DataError, match=r"joined.csv' line 22 repeats the header \(text, label\)"):
        custom_task(_task(str(joined), dev))
    numbers = write_csv(tmp_path / "n.csv", [(t, "0" if y == "neg" else ("01" if i % 3 == 0 else "1"))
                                            for i, (t, y) in enumerate(_rows())])
    with pytest.raises(DataError, match=r"differ only in the way a number is written \('01', '1'\)"):
        custom_task(_task(numbers, write_csv(tmp_path / "n_dv.csv", _rows(6, names=("0", "1")))))
    lines = tmp_path / "nl.jsonl"
    lines.write_text("".join(json.dumps({"text": t, "label": y + "\n" * (y == "pos")}) + "\n" for t, y in _rows()))
    with pytest.raises(DataError, match=r"holds the label 'pos\\n' with a line break"):
        custom_task(_task(str(lines), dev))
    named = write_csv(tmp_path / "lab.csv", _rows(), header=("label", "sentiment"))
    task = _task(named, write_csv(tmp_path / "lab_dv.csv", _rows(6), header=("label", "sentiment")))
    task.text_fields, task.label_column = ["label"], "sentiment"
    with pytest.raises(DataError, match=r"names a column 'label', a name sdp keeps for its own"):
        custom_task(task)


# --------------------------------------------------------------------------- nl1
def test_a_line_break_or_backtick_in_a_name_keeps_the_tables_whole(tmp_path):
    """nl1: an evaluation folder named with a line break split its summary.md row in two, and one with a backtick
    ended its code span early."""
    from sdp.report.report import build_report

    res = tmp_path / "res"
    for name in ("e\nx", "e`1"):
        (res / name).mkdir(parents=True)
        (res / name / "metrics.json").write_text(json.dumps({
            "kind": "eval", "status": "completed", "task": "custom", "model": "m", "method": "MP",
            "target_sparsity": 0.8, "final": {"accuracy": 0.9, "main": 0.9}, "eval_examples": {"validation": 120}}))
    build_report(res, plots=False)
    summary = (res / "tables" / "summary.md").read_text()
    assert "| `e x` | custom |" in summary and "| ``e`1`` | custom |" in summary, summary


# --------------------------------------------------------------------------- mx1
def test_plots_of_a_model_named_with_dollars(tmp_path):
    """mx1: two models, one from a folder `m$\\q$x`, in one results folder: the score plot's legend was parsed as
    mathtext, a traceback (`Unknown symbol: \\q`), and tables/ was left without summary.md, claims.md and plots."""
    from sdp.report.report import build_report

    res = tmp_path / "res"
    for name, model in (("r1", "m$\\q$x"), ("r2", "a")):
        write_record(res, name, "MP", 1, 0.9)
        path = res / name / "metrics.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "model": model}))
    build_report(res, plots=True)
    assert (res / "tables" / "summary.md").exists() and list((res / "tables" / "plots").glob("score_vs_*.png"))


# --------------------------------------------------------------------------- ms1
def test_a_training_sample_without_a_class_is_said(tmp_path, caplog):
    """ms1: max_train_samples=2 sampled two `pos` rows, and the model, never trained on `neg`, was scored on 57 `neg`
    dev rows, unsaid (a carve says it: round 22's p02)."""
    from sdp.data.custom import custom_task
    from sdp.data.loading import load_splits

    sample = set(np.random.default_rng(0).permutation(20)[:2].tolist())
    train = write_csv(tmp_path / "tr.csv", [(f"train text {i}", "pos" if i in sample or i % 2 else "neg")
                                            for i in range(20)])
    dev = write_csv(tmp_path / "dv.csv", _rows())
    with caplog.at_level(logging.WARNING, logger="sdp"):
        load_splits(custom_task(_task(train, dev)), None, max_train_samples=2)
    assert "max_train_samples=2 left no training row of class(es) ['neg']" in caplog.text, caplog.text
    assert "their 10 validation row(s)" in caplog.text, caplog.text


# --------------------------------------------------------------------------- lb1, ef1
def test_sdp_eval_of_label_i_models_and_its_f1_class(tmp_path, tokenizer):
    """lb1: an sdp-run model of labels LABEL_0/LABEL_1 (transformers saves no id2label of its default names) was
    refused by sdp-eval as naming no classes; ef1: sdp-eval's F1 was the model's second class's, unsaid, where
    sdp-run says which class it scores."""
    from sdp.models.tokenizer_digest import tokenizer_digest

    model = _classifier(tokenizer, tmp_path / "m", names=("LABEL_0", "LABEL_1"))
    config = json.loads((model / "config.json").read_text())
    assert "id2label" not in config or set(config["id2label"].values()) == {"LABEL_0", "LABEL_1"}
    (model / "config.json").write_text(json.dumps({**config, "sdp_tokenizer_digest": tokenizer_digest(tokenizer)}))
    dev = write_csv(tmp_path / "dv.csv", _rows(names=("LABEL_0", "LABEL_1")))
    assert _eval(tmp_path, model, "e1", dev)["eval_examples"] == {"validation": 20}
    signed = _classifier(tokenizer, tmp_path / "s", names=("+1", "-1"))
    record = _eval(tmp_path, signed, "e2", write_csv(tmp_path / "s.csv", _rows(names=("+1", "-1"))), "task.metric=f1")
    assert any("task.metric=f1 is the F1 of class '-1'" in w for w in record.get("warnings", [])), record


# --------------------------------------------------------------------------- rf1, rf2
def test_a_reference_mask_of_other_training_rows_is_said(tmp_path):
    """rf1/rf2: prune.reference_mask of a run on another GLUE folder, or on other rows of the same file
    (max_train_samples), was recorded as the reference overlap, unsaid."""
    from sdp.pruning.overlap import other_training_rows

    for name, train in (("ours", "t-1"), ("same", "t-1"), ("other", "t-2")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps({"config": {"task": {"name": "rte"}},
                                                              "data_fingerprint": {"train": train}}))
    assert other_training_rows(tmp_path / "ours", tmp_path / "same") is None
    note = other_training_rows(tmp_path / "ours", tmp_path / "other" / "mask.safetensors")
    assert note and "is a run on other training rows (training data fingerprint t-2 there, t-1 here" in note


# --------------------------------------------------------------------------- cu1
def test_claims_count_one_file_named_two_ways_once(tmp_path):
    """cu1: the same sweep on `L_tr.csv` (from its folder) and `/tmp/p33/L_tr.csv` made two units a seed, each seed's
    one pair of models counted twice: `vs MP -0.83 [-2.19, +0.52] (n=6)`; by hand the three seeds give n=3."""
    from sdp.report.report import build_report

    res = tmp_path / "res"
    for spelling in ("L_tr.csv", "/tmp/p33/L_tr.csv"):
        write_custom_pair_runs(res, Path(spelling).parent.name or "rel", {"name": "custom", "train_file": spelling})
    build_report(res, plots=False)
    claims = (res / "tables" / "claims.md").read_text()
    assert "vs MP -0.83 [-4.42, +2.75] (n=3); vs KD" in claims, claims


# --------------------------------------------------------------------------- mt1
def test_setups_within_one_row_setup_are_told_apart(tmp_path):
    """mt1: an RTE smoke run beside two custom setups of one budget (accuracy, and a regression scored by Pearson and
    Spearman): summary.md said what told the two row setups apart, nothing of the two custom setups in one column."""
    from sdp.report.report import build_report

    res = tmp_path / "res"
    for name, task, steps in (("g", {"name": "rte"}, 2),
                              ("c", {"name": "custom", "train_file": "a.csv", "metric": "accuracy"}, 20),
                              ("r", {"name": "custom", "train_file": "r.csv", "metric": "pearson_spearman"}, 20)):
        write_record(res, name, "MP", 1, 0.6)
        path, run = res / name / "metrics.json", res / name / "run.json"
        record = json.loads(path.read_text())
        record.update(task=task["name"], config_hash=f"h-{name}", data_fingerprint={"train": f"t-{name}",
                                                                                   "validation": f"v-{name}"})
        path.write_text(json.dumps(record))
        config = json.loads(run.read_text())
        config["config"]["task"], config["config"]["dense"]["max_steps"] = task, steps
        run.write_text(json.dumps(config))
    build_report(res, plots=False)
    summary = (res / "tables" / "summary.md").read_text()
    assert "differ in task.metric, task.train_file: " in summary and "task.metric='pearson_spearman'" in summary, summary


# --------------------------------------------------------------------------- ss1
def test_a_row_past_its_target_sparsity_is_said(tmp_path):
    """ss1: a structured run of target 0.5 that ended at 61.72% showed as `KD (taylor) | 50%` beside an unstructured
    `KD | 50%` at 50.00%; nothing said the column is the target, nor that this row is past it."""
    from sdp.report.report import build_report

    res = tmp_path / "res"
    for name, method, achieved in (("u", "KD", 0.5), ("s", "KD (taylor)", 0.6171875)):
        write_record(res, name, method, 1, 0.9)
        path = res / name / "metrics.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "target_sparsity": 0.5,
                                    "achieved_sparsity": {"prunable": achieved}}))
    (res / "ev").mkdir()
    (res / "ev" / "metrics.json").write_text(json.dumps({
        "kind": "eval", "status": "completed", "task": "rte", "model": "tiny-bert", "method": "KD (taylor)",
        "target_sparsity": 0.5, "achieved_sparsity": {"prunable": 0.6171875}, "final": {"accuracy": 0.9, "main": 0.9},
        "eval_examples": {"validation": 120}}))
    build_report(res, plots=False)
    glue = (res / "tables" / "glue.md").read_text()
    assert "Sparsity = the runs' target (target_sparsity); 1 run(s) ended past it" in glue, glue
    summary = (res / "tables" / "summary.md").read_text()
    assert "past its target sparsity: `s` (KD (taylor)): target 50%, 61.72% of its prunable weights" in summary, summary
    assert "past its target sparsity (the Evaluations table shows the target and the pruned share): `ev` (KD (taylor))" in summary, summary
