"""Magnitude masks over the prunable set, kept exactly at zero through training.

Masks are plain ``bool`` tensors (one byte per prunable weight) held beside the parameters, not
``weight_orig``/``weight_mask`` re-parametrisations, so checkpoints save and load as ordinary
``save_pretrained`` models. Keeping masked weights at exactly zero takes three things (docs/method.md):
masking after every optimizer step, masking gradients, and zeroing optimizer moments whenever the
mask changes.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import nn

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


# Large CPU selections stream over the weights instead (see _streaming_bottom_k).
_STREAM_MIN = 1 << 20  # below this many weights one kthvalue over an fp32 copy is already fast
_BLOCK = 1 << 16  # weights per block: 256 KiB of fp32, so every pass over a block stays in cache
_SAMPLE = 1 << 16  # sampled |w| that place the bracket around the threshold
_SIGMAS = 6.0  # bracket half-width in standard errors of the sampled quantile


def _blocks(flats: list[np.ndarray]):
    """(tensor index, offset in that tensor, block) over ``flats`` in concatenation order."""
    for i, f in enumerate(flats):
        for start in range(0, f.size, _BLOCK):
            yield i, start, f[start : start + _BLOCK]


def _streaming_bottom_k(weights: list[torch.Tensor], k: int) -> list[torch.Tensor] | None:
    """Bool keep-masks (shaped like ``weights``) removing exactly the ``k`` smallest |w| over all of
    them, ties broken by position in their concatenation: the result of :func:`_exact_bottom_k` on the
    concatenated |w|, without that fp32 copy and without a selection over all n.

    1. A fixed-seed sample of |w| places a bracket (lo, hi] that holds the k-th smallest with near
       certainty (the sample only decides speed: every count below is exact).
    2. One pass over cache-sized blocks counts |w| <= lo and collects the candidates in (lo, hi],
       with their positions.
    3. The threshold t is the (k - count)-th smallest candidate (a selection over ~1% of n).
    4. One pass writes keep = |w| > t; of the ties at t, the first by position are pruned up to k.

    Returns None (use the exact fallback) when the bracket misses, which only NaNs can cause.
    """
    flats = []
    for w in weights:
        f = w.detach().reshape(-1)
        flats.append(f.numpy() if f.dtype == torch.float32 else f.float().numpy())
    sizes = [f.size for f in flats]
    n = sum(sizes)
    gen = np.random.default_rng(0)
    sample = np.sort(np.abs(np.concatenate([
        f[gen.integers(0, f.size, max(1, round(_SAMPLE * f.size / n)))] for f in flats
    ])))
    m, q = sample.size, k / n
    delta = _SIGMAS * math.sqrt(q * (1.0 - q) / m) + 2.0 / m
    lo_i, hi_i = math.floor((q - delta) * m), math.ceil((q + delta) * m)
    lo = sample[lo_i] if lo_i >= 0 else np.float32(-1.0)
    hi = sample[hi_i] if hi_i < m else np.float32(np.inf)
    offsets = np.cumsum([0, *sizes])
    buf = np.empty(_BLOCK, np.float32)
    below, inside = np.empty(_BLOCK, bool), np.empty(_BLOCK, bool)
    n_le_lo, values, positions = 0, [], []
    for i, start, blk in _blocks(flats):
        a = np.abs(blk, out=buf[: blk.size])
        le = np.less_equal(a, lo, out=below[: blk.size])
        n_le_lo += int(np.count_nonzero(le))
        ins = np.less_equal(a, hi, out=inside[: blk.size])
        ins &= np.logical_not(le, out=le)
        idx = np.flatnonzero(ins)
        values.append(a[idx])
        positions.append(idx + (offsets[i] + start))
    cand = np.concatenate(values)
    if n_le_lo < k <= n_le_lo + cand.size:
        t = np.partition(cand, k - n_le_lo - 1)[k - n_le_lo - 1]
        n_lt = n_le_lo + int(np.count_nonzero(cand < t))
        ties = np.concatenate(positions)[cand == t]  # global positions, ascending
    elif k <= n_le_lo and lo >= 0:
        # The k-th smallest is lo itself when many |w| equal it (weights already pruned to zero).
        t = lo
        n_lt = sum(int(np.count_nonzero(np.abs(blk, out=buf[: blk.size]) < lo)) for _, _, blk in _blocks(flats))
        if n_lt >= k:
            return None
        ties = None  # not collected: found below
    else:
        return None
    masks = [torch.empty(w.shape, dtype=torch.bool) for w in weights]
    out = [mk.view(-1).numpy() for mk in masks]
    for i, start, blk in _blocks(flats):
        np.greater(np.abs(blk, out=buf[: blk.size]), t, out=out[i][start : start + blk.size])
    # Of the ties at t, the first (k - n_lt) by position are pruned and the rest kept.
    to_prune = k - n_lt
    if ties is None:
        ties = np.concatenate([np.flatnonzero(np.abs(f) == t) + offsets[i] for i, f in enumerate(flats)])
    kept = ties[to_prune:]
    if kept.size:
        which = np.searchsorted(offsets, kept, side="right") - 1
        for i in np.unique(which):
            out[i][kept[which == i] - offsets[i]] = True
    return masks


def _bottom_k_masks(weights: list[torch.Tensor], k: int) -> list[torch.Tensor]:
    """Keep-masks removing exactly ``k`` smallest |w| over ``weights`` together (see _exact_bottom_k)."""
    n = sum(w.numel() for w in weights)
    if k <= 0 or k >= n:
        return [torch.full(w.shape, k <= 0, dtype=torch.bool, device=w.device) for w in weights]
    if n >= _STREAM_MIN and all(w.device.type == "cpu" for w in weights):
        masks = _streaming_bottom_k(weights, k)
        if masks is not None:
            return masks
    keep = _exact_bottom_k(torch.cat([w.detach().abs().flatten().float() for w in weights]), k)
    return [part.view_as(w) for part, w in zip(keep.split([w.numel() for w in weights]), weights)]


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
        old = self.masks
        self.masks = magnitude_masks(self.params, sparsity, self.scope)
        sums = []  # (removed, removed mass, total mass) per matrix, added up on the device: one sync per update
        for name, p in self.params.items():
            mag, gone = p.detach().abs().double(), old[name] & ~self.masks[name]
            sums.append(torch.stack([gone.sum().double(), (mag * gone).sum(), mag.sum()]))
        removed, mass, total = (torch.stack(sums).sum(0).tolist() if sums else (0, 0.0, 0.0))
        removed = int(removed)
        self.current_sparsity = sparsity
        self.apply()
        if optimizer is not None:
            self.mask_optimizer_state(optimizer)
        return {"removed": removed, "removed_mean_abs": mass / removed if removed else 0.0,
                "removed_mass": mass / total if total else 0.0}

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
