"""Texts a model's own tokenizer reads as nothing: no token id of their own (``add_special_tokens=False``).

What "a text with nothing in it" means was one character list for every tokenizer (file_scan.no_text), wrong both
ways: a dev row of a lone zero-width joiner, U+0600 or a tag character U+E0041 was scored though tiny-bert's
tokenizer reads `[CLS] [SEP]` (probe round 49, ev_zwj, ev_ans, ev_tag; sdp-predict labelled it unsaid: pzwj), and
a lone U+20DD (tiny-bert reads `[UNK]`) or a lone U+0301 / U+0E31 for a tiny-xlmr model (read `▁ ́`) was refused
as empty (ev_me, xl_acc, xl_thai; sdp-predict called it "labelled as an empty text": xl_pacc). The model's
tokenizer decides: a text field is no text for a model where it gives no token id. The tokenizer-independent check
(file_scan.blank_text: empty, spaces) stays where the files are read, before torch loads.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sdp.data.custom import FILE_KEYS, OPTIONAL_FILE_KEYS
from sdp.data.file_scan import blank_text
from sdp.data.loading import VALIDATION_FROM_TRAIN
from sdp.data.rows_kept import as_read, in_file
from sdp.data.tasks import DataError

log = logging.getLogger("sdp")

# A text with an ASCII letter or digit is read as something by every tokenizer (a WordPiece reads it, or [UNK]): only
# the others are tokenized, so a 400k-row file of English costs a regular-expression scan (Arrow's, in C).
_LETTER_OR_DIGIT = "[A-Za-z0-9]"
_SEARCH = re.compile(_LETTER_OR_DIGIT)
_CHUNK = 4096  # candidates tokenized at once: a file of Chinese rows (all candidates) never all in memory twice


def unread_rows(texts: Sequence[Any] | pa.Array | pa.ChunkedArray, tokenizer: Any) -> list[int]:
    """The positions (from 0) of ``texts`` that ``tokenizer`` reads as nothing: no token id without its special
    tokens (an empty text, spaces, a lone U+200D for an uncased BERT's; a null cell is an empty text)."""
    if isinstance(texts, (pa.Array, pa.ChunkedArray)):
        column = texts if pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type) \
            else texts.cast(pa.large_string())
        read = pc.fill_null(pc.match_substring_regex(column, _LETTER_OR_DIGIT), False)
        candidates = np.flatnonzero(~read.to_numpy(zero_copy_only=False).astype(bool)).tolist()
        values = column.take(pa.array(candidates, type=pa.int64())).to_pylist() if candidates else []
    else:
        candidates = [i for i, text in enumerate(texts) if text is None or not _SEARCH.search(str(text))]
        values = [texts[i] for i in candidates]
    values = ["" if v is None else str(v) for v in values]
    # A text's first characters first: a token there is a token of the whole text (a tokenizer drops characters, it
    # never drops a read one for what follows it), so a file of Chinese rows (every row a candidate) is not tokenized
    # whole a second time; only a text whose start reads as nothing is tokenized whole.
    start_empty = _read_nothing([v[:_START] for v in values], tokenizer)
    whole = _read_nothing([values[j] for j in start_empty], tokenizer)
    return [candidates[start_empty[j]] for j in whole]


_START = 32  # characters


def _read_nothing(values: list[str], tokenizer: Any) -> list[int]:
    """The positions of ``values`` in which ``tokenizer`` reads no token (its special tokens aside)."""
    empty: list[int] = []
    for start in range(0, len(values), _CHUNK):
        # cut to a few tokens: whether one is there is the question (a long text warned "longer than the maximum")
        ids = tokenizer(values[start:start + _CHUNK], add_special_tokens=False, truncation=True, max_length=8,
                        return_attention_mask=False, return_token_type_ids=False)["input_ids"]  # (a third less time)
        empty += [start + j for j, row in enumerate(ids) if not len(row)]
    return empty


def _text_column(ds: Any, field: str) -> pa.ChunkedArray:
    return ds.select_columns([field]).with_format("arrow")[:][field]


