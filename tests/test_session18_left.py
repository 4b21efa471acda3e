"""What session 18 left open on issue 26 (its note, "What is left"), fixed by the lead in session 19. Each test fails
on 49c2525."""

from __future__ import annotations

import json
import logging

import pytest
from records import write_csv


def _custom(tmp_path, train, dev, metric="accuracy"):
    from omegaconf import OmegaConf

    return OmegaConf.create({"name": "custom", "train_file": write_csv(tmp_path / "tr.csv", train),
                             "validation_file": write_csv(tmp_path / "dv.csv", dev), "text_fields": ["text"],
                             "label_column": "label", "metric": metric})


def test_a_minus_sign_written_with_a_dash_is_a_minus(tmp_path):
    """Labels -1/1 with some rows '–1' (an en dash, as a word processor writes it) trained a 3-class model, unsaid;
    scores '–0.5' were classes too, and refused as a regression's targets."""
    from sdp.data.custom import custom_task
    from sdp.data.file_scan import label_problem, scores_as_text
    from sdp.data.tasks import DataError

    for dash in ("\u2013", "\u2012", "\u2014", "\u2010"):  # (a full-width one is NFKC's "-")
        assert "the way a number is written ('-1', " in (label_problem(sorted(["-1", "1", f"{dash}1"])) or ""), dash
    # words too, since probe round 50 (lab_t2): `pre‐op` and `pre-op` were two classes that print alike
    assert "differ only in a minus sign or dash" in (label_problem(["a-b", "a\u2013b"]) or "")
    assert "not all whole" in (scores_as_text(["\u20130.5", "0.5", "1"]) or "")
    assert "with a decimal comma" in (scores_as_text(["1,0", "3,5", "\u20134,5"]) or "")  # review
    rows = [(f"text number {i}", v) for i, v in enumerate(["-1", "1", "\u20131"] * 4)]
    with pytest.raises(DataError, match=r"differ only in the way a number is written"):
        custom_task(_custom(tmp_path, rows, rows[:2]))
    scores = [(f"text number {i}", v) for i, v in enumerate(["\u20130.5", "0.25", "1.5"] * 4)]
    task = custom_task(_custom(tmp_path, scores, scores[:3], metric="pearson_spearman"))
    from sdp.data.loading import load_splits

    labels = load_splits(task, None).datasets["train"]["label"]
    assert sorted(set(labels)) == [-0.5, 0.25, 1.5]


def test_sdp_predict_refuses_or_warns_of_the_label_column_as_a_text(tmp_path, tokenizer, capsys):
    """`sdp-predict text_fields=label` labelled the label column's own words, unsaid. A model saved by a run records its
    label column(s) (config.json sdp_label_columns; a GLUE task's local name too, MRPC's `Quality`): refused; a folder
    recording none is warned where the column holds nothing but the model's class names or ids."""
    from sdp.cli.eval import compose_config
    from sdp.cli.predict import main
    from test_probe_round32 import _classifier
    from transformers import AutoModelForSequenceClassification

    from sdp.run_summary import save_model_dir

    plain = _classifier(tokenizer, tmp_path / "plain")
    rows = write_csv(tmp_path / "in.csv", [("a fine film", "pos"), ("a dull one", "neg"), ("more", "pos")],
                     header=("review", "stars"))
    out = tmp_path / "labels.txt"
    assert main([f"model_dir={plain}", f"input={rows}", "text_fields=stars", f"output={out}"]) == 0
    assert "every row of column 'stars' is one of the model's class names or ids" in capsys.readouterr().err
    assert main([f"model_dir={plain}", f"input={rows}", "text_fields=review", f"output={out}",
                 "overwrite=true"]) == 0
    assert "class names" not in capsys.readouterr().err
    cfg = compose_config(["task=custom", "task.text_fields=[review]", "task.label_column=stars"])
    model = AutoModelForSequenceClassification.from_pretrained(plain)
    save_model_dir(tmp_path / "saved", model, tokenizer, cfg=cfg)
    assert json.loads((tmp_path / "saved" / "config.json").read_text())["sdp_label_columns"] == ["stars"]
    assert main([f"model_dir={tmp_path / 'saved'}", f"input={rows}", "text_fields=stars",
                 f"output={tmp_path / 'other.txt'}"]) != 0
    assert "names 'stars', the column the model's answers were read from" in capsys.readouterr().err
    assert not (tmp_path / "other.txt").exists()
    save_model_dir(tmp_path / "mrpc", model, tokenizer, cfg=compose_config(["task=mrpc"]))
    assert json.loads((tmp_path / "mrpc" / "config.json").read_text())["sdp_label_columns"] == ["Quality", "label"]
    ids = write_csv(tmp_path / "ids.csv", [("a fine film", "1"), ("a dull one", "0")], header=("review", "stars"))
    assert main([f"model_dir={plain}", f"input={ids}", "text_fields=stars", f"output={tmp_path / 'ids.txt'}"]) == 0
    assert "every row of column 'stars' is one of the model's class names or ids" in capsys.readouterr().err


