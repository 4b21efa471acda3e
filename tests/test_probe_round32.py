"""What probe round 32 found (issue 26; docs/probe_round32.md): rows and labels differing in direction marks were new
rows and classes of their own, unsaid; runs and evaluations in folders sdp-tables sets aside were left out unsaid; a
model of one text was scored on pairs; sdp-eval of the rows a model trained on was a held-out score; an evaluation's
model name, metric and undefined score were wrong or missing in the tables; unnamed labels were read in order unsaid;
a `|` in a name shifted the columns of costs.md and summary.md; sdp-eval's errors named a train_file never given; a
JSON array naming a key twice was read with its last value. Each test fails on the commit the probe ran (726e4c1) and
passes after its fix. Hand-written files, records and tiny models, offline."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from records import write_csv, write_custom_pair_runs, write_record


def _task(train: str, dev: str, test: str | None = None):
    return OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "test_file": test,
                             "text_fields": ["text"], "label_column": "label", "metric": "accuracy"})


def _classifier(tokenizer, path: Path, names=("neg", "pos"), fields=None) -> Path:
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, pad_token_id=tokenizer.pad_token_id,
                        id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
    config.sdp_max_seq_length = 32
    if fields is not None:
        config.sdp_text_fields = list(fields)
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _rows(n: int = 8) -> list[tuple[str, str]]:
    return [(f"a dev text number {i}", ("neg", "pos")[i % 2]) for i in range(n)]


def _eval(tmp_path: Path, model: Path, out: str, *extra: str) -> dict:
    from sdp.cli.eval import compose_config

    from sdp.evaluation import evaluate_saved

    dev = write_csv(tmp_path / "dv.csv", _rows())
    cfg = compose_config(["task=custom", f"task.validation_file={dev}", "task.text_fields=[text]",
                          "task.label_column=label", f"cache_dir={tmp_path / 'c'}", "task.max_seq_length=32", *extra])
    return evaluate_saved(cfg, model, tmp_path / "res" / out)


# --------------------------------------------------------------------------- lm1, lm2, lm3, gl2
def test_rows_and_labels_differing_in_direction_marks_are_said(tmp_path, caplog, tokenizer):
    """lm1: a test file of the dev rows with U+200E after each space scored the dev score again, no word; lm2: labels
    `pos` and `pos` + U+200E made a 3-class model; lm3 and gl2 (a carve, a GLUE folder) compare rows by the same key."""
    from sdp.data.custom import custom_task
    from sdp.data.file_scan import text_key
    from sdp.data.tasks import DataError

    for mark in ("\u200e", "\u200f", "\u2066", "\u2069", "\u202a", "\u061c"):
        assert text_key(f"a good{mark} film") == text_key("a good film")
        assert tokenizer(f"a good{mark} film")["input_ids"] == tokenizer("a good film")["input_ids"]  # the premise
    assert text_key("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") != text_key("\u0645\u06cc\u062e\u0648\u0627\u0647\u0645")
    train = write_csv(tmp_path / "tr.csv", [(f"train text {i}", ("neg", "pos")[i % 2]) for i in range(20)])
    dev_rows = [(f"a good dev text number {i}", ("neg", "pos")[i % 2]) for i in range(10)]
    dev = write_csv(tmp_path / "dv.csv", dev_rows)
    test = write_csv(tmp_path / "lrm.csv", [(t.replace(" ", " \u200e"), y) for t, y in dev_rows])
    with caplog.at_level(logging.WARNING, logger="sdp"):
        custom_task(_task(train, dev, test))
    assert f"lrm.csv': 10 of 10 rows repeat a row of task.validation_file='{dev}'" in caplog.text, caplog.text
    labels = write_csv(tmp_path / "lb.csv", [(f"train text {i}", "neg" if i % 2 else "pos" + "\u200e" * (i % 4 == 0))
                                           for i in range(20)])
    with pytest.raises(DataError, match=r"differ only in accents or invisible characters \('pos', 'pos\\u200e'\)"):
        custom_task(_task(labels, dev))


# --------------------------------------------------------------------------- sk1, sk2, sk3
def test_runs_in_folders_sdp_tables_sets_aside_are_said(tmp_path):
    """sk1/sk2: a run under `structured/` and an evaluation under `tables/plots/` were left out, unsaid; sk3: a run in a
    user's `previous-paper/` folder was taken for one a resume=false restart moved aside."""
    from sdp.report.collect import find_metrics_files

    res = tmp_path / "res"
    write_record(res, "mp1", "MP", 1, 0.9)
    write_record(res / "structured", "mp2", "MP", 2, 0.8)
    write_record(res / "tables" / "plots", "e1", "MP", 3, 0.8)
    write_record(res, "previous-paper-runs", "MP", 4, 0.7)
    write_record(res / "mp1" / "previous-20261206-221500", "old", "MP", 1, 0.5)
    said: list[str] = []
    found = [p.parent.name for p in find_metrics_files(res, said)]
    assert found == ["mp1", "previous-paper-runs"], found
    assert len(said) == 1 and "1 metrics.json under `structured/`" in said[0] and "under `tables/`" in said[0], said
    assert "1 metrics.json under `previous-<time>/`" in said[0], said


