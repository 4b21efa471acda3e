"""The unpruned teacher and a per-example cache of its outputs.

A frozen teacher in eval mode (dropout off) gives the same outputs for a training example every
epoch, so they are computed once and looked up by the example's ``idx``. The cache is a set of
preallocated tensors indexed by example (in memory, or memory-mapped files on disk), never a growing
list. Refreshing the teacher bumps its version and empties the cache.

The cache fills lazily (an example is computed the first time a batch holding it is seen) or, with
:meth:`Teacher.prefill`, in one pass over the whole training set at stage start (eval mode, large
batches, cheaper than filling during the first epoch). Under multi-process training every rank keeps
its own cache of what it computes (disk files are named per rank), so no rank ever reads another
rank's entries; a missing entry is always recomputed, never guessed.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sdp.errors import NonFiniteOutputError
from sdp.objectives.representations import check_representations, model_outputs

log = logging.getLogger("sdp")

TEACHER_MODES = ("frozen", "refresh", "checkpoint")
CACHE_MODES = ("off", "memory", "disk")


class TeacherCache:
    """Outputs of the teacher for ``num_examples`` training examples, keyed by example index."""

    def __init__(
        self, num_examples: int, mode: str = "memory", directory: str | Path | None = None, rank: int = 0
    ) -> None:
        if mode not in ("memory", "disk"):
            raise ValueError(f"unknown teacher cache mode {mode!r}; allowed: ['memory', 'disk']")
        if mode == "disk" and directory is None:
            raise ValueError("teacher_cache=disk needs a directory")
        self.num_examples = num_examples
        self.mode = mode
        self.directory = Path(directory) if directory is not None else None
        self.rank = rank
        self.files: list[Path] = []
        self.store: dict[str, torch.Tensor] = {}
        self.filled = torch.zeros(num_examples, dtype=torch.bool)
        self.version = 0
        self.hits = self.misses = 0

    def _allocate(self, name: str, example_shape: tuple[int, ...]) -> torch.Tensor:
        shape = (self.num_examples, *example_shape)
        if self.mode == "memory":
            return torch.zeros(shape, dtype=torch.float32)
        assert self.directory is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        # Scratch data that is rebuilt on demand: a raw float32 memmap, never a pickle.
        # One file per rank: ranks see different examples and must never share (or truncate) a file.
        path = self.directory / f"teacher_{name}.rank{self.rank}.npy"
        array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
        self.files.append(path)
        return torch.from_numpy(array)

    def invalidate(self) -> None:
        """Forget every entry (the teacher changed)."""
        self.filled.zero_()
        self.version += 1

    def lookup(self, idx: torch.Tensor, names: tuple[str, ...]) -> dict[str, torch.Tensor] | None:
        """The cached outputs of a batch, or None unless every example of it is cached."""
        idx_cpu = idx.cpu()
        if not names or not bool(self.filled[idx_cpu].all()):
            self.misses += 1
            return None
        self.hits += 1
        out = {}
        for name in names:
            value = self.store[name][idx_cpu]
            # all_layers is stored example-major (B x L x d) but used layer-major (L x B x d).
            out[name] = (value.transpose(0, 1) if name == "all_layers" else value).to(idx.device)
        return out

    def insert(self, idx: torch.Tensor, outputs: dict[str, torch.Tensor]) -> None:
        idx_cpu = idx.cpu()
        for name, value in outputs.items():
            value = value.detach().float().cpu()
            if name == "all_layers":
                value = value.transpose(0, 1)
            if name not in self.store:
                self.store[name] = self._allocate(name, tuple(value.shape[1:]))
            self.store[name][idx_cpu] = value
        self.filled[idx_cpu] = True

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.store.values()) + self.filled.numel()

    def stats(self) -> dict[str, int | float | str]:
        return {
            "mode": self.mode,
            "filled": int(self.filled.sum()),
            "examples": self.num_examples,
            "hits": self.hits,
            "misses": self.misses,
            "version": self.version,
            "mbytes": round(self.nbytes() / 2**20, 2),
        }

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The filled flags and stored outputs, for a checkpoint (copies: saving must not race training)."""
        files = {"filled": self.filled.clone()}
        files.update({f"store.{k}": v.clone() for k, v in self.store.items()})
        return files

    def load_state_tensors(self, files: dict[str, torch.Tensor], version: int) -> None:
        """Undo :meth:`state_tensors`; ``version`` counts the invalidations before the save."""
        for key, value in files.items():
            if key.startswith("store."):
                name = key.removeprefix("store.")
                if name not in self.store:
                    self.store[name] = self._allocate(name, tuple(value.shape[1:]))
                self.store[name].copy_(value)
        self.filled.copy_(files["filled"])
        self.version = version

    def close(self) -> None:
        """Drop the stored tensors and delete this rank's disk files (scratch data, rebuilt on demand)."""
        self.store.clear()
        self.filled.zero_()
        for path in self.files:
            path.unlink(missing_ok=True)
        self.files.clear()
        if self.directory is not None and self.directory.is_dir() and not any(self.directory.iterdir()):
            self.directory.rmdir()