def test_sdp_eval_refuses_an_output_dir_inside_a_run_folder(tmp_path, tokenizer):
    """`sdp-eval ... output_dir=<run>/evals/x` wrote its record into the training run's folder, where sdp-tables refuses
    such an out_dir; the run's own model/ stays a place for its record (round 30's eo2)."""
    from test_probe_round32 import _classifier

    from sdp.errors import ConfigError
    from sdp.eval_output import check_out_dir

    run = tmp_path / "run"
    model = _classifier(tokenizer, run / "model")
    (run / "run.json").write_text(json.dumps({"config": {"task": {"name": "custom"}}, "config_hash": "abc"}))
    with pytest.raises(ConfigError, match=r"output_dir='.*/run/evals/x' is inside the training run folder '.*/run'"):
        check_out_dir(run / "evals" / "x", model, "custom")
    assert not (run / "evals").exists()
    check_out_dir(model, model, "custom")
    check_out_dir(tmp_path / "evals" / "x", model, "custom")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "run.json").write_text("{}")  # another tool's run.json: not a run folder (review)
    check_out_dir(tmp_path / "other" / "x", model, "custom")


def test_a_plot_title_longer_than_the_figure_is_wrapped_within_it():
    """The score plot's title (task, what the band is, seeds per point) ran past the figure's edges; a title that fits
    is kept on one line."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from sdp.report.plots import _fit_titles, score_title

    long_title = score_title("a_custom_task_with_a_long_name_" * 2, pd.Series([1, 3]), cut=True)
    for text, lines in ((long_title, 2), ("rte: score vs sparsity", 1)):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        ax.set_title(text, fontsize=9)
        _fit_titles(fig)
        box = ax.title.get_window_extent(fig.canvas.get_renderer())
        assert 0 <= box.x0 and box.x1 <= fig.bbox.width, (box, fig.bbox.width)
        assert ax.get_title().count("\n") + 1 >= lines and ax.get_title().replace("\n", " ") == text
        if lines == 1:
            assert "\n" not in ax.get_title()
        plt.close(fig)
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(10, 4))  # panels side by side (review)
    middle.set_title("sst2 → 50%: loss jump at each pruning step " * 2)
    _fit_titles(fig)
    box = middle.title.get_window_extent(fig.canvas.get_renderer())
    assert left.get_window_extent().x1 <= box.x0 and box.x1 <= right.get_window_extent().x0, box
    plt.close(fig)


def test_a_dense_checkpoint_of_another_sample_and_another_file_says_both(tmp_path, caplog):
    """`dense.checkpoint ... was fine-tuned on other training rows than this run trains on (max_train_samples: 30 there,
    None here)` named the sample only where the training files differ too (probe round 35, noticed: un1)."""
    from omegaconf import OmegaConf

    from sdp.crosslingual import resolve_task
    from sdp.data.fingerprint import rows_fingerprint, split_fingerprints
    from sdp.data.loading import load_splits
    from sdp.training_rows import check_checkpoint_rows

    dev = write_csv(tmp_path / "dev.csv", [("a dev text", "a"), ("another dev text", "b")])

    def task_cfg(train):
        return {"name": "custom", "train_file": train, "validation_file": dev, "text_fields": ["text"],
                "label_column": "label", "metric": "accuracy", "validation_from_train": None, "validation_seed": 0}

    theirs = write_csv(tmp_path / "theirs.csv", [(f"their text {i}", "ab"[i % 2]) for i in range(40)])
    ours = write_csv(tmp_path / "ours.csv", [(f"our text {i}", "ab"[i % 2]) for i in range(40)])
    sampled = load_splits(resolve_task(OmegaConf.create(task_cfg(theirs))), None, max_train_samples=30).datasets["train"]
    folder = tmp_path / "dense"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"sdp_training_rows": {
        "task.name": "custom", "max_train_samples": 30, "task.validation_from_train": None, "task.validation_seed": 0,
        "train_fingerprint": split_fingerprints({"train": sampled})["train"], "train_rows": rows_fingerprint(sampled)}}))
    for train, other_file in ((theirs, False), (ours, True)):
        cfg = OmegaConf.create({"task": task_cfg(train), "data_dir": None, "dense": {"checkpoint": str(folder)},
                                "prune": {"teacher": "frozen"}, "max_train_samples": None})
        whole = load_splits(resolve_task(cfg.task), None).datasets["train"]
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sdp"):
            check_checkpoint_rows(cfg, split_fingerprints({"train": whole})["train"], rows_fingerprint(whole))
        assert ("the rows it was fine-tuned on are not this training file's" in caplog.text) is other_file, caplog.text
        # a sample, not a carve, differs (probe round 38, noticed: "beside its other carve")
        assert ("beside its other sample or carve of the training rows" in caplog.text) is other_file, caplog.text
    # its classes numbered otherwise (task.label_names=[b, a]) are not another file (review)
    reordered = load_splits(resolve_task(OmegaConf.create({**task_cfg(theirs), "label_names": ["b", "a"]})), None,
                            max_train_samples=30).datasets["train"]
    record = json.loads((folder / "config.json").read_text())
    record["id2label"] = {"0": "b", "1": "a"}
    record["sdp_training_rows"]["train_fingerprint"] = split_fingerprints({"train": reordered})["train"]
    record["sdp_training_rows"]["train_rows"] = rows_fingerprint(reordered)
    (folder / "config.json").write_text(json.dumps(record))
    cfg.task.train_file = theirs
    whole = load_splits(resolve_task(cfg.task), None).datasets["train"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        check_checkpoint_rows(cfg, split_fingerprints({"train": whole})["train"], rows_fingerprint(whole))
    assert "not this training file's" not in caplog.text, caplog.text


def test_glue_dev_rows_under_two_labels_are_said_among_the_rows_scored(tmp_path, caplog):
    """A GLUE dev file's rows under two labels were said of the whole file where max_eval_samples scored a sample
    holding none of them; a sample holding both rows of a pair says them among the rows scored."""
    from omegaconf import OmegaConf
    from records import two_label_said, write_rte_folder

    from sdp.crosslingual import resolve_task
    from sdp.data.rows_kept import sample_positions

    labels = ("entailment", "not_entailment")
    kept = sorted(sample_positions(20, 5).tolist())
    out = [i for i in range(20) if i not in kept]
    train = [f"{i}\tpremise {i}\thypothesis {i}\t{labels[i % 2]}" for i in range(8)]
    task = resolve_task(OmegaConf.create({"name": "rte"}))

    def said(pair: tuple[int, int], samples) -> str:
        dev = [f"{i}\tother {i}\tthing {i}\t{labels[i % 2]}" for i in range(20)]
        a, b = pair
        dev[b] = f"{b}\tother {a}\tthing {a}\t{labels[(a + 1) % 2]}"  # row a's texts under the other label
        write_rte_folder(tmp_path, train, dev)
        return two_label_said(caplog, tmp_path, task, max_eval=samples)

    assert said((out[0], out[1]), 5) == ""
    assert "2 of 20 rows repeat another row" in said((out[0], out[1]), None)
    text = said((kept[0], kept[1]), 5)
    assert "2 of the 5 rows scored (max_eval_samples=5) repeat" in text, text
    assert f"lines {[kept[0] + 2, kept[1] + 2]}" in text, text


def test_eval_rows_a_start_folder_trained_on_are_named_by_their_file_rows(tmp_path, tokenizer, caplog):
    """The start-folder warning counted the dev rows its model was fine-tuned on and showed examples, but named no row,
    where the data checks name theirs; a sample's rows are named as rows of the file."""
    import datasets
    import numpy as np
    from sdp.cli.eval import compose_config
    from test_probe_round32 import _classifier

    from sdp.data.fingerprint import write_row_hashes
    from sdp.run.data_record import record_data

    dense = _classifier(tokenizer, tmp_path / "dense_model")
    write_row_hashes(dense, datasets.Dataset.from_dict({"text": ["seen one", "seen two"]}), ["text"])
    train = datasets.Dataset.from_dict({"text": ["our row", "another"], "label": [0, 1]})
    dev = datasets.Dataset.from_dict({"text": ["new", "seen two", "other", "seen one"], "label": [0, 1, 0, 1]})
    cfg = compose_config(["task=custom", "task.text_fields=[text]", "task.label_column=label",
                          f"dense.checkpoint={dense}"])
    for i, (file_rows, rows) in enumerate(((None, "[2, 4] of split validation as read"),
                                           ({"validation": np.array([30, 11, 7, 2])}, "[3, 12] of split validation as read"))):
        (tmp_path / f"run{i}").mkdir()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sdp"):
            record_data(tmp_path / f"run{i}", cfg, datasets.DatasetDict({"train": train, "validation": dev}),
                        main_process=True, fields=("text",), file_rows=file_rows)
        assert "was fine-tuned on 2 of the 4 rows of split validation" in caplog.text, caplog.text
        assert f"rows {rows}, counted from 1" in caplog.text, caplog.text


