"""Magnitude masks over the prunable set, kept exactly at zero through training.

Masks are plain ``bool`` tensors (one byte per prunable weight) held beside the parameters, not
``weight_orig``/``weight_mask`` re-parametrisations, so checkpoints save and load as ordinary
``save_pretrained`` models. Keeping masked weights at exactly zero takes three things (docs/method.md):
masking after every optimizer step, masking gradients, and zeroing optimizer moments whenever the
mask changes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

import torch
from torch import nn

from sdp.pruning import stream

DEFAULT_INCLUDE = (r"encoder\.layer\.\d+\.",)
SCOPES = ("global", "layerwise")


def select_prunable(
    model: nn.Module, include: Iterable[str] = DEFAULT_INCLUDE, exclude: Iterable[str] = ()
) -> dict[str, nn.Parameter]:
    """Weights of the ``nn.Linear`` modules whose qualified weight name matches an include pattern
    (``re.search``) and no exclude pattern. Biases, LayerNorms and embeddings are never Linear weights,
    so they stay dense unless a pattern author adds them on purpose."""
    inc = [re.compile(p) for p in include]
    exc = [re.compile(p) for p in exclude]
    selected: dict[str, nn.Parameter] = {}
    for mod_name, module in model.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        name = f"{mod_name}.weight"
        if any(p.search(name) for p in inc) and not any(p.search(name) for p in exc):
            selected[name] = module.weight
    if not selected:
        raise ValueError(
            f"no prunable weights matched include={list(include)} exclude={list(exclude)}; "
            "check prune.include / prune.exclude against the model's module names"
        )
    return selected


def _exact_bottom_k(flat: torch.Tensor, k: int) -> torch.Tensor:
    """Keep-mask over ``flat`` scores that removes exactly ``k`` smallest entries.

    Ties at the threshold are broken by position (earliest pruned first), so the count is exact and
    the result is the same on every rank and every run.
    """
    n = flat.numel()
    if k <= 0:
        return torch.ones(n, dtype=torch.bool, device=flat.device)
    if k >= n:
        return torch.zeros(n, dtype=torch.bool, device=flat.device)
    # kthvalue is a selection, O(n), far cheaper than the full top-k that torch.nn.utils.prune uses.
    threshold = torch.kthvalue(flat, k).values
    keep = flat > threshold
    n_below = n - int(keep.sum()) - int((flat == threshold).sum())
    n_ties_to_prune = k - n_below
    ties = (flat == threshold).nonzero().squeeze(1)
    keep[ties[n_ties_to_prune:]] = True
    return keep


def _fallback_masks(weights: list[torch.Tensor], k: int) -> list[torch.Tensor]:
    """The exact selection on one fp32 copy of all |w| (small sets, GPUs, and a missed stream bracket)."""
    n = sum(w.numel() for w in weights)
    if k <= 0 or k >= n:
        return [torch.full(w.shape, k <= 0, dtype=torch.bool, device=w.device) for w in weights]
    keep = _exact_bottom_k(torch.cat([w.detach().abs().flatten().float() for w in weights]), k)
    return [part.view(w.shape) for part, w in zip(keep.split([w.numel() for w in weights]), weights)]


def _streamable(weights: list[torch.Tensor], k: int) -> bool:
    """Large CPU selections stream over the weights (sdp.pruning.stream) instead of copying them."""
    n = sum(w.numel() for w in weights)
    return 0 < k < n and n >= stream._STREAM_MIN and all(w.device.type == "cpu" for w in weights)


def _reusable(mask: torch.Tensor, w: torch.Tensor) -> bool:
    return mask.dtype == torch.bool and mask.device.type == "cpu" and mask.shape == w.shape and mask.is_contiguous()


def _bottom_k_masks(weights: list[torch.Tensor], k: int) -> list[torch.Tensor]:
    """Keep-masks removing exactly ``k`` smallest |w| over ``weights`` together (see _exact_bottom_k)."""
    if _streamable(weights, k):
        flats = stream.flat_views(weights)
        cut = stream.select(flats, k)
        if cut is not None:
            masks = [torch.empty(w.shape, dtype=torch.bool) for w in weights]
            stream.finish(flats, [m.view(-1).numpy() for m in masks], cut)
            return masks
    return _fallback_masks(weights, k)


@torch.no_grad()
def magnitude_masks(
    weights: Mapping[str, torch.Tensor], sparsity: float, scope: str = "global"
) -> dict[str, torch.Tensor]:
    """Bool keep-masks by |w| that zero ``round(sparsity * n)`` entries, over all weights together
    (``global``) or in every matrix separately (``layerwise``)."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    if scope not in SCOPES:
        raise ValueError(f"unknown pruning scope {scope!r}; allowed: {list(SCOPES)}")
    if scope == "layerwise":
        return {name: _bottom_k_masks([w], round(sparsity * w.numel()))[0] for name, w in weights.items()}
    names, tensors = list(weights), list(weights.values())
    n = sum(w.numel() for w in tensors)
    return dict(zip(names, _bottom_k_masks(tensors, round(sparsity * n))))


