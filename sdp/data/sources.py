"""Data-source registry: the local-file reader of every task ``source`` and the Hub adapters.

The registry imports every built-in reader itself and lists it here (GLUE, XGLUE, XTREME, custom files), so it
is the same whatever was imported before: ``load_splits`` of an XGLUE task works in a fresh interpreter
without first importing ``sdp.data.xglue``. The readers do not import this module, so there is no cycle. A
user's source joins with :func:`register_local_reader` / :func:`register_hub_adapter`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import datasets

from sdp.data import custom, xglue
from sdp.data.glue_local import read_glue_split
from sdp.data.spec import SplitRows, TaskSpec

LocalReader = Callable[[TaskSpec, Path, str], "list[dict] | SplitRows"]
HubAdapter = Callable[[TaskSpec, str, datasets.Dataset], "tuple[datasets.Dataset, int | None]"]

LOCAL_READERS: dict[str, LocalReader] = {
    "glue": read_glue_split,
    "xglue": xglue.read_xglue_split,
    "xtreme": xglue.read_xtreme_split,
    custom.NAME: custom.read_custom_split,
}
# Sources whose files the task names itself: read without a data_dir.
FILE_SOURCES: set[str] = {custom.NAME}
# Applied to each Hub split of the source's tasks before label remapping.
HUB_ADAPTERS: dict[str, HubAdapter] = {"xglue": xglue.hub_adapter}


def register_local_reader(source: str, reader: LocalReader, *, needs_data_dir: bool = True) -> None:
    """Register ``reader(task, data_dir, split) -> rows`` (a list, or :class:`SplitRows` where it drops rows)
    for tasks whose ``source`` is ``source``."""
    LOCAL_READERS[source] = reader
    if not needs_data_dir:
        FILE_SOURCES.add(source)


def register_hub_adapter(source: str, adapter: HubAdapter) -> None:
    """Register ``adapter(task, split, ds) -> (ds, dropped)``, applied to each Hub split of tasks whose
    ``source`` is ``source`` before label remapping (e.g. to rename columns or drop placeholder rows);
    ``dropped`` counts the rows it dropped, None where the task drops none."""
    HUB_ADAPTERS[source] = adapter