def test_a_hashless_start_model_of_other_class_numbers_or_an_edited_file(tmp_path, caplog):
    """A tuning run's model.pretrained without its hash file is checked by its training rows rebuilt from this file:
    one fine-tuned with its classes numbered otherwise (task.label_names=[b, a]) had other rows to the fingerprint, and
    ran unchecked on held-out rows it had trained on, unsaid; one of a file edited since ran unchecked, unsaid."""
    from omegaconf import OmegaConf

    from sdp.crosslingual import resolve_task
    from sdp.data.fingerprint import rows_fingerprint, split_fingerprints
    from sdp.data.loading import load_splits
    from sdp.errors import ConfigError
    from sdp.run.start_rows import warn_rows_started_from

    def task_cfg(train, carve=None, names=None):
        return OmegaConf.create({"name": "custom", "train_file": train, "validation_file": None if carve else dev,
                                 "text_fields": ["text"], "label_column": "label", "metric": "accuracy",
                                 "validation_from_train": carve, "validation_seed": 0, "label_names": names})

    dev = write_csv(tmp_path / "dv.csv", [("a dev text", "a"), ("another", "b")])
    ours = write_csv(tmp_path / "ours.csv", [(f"our text {i}", "ab"[i % 2]) for i in range(40)])
    cfg = OmegaConf.create({"task": task_cfg(ours, 0.25), "data_dir": None, "dense": {"checkpoint": None},
                            "model": {"pretrained": None}, "max_train_samples": None})
    raw = load_splits(resolve_task(cfg.task), None, validation_from_train=0.25).datasets
    for name, names, edit in (("reordered", ["b", "a"], False), ("edited", None, True)):
        file = ours
        if edit:  # the model's run read this file before one row was edited
            file = write_csv(tmp_path / "before.csv", [(f"our text {i}" if i else "a row since edited", "ab"[i % 2])
                                                      for i in range(40)])
        trained = load_splits(resolve_task(task_cfg(file, names=names)), None).datasets["train"]
        folder = tmp_path / name
        folder.mkdir()
        order = names or ["a", "b"]
        (folder / "config.json").write_text(json.dumps({"id2label": dict(enumerate(order)), "sdp_training_rows": {
            "task.name": "custom", "max_train_samples": None, "task.validation_from_train": None,
            "task.validation_seed": 0, "train_fingerprint": split_fingerprints({"train": trained})["train"],
            "train_rows": rows_fingerprint(trained)}}))
        cfg.model.pretrained = str(folder)
        caplog.clear()
        if not edit:
            with pytest.raises(ConfigError, match=r"was fine-tuned on 10 of the 10 held-out rows this tuning run"):
                warn_rows_started_from(cfg, raw, ["text"])
            continue
        with caplog.at_level(logging.WARNING, logger="sdp"):
            warn_rows_started_from(cfg, raw, ["text"])
        assert "its training rows could not be rebuilt from this run's training file" in caplog.text, caplog.text
        assert "is not checked" in caplog.text
    record = json.loads((folder / "config.json").read_text())
    del record["sdp_training_rows"]["train_fingerprint"], record["sdp_training_rows"]["train_rows"]
    (folder / "config.json").write_text(json.dumps(record))  # an older sdp's record: no fingerprint (review)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        warn_rows_started_from(cfg, raw, ["text"])
    assert "records no fingerprint of its training rows" in caplog.text, caplog.text