# --------------------------------------------------------------------------- ar1, ar2
def test_a_model_of_one_text_and_an_input_of_pairs_are_refused(tmp_path, tokenizer):
    """ar1: sdp-eval scored a one-text model on pairs (95.00), no word, where sdp-predict refuses; ar2: a pair model given
    as a one-text run's dense.checkpoint was warned of as fine-tuned on other rows."""
    from sdp.errors import ConfigError
    from sdp.saved_model import check_text_order

    one = _classifier(tokenizer, tmp_path / "one", fields=["text"])
    pairs = write_csv(tmp_path / "p.csv", [(t, "b text", y) for t, y in _rows()], header=("a", "b", "label"))
    from sdp.cli.eval import compose_config

    from sdp.evaluation import evaluate_saved

    cfg = compose_config(["task=custom", f"task.validation_file={pairs}", "task.text_fields=[a,b]",
                          "task.label_column=label", f"cache_dir={tmp_path / 'c'}", "task.max_seq_length=32"])
    with pytest.raises(ConfigError, match=r"was trained on one text \(text\) per row .* gives a pair \(a, b\)"):
        evaluate_saved(cfg, one, tmp_path / "res" / "e")
    task_cfg = OmegaConf.create({"name": "custom", "text_fields": ["a"]})
    with pytest.raises(ConfigError, match=r"dense.checkpoint .* was trained on a pair \(a, b\) per row"):
        check_text_order("dense.checkpoint", tmp_path / "pair", {"sdp_text_fields": ["a", "b"]}, task_cfg, None)


# --------------------------------------------------------------------------- tr1
def test_sdp_eval_of_the_rows_a_model_trained_on_is_said(tmp_path, tokenizer):
    """tr1: sdp-eval of the model's own training file scored 93.50 as held-out, no word, though its config.json records
    the fingerprint of those very rows."""
    from sdp.cli.eval import compose_config

    from sdp.crosslingual import resolve_task
    from sdp.data.custom import SCORING_ONLY
    from sdp.data.fingerprint import split_fingerprints
    from sdp.data.loading import load_splits
    from sdp.evaluation import fill_custom_task

    model = _classifier(tokenizer, tmp_path / "m")
    dev = write_csv(tmp_path / "dv.csv", _rows())
    cfg = compose_config(["task=custom", f"task.validation_file={dev}", "task.text_fields=[text]",
                          "task.label_column=label", f"cache_dir={tmp_path / 'c'}"])
    fill_custom_task(cfg, json.loads((model / "config.json").read_text()))
    scoring = SCORING_ONLY.set(True)
    task = resolve_task(cfg.task)
    SCORING_ONLY.reset(scoring)
    print_ = split_fingerprints(load_splits(task, None, read_train=False).datasets)["validation"]
    config = json.loads((model / "config.json").read_text())
    config["sdp_training_rows"] = {"train_fingerprint": print_}
    (model / "config.json").write_text(json.dumps(config))
    record = _eval(tmp_path, model, "e")
    assert any("holds the very rows model_dir was trained on" in w for w in record.get("warnings", [])), record


# --------------------------------------------------------------------------- ed1, ed2
def test_an_evaluations_model_is_named_as_its_run_or_its_folder(tmp_path, tokenizer):
    """ed1: a run's dense_model/ was named after the run folder (a sweep job's 250 bytes), while the run's model/ says
    tiny-bert; ed2: a model folder of no run was named after the folder above it."""
    lab = _classifier(tokenizer, tmp_path / "mods" / "lab")
    assert _eval(tmp_path, lab, "e1")["model"] == "lab"
    run = tmp_path / "debug=smoke,seed=3,id=0123abcd"
    dense = _classifier(tokenizer, run / "dense_model")
    (run / "metrics.json").write_text(json.dumps({"status": "completed", "task": "custom", "model": "tiny-bert",
                                                  "method": "MP", "seed": 3, "target_sparsity": 0.8, "config_hash": "h"}))
    (run / ".sdp.lock").write_text("")  # sdp ran there (sdp/run/nesting.py is_sdp_metrics)
    record = _eval(tmp_path, dense, "e2")
    assert (record["model"], record["method"], record["seed"]) == ("tiny-bert", "Dense", 3), record


