"""Tokenisation (with an on-disk cache), dynamic-padding collation and seeded data loaders.

:func:`tokenize_splits` turns the splits of :func:`sdp.data.loading.load_splits` into model inputs:
``input_ids``, ``attention_mask``, ``token_type_ids`` (if the tokenizer makes them), ``labels`` and ``idx``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from sdp.data.read_nothing import check_read_texts
from sdp.data.tasks import DataError, TaskSpec
from sdp.errors import ConfigError
from sdp.io import file_sha256, publish_tree

log = logging.getLogger(__name__)

_TOKENIZE_CACHE_VERSION = 1


# ----------------------------------------------------------------------------------------- tokenizing


def dataset_content_hash(ds: datasets.Dataset) -> str:
    """sha256 of a dataset's column names, features and cell values (independent of Arrow chunking)."""
    h = hashlib.sha256()
    h.update(json.dumps(ds.features.to_dict(), sort_keys=True).encode())
    df = ds.to_pandas()
    h.update(json.dumps(list(df.columns)).encode())
    if len(df):
        h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()


def tokenizer_content_hash(tokenizer) -> str:
    """sha256 of what the tokenizer does, not what it is called: a fast tokenizer's whole serialized state
    (normalizer: lower-casing, accents; pre-tokenizer; model; post-processor; added tokens), else its vocabulary,
    plus the special tokens and plain init options. A local model folder whose tokenizer is changed in place,
    with the same name and vocabulary size, gets another cache key."""
    h = hashlib.sha256()
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # Less the truncation and padding settings: each call sets them (truncation=True, max_length=...), so they
        # say what the last call asked, not what the tokenizer is (max_seq_length is in the key by itself).
        state = {k: v for k, v in json.loads(backend.to_str()).items() if k not in ("truncation", "padding")}
        h.update(json.dumps(state, sort_keys=True).encode())
    else:
        h.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    plain = {k: v for k, v in sorted(getattr(tokenizer, "init_kwargs", {}).items())
             if isinstance(v, (str, int, float, bool, type(None))) and k != "name_or_path"}
    h.update(json.dumps([plain, tokenizer.special_tokens_map], sort_keys=True, default=str).encode())
    return h.hexdigest()


def _tokenizer_id(tokenizer) -> dict:
    return {
        "name_or_path": str(getattr(tokenizer, "name_or_path", "")),
        "vocab_size": len(tokenizer),
        "class": f"{type(tokenizer).__module__}.{type(tokenizer).__qualname__}",
        "content": tokenizer_content_hash(tokenizer),
    }