def test_a_hash_file_cut_at_a_whole_hash_is_said_where_no_count_is_recorded(tmp_path):
    """A model folder saved before config.json recorded its hash file's count: a copy cut at a whole hash (4 KiB, an
    interrupted copy) was read as fewer rows. The file is sorted, so a cut keeps only its smallest hashes."""
    import datasets

    from sdp.data.fingerprint import ROW_KEYS_FILE, row_hashes_read, write_row_hashes

    for n, cut in ((2000, 4096), (40, 8 + 8 * 30), (5, None)):
        folder = tmp_path / f"m{n}"
        folder.mkdir()
        write_row_hashes(folder, datasets.Dataset.from_dict({"text": [f"training row {i}" for i in range(n)]}),
                         ["text"])
        hashes, why = row_hashes_read(folder)
        assert why is None and len(hashes) == n  # whole: read
        if cut is None:
            continue
        path = folder / ROW_KEYS_FILE
        path.write_bytes(path.read_bytes()[:cut])
        hashes, why = row_hashes_read(folder)
        if n == 2000:
            assert hashes is None and "looks cut short (511 hashes, all in the lowest" in why, why
        else:  # 30 of 40 rows: fewer than 64 hashes are not judged (a few tell nothing at once in 10^9)
            assert why is None and len(hashes) == 30


