"""What probe round 36 noticed but did not count (docs/probe_round36.md, "Noticed, not counted"), fixed by the lead.
Each test fails on 18873ad."""

from __future__ import annotations

import logging


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
