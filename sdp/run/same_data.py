"""Whether a completed run's stored metrics were computed on this run's data: a skip returns them only then.

Here, in run/ and not in data/fingerprint.py: it resolves the run's task (sdp/crosslingual.py), which reads data/,
so data/ importing it would import back up into a module that imports data/ again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any

from sdp.data.fingerprint import (
    INPUT_PREFIX,
    REFERENCE_MASK_KEY,
    check_same_data,
    split_fingerprints,
)
from sdp.errors import warnings_held_back
from sdp.io import MASK_FILE
from sdp.models.inspect import TOKENIZER_FILES

# Model folders a run reads, named by path in the config (so in config_hash) but not by content: a folder replaced
# in place (another dense model copied over it) was returned as "already completed", its result from the old one.
MODEL_INPUTS = (("dense", "checkpoint"), ("prune", "teacher_checkpoint"), ("model", "pretrained"))


def input_fingerprints(cfg: Any) -> dict[str, str]:
    """{"model:<group>.<key>": 16 hex digits} of each local model folder in MODEL_INPUTS: its config.json and
    safetensors weights, by content, and ("model:<group>.<key>.tokenizer") its tokenizer files; and ("model:
    model.tokenizer") a local model.tokenizer folder's tokenizer files (a Hub id or a package model: not hashed
    here)."""
    out = {}
    for group, key in MODEL_INPUTS:
        node = cfg.get(group) if hasattr(cfg, "get") else None
        value = node.get(key) if node is not None and hasattr(node, "get") else None
        path = Path(str(value)).expanduser() if value else None
        if path is None or not path.is_dir():
            continue
        out[f"{INPUT_PREFIX}{group}.{key}"] = model_fingerprint(path)
        # Its tokenizer, under a key of its own (a record from before has none, and is not compared on it): a
        # tokenizer edited in place (lower-casing turned off, same vocabulary) was returned as "already completed",
        # and a run killed and resumed across the edit trained on ids of both (probe round 6).
        tokenizer = [path / name for name in TOKENIZER_FILES if (path / name).is_file()]
        if tokenizer:
            out[f"{INPUT_PREFIX}{group}.{key}{TOKENIZER_SUFFIX}"] = _files_hash(tokenizer)
        # The files transformers also reads (special tokens' roles, added tokens), under a key of their own beside
        # it: the key above kept as it was, so a record from before (without this key) still compares. Present
        # wherever a tokenizer is, none of them hashing as none: a folder that gains special_tokens_map.json or
        # added_tokens.json after the run was "already completed", and a resume went on under other ids (probe
        # round 55, pm_stm, pm_added, rs_stm).
        extra = [path / name for name in TOKENIZER_EXTRA_FILES if (path / name).is_file()]
        if tokenizer or extra:
            out[f"{INPUT_PREFIX}{group}.{key}{TOKENIZER_EXTRA_SUFFIX}"] = _files_hash(extra)
    # A local model.tokenizer folder, by its tokenizer files (a record from before has no such key, and is not
    # compared on it): re-pointed or edited, the relaunch returned "already completed" with the old tokenizer's
    # result, and a resume went on under the new one's ids (probe round 54, tk_changed).
    if (path := _tokenizer_folder(cfg)) is not None:
        tokenizer = [path / name for name in TOKENIZER_FOLDER_FILES if (path / name).is_file()]
        if tokenizer:
            out[f"{INPUT_PREFIX}{TOKENIZER_KEY}"] = _files_hash(tokenizer)
    # The reference mask a run compares its mask with (a file, or a run folder's MASK_FILE), by content: not in the
    # run's identity (sdp/run/env.py), so a link re-pointed at another mask, or the file copied over, was "already
    # completed" with the old mask's overlap (probe round 55, rm_skip, rm_skipfile). A record from before has no
    # such key, and is not compared on it.
    if (mask := _reference_mask_file(cfg)) is not None:
        out[f"{INPUT_PREFIX}{REFERENCE_MASK_KEY}"] = _files_hash([mask])
    return out




def _reference_mask_file(cfg: Any) -> Path | None:
    """The mask file prune.reference_mask names (a run folder: its MASK_FILE, as sdp/pruning/overlap.py load_masks
    reads it), or None: unset, or no file there (nothing read, so nothing to compare)."""
    node = cfg.get("prune") if hasattr(cfg, "get") else None
    value = node.get("reference_mask") if node is not None and hasattr(node, "get") else None
    if not value:
        return None
    try:
        path = Path(os.path.expanduser(str(value)))  # (Path.expanduser raises for `~nouser`)
        path = path / MASK_FILE if path.is_dir() else path
        return path if path.is_file() else None
    except (OSError, ValueError):
        return None


TOKENIZER_KEY = "model.tokenizer"
# A model.tokenizer folder's files that make its tokenizer: a key new in round 54, so not held to TOKENIZER_FILES
# (the model folders' key, kept as it was so their records still compare): the special tokens' roles too.
TOKENIZER_EXTRA_FILES = ("spm.model", "special_tokens_map.json", "added_tokens.json")
TOKENIZER_FOLDER_FILES = (*TOKENIZER_FILES, *TOKENIZER_EXTRA_FILES)


def _tokenizer_folder(cfg: Any) -> Path | None:
    """The local folder model.tokenizer names (`~` as home), or None: unset, a Hub id, package: or asset: (those
    change with an install, not in place under a run)."""
    node = cfg.get("model") if hasattr(cfg, "get") else None
    value = node.get("tokenizer") if node is not None and hasattr(node, "get") else None
    if not value or str(value).startswith(("package:", "asset:")):
        return None
    try:
        path = Path(os.path.expanduser(str(value)))  # (Path.expanduser raises for `~nouser`)
        return path if path.is_dir() else None
    except (OSError, ValueError):  # a name too long for a path: not a folder
        return None


TOKENIZER_SUFFIX = ".tokenizer"
TOKENIZER_EXTRA_SUFFIX = ".tokenizer_extra"  # (data/fingerprint.py says both under the folder's key)


def model_folders(cfg: Any) -> dict[str, str]:
    """{"<group>.<key>": the folder's absolute path} of each local model folder in MODEL_INPUTS (and of a local
    model.tokenizer), as read: run.json
    ``model_folders``. The config keeps `~/dm` as written (a run's identity), and the record never said which folder
    it meant (review of session 24's fixes)."""
    out = {}
    for group, key in MODEL_INPUTS:
        node = cfg.get(group) if hasattr(cfg, "get") else None
        value = node.get(key) if node is not None and hasattr(node, "get") else None
        if value and (path := Path(os.path.expanduser(str(value)))).is_dir():  # (Path's raises for `~nouser`)
            out[f"{group}.{key}"] = str(path.resolve())
    if (path := _tokenizer_folder(cfg)) is not None:  # which folder a link named then (probe round 54, tk_changed)
        out[TOKENIZER_KEY] = str(path.resolve())
    if (mask := _reference_mask_file(cfg)) is not None:  # which file a link named then (probe round 55, rm_skip)
        out[REFERENCE_MASK_KEY] = str(mask.resolve())
    return out


def model_fingerprint(path: Path) -> str:
    """16 hex digits of a model folder's config.json and safetensors weights, by content: what a run given it as
    dense.checkpoint records, and what a run records of the dense_model/ it trained (metrics.json
    dense_model_fingerprint), so that a copy of one is known as that same model."""
    return _files_hash(f for f in Path(path).iterdir()
                       if f.is_file() and (f.name == "config.json" or f.suffix == ".safetensors"))


def _files_hash(files: Any) -> str:
    h = hashlib.sha256()
    for file in sorted(files):
        h.update(file.name.encode() + b"\0")
        with open(file, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def fingerprints_for(cfg: Any, recorded: bool = True) -> dict[str, str]:
    """Load the run's splits (no tokenising, no model) and fingerprint them: for a skip decision. What the load says
    (repeated rows, a carve's classes) is held back where the run ``recorded`` warnings (metrics.json ``warnings``):
    said again, it read as news of this launch. A record without the key is said to: one from before sdp kept a
    run's warnings never said them; one that warned of nothing has nothing for this load to repeat."""
    from sdp.crosslingual import resolve_run_task
    from sdp.data.loading import load_run_splits

    with warnings_held_back() if recorded else contextlib.nullcontext():  # said as the run says them (round 37)
        splits = load_run_splits(cfg, resolve_run_task(cfg)).datasets
    return {**split_fingerprints(splits), **input_fingerprints(cfg)}


def verify_completed_data(metrics: dict, cfg: Any, what: str, folders: dict[str, str] | None = None) -> None:
    """A skip returns stored metrics: only if they were computed on the same data as this run's (``folders``: the
    run's run.json ``model_folders``, to say which folder it read)."""
    if metrics.get("data_fingerprint"):
        check_same_data(metrics["data_fingerprint"], fingerprints_for(cfg, "warnings" in metrics), what,
                        (folders, model_folders(cfg)))