def test_other_ranks_print_errors_not_the_warnings_rank_0_says(capsys):
    """A data or start-folder warning was printed once per process of a multi-process run: every rank reads the same
    config, files and folders, so rank 0 says the warnings (run.log, the record); the other ranks print their errors."""
    from sdp.run import logs

    before = (list(logs.log.handlers), logs.log.propagate, logs.log.level)
    try:
        logs.rank_console(1)
        logs.rank_console(1)  # once
        logs.log.setLevel(logging.INFO)
        logs.log.warning("a data warning")
        logs.log.error("this rank's own failure")
        err = capsys.readouterr().err
        assert "a data warning" not in err and err.count("this rank's own failure") == 1, err
        assert "[rank 1]" in err
    finally:
        for handler in [h for h in logs.log.handlers if h not in before[0]]:
            logs.log.removeHandler(handler)
        logs.log.propagate, _ = before[1], logs.log.setLevel(before[2])


def test_setups_of_one_dense_model_share_one_dense_row(tmp_path):
    """Runs differing only in prune.exclude (or a plug-in criterion's option), which the dense stage never reads, each
    trained the same dense model: glue.md showed it as two Dense rows, and summary.md a `Dense` line of setups. Setups
    of other dense scores, or differing in a key the dense stage or its evaluation reads (max_eval_samples), keep a
    row each (a merge by dense model alone showed 60.00, a score neither has: review)."""
    from records import write_record

    from sdp.report.report import build_report

    def results(name: str, setups: dict[str, tuple[dict, float]], record_change=None):
        root = tmp_path / name
        for tag, (change, dense) in setups.items():
            for seed in (1, 2):
                run = f"mp_{tag}_{seed}"
                given = ("/m/dense", f"fp-{seed}") if tag == "given" else None  # a dense.checkpoint: no own stage
                write_record(root, run, "MP", seed, 0.6 + 0.01 * seed, own=None if given else f"fp-{tag}-{seed}",
                             given=given)  # the content fingerprints differ: config.json holds the prunable set
                config = json.loads((root / run / "run.json").read_text())
                config["config"]["prune"]["exclude"] = [f"layer.{tag}"]
                config["config"].update(change)
                (root / run / "run.json").write_text(json.dumps(config))
                record = json.loads((root / run / "metrics.json").read_text())
                record["config_hash"], record["dense"] = f"h-{tag}", {"main": dense, "accuracy": dense}
                record.update((record_change or {}).get(tag, {}))
                (root / run / "metrics.json").write_text(json.dumps(record))
        build_report(root, plots=False)
        glue = (root / "tables" / "glue.md").read_text()
        summary = (root / "tables" / "summary.md").read_text()
        return [line for line in glue.splitlines() if "| Dense" in line], summary

    dense, summary = results("one", {"a": ({}, 0.55), "b": ({}, 0.55)})
    assert dense == ["| tiny-bert | Dense | 0% | 55.00 ± 0.00 (n=2) | — | run here |"], dense
    assert "`tiny-bert / Dense`" not in summary and "`tiny-bert / MP / cubic / frozen` rows of other setups" in summary
    for name, setups in (("scores", {"a": ({}, 0.55), "b": ({}, 0.57)}),
                         ("eval", {"a": ({}, 0.55), "b": ({"max_eval_samples": 10}, 0.55)})):
        dense, summary = results(name, setups)
        assert len(dense) == 2, (name, dense)
        assert "`tiny-bert / Dense` rows of other setups: differ in" in summary, summary
    # on an edited dev file (the same path, other rows), or given a dense.checkpoint: rows apart (review)
    edited = {"b": {"data_fingerprint": {"train": "t0", "validation": "v1"}}}
    dense, _ = results("data", {"a": ({}, 0.55), "b": ({}, 0.55)}, edited)
    assert len(dense) == 2, dense
    dense, _ = results("given", {"a": ({}, 0.55), "given": ({}, 0.55)})
    assert len(dense) == 2, dense
    code = {"b": {"code": {"id": "bbbbbbbbbbbbbbbb"}}}  # dense stages of other code: not one row marked † (review)
    dense, _ = results("code", {"a": ({}, 0.55), "b": ({}, 0.55)}, code)
    assert len(dense) == 2 and not any("†" in line for line in dense), dense
    dense, summary = results("three", {"a": ({}, 0.55), "b": ({}, 0.55), "c": ({"max_eval_samples": 10}, 0.55)})
    assert len(dense) == 2 and any("+" in line for line in dense), dense
    line = next(x for x in summary.splitlines() if "`tiny-bert / Dense`" in x)
    # every part of the `[a+b]` label is said (by a key the dense stage reads: no pruning key, probe round 50, dga_alone)
    assert line.count("max_eval_samples=") == 3 and "prune.exclude" not in line, line


