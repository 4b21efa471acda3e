"""What probe round 36 noticed but did not count (docs/probe_round36.md, "Noticed, not counted"), and what the review
of its merge found, fixed by the lead. Each test fails on 18873ad."""

from __future__ import annotations

import logging

from records import write_csv


def _csv(path, texts):
    return write_csv(path, [(t, "ab"[i % 2]) for i, t in enumerate(texts)])


def test_labels_with_a_minus_sign_and_a_hyphen_are_one_number():
    """Labels `-1` and `−1` (U+2212 MINUS SIGN, as a word processor writes it) were two classes."""
    from sdp.data.file_scan import label_problem, look_alikes

    problem = label_problem(sorted(["-1", "\u22121", "1"]))
    assert problem is not None and "the way a number is written" in problem, problem
    assert "in the way a number is written" in look_alikes(["\u22121"], ["-1", "1"])  # the hint says so too


def test_a_training_files_rows_under_two_labels_are_said_in_a_training_files_words(caplog):
    """A custom training file's rows under two labels were said in an eval file's words: `no prediction scores
    both` (the GLUE training file's say `the model is trained on both labels`)."""
    import datasets

    from sdp.data.cells import warn_conflicting_labels

    ds = datasets.Dataset.from_dict({"text": ["good film", "good film", "bad film"], "label": ["pos", "neg", "neg"]})
    with caplog.at_level(logging.WARNING, logger="sdp"):
        warn_conflicting_labels(ds, ["text"], "label", "train_file", "tr.csv")
        warn_conflicting_labels(ds, ["text"], "label", "validation_file", "dv.csv")
    lines = caplog.text.splitlines()
    assert "the model is trained on both labels" in lines[0] and "no prediction scores both" in lines[1], lines


def test_a_label_of_thousands_is_not_read_as_a_decimal_comma():
    """Review: `1,000` was read as 1.000, so labels `1` and `1,000` were refused as one value."""
    from sdp.data.file_scan import label_problem

    assert label_problem(sorted(["1", "1,000", "10,000"])) is None
    assert "the way a number is written" in label_problem(sorted(["1", "1,0"]))  # a decimal comma still one value


def test_dev_rows_a_start_model_read_as_its_training_rows_are_said(tmp_path, caplog, tokenizer):
    """Review of the merge: the start folder's rows were compared by text only, though its hash file holds token
    hashes: a dev file of its training rows with a zero-width joiner inside words was scored as held-out, unsaid,
    while sdp-eval of the run's model said them."""
    import datasets
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.fingerprint import write_row_hashes
    from sdp.data.token_repeats import token_digests
    from sdp.data.tokenize import tokenize_splits
    from sdp.run.data_record import record_data

    seen = ["agood film indeed", "a fine plot"]
    start = tmp_path / "dense_model"
    start.mkdir()
    task = custom_task(OmegaConf.create({"name": "custom", "train_file": _csv(tmp_path / "t.csv", ["x", "y"]),
                                         "validation_file": _csv(tmp_path / "d.csv", ["z", "w"]),
                                         "text_fields": ["text"], "label_column": "label", "metric": "accuracy"}))
    their = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": seen, "label": [0, 1]})})
    write_row_hashes(start, their["train"], ["text"], [token_digests(tokenize_splits(their, task, tokenizer, 32)["train"])])
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["our row", "another"], "label": [0, 1]}),
                                "validation": datasets.Dataset.from_dict({"text": ["a\u200dgood film indeed", "new"],
                                                                          "label": [0, 1]})})
    cfg = OmegaConf.create({"resume": False, "seed": 1, "task": {"name": "custom"}, "dense": {"checkpoint": str(start)},
                            "prune": {"teacher": "frozen"}, "model": {"pretrained": None}, "max_train_samples": None})
    (tmp_path / "run").mkdir()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        record_data(tmp_path / "run", cfg, raw, main_process=True, fields=("text",),
                    tokenized=tokenize_splits(raw, task, tokenizer, 32))
    assert f"dense.checkpoint={str(start)!r} was fine-tuned on 1 of the 2 rows of split validation" in caplog.text


def test_sdp_eval_of_a_carved_model_says_a_held_out_repeat_once(caplog):
    """Review of the merge: sdp-eval of a carved model said a held-out row repeating a row left for training twice,
    by the carve's check and by the model's hash file."""
    from types import SimpleNamespace

    import datasets

    from sdp.data.fingerprint import row_digests
    from sdp.data.scored_rows import warn_rows_among

    train = datasets.Dataset.from_dict({"text": ["a", "b", "c"]})
    held = datasets.Dataset.from_dict({"text": ["a", "d"]})  # 'a': a repeat of a row left for training
    hashes = row_digests(datasets.Dataset.from_dict({"text": ["a", "b", "c", "d"]}), ["text"])
    with caplog.at_level(logging.WARNING, logger="sdp"):
        warn_rows_among(SimpleNamespace(text_fields=["text"]), {"validation_from_train": held}, hashes, None, train)
    assert "1 of 2 rows repeat a row model_dir was trained on" in caplog.text and "rows [2]" in caplog.text, caplog.text
