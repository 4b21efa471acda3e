"""A local data file read by datasets afresh, by one process at a time. datasets keys its cache of a file by the
file's path and modification time, so another version copied over it with its time kept (cp -p, rsync -a, tar x) was
read as the old one (probe round 27, cf1): each read rebuilds it. Ranks rebuilding one cache at once removed each
other's folder (a FileNotFoundError traceback, probe round 45, t3b), and a rank that read before another rebuilt it
read the old version (review): the reads take turns, under a lock on the cache folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

from sdp.io import folder_lock


def load_afresh(builder: str, location: str, options: dict[str, Any]) -> datasets.Dataset:
    """datasets' ``builder`` ("csv", "json", "parquet") of the local file at ``location``, rebuilt from the file."""
    cache = Path(datasets.config.HF_DATASETS_CACHE)
    cache.mkdir(parents=True, exist_ok=True)
    with folder_lock(cache):
        return datasets.load_dataset(builder, data_files=location, split="train", download_mode="force_redownload",
                                     **options)
