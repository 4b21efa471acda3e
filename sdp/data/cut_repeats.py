"""Eval rows that are training rows as the model reads them: texts cut to task.max_seq_length tokens are one input
when they differ only past the cut, though their whole texts differ. A test file of training rows whose last words
were replaced was scored as held-out, while the model read 60 of its 60 rows as training rows (probe round 35, lt1;
sdp-eval of the model alike, lt2), because every repeat check compares whole texts (text_key).

Only rows that reach the length can be such twins (a shorter row is read whole, and its text is compared), so only
they are hashed: their token ids (and token type ids), 8 bytes each, by a seeded 64-bit mix (numpy, every row at
once: a hash per row in Python cost 16 s for 400k rows of 128 tokens), kept apart from the text hashes they share a
model's ROW_KEYS_FILE with (sdp/data/fingerprint.py) by their seed."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from sdp.data.file_scan import row_keys, text_key
from sdp.data.fingerprint import row_digests
from sdp.data.loading import in_file

log = logging.getLogger("sdp")

_SEED = np.uint64(0x5D9C_07C0_1D5E_ED01)  # the token hashes' own start: no text hash is made this way


def cut_rows(ds: Any, max_seq_length: int) -> np.ndarray:
    """The rows of tokenised ``ds`` (from 0) that reach ``max_seq_length`` tokens (cut to it, or that long)."""
    import pyarrow.compute as pc

    lengths = pc.list_value_length(_table(ds, ["input_ids"]).column("input_ids")).to_numpy(zero_copy_only=False)
    return np.flatnonzero(lengths >= int(max_seq_length))


def _table(ds: Any, columns: list[str]) -> Any:
    """``ds``'s ``columns`` (those it has) as one Arrow table, in its row order (a selected dataset's too, unlike
    ``ds.data``)."""
    return ds.select_columns([c for c in columns if c in ds.column_names]).with_format("arrow")[:]


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on every element (uint64 arithmetic wraps, as the hash wants)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def cut_digests(ds: Any, rows: np.ndarray, max_seq_length: int) -> np.ndarray:
    """The 8-byte hash of each of ``rows``' token ids (with their token type ids, where a pair has them). The rows
    reach the length, so each holds exactly ``max_seq_length`` ids (truncation cuts to it): one matrix."""
    if not len(rows):
        return np.zeros(0, dtype="<u8")
    import pyarrow.compute as pc

    part = _table(ds, ["input_ids", "token_type_ids"]).take(rows)
    digest = np.full(len(rows), _SEED, dtype=np.uint64)
    for column in ("input_ids", "token_type_ids"):
        if column not in part.column_names:
            continue
        ids = pc.list_slice(part.column(column).combine_chunks(), 0, int(max_seq_length))  # each row: exactly that
        values = pc.list_flatten(ids).to_numpy(zero_copy_only=False)
        matrix = values.astype(np.int64).view(np.uint64).reshape(len(rows), int(max_seq_length))
        with np.errstate(over="ignore"):
            for j in range(matrix.shape[1]):
                digest = _mix(digest ^ (matrix[:, j] + np.uint64(j + 1)))
    return digest.astype("<u8")


def warn_cut_repeats(task: Any, raw: Any, tokenized: Any, max_seq_length: int,
                     file_rows: dict | None = None) -> np.ndarray:
    """sdp-run: each eval split's rows that are a training row at the cut and not by text (those are said already:
    sdp/data/custom.py, loading.warn_eval_rows_trained); ``file_rows``: a sampled split's rows in its file. Returns
    the training rows' cut hashes (unique), for the run's ROW_KEYS_FILE: hashed once."""
    train = tokenized.get(task.train_split) if hasattr(tokenized, "get") else None
    if train is None:
        return np.zeros(0, dtype="<u8")
    cut = cut_rows(train, max_seq_length)
    digests = cut_digests(train, cut, max_seq_length)
    fields = [f for f in task.text_fields if f in raw[task.train_split].column_names]
    groups = set(digests.tolist())
    said: set | None = None  # every training row's text keys, made at the first twin (the text checks' rows)
    for split in task.eval_splits:
        if not groups or not fields or split not in tokenized:
            continue
        rows = cut_rows(tokenized[split], max_seq_length)
        twins = [r for r, d in zip(rows.tolist(), cut_digests(tokenized[split], rows, max_seq_length).tolist())
                 if d in groups]
        if twins and said is None:  # one set, not a twin group's keys per row: quadratic on templated rows (review)
            said = row_keys(raw[task.train_split], fields)
        # an eval row whose text is a training row's is a repeat by text, said by the text checks: not again here
        found = [r + 1 for r in twins if tuple(text_key(raw[split][r][f]) for f in fields) not in said]
        if found := in_file(found, split, file_rows):
            log.warning(_said(len(found), len(tokenized[split]), found, f"task {task.name}, split {split}",
                              max_seq_length, "a training row"))
    return np.unique(digests)


def warn_cut_among(task: Any, raw: Any, tokenized: Any, hashes: Any, max_seq_length: int,
                   file_rows: dict | None = None) -> None:
    """sdp-eval: the rows of each scored split whose tokens at the cut are a training row's, by the hashes of the
    model's ROW_KEYS_FILE, and whose texts are not (those are said already: scored_rows.warn_rows_among)."""
    for split, ds in tokenized.items():
        if not len(rows := cut_rows(ds, max_seq_length)):
            continue
        hit = rows[np.isin(cut_digests(ds, rows, max_seq_length), hashes)]
        fields = [f for f in task.text_fields if f in raw[split].column_names]
        if len(hit) and fields:
            hit = hit[~np.isin(row_digests(raw[split].select(hit.tolist()), fields), hashes)]
        if found := in_file([int(r) + 1 for r in hit], split, file_rows):
            log.warning("sdp-eval: " + _said(len(found), len(ds), found, f"split {split}", max_seq_length,
                                             "rows model_dir was trained on (its sdp_training_rows.u64)"))


def _said(count: int, total: int, rows: list[int], where: str, length: int, whose: str) -> str:
    return (f"{where}: {count} of {total} rows are {whose} as the model reads them: the same tokens at "
            f"task.max_seq_length={length}, their texts differing only where the model does not read them (past the "
            f"cut, or in what the tokenizer sets aside; rows {rows[:5]}, counted from 1): their score is partly a "
            "training score; score rows the model never read, or raise task.max_seq_length")

