"""Dataset loading, subsampling, tokenization (with an on-disk cache), collation and data loaders.

Every split returned by :func:`load_splits` has the task's text fields, ``label`` (class id in
``task.label_names`` order, or float32 for regression) and ``idx`` (0..N-1, the row position within the
split after subsampling; used as the key of the teacher-output cache).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from sdp.data.glue_local import read_glue_split
from sdp.data.tasks import DataError, DataFileNotFoundError, TaskSpec
from sdp.training.io import publish_tree

__all__ = [
    "LOCAL_READERS",
    "SUBSAMPLE_SEED",
    "dataset_content_hash",
    "load_splits",
    "make_collator",
    "make_dataloader",
    "register_hub_adapter",
    "register_local_reader",
    "remap_labels_by_name",
    "resolve_data_dir",
    "subsample",
    "tokenize_splits",
]

log = logging.getLogger(__name__)

SUBSAMPLE_SEED = 0
_TOKENIZE_CACHE_VERSION = 1
DATA_DIR_ENV = "SDP_DATA_DIR"

LocalReader = Callable[[TaskSpec, Path, str], list[dict]]
LOCAL_READERS: dict[str, LocalReader] = {"glue": read_glue_split}


FILE_SOURCES: set[str] = set()  # sources whose files the task names itself: read without a data_dir


def register_local_reader(source: str, reader: LocalReader, *, needs_data_dir: bool = True) -> None:
    """Register ``reader(task, data_dir, split) -> rows`` for tasks whose ``source`` is ``source``."""
    LOCAL_READERS[source] = reader
    if not needs_data_dir:
        FILE_SOURCES.add(source)


HubAdapter = Callable[[TaskSpec, str, datasets.Dataset], datasets.Dataset]
HUB_ADAPTERS: dict[str, HubAdapter] = {}


def register_hub_adapter(source: str, adapter: HubAdapter) -> None:
    """Register ``adapter(task, split, ds) -> ds``, applied to each Hub split of tasks whose ``source`` is
    ``source`` before label remapping (e.g. to rename columns or drop placeholder rows)."""
    HUB_ADAPTERS[source] = adapter


def resolve_data_dir(data_dir: str | Path | None) -> Path | None:
    """The local data folder: ``data_dir`` if given, else ``$SDP_DATA_DIR``, else None (load from the Hub).

    A folder that is named (either way) but does not exist is a :class:`DataError`.
    """
    origin = "data_dir"
    value = data_dir
    if value is None or str(value).strip() == "":
        value = os.environ.get(DATA_DIR_ENV) or None
        origin = f"${DATA_DIR_ENV}"
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DataFileNotFoundError(f"{origin} {str(value)!r} is not an existing directory")
    return path


# ---------------------------------------------------------------------------------------------- labels


def _features(task: TaskSpec) -> datasets.Features:
    feats = {f: datasets.Value("string") for f in task.text_fields}
    if task.is_regression:
        feats["label"] = datasets.Value("float32")
    else:
        feats["label"] = datasets.ClassLabel(names=list(task.label_names))
    return datasets.Features(feats)


def remap_labels_by_name(ds: datasets.Dataset, task: TaskSpec) -> datasets.Dataset:
    """Keep ``task.text_fields`` + ``label`` and re-express class ids in ``task.label_names`` order, matching
    the dataset's ClassLabel names BY NAME (not by position). Regression labels are cast to float32.
    Negative ids (unlabeled test rows) stay as they are."""
    missing = [c for c in (*task.text_fields, "label") if c not in ds.column_names]
    if missing:
        raise DataError(f"task {task.name!r}: dataset lacks columns {missing}; it has {ds.column_names}")
    ds = ds.select_columns([*task.text_fields, "label"])
    if task.is_regression:
        return ds.cast(_features(task))
    feat = ds.features["label"]
    if not isinstance(feat, datasets.ClassLabel):
        raise DataError(f"task {task.name!r}: dataset label feature is {feat!r}, expected a ClassLabel")
    src_names = list(feat.names)
    if set(src_names) != set(task.label_names) or len(src_names) != len(task.label_names):
        raise DataError(
            f"task {task.name!r}: dataset label names {src_names} do not match the task's "
            f"{list(task.label_names)}"
        )
    mapping = [task.label_names.index(n) for n in src_names]
    if mapping == list(range(len(mapping))):
        return ds.cast(_features(task))

    def _remap(batch: dict) -> dict:
        return {"label": [mapping[y] if y >= 0 else y for y in batch["label"]]}

    return ds.map(_remap, batched=True, features=_features(task), desc=f"{task.name}: remap labels")


def _rows_to_dataset(task: TaskSpec, rows: list[dict]) -> datasets.Dataset:
    data: dict[str, list] = {f: [r[f] for r in rows] for f in task.text_fields}
    if task.is_regression:
        data["label"] = [float(r["label"]) for r in rows]
    else:
        names = task.label_names
        labels = []
        for r in rows:
            if r["label"] not in names:
                raise DataError(f"task {task.name!r}: unknown label {r['label']!r}; allowed: {list(names)}")
            labels.append(names.index(r["label"]))
        data["label"] = labels
    return datasets.Dataset.from_dict(data, features=_features(task))


# ------------------------------------------------------------------------------------------ subsampling


def _check_max(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise DataError(f"{name} must be a positive integer or None, got {value!r}")


def subsample(ds: datasets.Dataset, max_samples: int | None, seed: int = SUBSAMPLE_SEED) -> datasets.Dataset:
    """A deterministic subset: permute with ``seed`` and keep the first ``max_samples`` rows.
    None or a value >= len(ds) keeps everything in the original order."""
    if max_samples is None or max_samples >= len(ds):
        return ds
    perm = np.random.default_rng(seed).permutation(len(ds))[: int(max_samples)]
    return ds.select(perm.tolist()).flatten_indices()


# The eval split carved from train by ``task.validation_from_train`` (see :func:`carve_validation`).
VALIDATION_FROM_TRAIN = "validation_from_train"


def carve_validation(
    ds: datasets.Dataset, fraction: float, seed: int = 0
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """(train, validation): a fixed permutation of ``seed`` sends round(fraction * n) rows to validation.

    Deterministic and independent of the run seed, so every method and seed trains on the same rows and is
    scored on the same held-out rows; row order within each part follows the original order.
    """
    if not 0.0 < fraction < 1.0:
        raise DataError(f"task.validation_from_train={fraction!r} must be a fraction in (0, 1)")
    n_val = int(round(fraction * len(ds)))
    if n_val < 1 or n_val >= len(ds):
        raise DataError(f"task.validation_from_train={fraction} of {len(ds)} training rows leaves an empty split")
    held = np.sort(np.random.default_rng(seed).permutation(len(ds))[:n_val])
    keep = np.setdiff1d(np.arange(len(ds)), held)
    return ds.select(keep.tolist()).flatten_indices(), ds.select(held.tolist()).flatten_indices()


def _add_idx(ds: datasets.Dataset) -> datasets.Dataset:
    if "idx" in ds.column_names:
        ds = ds.remove_columns("idx")
    return ds.add_column("idx", np.arange(len(ds), dtype=np.int64))


class HubUnreachableError(DataError):
    """The Hub could not be reached (offline, or no network) and no local data was given."""


def _load_from_hub(task: TaskSpec) -> datasets.DatasetDict:
    try:
        return datasets.load_dataset(task.hub_path, task.hub_name or None)
    except Exception as err:
        kind = type(err).__name__
        if not (isinstance(err, OSError) or "connect" in kind.lower() or "offline" in str(err).lower()):
            raise
        raise HubUnreachableError(
            f"cannot load {task.hub_path}/{task.hub_name or ''} from the Hugging Face Hub ({kind}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); for local files set data_dir=<folder with "
            "glue/ or xglue/> or the SDP_DATA_DIR environment variable"
        ) from err


def load_splits(
    task: TaskSpec,
    data_dir: str | Path | None,
    *,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
    validation_from_train: float | None = None,
    validation_seed: int = 0,
) -> datasets.DatasetDict:
    """The train split (``task.train_split``) and every eval split (``task.eval_splits``) of ``task``.

    With ``validation_from_train`` the dev split is not even read: the (subsampled) train split is cut by
    :func:`carve_validation` into train and ``validation_from_train``, the only eval split.

    ``data_dir`` None (and no ``$SDP_DATA_DIR``) loads ``datasets.load_dataset(task.hub_path, task.hub_name)``;
    otherwise the local reader for ``task.source`` reads the files.
    """
    _check_max("max_train_samples", max_train_samples)
    _check_max("max_eval_samples", max_eval_samples)
    root = resolve_data_dir(None if data_dir is None else str(data_dir))
    splits = [task.train_split] if validation_from_train else [task.train_split, *task.eval_splits]
    out: dict[str, datasets.Dataset] = {}
    if root is None and task.source not in FILE_SOURCES:
        hub = _load_from_hub(task)
        for split in splits:
            if split not in hub:
                raise DataError(
                    f"task {task.name!r}: Hub dataset {task.hub_path}/{task.hub_name} has no split {split!r}; "
                    f"it has {sorted(hub)}"
                )
            ds = hub[split]
            if task.source in HUB_ADAPTERS:
                ds = HUB_ADAPTERS[task.source](task, split, ds)
            out[split] = remap_labels_by_name(ds, task)
    else:
        if task.source not in LOCAL_READERS:
            raise DataError(
                f"task {task.name!r}: no local reader for source {task.source!r}; known: {sorted(LOCAL_READERS)}"
            )
        reader = LOCAL_READERS[task.source]
        for split in splits:
            out[split] = _rows_to_dataset(task, reader(task, root, split))
    out[task.train_split] = subsample(out[task.train_split], max_train_samples)
    if validation_from_train:
        out[task.train_split], held = carve_validation(out[task.train_split], validation_from_train, validation_seed)
        out[VALIDATION_FROM_TRAIN] = subsample(held, max_eval_samples)
    else:
        for split in task.eval_splits:
            out[split] = subsample(out[split], max_eval_samples)
    return datasets.DatasetDict({split: _add_idx(ds) for split, ds in out.items()})


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


def _tokenizer_id(tokenizer) -> dict:
    return {
        "name_or_path": str(getattr(tokenizer, "name_or_path", "")),
        "vocab_size": len(tokenizer),
        "class": f"{type(tokenizer).__module__}.{type(tokenizer).__qualname__}",
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


def tokenize_splits(
    dsets: datasets.DatasetDict,
    task: TaskSpec,
    tokenizer,
    max_seq_length: int,
    cache_dir: str | Path | None = None,
) -> datasets.DatasetDict:
    """Tokenize every split (truncation to ``max_seq_length``, no padding). Output columns: ``input_ids``,
    ``attention_mask``, ``token_type_ids`` (if the tokenizer makes them), ``labels``, ``idx``.

    With ``cache_dir``, the result is saved under ``cache_dir/<key>/`` where ``key`` hashes the task, the raw
    data content, the tokenizer (name_or_path, vocab size, class) and ``max_seq_length``; a later call with
    the same inputs loads it instead of tokenizing again.
    """
    if int(max_seq_length) <= 0:
        raise DataError(f"max_seq_length must be positive, got {max_seq_length!r}")
    if cache_dir is None:
        return _tokenize(dsets, task, tokenizer, max_seq_length)
    cache_dir = Path(cache_dir)
    target = cache_dir / tokenize_cache_key(dsets, task, tokenizer, max_seq_length)
    if (target / "dataset_dict.json").is_file():
        try:
            cached = datasets.load_from_disk(str(target))
            log.info("tokenized %s loaded from cache %s", task.name, target)
            return cached
        except Exception as exc:  # corrupt/partial cache: rebuild it
            log.warning("ignoring unreadable tokenize cache %s: %s", target, exc)
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
        publish_tree(tmp)  # mkdtemp made it 0700: the cache is shared like any folder the user makes
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "dataset_dict.json").is_file():
            log.warning("tokenize cache %s could not be written: going on without the cache", target)
            return result
    # Serve the cached copy so first and later calls return the same (memory-mapped) object kind.
    return datasets.load_from_disk(str(target))


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
        batch = dict(
            self.tokenizer.pad(
                features, padding=True, pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="pt"
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
