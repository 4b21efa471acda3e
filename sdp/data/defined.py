"""Eval splits on which the task's main metric is a measurement: a correlation of constant targets, an MCC of one
class or a binary F1 without a positive row is the same whatever the model predicts, and was scored as if measured.
Checked by :func:`sdp.data.loading.load_splits` once the splits are sampled."""

from __future__ import annotations

import datasets
import numpy as np

from sdp.data.tasks import DataError, TaskSpec

MIN_CORRELATION_ROWS = 3  # two points always correlate at +-1 (or not at all): no measurement


def check_correlation_defined(task: TaskSpec, splits: dict[str, datasets.Dataset]) -> None:
    """A regression eval split on which Pearson/Spearman are undefined whatever the model predicts (constant
    targets) or meaningless (under 3 rows) is a DataError: it used to be scored as 0.0 with a stderr warning."""
    if not task.is_regression:
        return
    for split, ds in splits.items():
        if split == task.train_split:
            continue
        targets = np.asarray(ds["label"], dtype=np.float64)
        if len(targets) < MIN_CORRELATION_ROWS or np.ptp(targets) == 0:
            why = (f"has {len(targets)} row(s)" if len(targets) < MIN_CORRELATION_ROWS
                   else f"has one target value ({targets[0]:g}) in all {len(targets)} rows")
            raise DataError(f"task {task.name!r}: eval split {split!r} {why}: {'/'.join(task.metric_names)} "
                            f"correlation is undefined on it; it needs >= {MIN_CORRELATION_ROWS} rows with "
                            "differing targets (raise max_eval_samples, or use another eval file)")


def check_class_metric_defined(task: TaskSpec, splits: dict[str, datasets.Dataset]) -> None:
    """The same for a main metric of classes: MCC on an eval split of one class is 0 whatever the model predicts,
    and binary F1 on one without a positive row is 0 or undefined. Both were scored (CoLA with max_eval_samples=2:
    mcc 0.0) as if measured."""
    metric = task.metric_names[0]
    if task.is_regression or metric not in ("mcc", "f1"):
        return
    for split, ds in splits.items():
        if split == task.train_split:
            continue
        labels = [y for y in ds["label"] if y >= 0]
        classes = sorted(set(labels))
        if metric == "mcc" and len(classes) < 2:
            why = f"holds one class ({task.label_names[classes[0]]!r}) in all {len(labels)} rows" if classes \
                else "holds no labelled row"
        elif metric == "f1" and 1 not in classes:
            why = f"has no row of the positive class ({task.label_names[1]!r}) in its {len(labels)} rows"
        else:
            continue
        raise DataError(f"task {task.name!r}: eval split {split!r} {why}: {metric} is undefined on it (or the same "
                        "whatever the model predicts); it needs rows of both classes (raise max_eval_samples, or "
                        "use another eval file)")
