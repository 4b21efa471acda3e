"""Probe round 49, left open (docs/probe_round49.md: ev_zwj, ev_ans, ev_tag, pzwj, ev_me, xl_acc, xl_thai, xl_pacc):
what "a text with nothing in it" means was one character list for every tokenizer, wrong both ways. The model's own
tokenizer decides now (sdp/data/read_nothing.py). Each test fails on 0292e96 and passes after the fix. Tiny saved
models (no training), offline."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import pytest
from records import write_csv
from test_probe_round32 import _classifier

XLMR = Path(__file__).resolve().parents[1] / "sdp" / "assets" / "tiny-xlmr-tokenizer"


def _xlmr():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(XLMR))


def _xl_classifier(path: Path) -> Path:
    """A tiny XLM-R classifier with the tiny-xlmr tokenizer (cased, no accent stripping), saved as a run saves one."""
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    tok = _xlmr()
    config = XLMRobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=64, max_position_embeddings=514, type_vocab_size=1,
                              pad_token_id=tok.pad_token_id, num_labels=2, id2label={0: "neg", 1: "pos"},
                              label2id={"neg": 0, "pos": 1})
    config.sdp_max_seq_length = 32
    XLMRobertaForSequenceClassification(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _dev(tmp_path: Path, text: str) -> str:
    rows = [(f"a dev text number {i}", ("neg", "pos")[i % 2]) for i in range(8)]
    rows[2] = (text, "neg")
    return write_csv(tmp_path / "dv.csv", rows)


def _eval(tmp_path: Path, model: Path, text: str) -> dict:
    from sdp.cli.eval import compose_config

    from sdp.evaluation import evaluate_saved

    cfg = compose_config(["task=custom", f"task.validation_file={_dev(tmp_path, text)}", "task.text_fields=[text]",
                          "task.label_column=label", f"cache_dir={tmp_path / 'c'}", "task.max_seq_length=32"])
    return evaluate_saved(cfg, model, tmp_path / "res")


def test_rows_a_tokenizer_reads_as_nothing_are_its_own(tokenizer):
    """One function, by the tokenizer itself: a lone ZWJ (U+0600, a tag character) is nothing to tiny-bert's uncased
    WordPiece, a lone U+20DD is `[UNK]` to it; a lone U+0301 or U+0E31 is a token of its own to tiny-xlmr's."""
    import pyarrow as pa

    from sdp.data.read_nothing import unread_rows

    texts = ["a good film", "\u200d", "\u0600", "\U000e0041", "\u20dd", "\u0301", "\u0e31", "", " \t", "\u200b"]
    assert unread_rows(texts, tokenizer) == [1, 2, 3, 5, 6, 7, 8, 9]  # all but the text and U+20DD
    assert unread_rows(texts, _xlmr()) == [7, 8]  # the empty text and spaces only
    assert unread_rows(pa.chunked_array([pa.array(texts[:4]), pa.array(texts[4:])]), tokenizer) == [1, 2, 3, 5, 6, 7, 8, 9]


@pytest.mark.parametrize("text", ["\u200d", "\u0600", "\U000e0041"])  # ev_zwj, ev_ans, ev_tag
def test_a_dev_row_the_tokenizer_reads_as_nothing_is_refused(tmp_path, tokenizer, text):
    """ev_zwj, ev_ans, ev_tag: a dev row of a lone ZWJ, U+0600 or U+E0041 was scored (`[CLS] [SEP]` labelled), no
    word, while one of a zero-width space was refused."""
    from sdp.data.tasks import DataError

    model = _classifier(tokenizer, tmp_path / "m")
    with pytest.raises(DataError, match=r"task.validation_file='.*dv.csv': column 'text' \(a text field\) is empty in "
                                        r"1 of 8 rows \(first: \[3\]; data rows counted from 1\): .*this model's "
                                        r"tokenizer, reads nothing in it"):
        _eval(tmp_path, model, text)


def test_a_dev_row_the_tokenizer_reads_is_scored(tmp_path, tokenizer):
    """ev_me: a dev row of a lone U+20DD (tiny-bert reads `[UNK]`) was refused as empty."""
    assert _eval(tmp_path, _classifier(tokenizer, tmp_path / "m"), "\u20dd")["eval_examples"] == {"validation": 8}


@pytest.mark.parametrize("text", ["\u0301", "\u0e31"])  # xl_acc, xl_thai
def test_a_mark_tiny_xlmr_reads_is_scored(tmp_path, text):
    """xl_acc, xl_thai: a lone U+0301 (`▁ ́` to tiny-xlmr's tokenizer) or U+0E31 was refused as empty for that model."""
    assert _eval(tmp_path, _xl_classifier(tmp_path / "m"), text)["eval_examples"] == {"validation": 8}