# --------------------------------------------------------------------------- ew2, em1, vb1
def test_an_evaluations_metric_undefined_score_and_names_are_in_the_tables_whole(tmp_path):
    """ew2: an evaluation's undefined MCC (0.00) had no § and its metric_warnings were not listed; em1: scores of one
    model under accuracy, f1 and mcc read alike; vb1: a `|` in a model or folder name shifted every column."""
    from sdp.report.report import build_report

    res = tmp_path / "res"
    write_record(res, "r1", "MP", 1, 0.9)
    path = res / "r1" / "metrics.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "model": "A|B"}))
    for name, final, more in (("e_f1", {"f1": 0.944, "main": 0.944}, {}),
                              ("e_mcc", {"mcc": 0.0, "main": 0.0}, {"metric_warnings": ["mcc is undefined (x)"]}),
                              ("e|1", {"accuracy": 0.9, "main": 0.9}, {})):
        (res / name).mkdir(parents=True)
        (res / name / "metrics.json").write_text(json.dumps({
            "kind": "eval", "status": "completed", "task": "custom", "model": "A|B", "method": "MP",
            "target_sparsity": 0.8, "final": final, "eval_examples": {"validation": 120}, **more}))
    build_report(res, plots=False)
    summary = (res / "tables" / "summary.md").read_text()
    assert "| validation (120) by f1 | 94.40 |" in summary, summary
    assert "| validation (120) by mcc | 0.00§ |" in summary and "- `e_mcc`: mcc is undefined (x)" in summary, summary
    row = next(line for line in summary.splitlines() if line.startswith("| `e\\|1`"))
    assert row.count("|") - row.count("\\|") == 9, row
    costs = (res / "tables" / "costs.md").read_text()
    row = next(line for line in costs.splitlines() if line.startswith("| rte |"))
    assert "| A\\|B |" in row and row.count("|") - row.count("\\|") == 10, row


# --------------------------------------------------------------------------- lb1, lb2
def test_sdp_eval_of_a_model_without_class_names_is_said(tmp_path, tokenizer):
    """lb1: a model named LABEL_0, LABEL_1 was refused with the file's labels as unknown, `allowed: ['LABEL_0',
    'LABEL_1']`; lb2: with task.label_names its outputs were read in that order, unsaid."""
    from sdp.errors import ConfigError

    model = _classifier(tokenizer, tmp_path / "m", names=("LABEL_0", "LABEL_1"))
    with pytest.raises(ConfigError, match=r"names no classes .* as task.label_names=\[\.\.\.\]"):
        _eval(tmp_path, model, "e1")
    record = _eval(tmp_path, model, "e2", "task.label_names=[pos,neg]")
    assert any("names no classes" in w and "['pos', 'neg'] in that order" in w for w in record["warnings"]), record


# --------------------------------------------------------------------------- ek1, ek2
def test_sdp_evals_errors_name_the_file_it_was_given(tmp_path, tokenizer):
    """ek1: sdp-eval's errors about the scored file named `task.train_file=`, which no one gave; ek2: given only a test
    file, it said task.train_file was required."""
    from sdp.data.tasks import DataError

    model = _classifier(tokenizer, tmp_path / "m")
    header_only = tmp_path / "ho.csv"
    header_only.write_text("text,label\n")
    from sdp.cli.eval import compose_config

    from sdp.evaluation import evaluate_saved

    base = ["task=custom", "task.text_fields=[text]", "task.label_column=label", f"cache_dir={tmp_path / 'c'}"]
    with pytest.raises(DataError, match=r"^task.validation_file='.*ho.csv' has a header but no rows"):
        evaluate_saved(compose_config([*base, f"task.validation_file={header_only}"]), model, tmp_path / "res" / "e")
    test = write_csv(tmp_path / "te.csv", _rows())
    with pytest.raises(DataError, match=r"sdp-eval scores task.validation_file=.* reads no training file"):
        evaluate_saved(compose_config([*base, f"task.test_file={test}"]), model, tmp_path / "res" / "e")


# --------------------------------------------------------------------------- js3
def test_a_json_array_naming_a_key_twice_is_refused(tmp_path):
    """js3: a .json array whose objects name `label` twice was read with the last value (85.83), unsaid; the same
    objects as JSON Lines are refused."""
    from sdp.data.file_scan import scan_file
    from sdp.data.tasks import DataError

    good = tmp_path / "ok.json"
    good.write_text(json.dumps([{"text": "a", "label": "pos"}, {"text": "b", "label": "neg"}]))
    assert scan_file(good, ".json", "validation_file") == 2
    twice = tmp_path / "dup.json"
    twice.write_text('[{"text": "a", "label": "pos", "label": "neg"}]')
    with pytest.raises(DataError, match=r"names key\(s\) \['label'\] more than once"):
        scan_file(twice, ".json", "validation_file")
    lines = tmp_path / "lines.json"
    lines.write_text('{"text": "a", "label": "pos"}\n{"text": "b", "label": "neg"}\n')
    assert scan_file(lines, ".json", "validation_file") == 2


