"""How far pruning moved the masks: Jaccard overlaps of kept-weight sets, and mask files to compare runs.

A mask file (``mask.safetensors`` in a run dir) holds one uint8 tensor per prunable matrix with the kept
bits packed 8 to a byte (``numpy.packbits``), and the matrix shape, so a BERT-base mask is ~11 MB.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from sdp.io import MASK_FILE, atomic_write
from sdp.pruning.masks import magnitude_masks

log = logging.getLogger("sdp")


DENSE_MASK = "dense_mask.safetensors"  # the mask the dense weights imply at the target sparsity


def jaccard(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> float:
    """|A ∩ B| / |A ∪ B| of the kept entries (True = kept) over the matrices of both masks, which must be the same:
    over the shared ones only, a run's mask against a reference pruned on half its matrices (prune.exclude) gave
    0.994 where the whole network's is 0.667, with no word (probe round 23, m08)."""
    names = sorted(set(a) & set(b))
    if not names:
        raise ValueError("the two masks share no prunable matrix names")
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        where = "; ".join(f"{len(names)} only in {side}, e.g. {names[:2]}" for side, names in
                          (("this run's", only_a), ("the other", only_b)) if names)
        raise ValueError(f"the masks cover other matrices ({where}): their prunable sets differ "
                         "(prune.include/exclude), so no overlap of the whole mask is measured")
    inter = union = 0
    for n in names:
        if tuple(a[n].shape) != tuple(b[n].shape):
            raise ValueError(f"mask shapes differ for {n}: {tuple(a[n].shape)} vs {tuple(b[n].shape)}")
        x, y = a[n].bool().cpu(), b[n].bool().cpu()
        inter += int((x & y).sum())
        union += int((x | y).sum())
    return inter / union if union else 1.0


def save_masks(path: str | Path, masks: Mapping[str, torch.Tensor]) -> None:
    tensors: dict[str, np.ndarray] = {}
    for name, m in masks.items():
        tensors[name] = np.packbits(m.bool().cpu().numpy().reshape(-1))
        tensors[f"{name}::shape"] = np.asarray(m.shape, dtype=np.int64)
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))  # never half-written; honours the umask


def load_masks(path: str | Path) -> dict[str, torch.Tensor]:
    """A mask file, or a run dir holding ``mask.safetensors``."""
    path = Path(path)
    if path.is_dir():
        path = path / MASK_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no mask file at {path} (a finished sdp run dir has {MASK_FILE})")
    raw = load_file(str(path))
    out = {}
    for key, bits in raw.items():
        if key.endswith("::shape"):
            continue
        if f"{key}::shape" not in raw or bits.dtype != np.uint8:  # e.g. a model.safetensors handed in by mistake
            raise ValueError(f"{path} is not an sdp mask file ({MASK_FILE}: packed uint8 bits and a shape per "
                             f"matrix); {key!r} is {bits.dtype} without a shape")
        shape = tuple(int(s) for s in raw[f"{key}::shape"])
        count = int(np.prod(shape))
        out[key] = torch.from_numpy(np.unpackbits(bits)[:count].astype(bool).reshape(shape))
    return out


def save_dense_mask(run_dir: Path, prunable: Mapping[str, torch.Tensor], sparsity: float, scope: str) -> None:
    """The mask the dense weights imply at the target sparsity (one shot), kept to measure how far the
    iterative schedule moved away from it. Written once: a resumed stage keeps the first one."""
    path = Path(run_dir) / DENSE_MASK
    if not path.exists():
        zeros, total = sum(int((p == 0).sum()) for p in prunable.values()), sum(p.numel() for p in prunable.values())
        if zeros > 0.01 * total:  # a pruned model as model.pretrained: a structured run's dead heads stay zero (round 29)
            log.warning("the pruning stage starts from %d exact zeros among the %d prunable weights (%.2f%%: the model "
                        "given was pruned already; a structured run's removed heads, kept as zeros, get no gradient): "
                        "they count toward sparsity=%g, so this run prunes %.2f%% of the weights itself", zeros, total,
                        100 * zeros / total, sparsity, 100 * max(0.0, sparsity - zeros / total))
        save_masks(path, magnitude_masks(prunable, sparsity, scope))