def test_a_runs_sampled_rows_are_named_by_their_file_rows(tmp_path, tokenizer):
    """A run tokenizes its sample of the training file: the row it reads as nothing is named by its row in the file,
    among the rows the run reads. Spaces alone are refused as the file is read, for every model (before torch loads)."""
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.loading import load_splits
    from sdp.data.tasks import DataError
    from sdp.data.tokenize import tokenize_splits

    rows = [(f"a training text number {i}", ("neg", "pos")[i % 2]) for i in range(12)]
    rows[6] = ("\u200d\u200b", "neg")
    train = write_csv(tmp_path / "tr.csv", rows)
    dev = write_csv(tmp_path / "dv.csv", [(f"a dev text {i}", ("neg", "pos")[i % 2]) for i in range(4)])
    cfg = OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "text_fields": ["text"],
                            "label_column": "label", "metric": "accuracy"})
    task = custom_task(cfg)  # a ZWJ is text to some tokenizers: not refused here
    loaded = load_splits(task, None, max_train_samples=11)
    assert 6 in loaded.file_rows["train"]
    with pytest.raises(DataError, match=r"task.train_file='.*tr.csv': column 'text' \(a text field\) is empty in 1 of "
                                        r"the 11 rows this run reads \(first: \[7\];"):
        tokenize_splits(loaded.datasets, task, tokenizer, 32, file_rows=loaded.file_rows)
    tokenize_splits(loaded.datasets, task, _xlmr(), 32, file_rows=loaded.file_rows)  # read by tiny-xlmr's
    write_csv(tmp_path / "tr.csv", [*rows[:6], (" \u3000 ", "neg"), *rows[7:]])
    with pytest.raises(DataError, match=r"column 'text' \(a text field\) is empty in 1 of 12 rows \(first: \[7\];"):
        custom_task(cfg)


def test_sdp_predict_warns_where_its_tokenizer_reads_nothing(tmp_path, tokenizer, monkeypatch, capsys):
    """pzwj: a stdin line of a lone ZWJ was labelled with no word (a lone U+0301 was warned)."""
    from sdp.cli.predict import main

    model = _classifier(tokenizer, tmp_path / "m")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
        "a great charming film\n\u200d\nawful boring mess\n".encode())))
    assert main([f"model_dir={model}", f"output={tmp_path / 'o.txt'}"]) == 0
    assert len((tmp_path / "o.txt").read_text().splitlines()) == 3
    assert "1 of 3 rows hold a text this model's tokenizer reads nothing in (empty, or characters it drops; first: " \
           "stdin line 2)" in capsys.readouterr().err


def test_sdp_predict_says_nothing_where_its_tokenizer_reads_a_token(tmp_path, capsys):
    """xl_pacc: a lone U+0301 for a tiny-xlmr model (read `[0, 4, 7071, 2]`) was said to be "labelled as an empty
    text"."""
    from sdp.cli.predict import main

    model = _xl_classifier(tmp_path / "m")
    path = write_csv(tmp_path / "in.csv", [("a great film", "x"), ("\u0301", "y"), ("", "z")])
    assert main([f"model_dir={model}", f"input={path}", "text_fields=text", f"output={tmp_path / 'o.txt'}"]) == 0
    assert "1 of 3 rows hold a text this model's tokenizer reads nothing in (empty, or characters it drops; first: " \
           "input row 3)" in capsys.readouterr().err  # the empty one alone


def test_a_glue_row_its_tokenizer_reads_as_nothing_is_said(tmp_path, tokenizer, caplog):
    """A GLUE file is read as published: its rows read as nothing are said, not refused, by the model's tokenizer."""
    import datasets

    from sdp.data.tasks import TASKS
    from sdp.data.tokenize import tokenize_splits

    split = datasets.Dataset.from_dict({"sentence1": ["a premise", "another premise"], "sentence2": ["\u200d", "ok"],
                                        "label": [0, 1], "idx": [0, 1]})
    with caplog.at_level(logging.WARNING, logger="sdp"):
        tokenize_splits(datasets.DatasetDict({"validation": split}), TASKS["rte"], tokenizer, 32)
    assert "split validation: text field 'sentence2' is empty in 1 of 2 rows (rows [1], counted from 1)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        tokenize_splits(datasets.DatasetDict({"validation": split}), TASKS["rte"], _xlmr(), 32)
    assert "is empty in" not in caplog.text


def test_a_blank_text_no_reader_said_is_said_by_the_tokenizers_check(tmp_path, tokenizer, caplog):
    """Review of part T: the check left blank texts (empty, spaces) to the readers, but only a local GLUE file's and a
    custom file's say them: an XGLUE or Hub split's empty hypothesis got no word while a ZWJ did. A split whose reader
    said them (LoadedSplits.labels_checked) is not said twice."""
    import datasets

    from sdp.data.tasks import TASKS
    from sdp.data.tokenize import tokenize_splits

    split = datasets.Dataset.from_dict({"sentence1": ["a", "b", "c", "d"], "sentence2": ["", " ", "\u200d", "ok"],
                                        "label": [0, 1, 0, 1], "idx": [0, 1, 2, 3]})
    for said, shown in ((frozenset(), "is empty in 3 of 4 rows (rows [1, 2, 3]"),
                        (frozenset({"validation"}), "is empty in 1 of 4 rows (rows [3]")):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sdp"):
            tokenize_splits(datasets.DatasetDict({"validation": split}), TASKS["rte"], tokenizer, 32,
                            blanks_said=said)
        assert shown in caplog.text, caplog.text
