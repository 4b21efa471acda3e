"""A local data file read by datasets afresh, by one process at a time. datasets keys its cache of a file by the
file's path and modification time, so another version copied over it with its time kept (cp -p, rsync -a, tar x) was
read as the old one (probe round 27, cf1): each read rebuilds it. Ranks rebuilding one cache at once removed each
other's folder (a FileNotFoundError traceback, probe round 45, t3b), and a rank that read before another rebuilt it
read the old version (review): the reads take turns, under a lock on the cache folder."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import datasets

from sdp.data.spec import DataError
from sdp.io import folder_lock, lock_holder

log = logging.getLogger("sdp")


def load_afresh(builder: str, location: str, options: dict[str, Any]) -> datasets.Dataset:
    """datasets' ``builder`` ("csv", "json", "parquet") of the local file at ``location``, rebuilt from the file."""
    cache = Path(datasets.config.HF_DATASETS_CACHE)
    with contextlib.ExitStack() as held:
        try:  # a file in the cache's place was a FileExistsError traceback (probe round 47, hc1)
            cache.mkdir(parents=True, exist_ok=True)
            held.enter_context(folder_lock(cache, waiting=lambda: _say_waiting(cache)))
        except OSError as err:
            raise DataError(_unusable(cache, err)) from None
        return datasets.load_dataset(builder, data_files=location, split="train", download_mode="force_redownload",
                                     **options)


def _unusable(cache: Path, err: OSError) -> str:
    """The one line of a cache folder sdp cannot make or lock, naming it and what it must be."""
    named = (f"HF_DATASETS_CACHE={str(cache)!r}" if os.environ.get("HF_DATASETS_CACHE") else
             f"datasets' cache folder {str(cache)!r} (HF_DATASETS_CACHE, by default $HF_HOME/datasets)")
    what = "a file, not a folder" if cache.exists() and not cache.is_dir() else f"unusable ({err.strerror or err})"
    return (f"{named} is {what}: custom data files are read through it, and it must be a folder sdp can create, "
            "lock and write; point HF_DATASETS_CACHE at one")


def _say_waiting(cache: Path) -> None:
    """Said once, before waiting for another's hold on the cache: a command reading a custom file while another held
    it (a stopped job, Ctrl-Z) waited with no word, for ever (probe round 47, lk1). It waits still: a slow reader is
    legitimate."""
    holder = lock_holder(cache)
    # info, not a warning: a wait is no fault of the run's, and a warning goes into its record and card with the
    # holder's command line (review of round 47's fixes)
    log.info("waiting for the lock on datasets' cache folder %s (held by %s): custom data files are read through "
                "it by one process at a time; this one goes on once the holder lets go (a stopped one, as by Ctrl-Z, "
                "holds it until it goes on or ends)", cache, holder or "another process, not known")
