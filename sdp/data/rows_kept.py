"""Which rows of a training split a run keeps, by position: its max_train_samples sample, then its
task.validation_from_train carve. sdp/data/loading.py cuts the datasets with them; sdp/data/glue_local.py says a GLUE
training file's rows under two labels among the rows kept (probe round 36, gt1, gt2)."""

from __future__ import annotations

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
