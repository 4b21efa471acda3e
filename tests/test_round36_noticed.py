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
    # this run trains on a joiner-spelt 'a fine plot': the start model's very 'a fine plot' in dev is this run's own
    # row to the model (said by the token check), not the start folder's to say again (review)
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["our row", "a fi\u200dne plot"],
                                                                     "label": [0, 1]}),
                                "validation": datasets.Dataset.from_dict({"text": ["a\u200dgood film indeed", "new",
                                                                                   "a fine plot"], "label": [0, 1, 1]})})
    cfg = OmegaConf.create({"resume": False, "seed": 1, "task": {"name": "custom"}, "dense": {"checkpoint": str(start)},
                            "prune": {"teacher": "frozen"}, "model": {"pretrained": None}, "max_train_samples": None})
    (tmp_path / "run").mkdir()
    tokenized = tokenize_splits(raw, task, tokenizer, 32)
    with caplog.at_level(logging.WARNING, logger="sdp"):
        record_data(tmp_path / "run", cfg, raw, main_process=True, fields=("text",), tokenized=tokenized,
                    token_ids=token_digests(tokenized["train"]))
    assert f"dense.checkpoint={str(start)!r} was fine-tuned on 1 of the 3 rows of split validation" in caplog.text
    assert "e.g. 'a\\u200dgood film indeed'" in caplog.text, caplog.text


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


def test_a_tuning_run_from_a_model_without_its_hash_file_is_checked_by_its_rows(tmp_path):
    """Reviews of the merge's fixes: a tuning run's model.pretrained without its sdp_training_rows.u64 (a copy, or a
    model pulled from the Hub: the file is never uploaded) ran unchecked, 68.00 on 50 held-out rows it had all trained
    on. Its training rows are rebuilt from this file by its config.json's record: held-out rows among them are refused
    (max_eval_samples or a sample did not hide them); a model of another file or task runs as given (a first fix
    refused every 'custom' model, a second missed the sampled runs)."""
    import json

    import pytest
    from omegaconf import OmegaConf

    from sdp.crosslingual import resolve_task
    from sdp.data.fingerprint import rows_fingerprint, split_fingerprints
    from sdp.data.loading import load_splits
    from sdp.errors import ConfigError
    from sdp.run.start_rows import warn_rows_started_from

    def task_cfg(train, carve=None):
        return OmegaConf.create({"name": "custom", "train_file": train, "validation_file": None if carve else train,
                                 "text_fields": ["text"], "label_column": "label", "metric": "accuracy",
                                 "validation_from_train": carve, "validation_seed": 0})

    ours = write_csv(tmp_path / "ours.csv", [(f"our text {i}", "ab"[i % 2]) for i in range(40)])
    theirs = write_csv(tmp_path / "theirs.csv", [(f"their text {i}", "ab"[i % 2]) for i in range(40)])
    cfg = OmegaConf.create({"task": task_cfg(ours, 0.25), "data_dir": None, "dense": {"checkpoint": None},
                            "model": {"pretrained": None}, "max_train_samples": None})
    raw = load_splits(resolve_task(cfg.task), None, max_eval_samples=4, validation_from_train=0.25).datasets
    for name, file, task, refused in (("every", ours, "custom", True), ("other_file", theirs, "custom", False),
                                      ("other_task", ours, "sst2", False)):
        other = write_csv(tmp_path / f"dv_{name}.csv", [("a dev text", "a"), ("another", "b")])
        spec = task_cfg(file)
        spec.validation_file = other  # a dev file of other rows: the model's run, on ``file``
        trained = load_splits(resolve_task(spec), None).datasets["train"]
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"sdp_training_rows": {
            "task.name": task, "max_train_samples": None, "task.validation_from_train": None, "task.validation_seed": 0,
            "train_fingerprint": split_fingerprints({"train": trained})["train"],
            "train_rows": rows_fingerprint(trained)}}))
        cfg.model.pretrained = str(folder)
        if refused:
            with pytest.raises(ConfigError, match=r"was fine-tuned on 4 of the 4 held-out rows this tuning run scores"):
                warn_rows_started_from(cfg, raw, ["text"])
        else:
            warn_rows_started_from(cfg, raw, ["text"])


def test_scores_with_three_decimals_after_a_comma_are_still_a_regressions():
    """Review: '5,000', '3,800' (STS scores with three decimals, a decimal comma) must not be read as thousands and
    trained as classes, unsaid; '1' beside '1,500' is refused too (task.label_names keeps them as classes)."""
    from sdp.data.file_scan import scores_as_text

    for names in (["3,800", "4,600", "5,000"], ["1", "1,500"], ["1,5", "4,5"]):
        assert "with a decimal comma" in (scores_as_text(names) or ""), names


def test_a_tuning_run_on_hub_data_from_a_hashless_model_runs(tmp_path, monkeypatch):
    """Review of 383af75: with no data folder (Hub data) the rebuild read a GLUE folder at None: a TypeError."""
    import json

    import datasets
    from omegaconf import OmegaConf

    from sdp.data.loading import VALIDATION_FROM_TRAIN
    from sdp.run.start_rows import warn_rows_started_from

    monkeypatch.delenv("SDP_DATA_DIR", raising=False)
    folder = tmp_path / "pulled"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"sdp_training_rows": {"task.name": "rte", "train_rows": "x"}}))
    cfg = OmegaConf.create({"task": {"name": "rte", "validation_from_train": 0.25, "validation_seed": 0},
                            "data_dir": None, "dense": {"checkpoint": None}, "model": {"pretrained": str(folder)},
                            "max_train_samples": None})
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"sentence1": ["a"], "sentence2": ["b"]}),
                                VALIDATION_FROM_TRAIN: datasets.Dataset.from_dict({"sentence1": ["c"],
                                                                                   "sentence2": ["d"]})})
    warn_rows_started_from(cfg, raw, ["sentence1", "sentence2"])  # as given: nothing to rebuild from
