"""What probe round 34 found (issue 26; docs/probe_round34.md): sdp-eval of a carved model on its training rows was a
held-out score, unsaid; CJK text spaced between its characters was new rows and labels to the row comparison, though
BERT's tokenizer reads it as unspaced; a GLUE file's warning of empty texts did not count one of invisible characters
only; a GLUE dev file's rows under two labels were unsaid; the card's parameter count
read as the encoder's; glue.md's GLUE avg of one task was — under the legend "no run"; labels (and columns) in
look-alike letters of another script were classes (and unknown names) of their own; scores written as text were a
classifier's classes. Each test fails on the commit the probe ran (058dc27) and passes after its fix. Hand-written
files, records and tiny models, offline."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from records import rte_rows, write_csv, write_record, write_rte_folder
from test_probe_round32 import _classifier, _task
from test_probe_round33 import _eval


def _rows(n: int = 20, text: str = "training text number {i} here") -> list[tuple[str, str]]:
    return [(text.format(i=i), ("neg", "pos")[i % 2]) for i in range(n)]


def _record_rows(model: Path, rows: dict) -> None:
    config = json.loads((model / "config.json").read_text())
    config["sdp_training_rows"] = rows
    (model / "config.json").write_text(json.dumps(config))


# --------------------------------------------------------------------------- cv1, gc1
def test_sdp_eval_of_a_carved_models_training_rows_is_said(tmp_path, tokenizer):
    """cv1: sdp-eval of a model carved at 0.25 on its whole training file scored 53.17 as held-out, 450 of the 600
    rows trained on, no word; gc1: a GLUE carved model on a folder whose dev.tsv is train.tsv alike. The carve's
    training rows are rebuilt from the model's sdp_training_rows before the comparison."""
    from sdp.cli.eval import compose_config

    from sdp.data.custom import custom_task
    from sdp.data.fingerprint import split_fingerprints
    from sdp.data.loading import load_splits
    from sdp.data.tasks import get_task
    from sdp.evaluation import evaluate_saved

    train = write_csv(tmp_path / "tr.csv", _rows())
    other = write_csv(tmp_path / "other.csv", _rows(text="a good dev text number {i}"))
    carve = {"task.validation_from_train": 0.25, "task.validation_seed": 0, "max_train_samples": None}
    carved = load_splits(custom_task(_task(train, other)), None, validation_from_train=0.25).datasets
    model = _classifier(tokenizer, tmp_path / "run" / "model")
    _record_rows(model, {"task.name": "custom", **carve, "train_fingerprint": split_fingerprints(carved)["train"]})
    (tmp_path / "run" / "run.json").write_text(json.dumps({"config": {"task": {"name": "custom", "train_file": train}}}))
    record = _eval(tmp_path, model, "e1", train)
    assert any("15 of 20 rows repeat a row trained on" in w for w in record.get("warnings", [])), record
    held = write_csv(tmp_path / "held.csv", [_rows()[i] for i in range(20) if carved["validation_from_train"]
                                             and f"number {i} here" in " ".join(carved["validation_from_train"]["text"])])
    assert not any("trained on" in w for w in _eval(tmp_path, model, "e2", held).get("warnings", []))

    data = tmp_path / "d"
    write_rte_folder(data, rte_rows(16), rte_rows(16))  # dev.tsv is train.tsv
    glue = load_splits(get_task("rte"), data, validation_from_train=0.25).datasets
    rte = _classifier(tokenizer, tmp_path / "g" / "model", names=("entailment", "not_entailment"))
    _record_rows(rte, {"task.name": "rte", **carve, "train_fingerprint": split_fingerprints(glue)["train"]})
    cfg = compose_config(["task=rte", f"data_dir={data}", f"cache_dir={tmp_path / 'c'}", "task.max_seq_length=32"])
    record = evaluate_saved(cfg, rte, tmp_path / "res" / "g")
    assert any("12 of 16 rows repeat a row trained on" in w for w in record.get("warnings", [])), record


