"""Magnitude masks over the prunable set, kept exactly at zero through training.

Masks are plain ``bool`` tensors (one byte per prunable weight) held beside the parameters, not
``weight_orig``/``weight_mask`` re-parametrisations, so checkpoints save and load as ordinary
``save_pretrained`` models. Keeping masked weights at exactly zero takes three things (METHOD.md):
masking after every optimizer step, masking gradients, and zeroing optimizer moments whenever the
mask changes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

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
        return {
            name: _exact_bottom_k(w.detach().abs().flatten().float(), round(sparsity * w.numel())).view_as(w)
            for name, w in weights.items()
        }
    flat = torch.cat([w.detach().abs().flatten().float() for w in weights.values()])
    keep = _exact_bottom_k(flat, round(sparsity * flat.numel()))
    masks, offset = {}, 0
    for name, w in weights.items():
        masks[name] = keep[offset : offset + w.numel()].view_as(w)
        offset += w.numel()
    return masks


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
    def update(self, sparsity: float, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Recompute masks at ``sparsity`` from the current weights, apply them, and clear optimizer
        moments at newly masked entries."""
        self.masks = magnitude_masks(self.params, sparsity, self.scope)
        self.current_sparsity = sparsity
        self.apply()
        if optimizer is not None:
            self.mask_optimizer_state(optimizer)

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
    """The three numbers METHOD.md asks for, plus per-matrix sparsity."""
    pz, pt = count_zeros(prunable.values())
    enc = [p for n, p in model.named_parameters() if ".encoder." in f".{n}"]
    ez, et = count_zeros(enc)
    mz, mt = count_zeros(model.parameters())
    return {
        "achieved_sparsity": {
            "prunable": pz / pt,
            "encoder": ez / et if et else 0.0,
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