# --------------------------------------------------------------------------- co1, co2
def test_costs_keep_runs_of_other_task_settings_apart(tmp_path):
    """co1/co2: one task's runs on two training files (or at two sequence lengths) were one costs.md row, 1.60 s and
    6.19 s averaged as one budget, under a hash glue.md never shows."""
    from sdp.report.report import build_report

    res = tmp_path / "res"
    for name, seconds, length in (("short", 2.0, 16), ("long", 6.0, 128)):
        write_record(res, name, "MP", 1, 0.9)
        path, run = res / name / "metrics.json", res / name / "run.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "wall_seconds": seconds,
                                    "config_hash": f"h-{name}"}))
        config = json.loads(run.read_text())
        config["config"]["task"]["max_seq_length"] = length
        run.write_text(json.dumps(config))
    build_report(res, plots=False)
    rows = [line for line in (res / "tables" / "costs.md").read_text().splitlines() if line.startswith("| rte |")]
    assert len(rows) == 2 and {row.split(" | ")[5] for row in rows} == {"2", "6"}, rows


# --------------------------------------------------------------------------- cm1
def test_claims_units_keep_two_custom_datasets_apart(tmp_path):
    """cm1: a seed's pairs on two custom datasets (both `custom`) were averaged into one unit: `vs MP -3.06 [-14.41,
    +8.30] (n=3)` beside by-task rows of n=3 each; by hand, 6 units give -3.06 [-10.20, +4.08]."""
    from sdp.report.report import build_report

    res = tmp_path / "res"
    scores = {"a": {"MP": (0.9417, 0.925, 0.475), "SDP-CC": (0.9167, 0.925, 0.475)},
              "b": {"MP": (0.8583, 0.8667, 0.8083), "SDP-CC": (0.875, 0.8583, 0.6417)}}
    for data, methods in scores.items():
        write_custom_pair_runs(res, data, {"name": "custom", "train_file": f"{data}.csv"}, scores=methods,
                               record_keys={"data_fingerprint": {"train": f"t-{data}", "validation": "v0"}})
    build_report(res, plots=False)
    claims = (res / "tables" / "claims.md").read_text()
    assert "vs MP -3.06 [-10.19, +4.08] (n=6); vs KD" in claims, claims  # the scores to 4 digits


# --------------------------------------------------------------------------- gl4
def rte_model_trained_on(tokenizer, path: Path, data_dir: Path) -> Path:
    """A tiny RTE classifier whose config.json records ``data_dir``'s RTE training rows as the rows it trained on."""
    from sdp.data.fingerprint import split_fingerprints
    from sdp.data.loading import load_splits
    from sdp.data.tasks import TASKS

    model = _classifier(tokenizer, path, names=("entailment", "not_entailment"))
    trained = split_fingerprints(load_splits(TASKS["rte"], data_dir).datasets)["train"]
    config = json.loads((model / "config.json").read_text())
    config["sdp_training_rows"] = {"task.name": "rte", "max_train_samples": None, "train_fingerprint": trained}
    (model / "config.json").write_text(json.dumps(config))
    return model


def test_sdp_eval_of_a_glue_folder_whose_dev_rows_its_model_trained_on_is_said(tmp_path, tokenizer):
    """gl4: sdp-eval of an RTE model on a folder whose dev.tsv repeats its train.tsv's rows scored 51.00 as held-out, no
    word, where sdp-run on the same folder warns (round 31's gl1)."""
    from records import rte_rows, write_rte_folder
    from sdp.cli.eval import compose_config

    from sdp.evaluation import evaluate_saved

    rows = rte_rows(20, "sentence number {i} here", "another one {i}")
    write_rte_folder(tmp_path / "d", rows, rows[:6])
    model = rte_model_trained_on(tokenizer, tmp_path / "m", tmp_path / "d")
    cfg = compose_config(["task=rte", f"data_dir={tmp_path / 'd'}", f"cache_dir={tmp_path / 'c'}",
                          "task.max_seq_length=32"])
    record = evaluate_saved(cfg, model, tmp_path / "res" / "e")
    assert any("6 of 6 rows repeat a row trained on" in w for w in record.get("warnings", [])), record