# --------------------------------------------------------------------------- cj1, cj2
def test_cjk_text_spaced_or_not_is_one_text(tmp_path, caplog, tokenizer):
    """cj1: a test file of the dev rows in Chinese with a space between characters scored the dev score again, no word
    (BERT's tokenizer spaces every CJK ideograph); cj2: labels 好评 and `好 评` made a 3-class model."""
    from sdp.data.custom import custom_task
    from sdp.data.file_scan import text_key
    from sdp.data.tasks import DataError

    assert tokenizer("好电影很好")["input_ids"] == tokenizer("好 电 影 很 好")["input_ids"]  # the premise
    assert text_key("好电影 很好") == text_key("好 电 影很好")
    assert text_key("かき") != text_key("か き")  # kana are not spaced by the tokenizer: kept apart
    words = ["好电影", "差评论", "很精彩", "太无聊", "演员好", "剧情差"]
    rows = [(words[i % 6] + words[(i * 5 + 1) % 6] + str(i), ("neg", "pos")[i % 2]) for i in range(20)]
    train = write_csv(tmp_path / "tr.csv", rows)
    dev_rows = [(words[i % 6] + "的" + words[(i + 1 + i // 6) % 6], ("neg", "pos")[i % 2]) for i in range(10)]
    dev = write_csv(tmp_path / "dv.csv", dev_rows)
    test = write_csv(tmp_path / "te.csv", [(" ".join(t), y) for t, y in dev_rows])
    with caplog.at_level(logging.WARNING, logger="sdp"):
        custom_task(_task(train, dev, test))
    assert "10 of 10 rows repeat a row of task.validation_file" in caplog.text
    spaced = write_csv(tmp_path / "lab.csv", [(t, {"neg": "差评", "pos": "好 评" if i % 4 == 1 else "好评"}[y])
                                             for i, (t, y) in enumerate(rows)])
    with pytest.raises(DataError, match=r"differ only in spaces, \['好 评', '好评'\]"):
        custom_task(_task(spaced, dev))


# --------------------------------------------------------------------------- gz1
def test_a_glue_text_of_invisible_characters_is_counted_as_empty(tmp_path, caplog, tokenizer):
    """gz1: a GLUE dev.tsv whose sentence2 is a zero-width space (no text to the tokenizer) was read as an empty text,
    uncounted by the warning that counts the empty ones (`1 row(s) with an empty text field (lines [7])`). The reader
    says the empty one; the zero-width space is said by the model's tokenizer, which reads nothing in it (tiny-xlmr's
    reads a token: probe round 49)."""
    from sdp.data.glue_local import read_glue_split
    from sdp.data.loading import load_splits
    from sdp.data.tasks import get_task
    from sdp.data.tokenize import tokenize_splits

    dev = rte_rows(8)
    dev[2] = "2\tpremise number 2\t\u200b\tentailment"
    dev[4] = "4\tpremise number 4\t\tentailment"
    write_rte_folder(tmp_path / "d", rte_rows(8), dev)
    with caplog.at_level(logging.WARNING, logger="sdp"):
        read_glue_split(get_task("rte"), tmp_path / "d", "validation")
    assert "1 row(s) with an empty text field (lines [6]), read as an empty text" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        loaded = load_splits(get_task("rte"), tmp_path / "d")
        tokenize_splits(loaded.datasets, get_task("rte"), tokenizer, 32, blanks_said=loaded.labels_checked)
    assert ("split validation: text field 'sentence2' is empty in 1 of 8 rows (rows [3], counted from 1): "
            "BertTokenizer, this model's tokenizer, reads nothing in it (data row 3 is '\\u200b')") in caplog.text


# --------------------------------------------------------------------------- tl2, tl3
def test_glue_eval_rows_under_two_labels_are_said(tmp_path, caplog):
    """tl2/tl3: an RTE dev.tsv holding 5 of its pairs again under the other label was scored (sdp-run and sdp-eval)
    with no word; a custom dev file so written is said (round 33's leftover). The training file is checked too since
    round 35's gtw1 (tests/test_round35_found.py)."""
    from sdp.data.glue_local import read_glue_split
    from sdp.data.tasks import get_task

    flipped = [row.replace("\tentailment", "\tnot_entailment") if row.endswith("\tentailment")
               else row.replace("\tnot_entailment", "\tentailment") for row in rte_rows(2)]
    write_rte_folder(tmp_path / "d", rte_rows(8) + flipped, rte_rows(8) + flipped)
    with caplog.at_level(logging.WARNING, logger="sdp"):
        read_glue_split(get_task("rte"), tmp_path / "d", "train")
    assert "train.tsv': 4 of 10 rows repeat another row of the file under another label" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        read_glue_split(get_task("rte"), tmp_path / "d", "validation")
    assert "4 of 10 rows repeat another row of the file under another label" in caplog.text
    assert "lines [2, 3, 10, 11]" in caplog.text


# --------------------------------------------------------------------------- cd1
def test_the_cards_parameter_count_is_the_whole_models(tmp_path):
    """cd1: `76.70% of the encoder's weights (998287 of 1011426 parameters non-zero)`: the count is the whole model's,
    embeddings included (the encoder holds 3981 of 17088 non-zero), written as if it were the encoder's."""
    from test_probe_round17 import _cfg, _metrics

    from sdp.models.card import write_model_card

    card = write_model_card(tmp_path, {**_metrics(), "achieved_sparsity": {"prunable": 0.8, "encoder": 0.767}},
                            _cfg()).read_text()
    assert "76.70% of all the encoder's parameters (" in card
    assert "parameters non-zero, in the whole model with its embeddings)" in card


# --------------------------------------------------------------------------- ga1
def test_a_glue_avg_of_fewer_than_two_tasks_is_explained(tmp_path):
    """ga1: runs of one GLUE task showed — in every GLUE avg cell, whose only legend was `— = no run (an incomplete
    sweep)`: no run was missing; one task's score is never averaged, and glue.md now says so."""
    from sdp.report.report import build_report

    for seed in (1, 2):
        write_record(tmp_path / "r", f"mp{seed}", "MP", seed, 0.6)
    build_report(tmp_path / "r", plots=False)
    text = (tmp_path / "r" / "tables" / "glue.md").read_text()
    assert "GLUE avg = the mean of the main scores of two or more GLUE tasks: this table has one (RTE)" in text


# --------------------------------------------------------------------------- hg1, hg2, hg3
def test_labels_in_look_alike_letters_of_another_script_are_twins(tmp_path):
    """hg1: labels `pos` and `pоs` (a Cyrillic о, another keyboard layout) made a 3-class model; hg2: a dev label
    `pоs` was `unknown ... allowed: ['neg', 'pos']`, printing as an allowed one; hg3: a text field `tеxt` alike."""
    from sdp.data.custom import custom_task
    from sdp.data.file_scan import label_problem
    from sdp.data.tasks import DataError

    assert "look-alike letters of another script" in (label_problem(["pos", "p\u043es"]) or "")
    assert label_problem(["да", "нет"]) is None and label_problem(["кот", "кит"]) is None
    rows = _rows()
    dev = write_csv(tmp_path / "dv.csv", _rows(10, "a good dev text number {i}"))
    odd = write_csv(tmp_path / "tr.csv", [(t, "p\u043es" if y == "pos" and i % 4 == 1 else y)
                                          for i, (t, y) in enumerate(rows)])
    with pytest.raises(DataError, match="differ only in look-alike letters of another script"):
        custom_task(_task(odd, dev))
    train = write_csv(tmp_path / "ok.csv", rows)
    odd_dev = write_csv(tmp_path / "odd_dv.csv", [("a good dev text", "p\u043es"), ("another dev text", "neg")])
    with pytest.raises(DataError, match=r"'p\\u043es' is 'pos' written otherwise: .* look-alike letters"):
        custom_task(_task(train, odd_dev))
    task = _task(train, dev)
    task.text_fields = ["t\u0435xt"]
    with pytest.raises(DataError, match=r"'t\\u0435xt' is 'text' written otherwise"):
        custom_task(task)


# --------------------------------------------------------------------------- rs3, rs1
def test_scores_written_as_text_are_a_regression_not_classes(tmp_path):
    """rs3: a JSON Lines file of scores written `"4.5"` was a 6-class classifier scored by accuracy, no word (the same
    numbers in a CSV are refused as a regression's); rs1: unrounded, `unknown label(s) ['1.9', ...]; allowed: [...]`
    of hundreds of classes. Whole numbers written as text stay classes."""
    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    def jsonl(name: str, scores: list[str]) -> str:
        path = tmp_path / name
        path.write_text("".join(json.dumps({"text": f"text number {i} here", "label": s}) + "\n"
                                for i, s in enumerate(scores)))
        return str(path)

    halves = ["1.0", "1.5", "4.5", "2.0", "5.0", "4.0"] * 4
    train, dev = jsonl("tr.jsonl", halves), jsonl("dv.jsonl", halves[:8])
    with pytest.raises(DataError, match=r"holds numbers written as text, not all whole \('1.5', '4.5'\): a "
                                        r"regression's scores, which would be read as 6 classes; use "
                                        r"task.metric=pearson_spearman"):
        custom_task(_task(train, dev))
    regression = _task(train, dev)
    regression.metric = "pearson_spearman"
    assert custom_task(regression).is_regression
    whole = jsonl("whole.jsonl", ["1", "2"] * 10)
    assert custom_task(_task(whole, jsonl("wdv.jsonl", ["1", "2"] * 3))).label_names == ("1", "2")