def _file_digest(path: object) -> str | None:
    """sha256 of a local file's bytes, None where it is not one (a URL, gone, unreadable)."""
    try:
        digest = hashlib.sha256()
        with open(Path(str(path)).expanduser(), "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except (OSError, ValueError):
        return None


def _other_train_file(folder: Path, train_file: str | None) -> str | None:
    """The training file of the run in ``folder`` (its run.json config) where its content is not ``train_file``'s:
    custom tasks are all named `custom`, and a mask of a run on other data was recorded unsaid (round 31's leftover)."""
    try:
        theirs = json.loads((folder / "run.json").read_text())["config"]["task"]["train_file"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    digests = _file_digest(theirs), _file_digest(train_file)
    return str(theirs) if None not in digests and digests[0] != digests[1] else None


def reference_run_note(reference: str | Path, seed: int, sparsity: float, task: str | None = None,
                       model: str | None = None, train_file: str | None = None) -> str | None:
    """What a ``prune.reference_mask`` run (a run folder, or a mask file in one) differs in from this run (seed,
    target sparsity, task, model, the content of a custom task's ``train_file``), and its method where it is not MP;
    None if nothing is known or nothing differs. One reference swept over seeds compared each seed with another seed's
    MP mask, and nothing said so (probe round 28, rf2)."""
    path = Path(str(reference)).expanduser()
    folder = path if path.is_dir() else path.parent
    try:
        record = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    # and its task and model: a mask of another task's model was recorded unsaid (probe round 31, rf3)
    theirs = {"seed": record.get("seed"), "target sparsity": record.get("target_sparsity"), "task": record.get("task"),
              "model": record.get("model")}
    ours = {"seed": seed, "target sparsity": sparsity, "task": task, "model": model}
    differ = [f"{k} {theirs[k]} (this run's {ours[k]})" for k in theirs
              if theirs[k] is not None and ours[k] is not None and theirs[k] != ours[k]]
    if train_file and (theirs_file := _other_train_file(folder, train_file)):
        differ.append(f"training file {theirs_file!r} (this run's {str(train_file)!r}, of other content)")
    if record.get("method") and record.get("method") != "MP":
        differ.append(f"method {record['method']}")
    if not differ:
        return None
    return (f"prune.reference_mask={str(reference)!r} is a run of {', '.join(differ)}: its overlap is recorded as "
            "the reference overlap all the same (claims.md's overlap with MP takes a run's own MP partner only)")


def other_training_rows(run_dir: str | Path, reference: str | Path) -> str | None:
    """Where the ``prune.reference_mask`` run trained on other rows than this one (their run.json training data
    fingerprints; a custom file of other content is said before the run, by reference_run_note): a run on another
    GLUE folder, or on other rows of the same file (max_train_samples), was taken unsaid (probe round 33, rf1, rf2)."""
    path = Path(str(reference)).expanduser()
    theirs_dir = path if path.is_dir() else path.parent
    try:
        ours, theirs = (json.loads((folder / "run.json").read_text()) for folder in (Path(run_dir), theirs_dir))
        prints = ours["data_fingerprint"]["train"], theirs["data_fingerprint"]["train"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    train_file = ((ours.get("config") or {}).get("task") or {}).get("train_file")
    if prints[0] == prints[1] or (train_file and _other_train_file(theirs_dir, train_file)):
        return None
    return (f"prune.reference_mask={str(reference)!r} is a run on other training rows (training data fingerprint "
            f"{prints[1]} there, {prints[0]} here: another data_dir, training file, max_train_samples or "
            "task.validation_from_train carve): its overlap is recorded as the reference overlap all the same")


def mask_overlap(masks: Mapping[str, torch.Tensor], run_dir: Path, reference: str | None,
                 save: bool) -> dict[str, float | str]:
    """Jaccard overlap of the final ``masks`` with the dense-magnitude mask (if this run saved one) and with a
    ``reference`` run's mask (a mask file or a run dir); with ``save`` (main process) the masks are written to
    the run dir's :data:`MASK_FILE` first, for later runs to compare with."""
    overlap: dict[str, float | str] = {}
    if save:
        save_masks(Path(run_dir) / MASK_FILE, masks)
        # the mask's digest, and the reference's as read: claims.md tells a partner's mask by them, not by the files
        # as they are when the tables are made (a file overwritten or a link re-pointed since: probe round 55, rm_after)
        overlap["mask_sha256"] = _file_digest(Path(run_dir) / MASK_FILE)
    if (Path(run_dir) / DENSE_MASK).exists():
        overlap["dense_magnitude"] = jaccard(masks, load_masks(Path(run_dir) / DENSE_MASK))
    if reference:
        if note := other_training_rows(run_dir, reference):
            log.warning("%s", note)
        overlap["reference_path"] = str(reference)
        read = Path(str(reference)).expanduser()
        if digest := _file_digest(read / MASK_FILE if read.is_dir() else read):
            overlap["reference_sha256"] = digest
        try:
            overlap["reference"] = jaccard(masks, load_masks(reference))
        except (OSError, ValueError, SafetensorError) as exc:
            # An analysis input: a missing, unreadable or foreign mask (another model's matrices) must not cost
            # the finished run; the reason is kept beside the missing number.
            log.warning("no reference overlap: %s", exc)
            overlap["reference"] = None
            overlap["reference_error"] = f"{type(exc).__name__}: {exc}"
    log.info("mask overlap (Jaccard of kept weights): %s", {k: v for k, v in overlap.items() if not k.endswith("sha256")})
    return overlap