class MaskState:
    """The masks of one model and the three operations that keep masked weights at zero."""

    def __init__(self, params: Mapping[str, nn.Parameter], scope: str = "global") -> None:
        if scope not in SCOPES:
            raise ValueError(f"unknown pruning scope {scope!r}; allowed: {list(SCOPES)}")
        self.params = dict(params)
        self.scope = scope
        self.masks: dict[str, torch.Tensor] = {
            n: torch.ones_like(p, dtype=torch.bool) for n, p in self.params.items()
        }
        self.current_sparsity = 0.0

    @torch.no_grad()
    def update(self, sparsity: float, optimizer: torch.optim.Optimizer | None = None) -> dict[str, float]:
        """Recompute masks at ``sparsity`` from the current weights, apply them, and clear optimizer
        moments at newly masked entries. Returns what the update removed, measured before it zeroes anything:
        ``removed`` weights, ``removed_mean_abs`` and ``removed_mass``, their share of the L1 mass of all
        prunable weights, over all matrices together in either scope (docs/method.md's "CC implicitly encourages
        sparsity": weights that a distillation term has already shrunk carry less mass when they go)."""
        if all(p.device.type == "cpu" for p in self.params.values()):
            removed, mass, total = self._update_cpu(sparsity)
        else:
            removed, mass, total = self._update_torch(sparsity)
        self.current_sparsity = sparsity
        if optimizer is not None:
            self.mask_optimizer_state(optimizer)
        return {"removed": removed, "removed_mean_abs": mass / removed if removed else 0.0,
                "removed_mass": mass / total if total else 0.0}

    def passes(self) -> str:
        """Which code a pruning event of these masks runs, in one line for run.json; on CPU it loads the
        compiled passes now (sdp.pruning.kernel: built once, cached), so no event pays for that."""
        if any(p.device.type != "cpu" for p in self.params.values()):
            return "torch ops (weights not on the CPU)"
        if type(self)._update_cpu is not MaskState._update_cpu:
            return f"torch ops ({type(self).__name__})"
        return stream.engine_note()

    def _groups(self) -> list[list[str]]:
        """The sets one selection runs over: all prunable weights, or every matrix alone."""
        return [list(self.params)] if self.scope == "global" else [[n] for n in self.params]

    def _update_cpu(self, sparsity: float) -> tuple[int, float, float]:
        """Selection, measurements and zeroing in two streamed passes over the weights (see
        sdp.pruning.stream): (removed, removed L1 mass, total L1 mass), read before any zeroing."""
        old, new = self.masks, {}
        removed = mass = total = 0.0
        for names in self._groups():
            weights = [self.params[n] for n in names]
            k = round(sparsity * sum(w.numel() for w in weights))
            flats = stream.flat_views(weights)
            cut = stream.select(flats, k) if _streamable(weights, k) else None
            if cut is None:
                masks = _fallback_masks(weights, k)
            else:  # written over the old masks block by block where they allow it: no new 1 B/weight to fault in
                masks = [old[n] if _reusable(old[n], w) else torch.empty(w.shape, dtype=torch.bool)
                         for n, w in zip(names, weights)]
            zero = [stream.shares_storage(w, f) for w, f in zip(weights, flats)]
            r, m, t = stream.finish(flats, [mk.view(-1).numpy() for mk in masks], cut,
                                    old=[old[n].reshape(-1).numpy() for n in names], zero=zero)
            removed, mass, total = removed + r, mass + m, total + t
            for name, w, mk, zeroed in zip(names, weights, masks, zero):
                new[name] = mk
                if not zeroed:  # a copy was read (not contiguous fp32): zero the weight itself
                    w.mul_(mk)
        self.masks = new
        return int(removed), mass, total

    def _update_torch(self, sparsity: float) -> tuple[int, float, float]:
        old = self.masks
        self.masks = self._new_masks(sparsity)
        sums = []  # (removed, removed mass, total mass) per matrix, added up on the device: one sync per update
        for name, p in self.params.items():
            mag, gone = p.detach().abs().double(), old[name] & ~self.masks[name]
            sums.append(torch.stack([gone.sum().double(), (mag * gone).sum(), mag.sum()]))
        removed, mass, total = (torch.stack(sums).sum(0).tolist() if sums else (0, 0.0, 0.0))
        self.apply()
        return int(removed), mass, total

    def _new_masks(self, sparsity: float) -> dict[str, torch.Tensor]:
        """The masks at ``sparsity``: here by |w| (prune.criterion=magnitude); scored.py and structures.py override it."""
        return magnitude_masks(self.params, sparsity, self.scope)

    def after_backward(self) -> None:
        """Called once per update after backward, before masking and the step: magnitude reads no gradients (a
        criterion that does is observed here: scored.py, structures.py)."""

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """What a checkpoint saves of the masks (scored and structured masks add their criterion's running scores)."""
        return self.masks

    @torch.no_grad()
    def apply(self) -> None:
        for name, p in self.params.items():
            p.mul_(self.masks[name])

    @torch.no_grad()
    def mask_grads(self) -> None:
        for name, p in self.params.items():
            if p.grad is not None:
                p.grad.mul_(self.masks[name])

    @torch.no_grad()
    def mask_optimizer_state(self, optimizer: torch.optim.Optimizer) -> None:
        for name, p in self.params.items():
            state = optimizer.state.get(p, {})
            for value in state.values():
                if torch.is_tensor(value) and value.shape == p.shape:
                    value.mul_(self.masks[name])

    def load_masks(self, masks: Mapping[str, torch.Tensor]) -> None:
        missing = set(self.params) - set(masks)
        if missing:
            raise ValueError(f"mask file lacks {len(missing)} prunable weights, e.g. {sorted(missing)[:3]}")
        self.masks = {n: masks[n].to(dtype=torch.bool, device=p.device) for n, p in self.params.items()}

    def digest(self) -> str:
        """A hash of all masks, compared across ranks to prove they are identical."""
        h = hashlib.sha256()
        for name in sorted(self.masks):
            h.update(name.encode())
            h.update(self.masks[name].cpu().numpy().tobytes())
        return h.hexdigest()

    def mask_bytes(self) -> int:
        return sum(m.numel() * m.element_size() for m in self.masks.values())


