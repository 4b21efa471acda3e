"""The floor of a task's dev score: what the best constant prediction scores there.

A pruned model that predicts one class everywhere scores exactly this (MRPC: F1 81.2 and accuracy 68.4 by saying
"equivalent" to every pair; CoLA: MCC 0); a regression that predicts a constant has no correlation, scored 0. A
cell whose mean sits at its floor measures the metric, not the method: claims.md marks such cells. Read from the
local GLUE dev files (SDP_DATA_DIR, else the folder the runs used), with the run's own metrics code; None where
those files are not here (Hub data, custom and cross-lingual tasks).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from sdp.data.tasks import DataError

TOLERANCE = 0.005  # half a point of the main metric: a near-constant predictor lands within it


def task_floor(task_name: str, data_dir: str | None) -> float | None:
    """The best constant prediction's main score on ``task_name``'s first eval split (all its rows), or None."""
    # The folder is resolved before the cache: keyed by None, a floor read while SDP_DATA_DIR was unset stayed
    # None after it was set (the whole process, e.g. a test run without the Makefile's variables).
    return _floor(task_name, data_dir or os.environ.get("SDP_DATA_DIR"))[0]


def scored_floor_rows(task_name: str, data_dir: str | None, eval_examples: object,
                      data_fingerprint: object = None) -> bool:
    """Whether a run that recorded ``eval_examples`` (metrics.json) was scored on the rows ``task_floor`` is of: the
    whole dev split. A run scored on a sample of it (max_eval_samples) has another floor: RTE runs that predicted one
    class on 32 rows scored 62.50, that sample's floor, and were not marked against the whole file's 52.71 (probe
    round 11). A regression's floor is 0 on any rows; a record without the count is taken as it always was. A run
    whose recorded ``data_fingerprint`` of that split is not the file's read another dev file (data_dir=<an edited
    copy>): the floor read here is not its own, so it is not judged either."""
    folder = data_dir or os.environ.get("SDP_DATA_DIR")
    floor, rows = _floor(task_name, folder)
    if floor is None or rows is None or not isinstance(eval_examples, dict) or not eval_examples:
        return True
    from sdp.data.tasks import TASKS

    spec = TASKS[task_name]
    if spec.is_regression:
        return True
    recorded = data_fingerprint.get(spec.eval_splits[0]) if isinstance(data_fingerprint, dict) else None
    if recorded is not None and recorded != _fingerprint(task_name, folder):
        return False
    return eval_examples.get(spec.eval_splits[0]) == rows


@functools.cache
def _fingerprint(task_name: str, folder: str) -> str | None:
    """The split's fingerprint as a run records it (metrics.json data_fingerprint: sdp/data/fingerprint.py)."""
    from sdp.data.fingerprint import split_fingerprints
    from sdp.data.loading import load_splits
    from sdp.data.tasks import TASKS

    spec = TASKS[task_name]
    try:
        loaded = load_splits(spec, folder, read_train=False)
    except (OSError, DataError):
        return None
    return split_fingerprints(loaded.datasets).get(spec.eval_splits[0])


@functools.cache
def _floor(task_name: str, folder: str | None) -> tuple[float | None, int | None]:
    from sdp.data.glue_local import read_glue_split
    from sdp.data.tasks import TASKS
    from sdp.metrics import compute_metrics

    spec = TASKS.get(task_name)
    if not _floor_read_for(task_name) or not folder or not Path(folder).is_dir():
        return None, None
    split = spec.eval_splits[0]
    try:
        rows = read_glue_split(spec, folder, split)
    except (OSError, DataError):
        return None, None
    if spec.is_regression:
        return 0.0, len(rows)
    import warnings

    labels = np.array([spec.label_names.index(r["label"]) for r in rows])
    best = None
    for c in range(len(spec.label_names)):
        logits = np.zeros((len(labels), len(spec.label_names)), dtype=np.float32)
        logits[:, c] = 1.0
        with warnings.catch_warnings():  # a constant prediction's MCC is 0 by definition; sklearn warns about it
            warnings.simplefilter("ignore")
            main = compute_metrics(spec, {split: (logits, labels)})["main"]
        best = main if best is None or main > best else best
    return best, len(rows)


def at_floor(mean_score: float, floor: float | None) -> bool:
    return floor is not None and mean_score <= floor + TOLERANCE


def _floor_read_for(task_name: str) -> bool:
    """Whether a floor is read for the task at all: a GLUE task's, from its dev split in SDP_DATA_DIR."""
    from sdp.data.tasks import TASKS

    spec = TASKS.get(task_name)
    return spec is not None and spec.source == "glue" and not spec.languages


def _unknown_why(task_name: str) -> str:
    """Why a task's floor is not known. Every unknown one was said to lack local dev files, a custom task's too, with
    SDP_DATA_DIR set and its dev file named (round 31)."""
    return "no local dev file: SDP_DATA_DIR" if _floor_read_for(task_name) else "read for GLUE tasks only"


def floor_legend(floors: dict[str, float | None], floored: list[str], paired: bool = False, sampled: int = 0) -> str:
    """The ‡ legend under a table (claims.md, the structured report): what the mark means, each task's floor, and
    the cells marked. ``paired``: the table's paired rows carry ‡ too, where they compare such a cell. ``sampled``:
    how many cells were not judged, their runs scored on a sample of the dev split (``scored_floor_rows``)."""
    known = {t: f for t, f in floors.items() if f is not None}
    unknown = sorted(set(floors) - set(known))
    return (f"‡ at its floor: the cell's mean is within {100 * TOLERANCE:g} points of what the best constant "
            "prediction scores on that dev split, or below (sdp/report/floors.py), so it measures the metric, not the "
            "method" + ("; a paired row marked ‡ compares such a cell" if paired else "") + ". Floors (x 100): "
            + (", ".join(f"{t} {100 * f:.2f}" for t, f in sorted(known.items())) or "none known")
            + "".join(f"; unknown for {', '.join(t for t in unknown if _unknown_why(t) == why)} ({why})"
                      for why in sorted({_unknown_why(t) for t in unknown}))
            + ". Cells at a floor: " + (f"{len(floored)}: {'; '.join(floored)}." if floored else "none.")
            + (f" Not judged: {sampled} cell(s) whose runs were scored on a sample of the dev split "
               "(max_eval_samples) or on another dev file than the one read here (their recorded data_fingerprint), "
               "whose floor is not this file's." if sampled else ""))