def tokenize_cache_key(dsets: datasets.DatasetDict, task: TaskSpec, tokenizer, max_seq_length: int) -> str:
    payload = {
        "version": _TOKENIZE_CACHE_VERSION,
        "task": task.name,
        "text_fields": list(task.text_fields),
        "data": {name: dataset_content_hash(ds) for name, ds in sorted(dsets.items())},
        "tokenizer": _tokenizer_id(tokenizer),
        "max_seq_length": int(max_seq_length),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def check_room_for_text(tokenizer, task: TaskSpec, max_seq_length: int) -> None:
    """Refuse a max_seq_length that leaves no token of text per field after this tokenizer's special tokens: the
    tokenizer then gives up truncating (it only logs an error) and every sequence is kept whole."""
    n_fields = len(task.text_fields)
    special = tokenizer.num_special_tokens_to_add(pair=n_fields == 2)
    if int(max_seq_length) < special + n_fields:
        raise ConfigError(f"task.max_seq_length={max_seq_length} must be >= {special + n_fields} for this tokenizer "
                          f"({type(tokenizer).__name__}): it adds {special} special tokens to "
                          f"{'a text pair' if n_fields == 2 else 'one text'}, and each text field needs a token; "
                          "shorter, the tokenizer stops truncating")


def _tokenize(
    dsets: datasets.DatasetDict, task: TaskSpec, tokenizer, max_seq_length: int
) -> datasets.DatasetDict:
    def _fn(batch: dict) -> dict:
        enc = tokenizer(*[batch[f] for f in task.text_fields], truncation=True, max_length=max_seq_length)
        out = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        out["labels"] = batch["label"]
        return out

    result = {}
    for name, ds in dsets.items():
        drop = [c for c in ds.column_names if c != "idx"]
        tok = ds.map(_fn, batched=True, remove_columns=drop, desc=f"{task.name}/{name}: tokenize")
        if task.is_regression:
            tok = tok.cast_column("labels", datasets.Value("float32"))
        else:
            tok = tok.cast_column("labels", datasets.Value("int64"))
        keep = [
            c
            for c in ("input_ids", "attention_mask", "token_type_ids", "labels", "idx")
            if c in tok.column_names
        ]
        result[name] = tok.select_columns(keep)
    return datasets.DatasetDict(result)


def tokenize_splits(dsets: datasets.DatasetDict, task: TaskSpec, tokenizer, max_seq_length: int,
                    cache_dir: str | Path | None = None, file_rows: dict | None = None,
                    blanks_said: frozenset = frozenset()) -> datasets.DatasetDict:
    """:func:`_tokenize_splits`, then how many rows of each split reached ``max_seq_length`` said in the log: texts
    were cut to it without a word (a run at 32 tokens cut most RTE pairs; probe round 11). A row exactly that long
    is counted too: telling them apart would tokenize everything twice. First, the text fields this tokenizer reads
    as nothing: a task=custom file's refused, another's said (read_nothing.py: probe round 49, ev_zwj, ev_me; a
    cached copy too). ``file_rows``: LoadedSplits.file_rows, by which a sampled split's rows are named; ``blanks_said``:
    the splits whose reader said (or refused) their blank texts (LoadedSplits.labels_checked)."""
    check_read_texts(dsets, task, tokenizer, file_rows, blanks_said)
    result = _tokenize_splits(dsets, task, tokenizer, max_seq_length, cache_dir)
    import pyarrow.compute as pc

    for split, ds in result.items():
        lengths = pc.list_value_length(ds.data.column("input_ids"))
        capped = int(pc.sum(pc.greater_equal(lengths, int(max_seq_length))).as_py() or 0)
        if capped:
            log.info("%s/%s: %d of %d rows reach task.max_seq_length=%d tokens (cut to it, or exactly that long)",
                     task.name, split, capped, len(ds), int(max_seq_length))
    return result


def _tokenize_splits(
    dsets: datasets.DatasetDict,
    task: TaskSpec,
    tokenizer,
    max_seq_length: int,
    cache_dir: str | Path | None = None,
) -> datasets.DatasetDict:
    """Tokenize every split (truncation to ``max_seq_length``, no padding). Output columns: ``input_ids``,
    ``attention_mask``, ``token_type_ids`` (if the tokenizer makes them), ``labels``, ``idx``.

    With ``cache_dir``, the result is saved under ``cache_dir/<key>/`` where ``key`` hashes the task, the raw
    data content, the tokenizer (name_or_path, vocab size, class and its content hash) and ``max_seq_length``; a
    later call with the same inputs loads it instead of tokenizing again.
    """
    if int(max_seq_length) <= 0:
        raise DataError(f"max_seq_length must be positive, got {max_seq_length!r}")
    check_room_for_text(tokenizer, task, max_seq_length)
    if cache_dir is None:
        return _tokenize(dsets, task, tokenizer, max_seq_length)
    cache_dir = Path(cache_dir)
    target = cache_dir / tokenize_cache_key(dsets, task, tokenizer, max_seq_length)
    cached = _load_cached(target)
    if cached is not None:
        log.info("tokenized %s loaded from cache %s", task.name, target)
        return cached
    result = _tokenize(dsets, task, tokenizer, max_seq_length)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache_dir))
    except OSError as err:  # the cache is optional: a read-only or full cache folder costs only speed
        log.warning("tokenize cache %s is not writable (%s): going on without the cache", cache_dir,
                    err.strerror or err)
        return result
    try:
        result.save_to_disk(str(tmp))
        (tmp / CONTENT_RECORD).write_text(json.dumps(_record(tmp, target.name), indent=1, sort_keys=True))
        publish_tree(tmp)  # mkdtemp made it 0700: the cache is shared like any folder the user makes
        # Another process (a DDP rank, a parallel sweep job) may have published this key while we tokenized,
        # over nothing or over a broken copy: keep a copy that loads, which it may be reading right now.
        published = _load_cached(target, quiet=True)
        if published is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            return published
        if target.exists():  # does not load: broken, or a folder no finished write left
            shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)  # fails (ENOTEMPTY) if another process published in between: handled below
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "dataset_dict.json").is_file():
            log.warning("tokenize cache %s could not be written: going on without the cache", target)
            return result
    # Serve the cached copy so first and later calls return the same (memory-mapped) object kind.
    served = _load_cached(target, quiet=True)
    if served is None:  # e.g. someone cleared the cache folder this instant: ours is in memory anyway
        log.warning("tokenize cache %s could not be read back: using the in-memory result", target)
        return result
    return served


