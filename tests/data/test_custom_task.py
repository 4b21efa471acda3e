"""task=custom: a user's own files with their own column names, end to end and through the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401
from cli.tables import main as tables_main
from sdp.crosslingual import resolve_task
from sdp.data.loading import load_splits
from sdp.data.tasks import DataError, DataFileNotFoundError
from sdp.recipe import run

CONF = str(Path(__file__).resolve().parents[2] / "conf")
WORDS = {"pos": "a lovely warm bright film", "neg": "a dull cold grim mess", "mid": "an ordinary plain film"}


def compose_cfg(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def write_reviews(path: Path, n: int, labels=("pos", "neg", "mid")) -> Path:
    """A TSV as a user would write it: columns named unlike any GLUE task, labels as words."""
    rows = ["review_id\tbody\tverdict"]
    rows += [f"{i}\t{WORDS.get(labels[i % len(labels)], 'so so')} number {i}\t{labels[i % len(labels)]}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def custom(tmp_path: Path, **over: str) -> list[str]:
    train = over.pop("train", None) or write_reviews(tmp_path / "train.tsv", 48)
    dev = over.pop("dev", None) or write_reviews(tmp_path / "dev.tsv", 18)
    opts = {"task.train_file": train, "task.validation_file": dev, "task.text_fields": "[body]",
            "task.label_column": "verdict", **over}
    return ["task=custom", *(f"{k}={v}" for k, v in opts.items())]


def test_user_tsv_trains_evaluates_and_shows_in_the_table(tmp_path):
    out = tmp_path / "results" / "run1"
    cfg = compose_cfg(["debug=smoke", *custom(tmp_path), f"cache_dir={tmp_path}/cache"])
    metrics = run(cfg, run_dir=out)
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["status"] == "completed" and on_disk["task"] == "custom"
    assert set(on_disk["final"]) == {"accuracy", "main"} and 0.0 <= on_disk["final"]["accuracy"] <= 1.0
    assert metrics["final"] == on_disk["final"]
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "mid", "1": "neg", "2": "pos"}  # inferred, sorted
    assert tables_main([f"results_dir={tmp_path / 'results'}", "plots=false"]) == 0
    glue = (tmp_path / "results" / "tables" / "glue.md").read_text()
    header = next(line for line in glue.splitlines() if line.startswith("| Model"))
    assert "| custom |" in header
    score = f"{100 * on_disk['final']['main']:.2f} (n=1)"
    assert any(line.startswith("| tiny-bert | SDP-CC |") and score in line for line in glue.splitlines())


def test_a_custom_tasks_dense_model_and_teacher_can_be_passed_on(tmp_path):
    """dense.checkpoint and prune.teacher_checkpoint of the same user files are accepted (the config check once
    compared them with a 1-label placeholder task and refused every one); another label count still is not."""
    first = tmp_path / "first"
    run(compose_cfg(["debug=smoke", *custom(tmp_path), f"cache_dir={tmp_path}/cache"]), run_dir=first)
    shared = ["debug=smoke", *custom(tmp_path), f"cache_dir={tmp_path}/cache", f"dense.checkpoint={first}/dense_model"]
    second = run(compose_cfg([*shared, "prune.teacher=checkpoint", f"prune.teacher_checkpoint={first}/dense_model"]),
                 run_dir=tmp_path / "second")
    assert second["status"] == "completed" and second["dense"] == json.loads(
        (first / "metrics.json").read_text())["dense"]  # the same dense model, scored on the same dev file
    two = write_reviews(tmp_path / "two.tsv", 24, labels=("pos", "neg"))
    two_dev = write_reviews(tmp_path / "two_dev.tsv", 12, labels=("pos", "neg"))
    with pytest.raises(Exception, match=r"has 3 labels, the task needs 2"):
        run(compose_cfg(["debug=smoke", *custom(tmp_path, train=two, dev=two_dev), f"cache_dir={tmp_path}/cache",
                         f"dense.checkpoint={first}/dense_model"]), run_dir=tmp_path / "third")


def test_labelled_test_file_is_reported_but_never_in_main(tmp_path):
    """task.test_file: the dev rows with every label flipped, so that its accuracy is exactly 1 - the dev
    accuracy (same inputs, same predictions); main stays the dev score, in metrics.json and in the table."""
    dev = write_reviews(tmp_path / "dev.tsv", 18, labels=("pos", "neg"))
    flip = {"pos": "neg", "neg": "pos"}
    lines = dev.read_text().splitlines()
    test = tmp_path / "test.tsv"
    test.write_text("\n".join([lines[0], *("\t".join([*ln.split("\t")[:-1], flip[ln.split("\t")[-1]]])
                                          for ln in lines[1:])]) + "\n")
    out = tmp_path / "results" / "run1"
    cfg = compose_cfg(["debug=smoke", *custom(tmp_path, train=write_reviews(tmp_path / "train.tsv", 48, ("pos", "neg")),
                                              dev=dev, **{"task.test_file": test}), f"cache_dir={tmp_path}/cache"])
    run(cfg, run_dir=out)
    metrics = json.loads((out / "metrics.json").read_text())
    for stage in ("dense", "final"):
        scores = metrics[stage]
        assert set(scores) == {"accuracy", "main", "test_accuracy"}, scores
        assert scores["main"] == scores["accuracy"]  # the validation score only
        assert scores["test_accuracy"] == pytest.approx(1 - scores["accuracy"])
    assert metrics["eval_examples"]["test"] == 18 and "test" in metrics["data_fingerprint"]
    assert tables_main([f"results_dir={tmp_path / 'results'}", "plots=false"]) == 0
    glue = (tmp_path / "results" / "tables" / "glue.md").read_text()
    score = f"{100 * metrics['final']['main']:.2f} (n=1)"
    assert any(line.startswith("| tiny-bert | SDP-CC |") and score in line for line in glue.splitlines())


def test_parquet_files_the_local_twin_of_a_hub_datasets_files(tmp_path):
    """A Hub dataset's files are Parquet (hf://datasets/<owner>/<name>/...parquet is read by the same builder);
    here local Parquet files with integer labels and a pair of text columns."""
    import pandas as pd

    for name, n in (("train", 24), ("dev", 8)):
        pd.DataFrame({"premise": [f"a lovely film {i}" if i % 2 else f"a dull mess {i}" for i in range(n)],
                      "hypothesis": [f"it is good {i}" for i in range(n)],
                      "label": [i % 2 for i in range(n)]}).to_parquet(tmp_path / f"{name}.parquet")
    cfg = compose_cfg(custom(tmp_path, train=tmp_path / "train.parquet", dev=tmp_path / "dev.parquet",
                             **{"task.text_fields": "[premise,hypothesis]", "task.label_column": "label"}))
    task = resolve_task(cfg.task)
    assert task.label_names == ("0", "1") and task.text_fields == ("premise", "hypothesis")
    assert dict(task.local_split_files)["train"] == str((tmp_path / "train.parquet").resolve())
    splits = load_splits(task, None).datasets
    assert len(splits["train"]) == 24 and splits["validation"]["label"] == [0, 1] * 4


def test_float_labels_make_a_regression(tmp_path):
    train, dev = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    for path, n in ((train, 10), (dev, 4)):
        path.write_text("".join(json.dumps({"q": f"question {i}", "a": f"answer {i}", "score": i / 2}) + "\n"
                                for i in range(n)))
    cfg = compose_cfg(custom(tmp_path, train=train, dev=dev, **{"task.text_fields": "[q,a]",
                                                               "task.label_column": "score",
                                                               "task.metric": "pearson_spearman"}))
    task = resolve_task(cfg.task)
    assert task.is_regression and task.metric_names == ("pearson", "spearman") and task.text_fields == ("q", "a")
    splits = load_splits(task, None).datasets
    assert splits["validation"]["label"] == pytest.approx([0.0, 0.5, 1.0, 1.5])


@pytest.mark.parametrize("case, match", [
    ("missing_file", "task.train_file=.*does not exist"),
    ("missing_column", r"has no column \['verdict'\]; its columns: \['review_id', 'body', 'stars'\]"),
    ("unknown_label", r"task.validation_file=.*unknown label\(s\) \['meh'\].*allowed: \['mid', 'neg', 'pos'\]"),
    ("empty_file", "task.validation_file=.* is empty"),
    ("unknown_test_label", r"task.test_file=.*unknown label\(s\) \['meh'\]"),
    ("bad_metric", "task.metric='auc' is not one of"),
    ("float_with_accuracy", "float labels .* use task.metric=pearson_spearman"),
    ("target_outside_range", r"task.train_file=.* data row 2: target 1.5 is outside task 'custom''s range \[0, 1\]"),
    ("unreachable_url", r"task.train_file='hf://datasets/nobody/nothing/train.parquet' could not be read: "),
    ("unknown_format", r"task.train_file=.*unknown format '.xlsx'; allowed: \['.csv', '.json', '.jsonl', "
                       r"'.parquet', '.tsv'\]"),
])
def test_bad_files_fail_with_the_key_and_the_problem(tmp_path, case, match):
    over: dict = {}
    if case == "missing_file":
        over["train"] = tmp_path / "nope.tsv"
    elif case == "missing_column":
        over["task.label_column"] = "verdict"
        path = tmp_path / "t.tsv"
        path.write_text("review_id\tbody\tstars\n1\tgood\t5\n")
        over["train"] = path
    elif case == "unknown_label":
        over["dev"] = write_reviews(tmp_path / "dev2.tsv", 4, labels=("pos", "meh"))
    elif case == "unknown_test_label":
        over["task.test_file"] = write_reviews(tmp_path / "test.tsv", 4, labels=("pos", "meh"))
    elif case == "empty_file":
        (tmp_path / "empty.tsv").write_text("")
        over["dev"] = tmp_path / "empty.tsv"
    elif case == "bad_metric":
        over["task.metric"] = "auc"
    elif case == "unreachable_url":  # the Hub is unreachable here (HF_HUB_OFFLINE=1): its error, named by key
        over["train"] = "hf://datasets/nobody/nothing/train.parquet"
    elif case == "unknown_format":
        over["train"] = tmp_path / "reviews.xlsx"
    else:
        path = tmp_path / "f.csv"
        path.write_text("body,verdict\nfine,0.5\nbad,1.5\n")
        over["train"] = path
        if case == "target_outside_range":
            over.update({"task.metric": "pearson_spearman", "task.target_range": "[0,1]"})
        over["dev"] = tmp_path / "f_dev.csv"
        over["dev"].write_text("body,verdict\nfine,0.5\n")
    cfg = compose_cfg(custom(tmp_path, **over))
    error = DataFileNotFoundError if case in ("missing_file", "unreachable_url") else DataError
    with pytest.raises(error, match=match):
        resolve_task(cfg.task)


def blank_cells(path: Path, rows: list[int], column: int) -> Path:
    """Empties one cell in each of the given data rows (counted from 1, as the error counts them)."""
    lines = path.read_text().splitlines()
    for row in rows:
        cells = lines[row].split("\t")
        cells[column] = ""
        lines[row] = "\t".join(cells)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("case, match", [
    ("header_only", r"^task.validation_file='.*dev.tsv' has a header but no rows$"),
    ("header_only_jsonl", r"^task.train_file='.*train.jsonl' has no rows$"),
    ("blank_label", r"^task.train_file='.*train.tsv': column 'verdict' \(the label column\) is empty in 7 of 48 rows "
                    r"\(first: \[2, 5, 9, 12, 20\]; data rows counted from 1\); fill them in or drop those rows$"),
    ("blank_int_label", r"task.train_file='.*train.csv': column 'stars' \(the label column\) is empty in 1 of 8 "
                        r"rows \(first: \[3\];"),  # was "holds float labels (a regression)"
    ("blank_text", r"task.validation_file='.*dev.tsv': column 'body' \(a text field\) is empty in 1 of 18 rows "
                   r"\(first: \[4\];"),
    ("blank_test_text", r"task.test_file='.*test.tsv': column 'body' \(a text field\) is empty in 2 of 6 rows"),
    ("duplicate_label_names", r"^task.label_names=\['neg', 'neg', 'pos'\] names 'neg' more than once; "
                              r"each class is named once$"),
])
def test_empty_rows_and_cells_are_refused_not_read(tmp_path, case, match):
    """A blank label used to become a class 'None' of its own (or turn an integer column into a regression), a
    blank text the text 'None'; a file of a header only failed inside datasets with a traceback."""
    over: dict = {}
    if case == "header_only":
        over["dev"] = tmp_path / "dev.tsv"
        over["dev"].write_text("review_id\tbody\tverdict\n")
    elif case == "header_only_jsonl":
        over["train"] = tmp_path / "train.jsonl"
        over["train"].write_text("\n")
    elif case == "blank_label":
        over["train"] = blank_cells(write_reviews(tmp_path / "train.tsv", 48), [2, 5, 9, 12, 20, 30, 40], 2)
    elif case == "blank_int_label":
        over["train"] = tmp_path / "train.csv"
        over["train"].write_text("body,stars\n" + "".join(f"film {i},{'' if i == 2 else i % 2}\n" for i in range(8)))
        over["task.label_column"] = "stars"
    elif case == "blank_text":
        over["dev"] = blank_cells(write_reviews(tmp_path / "dev.tsv", 18), [4], 1)
    elif case == "blank_test_text":
        over["task.test_file"] = blank_cells(write_reviews(tmp_path / "test.tsv", 6), [1, 6], 1)
    else:
        over["task.label_names"] = "[neg,neg,pos]"
    with pytest.raises(DataError, match=match):
        resolve_task(compose_cfg(custom(tmp_path, **over)).task)


def test_every_read_of_a_split_refuses_blank_cells(tmp_path):
    """The files are read again when the run loads them: a cell blanked since is refused there too."""
    task = resolve_task(compose_cfg(custom(tmp_path)).task)
    blank_cells(tmp_path / "train.tsv", [3], 1)
    with pytest.raises(DataError, match=r"task.train_file=.*column 'body' \(a text field\) is empty in 1 of 48"):
        load_splits(task, None)


def test_words_pandas_would_call_missing_are_values(tmp_path):
    """Only a blank cell is missing: a class named None (common in intent data) and texts like NA are read as
    written, in a TSV and in a CSV."""
    for suffix, sep in ((".tsv", "\t"), (".csv", ",")):
        path = tmp_path / f"intents{suffix}"
        rows = [("NA", "None"), ("book a table", "book"), ("null", "None"), ("N/A", "book")] * 4
        path.write_text(f"body{sep}verdict\n" + "".join(f"{t}{sep}{y}\n" for t, y in rows))
        dev = path.with_name(f"dev{suffix}")
        dev.write_text(path.read_text() + f"more{sep}book\n")  # another file: a copy of train is refused
        task = resolve_task(compose_cfg(custom(tmp_path, train=path, dev=dev)).task)
        assert task.label_names == ("None", "book"), suffix
        assert load_splits(task, None).datasets["train"][0]["body"] == "NA"


def test_a_listed_class_with_no_training_row_is_said(tmp_path, caplog):
    """task.label_names may list a class no training row has (a shared label set); the model is then never trained
    on it and its dev rows count as misses: said in a warning, not refused (probe round 8, d05/d06: no word)."""
    train = write_reviews(tmp_path / "train.tsv", 48, labels=("pos", "neg"))
    dev = write_reviews(tmp_path / "dev.tsv", 18)  # a third of its rows are "mid"
    over = custom(tmp_path, train=train, dev=dev)
    with caplog.at_level("WARNING", logger="sdp"):
        task = resolve_task(compose_cfg([*over, "task.label_names=[pos,neg,mid]"]).task)
    assert task.label_names == ("pos", "neg", "mid")
    assert "task.label_names lists ['mid'] with no row in task.train_file=" in caplog.text
    assert "the model is never trained on it, and the eval rows of it (task.validation_file: 6 rows)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="sdp"):
        resolve_task(compose_cfg(custom(tmp_path, dev=write_reviews(tmp_path / "dev2.tsv", 18, ("pos", "neg")))).task)
    assert "with no row in task.train_file" not in caplog.text  # every class trained: no word


def test_a_carved_custom_task_needs_no_dev_file_and_says_when_one_goes_unscored(tmp_path, caplog):
    """Probe round 21, d04: task=custom with task.validation_from_train required task.validation_file, read it and
    never scored it, unsaid, and the model card named it as what was scored."""
    out = tmp_path / "carved"
    cfg = compose_cfg(["debug=smoke", "dense.max_steps=2", "prune.max_steps=2", f"cache_dir={tmp_path}/cache",
                       *custom(tmp_path, **{"task.validation_file": "null", "task.validation_from_train": "0.25"})])
    run(cfg, run_dir=out)
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["status"] == "completed" and on_disk["eval_examples"] == {"validation_from_train": 12}
    card = (out / "model" / "README.md").read_text()
    data_row = next(line for line in card.splitlines() if line.startswith("| Task and data |"))
    assert "held out (task.validation_from_train)" in data_row and "validation None" not in data_row
    with pytest.raises(DataError, match=r"task.validation_file is required for task=custom \(or "
                                        r"task.validation_from_train=<fraction>\)"):
        resolve_task(compose_cfg(custom(tmp_path, **{"task.validation_file": "null"})).task)
    caplog.clear()
    with caplog.at_level("WARNING", logger="sdp"):
        resolve_task(compose_cfg(custom(tmp_path, **{"task.validation_from_train": "0.25"})).task)
    assert "is checked but not scored: task.validation_from_train=0.25" in caplog.text


def test_a_csv_given_by_url_keeps_its_cells_as_written(tmp_path):
    """A file:// (or https://) CSV was read by pandas' types alone: labels 01/02/10 became classes 1/2/10, where the
    same file by path keeps 01/02/10 (probe round 23's d01 fixed for local paths only)."""
    from sdp.data.custom import read_checked

    path = tmp_path / "codes.csv"
    path.write_text("text,label\nhello there,01\nworld wide,02\nfoo bar,10\nbaz qux,01\n")
    for location in (str(path), path.as_uri()):
        assert read_checked(location, "train_file", ["text"], "label")["label"][:] == ["01", "02", "10", "01"]
