"""Tokenizing must never be silently wrong: truncation that the tokenizer turns off (issue 26; the cache keyed by
the tokenizer's content is a run-integrity row: tests/scale/test_run_integrity.py)."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest
from transformers import AutoTokenizer

from sdp.data.tasks import TASKS
from sdp.data.tokenize import tokenize_splits
from sdp.errors import ConfigError

XLMR = Path(__file__).resolve().parents[2] / "sdp" / "assets" / "tiny-xlmr-tokenizer"


def _pairs() -> datasets.DatasetDict:
    text = "a fairly long sentence " * 40
    return datasets.DatasetDict({"train": datasets.Dataset.from_dict(
        {"sentence1": [text, "short"], "sentence2": [text, "one"], "label": [0, 1], "idx": [0, 1]})})


def test_max_seq_length_below_the_tokenizers_special_tokens_is_refused():
    """An XLM-R pair takes 4 special tokens (<s> a </s></s> b </s>): 5 passes validate's floor of 3 + 2 but leaves
    one text token for two fields; below the special count the tokenizer would keep every sequence whole."""
    tok = AutoTokenizer.from_pretrained(str(XLMR))
    with pytest.raises(ConfigError, match=r"task.max_seq_length=5 must be >= 6 for this tokenizer"):
        tokenize_splits(_pairs(), TASKS["rte"], tok, 5)
    out = tokenize_splits(_pairs(), TASKS["rte"], tok, 6)
    assert max(len(ids) for ids in out["train"]["input_ids"]) == 6  # truncation holds at the floor