def check_read_texts(dsets: Any, task: Any, tokenizer: Any, file_rows: dict | None = None,
                     blanks_said: frozenset = frozenset()) -> None:
    """Every split's text fields, as the model's tokenizer reads them (a run's and sdp-eval's, before tokenizing):
    a task=custom file's rows read as nothing are refused, as its blank cells are (sdp/data/cells.py check_filled);
    another source's (GLUE files, read as published: glue_local.py) are said in a warning. Blank ones (empty,
    spaces) of the splits in ``blanks_said`` are left to their readers, which say or refuse them before torch loads
    (a local GLUE file's, a custom file's); an XGLUE or Hub split's are said here (review of part T: they were said
    by no one). ``file_rows``: a sampled or carved split's rows in its file (LoadedSplits.file_rows)."""
    refused: dict[tuple[str, str], list] = {}  # (file, field) -> [(split, rows, column)]: one refusal a file
    for split, ds in dsets.items():
        # a carve's rows were read with its training file
        said = split in blanks_said or (split == VALIDATION_FROM_TRAIN and task.train_split in blanks_said)
        for field in [f for f in task.text_fields if f in ds.column_names]:
            column = _text_column(ds, field)
            rows = [i for i in unread_rows(column, tokenizer)
                    if not (said and blank_text("" if (v := column[i].as_py()) is None else str(v)))]
            if rows and task.source == "custom":
                refused.setdefault((_file_of(task, split), field), []).append((split, rows, column))
            elif rows:
                _warn(task, split, field, len(ds), rows, str(column[rows[0]].as_py()), tokenizer, file_rows)
    if refused:
        raise DataError("; ".join(_refusal(task, dsets, file, field, found, tokenizer, file_rows)
                                  for (file, field), found in refused.items()))


def _file_of(task: Any, split: str) -> str:
    """The file a split's rows are from: a carve's held-out rows are the training file's."""
    return "train" if split in (task.train_split, VALIDATION_FROM_TRAIN) else split


def _refusal(task: Any, dsets: Any, file: str, field: str, found: list, tokenizer: Any, file_rows: dict | None) -> str:
    """A task=custom file's rows read as nothing, over every split this run reads of it (the trained rows and a
    carve's held-out rows: "1 of the 16 rows this run reads" named the carve alone of 64 rows read, and the trained
    rows' were said only once the carve's were fixed: probe round 51, rn_vft, rn_vk; review of part T)."""
    at = sorted(((in_file([i + 1], split, file_rows)[0], i, column) for split, rows, column in found for i in rows),
                key=lambda t: t[0])
    named, (shown, first, column) = [r for r, _, _ in at], at[0]  # (a sample's rows are in its own order)
    first = column[first].as_py()
    read = [s for s in dsets if _file_of(task, s) == file]
    n = sum(len(dsets[s]) for s in read)
    of = f"the {n} rows this run reads" if file_rows and any(s in file_rows for s in read) else f"{n} rows"
    key = {**FILE_KEYS, **OPTIONAL_FILE_KEYS}.get(file, file)
    return (f"task.{key}={task.local_file(file)!r}: column {field!r} (a text field) is empty in {len(named)} of {of} "
            f"(first: {named[:5]}; data rows counted from 1): {type(tokenizer).__name__}, this model's tokenizer, "
            f"reads nothing in it (data row {shown} is {ascii(first)}); fill them in or drop those rows")


def _warn(task: Any, split: str, field: str, n: int, rows: list[int], first: str, tokenizer: Any,
          file_rows: dict | None) -> None:
    training = split in (task.train_split, VALIDATION_FROM_TRAIN)  # a carve's rows are the training file's
    named = in_file([r + 1 for r in rows], split, file_rows)
    shown = in_file([rows[0] + 1], split, file_rows)[0]  # ``first``'s row (a sample's rows are in its own order)
    whose = f"{type(tokenizer).__name__}, this model's tokenizer, reads nothing in it (data row {shown} is " \
            f"{ascii(first)})"
    log.warning("task %s, split %s: text field %r is empty in %d of %d rows (rows %s%s, counted from 1): %s; each is "
                "read as an empty text (the data is read as published)", task.name, split, field, len(rows), n,
                named[:5], as_read(split, file_rows, training), whose)
