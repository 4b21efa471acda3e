"""Probe round 36 (docs/probe_round36.md): each test fails on 429bdef (the round's BASE) and passes after its fix."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from records import two_label_said, write_csv, write_rte_folder


def _saved_run(tmp_path: Path, tokenizer, extra=(), n: int = 20) -> tuple[Path, object]:
    """A run folder of ``n`` training rows, its model/ saved as a run saves it (config.json, the rows' hashes)."""
    import datasets
    from sdp.cli.eval import compose_config
    from test_probe_round32 import _classifier
    from transformers import AutoModelForSequenceClassification

    from sdp.run.data_record import record_data
    from sdp.run_summary import save_model_dir

    ds = datasets.Dataset.from_dict({"text": [f"training text number {i} here" for i in range(n)],
                                     "label": [i % 2 for i in range(n)]})
    run = tmp_path / "run"
    run.mkdir()
    cfg = compose_config(["task=custom", "task.text_fields=[text]", "task.label_column=label", *extra])
    record_data(run, cfg, datasets.DatasetDict({"train": ds}), main_process=True, fields=("text",))
    model = AutoModelForSequenceClassification.from_pretrained(_classifier(tokenizer, tmp_path / "plain"))
    save_model_dir(run / "model", model, tokenizer, cfg=cfg)
    return run, cfg


def test_a_cut_or_emptied_row_hash_file_is_said_as_damaged(tmp_path, tokenizer, caplog):
    """hc1-hc4: a sdp_training_rows.u64 cut at a whole hash (an interrupted copy at 4 KiB: 32 of 40 training rows said),
    cut to its header, or emptied was read as fewer rows, none, or no file, with no word; a dense.checkpoint's so cut
    left rows out of the new run's file, unsaid."""

    from sdp.data.fingerprint import ROW_KEYS_FILE, row_hashes_read

    run, _ = _saved_run(tmp_path, tokenizer)
    assert json.loads((run / "model" / "config.json").read_text())["sdp_training_rows"]["row_hashes"]["count"] == 20
    whole = (run / "model" / ROW_KEYS_FILE).read_bytes()
    for name, cut in (("cut", whole[:8 + 8 * 12]), ("header", whole[:8]), ("empty", b"")):
        away = tmp_path / name
        shutil.copytree(run / "model", away)
        (away / ROW_KEYS_FILE).write_bytes(cut)
        hashes, why_not = row_hashes_read(away)
        assert hashes is None and "is damaged" in str(why_not), (name, why_not)
    assert "12 hashes; its config.json records 20" in row_hashes_read(tmp_path / "cut")[1]
    assert row_hashes_read(run / "model")[0] is not None  # the whole copy reads
    said = started_from(tmp_path, tmp_path / "cut", caplog)
    assert "dense.checkpoint: " in said and "is damaged or replaced (12 hashes" in said, said


def started_from(tmp_path: Path, folder: Path, caplog) -> str:
    """The warnings of a run's data record (record_data, in tmp_path/run2) started from the model ``folder``."""
    import datasets
    from sdp.cli.eval import compose_config

    from sdp.run.data_record import record_data

    ds = datasets.Dataset.from_dict({"text": ["another row"] * 2, "label": [0, 1]})
    (tmp_path / "run2").mkdir()
    cfg = compose_config(["task=custom", "task.text_fields=[text]", "task.label_column=label",
                          f"dense.checkpoint={folder}"])
    with caplog.at_level(logging.WARNING, logger="sdp"):
        record_data(tmp_path / "run2", cfg, datasets.DatasetDict({"train": ds}), main_process=True, fields=("text",))
    return caplog.text


def test_glue_training_rows_under_two_labels_are_said_among_the_rows_a_run_trains_on(tmp_path, caplog):
    """gt1, gt2: every SST-2 smoke run (64 rows) said "10 of 67349 rows ... the model is trained on both labels" of rows
    its sample held none of; a CoLA carve, of 5 sentences it held out. Rows 2 and 7 again under the other label (10,
    11): the sample of 4 (rows 9, 2, 7, 4) and the carve (rows 2, 7, 9 held out) train on one label of each."""
    from omegaconf import OmegaConf

    from sdp.crosslingual import resolve_task

    labels = ("entailment", "not_entailment")
    train = [f"{i}\tpremise {i}\thypothesis {i}\t{labels[i % 2]}" for i in range(10)]
    train += [f"{10 + k}\tpremise {i}\thypothesis {i}\t{labels[(i + 1) % 2]}" for k, i in enumerate((2, 7))]
    write_rte_folder(tmp_path, train, [f"{i}\tother {i}\tthing {i}\t{labels[i % 2]}" for i in range(4)])
    task = resolve_task(OmegaConf.create({"name": "rte"}))

    def said(samples, carve) -> str:
        return two_label_said(caplog, tmp_path, task, samples, carve)

    assert said(4, None) == "" and said(None, 0.25) == ""
    assert "train.tsv': 4 of 12 rows repeat another row of the file under another label" in said(None, None)
    train[4] = "4\tpremise 9\thypothesis 9\tentailment"  # row 9's texts under the other label: both in the sample
    write_rte_folder(tmp_path, train, [f"{i}\tother {i}\tthing {i}\t{labels[i % 2]}" for i in range(4)])
    text = said(4, None)
    assert "2 of the 4 rows this run trains on (max_train_samples=4) repeat" in text and "lines [6, 11]" in text, text


def test_an_exclude_models_pruned_share_is_over_its_own_set_away_and_through_a_link(tmp_path, tokenizer):
    """ev1, ev2: a `prune.exclude=[query]` model copied away was measured over the default set (70.00% for its 80%),
    and so was it through a link to its run folder (the run found through the link, its set read beside the link)."""
    from sdp.evaluation import run_prune_config
    from sdp.io import write_json

    run, _ = _saved_run(tmp_path, tokenizer, ["prune.exclude=[query]"])
    assert json.loads((run / "model" / "config.json").read_text())["sdp_prunable"]["exclude"] == ["query"]
    away = tmp_path / "away" / "model"
    shutil.copytree(run / "model", away)
    assert list(run_prune_config(away, {}).exclude) == ["query"]
    write_json(run / "run.json", {"config": {"prune": {"include": ["encoder"], "exclude": ["key"]}}, "config_hash": "h"})
    (tmp_path / "latest").symlink_to(run / "model")
    assert list(run_prune_config(tmp_path / "latest", {"status": "completed"}).exclude) == ["key"]


def test_class_numbers_written_with_a_decimal_comma_are_one_value(tmp_path):
    """dz1, dz2: labels 0/1 with some rows "1,0" (a European spreadsheet's 1.0) trained a 4-class model of a 2-class
    file, unsaid (1.0 is refused); a dev label "1,0" against 0/1 got no hint."""
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    def task(train_labels, dev_labels):
        rows = [(f"text number {i}", v) for i, v in enumerate(train_labels)]
        dev = [(f"dev text {i}", v) for i, v in enumerate(dev_labels)]
        return OmegaConf.create({"name": "custom", "train_file": write_csv(tmp_path / "tr.csv", rows),
                                 "validation_file": write_csv(tmp_path / "dv.csv", dev), "text_fields": ["text"],
                                 "label_column": "label", "metric": "accuracy"})

    with pytest.raises(DataError, match=r"differ only in the way a number is written \('0', '0,0'\)"):
        custom_task(task(["0", "1", "0,0", "1,0"] * 3, ["0", "1"]))
    with pytest.raises(DataError, match=r"unknown label\(s\) \['1,0'\].*'1,0' is '1' written otherwise"):
        custom_task(task(["0", "1"] * 6, ["0", "1,0"]))


def test_sdp_eval_refuses_a_prune_pattern_that_is_no_regular_expression(tmp_path, tokenizer):
    """ei1, ei2: `sdp-eval ... 'prune.exclude=[\\[]'` (or prune.include) was re.error's traceback; sdp-run says it."""
    from omegaconf import OmegaConf
    from test_probe_round32 import _classifier
    from transformers import AutoModelForSequenceClassification

    from sdp.evaluation import weight_sparsity
    from sdp.pruning.patterns import PrunableSetError

    model = AutoModelForSequenceClassification.from_pretrained(_classifier(tokenizer, tmp_path / "m"))
    for include, exclude, key in (([r"encoder\.layer"], ["["], "exclude"), (["["], [], "include")):
        with pytest.raises(PrunableSetError, match=rf"prune.{key} pattern '\[' is not a regular expression"):
            weight_sparsity(model, OmegaConf.create({"include": include, "exclude": exclude}))


def test_a_start_folder_of_recorded_rows_without_its_hash_file_is_said(tmp_path, tokenizer, caplog):
    """dk2: a dense.checkpoint whose config.json records its training rows but that holds no sdp_training_rows.u64
    (saved before the file, or copied without it): the new run's file lacked its rows, and nothing said so."""
    import datasets
    from sdp.cli.eval import compose_config
    from test_probe_round32 import _classifier

    from sdp.run.data_record import record_data

    dense = _classifier(tokenizer, tmp_path / "dense_model")
    config = json.loads((dense / "config.json").read_text())
    config["sdp_training_rows"] = {"task.name": "custom", "train_fingerprint": "0123456789abcdef"}
    (dense / "config.json").write_text(json.dumps(config))
    ds = datasets.Dataset.from_dict({"text": ["row one", "row two"], "label": [0, 1]})
    (tmp_path / "run").mkdir()
    cfg = compose_config(["task=custom", "task.text_fields=[text]", "task.label_column=label", f"dense.checkpoint={dense}"])
    with caplog.at_level(logging.WARNING, logger="sdp"):
        record_data(tmp_path / "run", cfg, datasets.DatasetDict({"train": ds}), main_process=True, fields=("text",))
    assert "sdp_training_rows.u64 is not there (its config.json records the rows it was fine-tuned on" in caplog.text


def test_names_mixing_latin_and_cyrillic_that_print_alike_are_twins():
    """lk1-lk3: labels 'pоs' (a Cyrillic о) and 'рos' (a Cyrillic р) were two classes that print as one (a 3-class
    model, 47.50), a dev label 'рos' against 'pоs' got no hint, nor a column 'tеxt' against 'teхt'."""
    from sdp.data.file_scan import label_problem, look_alikes

    assert "look-alike letters of another script" in str(label_problem(["neg", "p\u043es", "\u0440os"]))
    assert "look-alike letters" in str(label_problem(["\u0421at", "C\u0430t"]))
    assert "'\\u0440os' is 'p\\u043es' written otherwise" in look_alikes(["\u0440os"], ["neg", "p\u043es"])
    assert look_alikes(["t\u0435xt"], ["id", "te\u0445t"])
    assert label_problem(["\u043d\u0430\u043d", "\u04bb\u0430\u043d"]) is None  # Kazakh нан/һан: words of one script


def test_a_compact_model_away_from_its_run_reports_its_unpruned_shape_sparsity(tmp_path, tokenizer):
    """cs1: a structured run's compact model/ copied away was measured by its zeros alone (24.62% for a run pruned to
    61.72%); config.json's sdp_unpruned tells the shape it was cut from. Here: one layer, one of two heads kept as
    zeros, the FFN cut from 64 neurons to 1: 2112 of the unpruned 8192 prunable weights are left."""
    import torch
    from test_probe_round33 import _eval
    from transformers import BertConfig, BertForSequenceClassification

    def bert(ffn: int):
        return BertForSequenceClassification(BertConfig(
            vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=ffn, num_labels=2, pad_token_id=tokenizer.pad_token_id,
            id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1}))

    full = sum(p.numel() for n, p in bert(64).named_parameters() if ".encoder." in f".{n}")
    model = bert(1)
    attention = model.bert.encoder.layer[0].attention
    with torch.no_grad():
        for linear in (attention.self.query, attention.self.key, attention.self.value):
            linear.weight[:16] = 0
            linear.bias[:16] = 0
        attention.output.dense.weight[:, :16] = 0
    model.config.sdp_max_seq_length = 32
    model.config.sdp_unpruned = {"num_hidden_layers": 1, "intermediate_size": 64, "encoder_params": full}
    model.save_pretrained(tmp_path / "st" / "model")
    tokenizer.save_pretrained(tmp_path / "st" / "model")
    dev = write_csv(tmp_path / "dv.csv", [(f"a dev text {i}", ("neg", "pos")[i % 2]) for i in range(8)])
    record = _eval(tmp_path, tmp_path / "st" / "model", "e", dev)
    assert record["achieved_sparsity"]["prunable"] == pytest.approx(1 - 2112 / 8192), record["achieved_sparsity"]
    assert record["compact_params"]["total"] < record["total_params"] and "sdp_unpruned" in record["sparsity_from"]


