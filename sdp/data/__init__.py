"""Data layer: task registry, local GLUE readers, loading/tokenization/collation."""

from sdp.data import xglue  # noqa: F401  (registers the XGLUE tasks, readers and Hub adapter)
from sdp.data.glue_local import read_glue_split
from sdp.data.loading import (
    load_splits,
    make_collator,
    make_dataloader,
    register_local_reader,
    remap_labels_by_name,
    resolve_data_dir,
    tokenize_splits,
)
from sdp.data.tasks import TASKS, DataError, DataFileNotFoundError, TaskSpec, get_task, register_task

__all__ = [
    "TASKS",
    "DataError",
    "DataFileNotFoundError",
    "TaskSpec",
    "get_task",
    "load_splits",
    "make_collator",
    "make_dataloader",
    "read_glue_split",
    "register_local_reader",
    "register_task",
    "remap_labels_by_name",
    "resolve_data_dir",
    "tokenize_splits",
]