class Teacher:
    """The unpruned network the student is distilled towards, plus its optional cache."""

    def __init__(self, model: nn.Module, mode: str, needs: tuple[str, ...], cache: TeacherCache | None) -> None:
        if mode not in TEACHER_MODES:
            raise ValueError(f"unknown teacher mode {mode!r}; allowed: {list(TEACHER_MODES)}")
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.mode = mode
        self.needs = needs
        self.cache = cache
        self.source = f"the teacher (prune.teacher={mode})"  # what a refusal names (build_teacher: the checkpoint's path)

    @classmethod
    def copy_of(cls, model: nn.Module, mode: str, needs: tuple[str, ...], cache: TeacherCache | None) -> Teacher:
        return cls(copy.deepcopy(model), mode, needs, cache)

    @torch.no_grad()
    def outputs(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if not self.needs:
            return {}
        if self.cache is not None:
            cached = self.cache.lookup(batch["idx"], self.needs)
            if cached is not None:
                return cached
        out = model_outputs(self.model, batch, self.needs)
        out = {k: out[k] for k in self.needs}
        if self.cache is not None:
            self.cache.insert(batch["idx"], out)
        return out

    @torch.no_grad()
    def prefill(self, batches: Iterable[dict[str, torch.Tensor]]) -> int:
        """Compute and cache the outputs of every example in ``batches`` (normally the whole training set,
        unshuffled, in large batches). Returns the number of examples now cached; 0 without a cache."""
        if self.cache is None or not self.needs:
            return 0
        hits, misses = self.cache.hits, self.cache.misses
        for batch in batches:
            if not bool(self.cache.filled[batch["idx"].cpu()].all()):
                self.outputs(batch)
        self.cache.hits, self.cache.misses = hits, misses  # count only the training lookups
        return int(self.cache.filled.sum())

    @torch.no_grad()
    def copy_weights(self, student: nn.Module) -> None:
        """Take ``student``'s current weights, in place (the AWR reference weights stay the same tensors)."""
        self.model.load_state_dict(student.state_dict())
        self.model.eval()

    def refresh_from(self, student: nn.Module) -> None:
        """Become the network just before a pruning step (teacher=refresh); the cache is emptied."""
        self.copy_weights(student)
        if self.cache is not None:
            self.cache.invalidate()

    def close_cache(self) -> None:
        """End of the pruning stage: log what the cache saved, then free it (and its disk files)."""
        if self.cache is not None:
            log.info("teacher cache: %s", self.cache.stats())
            self.cache.close()

    def weights(self, names: list[str]) -> dict[str, torch.Tensor]:
        """The teacher's own parameters (frozen, or refreshed in place) named like the student's."""
        params = dict(self.model.named_parameters())
        missing = [n for n in names if n not in params]
        if missing:
            raise ValueError(
                f"the teacher has no parameters named like the student's prunable weights, e.g. {missing[:3]}; "
                "a weight regularizer needs a teacher of the same architecture"
            )
        return {n: params[n] for n in names}


def build_teacher(student: nn.Module, prune_cfg: Any, needs: tuple[str, ...], weight_term: bool, train_size: int,
                  cache_dir: Path, rank: int, load_checkpoint: Callable[[], nn.Module]) -> Teacher | None:
    """The pruning stage's teacher and its output cache (``prune_cfg.teacher_cache``: off|memory|disk), or
    None where nothing needs one (no ``needs`` of the distillation term or monitor, no ``weight_term``).

    ``prune.teacher=checkpoint`` loads its own weights through ``load_checkpoint``; the other modes copy
    ``student`` now and take the fine-tuned dense weights when the pruning stage starts
    (:meth:`Teacher.copy_weights`).
    """
    needs = tuple(dict.fromkeys(needs))
    check_representations(student, needs)  # e.g. 'pooled' on a model without a pooler: refused before training
    if not needs and not weight_term:
        return None  # plain MP with the monitor off: no teacher at all
    cache = None
    if needs and prune_cfg.teacher_cache != "off":
        cache = TeacherCache(train_size, prune_cfg.teacher_cache, cache_dir, rank=rank)
    if prune_cfg.teacher == "checkpoint":
        # Its random head init must not shift the RNG stream the dense stage trains with.
        with torch.random.fork_rng(devices=[]):
            teacher = Teacher(load_checkpoint(), "checkpoint", needs, cache)
        teacher.source = f"the teacher (prune.teacher_checkpoint {str(prune_cfg.teacher_checkpoint)!r})"
        return teacher
    return Teacher.copy_of(student, prune_cfg.teacher, needs, cache)


def check_finite_outputs(outputs: dict[str, torch.Tensor], who: str, where: str) -> None:
    """Every row of each of ``outputs`` (logits, representations: a full-precision forward) finite, else a
    NonFiniteOutputError naming ``who``: a teacher whose weights are finite and whose outputs are not made the held-out
    CC a NaN in metrics.json (review of round 41's fixes; in training the update's parts say it: objective.py)."""
    for name, value in outputs.items():
        rows = ~torch.isfinite(value.float()).reshape(value.shape[0], -1).all(dim=1)
        if bool(rows.any()):
            raise NonFiniteOutputError(f"{who} gives outputs that are not finite (NaN or inf) for {int(rows.sum())} of "
                                       f"{len(rows)} rows of {where} ({name}): float32 arithmetic overflows in it (a "
                                       "damaged or diverged model, its weights finite or not)")


def prefill_teacher(teacher: Teacher | None, batches: Iterable[dict[str, torch.Tensor]],
                    autocast: Callable[[], Any]) -> None:
    """Cache a fixed teacher's outputs for every example of ``batches`` (the whole training set) before the
    stage; nothing to do without a cache, or for a refreshed teacher (each refresh empties it)."""
    if teacher is None or teacher.cache is None or teacher.mode == "refresh":
        return
    with autocast():
        log.info("teacher cache prefilled: %d examples", teacher.prefill(batches))