def test_a_tuning_run_refuses_a_model_pretrained_of_other_rows_and_eval_says_held_out_rows_trained(
        tmp_path, tokenizer, monkeypatch, caplog):
    """mpc1, mpc2: a tuning run started from model.pretrained=<a dense model fine-tuned on every row of the file>
    scored the held-out rows it had trained on as held-out, unsaid (the same folder as dense.checkpoint is refused);
    sdp-eval of such a model with its carve read no row hashes."""
    import datasets
    from omegaconf import OmegaConf
    from test_probe_round33 import _eval

    import sdp.evaluation
    from sdp.data.fingerprint import write_row_hashes
    from sdp.data.loading import VALIDATION_FROM_TRAIN
    from sdp.errors import ConfigError
    from sdp.run.data_record import record_data

    train = datasets.Dataset.from_dict({"text": ["left a", "left b"], "label": [0, 1]})
    held = datasets.Dataset.from_dict({"text": ["held a", "held b", "held c"], "label": [0, 1, 0]})
    seen, other = tmp_path / "seen", tmp_path / "other"
    for folder, texts in ((seen, ["left a", "left b", "held a", "held b", "held c"]), (other, ["elsewhere"])):
        folder.mkdir()
        write_row_hashes(folder, datasets.Dataset.from_dict({"text": texts}), ["text"])
    for folder, refused in ((seen, True), (other, False)):  # a model of other data (transfer): no refusal (review)
        cfg = OmegaConf.create({"resume": False, "seed": 1, "task": {"name": "custom", "validation_from_train": 0.25},
                                "dense": {"checkpoint": None}, "prune": {"teacher": "frozen"},
                                "model": {"pretrained": str(folder)}, "max_train_samples": None})
        splits = datasets.DatasetDict({"train": train, VALIDATION_FROM_TRAIN: held})
        (tmp_path / f"run_{folder.name}").mkdir()
        if refused:
            with pytest.raises(ConfigError, match=r"model.pretrained '.*seen' was fine-tuned on 3 of the 3 held-out"):
                record_data(tmp_path / "run_seen", cfg, splits, main_process=True, fields=("text",))
        else:
            record_data(tmp_path / "run_other", cfg, splits, main_process=True, fields=("text",))

    from test_probe_round32 import _classifier

    rows = [(f"a training text number {i}", ("neg", "pos")[i % 2]) for i in range(16)]
    train = write_csv(tmp_path / "tr.csv", rows)
    model = _classifier(tokenizer, tmp_path / "m" / "model")
    config = json.loads((model / "config.json").read_text())
    config["sdp_training_rows"] = {"task.name": "custom", "max_train_samples": None, "task.validation_from_train": 0.25,
                                   "task.validation_seed": 0, "train_fingerprint": "x"}
    (model / "config.json").write_text(json.dumps(config))
    write_row_hashes(model, datasets.Dataset.from_dict({"text": [t for t, _ in rows]}), ["text"])  # every row
    monkeypatch.setattr(sdp.evaluation, "trained_rows_error", lambda *a, **k: None)  # its carve's rows: as recorded
    record = _eval(tmp_path, model, "e", train, f"task.train_file={train}", "task.validation_from_train=0.25")
    said = [w for w in record.get("warnings", []) if "rows repeat a row model_dir was trained on" in w]
    assert said and "split validation_from_train: 4 of 4 rows" in said[0], record.get("warnings")