# Beside the saved splits, the sha256 of each of their files as written. The key names the inputs, not the tokens:
# an entry edited in place (labels flipped, rows swapped) loaded cleanly and was trained and scored on, while
# metrics.json's data fingerprint named the untouched files (probe round 12, c03). An entry whose files differ from
# this record, or without one (an older sdp's), is rebuilt.
CONTENT_RECORD = "sdp_content.json"
# The record names the key it was written under too: an entry copied or renamed to another key's name (another
# task.max_seq_length, tokenizer, data) matched its own file hashes and was loaded: a run at 32 tokens trained on an
# entry of 24-token rows, no word (probe round 15, c08). An entry whose record names another key, or none (an
# older sdp's), is rebuilt.
KEY_FIELD = "sdp_cache_key"


def _content(root: Path) -> dict[str, str]:
    """sha256 of each file datasets reads back (the splits' .arrow data and their .json descriptions)."""
    return {p.relative_to(root).as_posix(): file_sha256(p) for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".arrow", ".json") and p.name != CONTENT_RECORD}


def _record(root: Path, key: str) -> dict[str, str]:
    """What :data:`CONTENT_RECORD` holds for the entry in ``root``, to be published as ``key``."""
    return {**_content(root), KEY_FIELD: key}


def _content_mismatch(target: Path) -> str | None:
    """Why ``target``'s files are not the ones written there, or None when they are."""
    try:
        record = json.loads((target / CONTENT_RECORD).read_text())
    except (OSError, ValueError):
        return f"it has no readable {CONTENT_RECORD} (written by an older sdp, or not by sdp)"
    if not isinstance(record, dict) or record.get(KEY_FIELD) != target.name:
        written = record.get(KEY_FIELD) if isinstance(record, dict) else None
        return (f"it was written under another key ({written or 'none recorded'}), so it holds another task, data, "
                "tokenizer or length (copied or renamed into this name)")
    record = {k: v for k, v in record.items() if k != KEY_FIELD}
    now = _content(target)
    changed = sorted(k for k in record.keys() | now.keys() if record.get(k) != now.get(k))
    return f"{', '.join(changed[:3])} changed since it was written" if changed else None


def _load_cached(target: Path, quiet: bool = False) -> datasets.DatasetDict | None:
    """The tokenized copy in ``target``, or None if there is none, it does not load (corrupt, partial) or its files
    are not the ones written there (:data:`CONTENT_RECORD`)."""
    if not (target / "dataset_dict.json").is_file():
        return None
    try:
        loaded = datasets.load_from_disk(str(target))
    except Exception as exc:  # corrupt/partial cache: the caller rebuilds it
        if not quiet:
            log.warning("ignoring unreadable tokenize cache %s: %s", target, exc)
        return None
    mismatch = _content_mismatch(target)
    if mismatch is not None:
        if not quiet:
            log.warning("tokenize cache %s is not used: %s; tokenizing again", target, mismatch)
        return None
    return loaded


# -------------------------------------------------------------------------------- collation / loading


class PaddingCollator:
    """Dynamic padding to the longest sequence in the batch (optionally rounded up to a multiple).

    ``labels`` become a long tensor for integer labels and a float32 tensor for float labels; ``idx`` a long
    tensor.
    """

    def __init__(self, tokenizer, pad_to_multiple_of: int | None = None):
        self.tokenizer = tokenizer
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        features = [dict(f) for f in features]
        labels = [f.pop("labels") for f in features] if "labels" in features[0] else None
        if labels is None and "label" in features[0]:
            labels = [f.pop("label") for f in features]
        idx = [f.pop("idx") for f in features] if "idx" in features[0] else None
        # Always on the right: an encoder numbers positions from the first token, so a tokenizer saved with
        # padding_side=left moved every shorter row's tokens to other positions, and a score depended on the batch
        # its row fell in (53.43 at eval batch 32, 53.07 at 1 and by transformers; probe round 15, t01).
        batch = dict(
            self.tokenizer.pad(
                features, padding=True, pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="pt",
                padding_side="right",
            )
        )
        if labels is not None:
            labels = [x.item() if isinstance(x, torch.Tensor) else x for x in labels]
            is_float = any(isinstance(x, (float, np.floating)) for x in labels)
            batch["labels"] = torch.tensor(labels, dtype=torch.float32 if is_float else torch.long)
        if idx is not None:
            batch["idx"] = torch.tensor([int(i) for i in idx], dtype=torch.long)
        return batch


def make_collator(tokenizer, pad_to_multiple_of: int | None = None) -> PaddingCollator:
    return PaddingCollator(tokenizer, pad_to_multiple_of=pad_to_multiple_of)


def make_dataloader(
    dataset,
    collator,
    batch_size: int,
    shuffle: bool,
    seed: int,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader whose shuffling order is a function of ``seed`` only."""
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=collator,
        drop_last=drop_last,
        generator=generator,
    )
