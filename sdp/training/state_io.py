"""Serialising training state without pickle: RNG states as JSON lists, optimizer state and weights as
safetensors plus JSON scalars."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from sdp.io import file_sha256


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed from, named with the reason."""


# ---------------------------------------------------------------------------------- RNG states
def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "python": [py_state[0], list(py_state[1]), py_state[2]],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state().tolist(),
        "cuda": [s.tolist() for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    npy = state["numpy"]
    np.random.set_state((npy[0], np.array(npy[1], dtype=np.uint32), npy[2], npy[3], npy[4]))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


# ----------------------------------------------------------------------------- optimizer state
def optimizer_to_files(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_files(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    for pid, values in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    # clone: tied weights share storage, which safetensors refuses to write twice.
    return {k: v.detach().cpu().clone().contiguous() for k, v in module.state_dict().items()}


def load_weights(module: torch.nn.Module, path: Path) -> None:
    state = load_file(str(path))
    missing, unexpected = module.load_state_dict(state, strict=False)
    params = {n for n, _ in module.named_parameters()}
    lost = [m for m in missing if m in params]
    if lost or unexpected:
        raise CheckpointError(
            f"weights in {str(path)!r} do not fit the model: missing {lost[:3]}, unexpected {unexpected[:3]}"
        )


# ------------------------------------------------------------------------ verified checkpoints
STATE_FILE = "state.json"


def file_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file a checkpoint folder holds besides state.json (which lists them)."""
    return {p.name: {"size": p.stat().st_size, "sha256": file_sha256(p)}
            for p in sorted(Path(folder).iterdir()) if p.is_file() and p.name != STATE_FILE}


def read_verified_state(folder: Path) -> dict[str, Any]:
    """state.json of a checkpoint folder, after checking every listed file's size and checksum.

    A truncated or altered file is a CheckpointError naming it, never a bare JSONDecodeError or
    SafetensorError at load time. Checkpoints from before the manifest existed are read unverified."""
    import json

    path = Path(folder) / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint file {str(path)!r} is unreadable or truncated ({err})") from None
    for name, expected in (state.get("files") or {}).items():
        file = Path(folder) / name
        size = file.stat().st_size if file.is_file() else None
        if size != expected["size"]:
            raise CheckpointError(f"checkpoint file {str(file)!r} has {size} bytes, {expected['size']} were written")
        if file_sha256(file) != expected["sha256"]:
            raise CheckpointError(f"checkpoint file {str(file)!r} fails its sha256 check (corrupt)")
    return state


def dense_digest(folder: str | None) -> str | None:
    """sha256 of ``<folder>/model.safetensors`` (None when there is none): the dense model is written once, and each
    checkpoint of the pruning stage records it (sdp/models/inspect.py's cached digest of a model folder)."""
    from sdp.models.inspect import weights_digest

    return weights_digest(folder).get("model.safetensors") if folder else None


def check_dense_model(folder: str | None, digest: str | None = None) -> None:
    """A prune-stage resume loads ``<folder>/model.safetensors`` first: a truncated one is a CheckpointError
    naming it and the way out, not a bare SafetensorError; one whose content is not what the checkpoint recorded
    (``digest``, its sha256) too. A header edited to give a matrix another dtype or shape, in the same bytes, passed
    the header check: the teacher then distilled from other weights without a word (probe round 7)."""
    from safetensors import SafetensorError, safe_open

    path = Path(folder or "") / "model.safetensors"
    if not folder or not path.is_file():
        return  # missing: the recipe says so when it loads it (stage_state.load_dense_weights)
    try:
        with safe_open(str(path), "pt"):
            pass
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"the dense model {str(path)!r} is corrupt ({err}); the pruning stage cannot "
                              "restart from it. resume=false starts the run over") from None
    if digest is not None and (found := dense_digest(folder)) != digest:
        raise CheckpointError(f"the dense model {str(path)!r} changed since the checkpoint was written (sha256 "
                              f"{digest[:16]}... then, {found[:16]}... now); the pruning stage cannot restart from "
                              "it. resume=false starts the run over")