def test_eval_rows_the_model_a_run_starts_from_trained_on_are_said(tmp_path, tokenizer, caplog):
    """dv1, dv2: a dev file half of whose rows a dense.checkpoint (or model.pretrained) was fine-tuned on was scored as
    held-out with no word, while sdp-eval of the run's model on the same file said them."""
    import datasets
    from sdp.cli.eval import compose_config
    from test_probe_round32 import _classifier

    from sdp.data.fingerprint import write_row_hashes
    from sdp.run.data_record import record_data

    dense = _classifier(tokenizer, tmp_path / "dense_model")
    write_row_hashes(dense, datasets.Dataset.from_dict({"text": ["seen one", "seen two", "our row"]}), ["text"])
    train = datasets.Dataset.from_dict({"text": ["our row", "another"], "label": [0, 1]})
    dev = datasets.Dataset.from_dict({"text": ["SEEN one", "seen two", "new", "our row"], "label": [0, 1, 0, 1]})
    for i, key in enumerate((f"dense.checkpoint={dense}", f"model.pretrained={dense}")):
        (tmp_path / f"run{i}").mkdir()
        cfg = compose_config(["task=custom", "task.text_fields=[text]", "task.label_column=label", key])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sdp"):
            record_data(tmp_path / f"run{i}", cfg, datasets.DatasetDict({"train": train, "validation": dev}),
                        main_process=True, fields=("text",))
        said = f"{key.split('=')[0]}={str(dense)!r} was fine-tuned on 2 of the 4 rows of split validation"
        assert said in caplog.text, caplog.text  # "our row", a training row of this run too, is said by the data checks


def test_a_models_labels_against_look_alike_label_names_are_hinted():
    """lm1: `sdp-eval ... task.label_names=[neg,pos]` of a model trained on neg/pоs (a Cyrillic о): "was trained for
    labels ['neg', 'pоs'] ...; task 'custom' has ['neg', 'pos']", two lists that print alike, no hint."""
    from types import SimpleNamespace

    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import check_task_labels

    task = SimpleNamespace(label_names=("neg", "pos"), is_regression=False, name="custom")
    with pytest.raises(ModelLoadError, match=r"'pos' is 'p\\u043es' written otherwise"):
        check_task_labels("m", {"id2label": {"0": "neg", "1": "p\u043es"}}, task)
