"""Which rows of a file a run keeps, by position: a training file's max_train_samples sample, then its
task.validation_from_train carve; an eval file's max_eval_samples sample. sdp/data/loading.py cuts the datasets with
them (subsample, carve_validation); the checks a file is read with (sdp/data/glue_local.py, sdp/data/cells.py: rows
under two labels, rows repeating training rows) count among the rows kept (TRAINED_ROWS, trained_positions,
scored_positions), before the datasets are cut. Those two mirror loading's cuts for files read whole, as GLUE and
custom files are; a source that drops rows (PAWS-X's) or samples whole queries (ranking tasks) is cut otherwise, and
its files are not checked with them (review of round 37)."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

import numpy as np

SUBSAMPLE_SEED = 0  # max_train_samples / max_eval_samples: the same sample whatever the run seed


def sample_positions(size: int, max_samples: int | None, seed: int = SUBSAMPLE_SEED) -> np.ndarray | None:
    """The first ``max_samples`` of a ``seed`` permutation of ``size`` rows, in its order; None where all are kept."""
    if max_samples is None or max_samples >= size:
        return None
    return np.random.default_rng(seed).permutation(size)[: int(max_samples)]


def carve_positions(size: int, held_out: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held out): ``held_out`` rows of a ``seed`` permutation go to validation, each part in the rows' order."""
    held = np.sort(np.random.default_rng(seed).permutation(size)[:held_out])
    return np.setdiff1d(np.arange(size), held), held


def in_file(rows: list[int], split: str, file_rows: dict[str, np.ndarray] | None) -> list[int]:
    """Rows of a split (counted from 1) as rows of its file, in file order, where the split is a sample of it."""
    if not file_rows or split not in file_rows:
        return rows
    return sorted(int(file_rows[split][r - 1]) + 1 for r in rows)


def as_read(split: str, file_rows: dict | None, training: bool) -> str:
    """Whose rows a sampled or carved split's rows are named as (loading.in_file): the split's as read (a file's data
    rows; a Hub split's as loaded), the training split's for a training sample and a carve's held-out rows; ''
    where the split is whole. "rows [2, 3]" of an 11-row carve read as the carve's own (review of round 38's fixes)."""
    if not file_rows or split not in file_rows:
        return ""
    return f" of {'the training split' if training else f'split {split}'} as read"


def column(ds: Any, name: str) -> np.ndarray:
    """Column ``name`` of a datasets.Dataset as numpy, through Arrow, in its row order: ``ds[name]`` is read row by row
    (3 s for 400k rows, on every run: review of round 38's fixes)."""
    return ds.select_columns([name]).with_format("arrow")[:][name].to_numpy()


# The rows a run trains on and scores: (max_train_samples, task.validation_from_train, task.validation_seed,
# max_eval_samples), set by trained_rows while its files are read and checked. A file's rows are checked among them:
# every SST-2 smoke run said "the model is trained on both labels" of 10 rows its 64-row sample held none of (probe
# round 36, gt1, gt2); a custom training file alike, and dev rows repeating training-file rows the sample left out
# were said "partly a training score", 60 of 120 where the 50 rows scored held 25 (round 37, ct1, cs2, fr1).
TRAINED_ROWS: contextvars.ContextVar[tuple | None] = contextvars.ContextVar("sdp_trained_rows", default=None)


@contextlib.contextmanager
def trained_rows(cfg: Any) -> Iterator[None]:
    """TRAINED_ROWS of a run's config while its splits are read."""
    token = TRAINED_ROWS.set((cfg.get("max_train_samples"), cfg.task.get("validation_from_train"),
                              cfg.task.get("validation_seed"), cfg.get("max_eval_samples")))
    try:
        yield
    finally:
        TRAINED_ROWS.reset(token)


def trained_positions(n: int) -> tuple[list[int] | None, str]:
    """The data rows (0-based, in file order) a run trains on of an ``n``-row training file (TRAINED_ROWS: its sample,
    then its carve, by sdp/data/loading.py's own functions), and in words; (None, "") where it trains on all."""
    given = TRAINED_ROWS.get()
    samples, carve, seed = given[:3] if given else (None, None, 0)
    if not ((samples and samples < n) or carve):
        return None, ""
    rows = sample_positions(n, samples)
    rows = list(range(n)) if rows is None else rows.tolist()
    if carve:  # as loading.carve_validation cuts the sample (a bad fraction is refused there, after this)
        held = int(round(float(carve) * len(rows)))
        rows = [rows[i] for i in carve_positions(len(rows), held, int(seed or 0))[0]] if 0 < held < len(rows) else rows
    how = ", ".join(w for w in (f"max_train_samples={samples}" if samples and samples < n else "",
                                f"task.validation_from_train={carve} held out" if carve else "") if w)
    return sorted(rows), how


def scored_positions(n: int) -> tuple[list[int] | None, str]:
    """The data rows (0-based, in file order) a run scores of an ``n``-row eval file (TRAINED_ROWS: its
    max_eval_samples sample, as loading.subsample draws it), and in words; (None, "") where it scores all, or where a
    carve is scored and the file only checked."""
    given = TRAINED_ROWS.get()
    if given and given[1]:  # a carve is scored: the eval files are checked, not scored (review of round 37's merge)
        return None, ""
    samples = given[3] if given and len(given) > 3 else None
    rows = sample_positions(n, samples)
    return (None, "") if rows is None else (sorted(rows.tolist()), f"max_eval_samples={samples}")
