"""sdp-eval on a local GLUE folder: are the rows it scores the training rows of the model scored? (probe round 32, gl4)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdp.data.fingerprint import ROWS_KEY, rows_fingerprint, same_rows, split_fingerprints
from sdp.data.loading import add_idx, rows_to_dataset, subsample, warn_eval_rows_trained
from sdp.data.sources import LOCAL_READERS
from sdp.data.tasks import DataFileNotFoundError, TaskSpec
from sdp.errors import warnings_held_back


def warn_model_rows_scored(task: TaskSpec, root: Path, evaluated: dict[str, Any], rows: dict) -> None:
    """The eval rows against the model's training rows where the folder holds them (their fingerprint is the model's
    ``rows["train_fingerprint"]``, config.json's sdp_training_rows): a dev file of training rows was scored as
    held-out, unsaid, where sdp-run on the same folder says so (round 31's gl1)."""
    try:
        with warnings_held_back():  # the training file's own warnings are not the evaluation's
            train = subsample(rows_to_dataset(task, LOCAL_READERS[task.source](task, root, task.train_split)),
                              rows.get("max_train_samples"))
    except DataFileNotFoundError:  # a folder of the dev file only: nothing to compare (sdp-eval needs no training file)
        return
    if same_rows(rows, split_fingerprints({"train": add_idx(train)})["train"],
                 rows_fingerprint(train) if rows.get(ROWS_KEY) else None):  # in any order
        warn_eval_rows_trained(task, {task.train_split: train, **evaluated})