def count_zeros(tensors: Iterable[torch.Tensor]) -> tuple[int, int]:
    zeros = total = 0
    for t in tensors:
        zeros += int((t == 0).sum())
        total += t.numel()
    return zeros, total


def sparsity_report(model: nn.Module, prunable: Mapping[str, torch.Tensor]) -> dict:
    """The three numbers docs/method.md asks for, plus per-matrix sparsity."""
    pz, pt = count_zeros(prunable.values())
    # The encoder stack: `encoder` in BERT/RoBERTa/XLM-R/MiniLM, `transformer` in DistilBERT (None: neither).
    enc = [p for n, p in model.named_parameters() if ".encoder." in f".{n}" or ".transformer." in f".{n}"]
    ez, et = count_zeros(enc)
    mz, mt = count_zeros(model.parameters())
    return {
        "achieved_sparsity": {
            "prunable": pz / pt,
            "encoder": ez / et if et else None,
            "model": mz / mt,
        },
        "nonzero_params": mt - mz,
        "total_params": mt,
        "prunable_params": pt,
        "per_matrix": {n: float((w == 0).float().mean()) for n, w in prunable.items()},
    }


def assert_sparsity(
    prunable: Mapping[str, torch.Tensor], target: float, scope: str
) -> None:
    """Achieved sparsity equals the target within one weight overall (global) or per matrix."""
    if scope == "layerwise":
        for name, w in prunable.items():
            zeros = int((w == 0).sum())
            want = round(target * w.numel())
            if abs(zeros - want) > 1 and zeros < want:
                raise AssertionError(f"{name}: {zeros} zeros, target {want} (+-1)")
        return
    zeros, total = count_zeros(prunable.values())
    want = round(target * total)
    # Weights that were already exactly zero count too, so only a shortfall is an error.
    if zeros < want - 1:
        raise AssertionError(f"prunable set has {zeros} zeros of {total}; target {want} (+-1)")
