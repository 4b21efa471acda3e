"""Data layer: task registry, local GLUE readers, loading (loading.py), tokenization/collation (tokenize.py).

Names are imported on first use (PEP 562), so ``import sdp.data.tasks`` stays light: the config check
runs before datasets and torch load. Each registry's own module lists its built-ins (``sdp.data.tasks``:
every task; ``sdp.data.sources``: every reader), so nothing here needs importing for them to be complete.
"""

import importlib

from sdp.data.tasks import TASKS, DataError, DataFileNotFoundError, TaskSpec, get_task, register_task

_LAZY = {
    "read_glue_split": "sdp.data.glue_local",
    **{name: "sdp.data.loading" for name in ("load_splits", "register_local_reader", "remap_labels_by_name",
                                              "resolve_data_dir")},
    **{name: "sdp.data.tokenize" for name in ("make_collator", "make_dataloader", "tokenize_splits")},
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sdp.data' has no attribute {name!r}")


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
