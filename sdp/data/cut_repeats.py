"""Eval rows that are training rows as the model reads them: texts cut to task.max_seq_length tokens are one input
when they differ only past the cut, though their whole texts differ. A test file of training rows whose last words
were replaced was scored as held-out, while the model read 60 of its 60 rows as training rows (probe round 35, lt1;
sdp-eval of the model alike, lt2), because every repeat check compares whole texts (text_key).

Only rows that reach the length can be such twins (a shorter row is read whole, and its text is compared), so only
they are hashed: their token ids (and token type ids), 8 bytes each, with a personalisation that keeps them apart
from the text hashes they share a model's ROW_KEYS_FILE with (sdp/data/fingerprint.py)."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import numpy as np

from sdp.data.file_scan import text_key

log = logging.getLogger("sdp")


def cut_rows(ds: Any, max_seq_length: int) -> np.ndarray:
    """The rows of tokenised ``ds`` (from 0) that reach ``max_seq_length`` tokens (cut to it, or that long)."""
    import pyarrow.compute as pc

    lengths = pc.list_value_length(ds.data.column("input_ids")).to_numpy(zero_copy_only=False)
    return np.flatnonzero(lengths >= int(max_seq_length))


def cut_digests(ds: Any, rows: np.ndarray) -> np.ndarray:
    """The 8-byte hash of each of ``rows``' token ids (with their token type ids, where a pair has them)."""
    if not len(rows):
        return np.zeros(0, dtype="<u8")
    part = ds.select(rows.tolist())
    types = part["token_type_ids"] if "token_type_ids" in part.column_names else [None] * len(part)
    out = []
    for ids, kinds in zip(part["input_ids"], types):
        data = np.asarray(ids, dtype="<i8").tobytes() + (b"" if kinds is None else np.asarray(kinds, "<i1").tobytes())
        out.append(hashlib.blake2b(data, digest_size=8, person=b"sdp-cut-ids").digest())
    return np.frombuffer(b"".join(out), dtype="<u8")


def train_cut_digests(ds: Any, max_seq_length: int) -> np.ndarray:
    """The hashes of a tokenised training split's rows that reach the length: a model's ROW_KEYS_FILE takes them."""
    return np.unique(cut_digests(ds, cut_rows(ds, max_seq_length)))


def _said(count: int, total: int, rows: list[int], where: str, length: int, whose: str) -> str:
    return (f"{where}: {count} of {total} rows are {whose} as the model reads them: the same tokens up to "
            f"task.max_seq_length={length}, their texts differing only past it (rows {rows[:5]}, counted from 1): "
            "their score is partly a training score; score rows the model never read, or raise task.max_seq_length")


def warn_cut_repeats(task: Any, raw: Any, tokenized: Any, max_seq_length: int, file_rows: dict | None = None) -> None:
    """sdp-run: each eval split's rows that are a training row at the cut and not by text (those are said already:
    sdp/data/custom.py, loading.warn_eval_rows_trained). ``file_rows``: a sampled split's rows in its file."""
    from sdp.data.loading import in_file

    train = tokenized.get(task.train_split) if hasattr(tokenized, "get") else None
    if train is None or not len(cut := cut_rows(train, max_seq_length)):
        return
    fields = [f for f in task.text_fields if f in raw[task.train_split].column_names]
    first = {}  # digest -> its first training row
    for row, digest in zip(cut.tolist(), cut_digests(train, cut).tolist()):
        first.setdefault(digest, row)
    for split in task.eval_splits:
        if split not in tokenized or not len(rows := cut_rows(tokenized[split], max_seq_length)):
            continue
        twins = [(r, first[d]) for r, d in zip(rows.tolist(), cut_digests(tokenized[split], rows).tolist()) if d in first]
        found = [r + 1 for r, t in twins if _keys(raw[split], r, fields) != _keys(raw[task.train_split], t, fields)]
        if found := in_file(found, split, file_rows):
            log.warning(_said(len(found), len(tokenized[split]), found, f"task {task.name}, split {split}",
                              max_seq_length, "a training row"))


def warn_cut_among(task: Any, raw: Any, tokenized: Any, hashes: Any, max_seq_length: int,
                   file_rows: dict | None = None) -> None:
    """sdp-eval: the rows of each scored split whose tokens at the cut are a training row's, by the hashes of the
    model's ROW_KEYS_FILE, and whose texts are not (those are said already: scored_rows.warn_rows_among)."""
    from sdp.data.fingerprint import row_digests
    from sdp.data.loading import in_file

    for split, ds in tokenized.items():
        if not len(rows := cut_rows(ds, max_seq_length)):
            continue
        hit = rows[np.isin(cut_digests(ds, rows), hashes)]
        fields = [f for f in task.text_fields if f in raw[split].column_names]
        if len(hit) and fields:
            hit = hit[~np.isin(row_digests(raw[split].select(hit.tolist()), fields), hashes)]
        if found := in_file([int(r) + 1 for r in hit], split, file_rows):
            log.warning("sdp-eval: " + _said(len(found), len(ds), found, f"split {split}", max_seq_length,
                                             "rows model_dir was trained on (its sdp_training_rows.u64)"))


def _keys(ds: Any, row: int, fields: list[str]) -> tuple[str, ...]:
    return tuple(text_key(ds[row][f]) for f in fields)