def test_the_start_model_checks_do_not_say_the_data_warnings_again(tmp_path, caplog):
    """Review: the hashless start model's check resolved a custom task again, outside the held-back warnings: the
    run's data warnings (`task.label_names lists ['mid'] with no row`) were said a second time."""
    from omegaconf import OmegaConf

    from sdp.crosslingual import resolve_task
    from sdp.data.loading import load_splits
    from sdp.run.start_rows import warn_rows_started_from

    ours = write_csv(tmp_path / "ours.csv", [(f"our text {i}", "ab"[i % 2]) for i in range(40)])
    cfg = OmegaConf.create({"task": {"name": "custom", "train_file": ours, "validation_file": None,
                                     "text_fields": ["text"], "label_column": "label", "metric": "accuracy",
                                     "validation_from_train": 0.25, "validation_seed": 0,
                                     "label_names": ["a", "b", "mid"]},
                            "data_dir": None, "dense": {"checkpoint": None}, "model": {"pretrained": None},
                            "max_train_samples": None})
    with caplog.at_level(logging.WARNING, logger="sdp"):
        raw = load_splits(resolve_task(cfg.task), None, validation_from_train=0.25).datasets
    assert "'mid'" in caplog.text  # said once, by the run's own load
    folder = tmp_path / "transfer"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"sdp_training_rows": {
        "task.name": "custom", "max_train_samples": None, "task.validation_from_train": None,
        "task.validation_seed": 0, "train_fingerprint": "0123456789abcdef", "train_rows": "0123456789abcdef"}}))
    cfg.model.pretrained = str(folder)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        warn_rows_started_from(cfg, raw, ["text"])
    assert "is not checked" in caplog.text and "'mid'" not in caplog.text, caplog.text
