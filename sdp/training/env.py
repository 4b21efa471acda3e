"""Provenance of a run: library versions, the code commit, and a hash of the config."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
# Keys that name where things are, not what is computed; they don't change a run's identity.
NON_IDENTITY_KEYS = ("seed", "output_root", "output_dir", "cache_dir", "data_dir", "resume", "tracker", "push_to_hub",
                     "verbose")
# Keys added to a config group after runs were recorded: left out of the hash while unset (None), so a
# completed run keeps its hash and is still found and skipped.
LATER_OPTIONAL_KEYS = {"task": ("train_file", "validation_file", "text_fields", "label_column", "label_names",
                                "metric")}


def git_commit() -> tuple[str, bool]:
    """(commit, dirty) of the sdp checkout, or ("unknown", False) outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=REPO_ROOT, capture_output=True, text=True, check=True,
            ).stdout.strip()
        )
        return commit, dirty
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def versions() -> dict[str, Any]:
    # Imported here, not at the top: config_hash runs before torch is loaded (config errors stay fast).
    import accelerate
    import datasets
    import torch
    import transformers

    commit, dirty = git_commit()
    return {
        "sdp": commit,
        "sdp_dirty": dirty,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "datasets": datasets.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cuda": torch.version.cuda,
        "num_threads": torch.get_num_threads(),
    }


# Operational settings that don't change what is computed.
NON_IDENTITY_TRAIN_KEYS = ("log_every", "checkpoint_every", "num_threads")


def config_hash(cfg: dict[str, Any]) -> str:
    """sha256 of the config without seed, path and logging keys: runs differing only by seed share it."""
    ident = {k: v for k, v in cfg.items() if k not in NON_IDENTITY_KEYS and k != "hydra"}
    if isinstance(ident.get("train"), dict):
        ident["train"] = {k: v for k, v in ident["train"].items() if k not in NON_IDENTITY_TRAIN_KEYS}
    for group, keys in LATER_OPTIONAL_KEYS.items():
        if isinstance(ident.get(group), dict):
            ident[group] = {k: v for k, v in ident[group].items() if not (k in keys and v is None)}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]
