"""Provenance of a run: library versions, the code commit, and a hash of the config."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

from sdp.version import package_version

REPO_ROOT = Path(__file__).resolve().parents[2]
# Keys that name where things are, not what is computed; they don't change a run's identity.
NON_IDENTITY_KEYS = ("seed", "output_root", "output_dir", "cache_dir", "data_dir", "resume", "tracker", "push_to_hub",
                     "verbose", "reuse")


def git_commit() -> tuple[str, bool]:
    """(commit, dirty) of the sdp checkout, or ("unknown", False) outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                # Code only: run records under results/ change while a sweep runs (its PROGRESS.md, say).
                ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"],
                cwd=REPO_ROOT, capture_output=True, text=True, check=True,
            ).stdout.strip()
        )
        return commit, dirty
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def versions(num_threads: int | None = None, device: Any = None) -> dict[str, Any]:
    """The code and environment of a run. ``num_threads``: the run's own setting (train.num_threads), which
    setup() applies later; None: torch's default, as the run will use. ``device``: the run's (device_name)."""
    # Imported here, not at the top: config_hash runs before torch is loaded (config errors stay fast).
    import accelerate
    import datasets
    import torch
    import transformers

    commit, dirty = git_commit()
    return {
        "sdp": commit,
        "sdp_dirty": dirty,
        "sdp_version": package_version(),  # the installed distribution's: what a wheel install can tell
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "datasets": datasets.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cuda": torch.version.cuda,
        "num_threads": num_threads or torch.get_num_threads(),
        **({"device": device_name(device)} if device is not None else {}),
    }


def device_name(device: Any) -> str:
    """What a run computed on, for costs.md: a GPU's model (``NVIDIA H200``), another backend's name (``mps``), else
    ``CPU <model>`` (/proc/cpuinfo's model name where there is one, else the machine type). Runs of one setup on
    two machines shared a cost row (round 30's ct1, Left)."""
    import torch

    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        return torch.cuda.get_device_name(device)
    if kind != "cpu":  # mps, xpu, ...: the backend's name
        return kind
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
    except OSError:  # not Linux
        names = []
    return f"CPU {names[0] if names else platform.machine() or 'unknown'}"


# Settings inside groups that don't change what is computed: logging and threads, and the reference run
# whose mask is only compared with (its per-seed path would otherwise split a study cell by seed).
NON_IDENTITY_GROUP_KEYS = {"train": ("log_every", "eval_every", "checkpoint_every", "num_threads"), "prune": ("reference_mask",)}


# Inputs a study gives each seed its own copy of (the dense model trained with that seed, passed by path). They
# change the numbers, so config_hash keeps them (resume and sweep-skip rely on it); cell_hash leaves them out, so
# reports pool the seeds of one study cell.
PER_SEED_INPUTS = {"dense": ("checkpoint",)}


def config_hash(cfg: dict[str, Any], drop: dict[str, tuple[str, ...]] | None = None) -> str:
    """sha256 of the config without seed, path and logging keys: runs differing only by seed share it.
    Unset (None) values are left out, so an optional key added later does not change existing hashes.
    `drop` names more keys inside groups to leave out (see cell_hash)."""
    ident = {k: v for k, v in cfg.items() if k not in NON_IDENTITY_KEYS and k != "hydra"}
    if isinstance(ident.get("sparsity"), float):  # a Hydra float sweep's 0.7000000000000001 is the experiment at 0.7:
        ident["sparsity"] = float(f"{ident['sparsity']:.12g}")  # one cell and one folder id, not two (round 16, k10)
    for group in {*NON_IDENTITY_GROUP_KEYS, *(drop or {})}:
        keys = (*NON_IDENTITY_GROUP_KEYS.get(group, ()), *(drop or {}).get(group, ()))
        if isinstance(ident.get(group), dict):
            ident[group] = {k: v for k, v in ident[group].items() if k not in keys}
    return hashlib.sha256(json.dumps(_without_none(ident), sort_keys=True, default=str).encode()).hexdigest()[:16]


def cell_hash(cfg: dict[str, Any]) -> str:
    """The reporting key: config_hash without PER_SEED_INPUTS. Equal to config_hash when none is set."""
    return config_hash(cfg, drop=PER_SEED_INPUTS)


def _without_none(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_none(v) for k, v in node.items() if v is not None}
    return node
