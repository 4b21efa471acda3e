"""Whole structures of a BERT-like encoder, and the masks that prune them (``prune.granularity=structured``).

A structure is a set of weight slices whose removal shrinks the network's shapes:

- an attention head h of layer l: rows ``h*d:(h+1)*d`` of Q, K and V (weights and biases) and the same
  columns of the attention output projection O;
- an FFN neuron j of layer l: row j of the FFN input Linear (weight and bias) and column j of its output;
- layer l as a whole (``prune.structures`` includes ``layers``): every Linear of the block, biases included,
  and the block itself is skipped (its output is its input), so its LayerNorms go too.

The masks are the unstructured ones' bool matrices (one per prunable weight, so checkpoints, mask files and
digests are unchanged), built from three keep vectors: heads [L, nh], FFN neurons [L, I] and layers [L].
Sparsity is the fraction of prunable weights removed, removed a structure at a time: exact to within the
last structure taken. Two rules keep every state expressible as a smaller dense network: a layer keeps at
least one head and one neuron unless it goes whole (an attention with no head is a reshape of nothing), so
"every weight of a layer masked" means exactly "the layer is removed" (how a resumed mask is read back).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from sdp.pruning.criteria.base import check_structured_scores
from sdp.pruning.masks import MaskState

STRUCTURES = ("heads", "ffn", "layers")
DEFAULT_STRUCTURES = ("heads", "ffn")


class StructureError(ValueError):
    """The model has no BERT-like blocks, or the prunable set is not their Linear weights."""


class SparsityOutOfReachError(ValueError):
    """The target sparsity cannot be reached with prune.structures on this model (a user error: one line, exit 2;
    it was a ValueError traceback after the model had loaded)."""


@dataclass
class Block:
    """One encoder layer's Linear modules, by role, under the model's own module names."""

    index: int
    prefix: str  # e.g. "bert.encoder.layer.3"
    module: nn.Module  # the whole block: skipped by a forward hook once the layer is removed
    query: nn.Linear
    key: nn.Linear
    value: nn.Linear
    attn_out: nn.Linear
    ffn_in: nn.Linear
    ffn_out: nn.Linear
    heads: int
    head_size: int

    ROLES = ("query", "key", "value", "attn_out", "ffn_in", "ffn_out")
    NAMES = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
             "attn_out": "attention.output.dense", "ffn_in": "intermediate.dense", "ffn_out": "output.dense"}

    def linear(self, role: str) -> nn.Linear:
        return getattr(self, role)

    def weight_name(self, role: str) -> str:
        return f"{self.prefix}.{self.NAMES[role]}.weight"

    @property
    def hidden(self) -> int:
        return self.query.in_features

    @property
    def width(self) -> int:  # FFN intermediate neurons
        return self.ffn_in.out_features

    @property
    def head_cost(self) -> int:  # prunable weights in one head: d rows of Q, K, V and d columns of O
        return 4 * self.hidden * self.head_size

    @property
    def neuron_cost(self) -> int:  # one row of the FFN input and one column of its output
        return 2 * self.hidden


def _get(module: nn.Module, path: str) -> nn.Module | None:
    for part in path.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


def find_blocks(model: nn.Module) -> list[Block]:
    """The encoder's blocks in order (BERT, RoBERTa, XLM-R, MiniLM naming), or a StructureError naming why not."""
    blocks: list[Block] = []
    for name, module in model.named_modules():
        if not re.search(r"(^|\.)layer\.\d+$", name):
            continue
        parts = {role: _get(module, path) for role, path in Block.NAMES.items()}
        attn = _get(module, "attention.self")
        if not all(isinstance(m, nn.Linear) for m in parts.values()) or attn is None:
            continue
        blocks.append(Block(len(blocks), name, module, heads=int(attn.num_attention_heads),
                            head_size=int(attn.attention_head_size), **parts))
    if not blocks:
        raise StructureError(
            "prune.granularity=structured needs a BERT-like encoder (blocks <...>.layer.N with attention.self."
            "query/key/value, attention.output.dense, intermediate.dense, output.dense); this model has none: "
            "use prune.granularity=unstructured")
    return blocks


def check_structured_prunable(blocks: list[Block], prunable: Mapping[str, nn.Parameter]) -> None:
    """The prunable set (prune.include/exclude) must be exactly the blocks' Linear weights: a structure
    spans several matrices, so pruning only some of them would leave half-removed structures."""
    want = {b.weight_name(r) for b in blocks for r in Block.ROLES}
    if set(prunable) != want:
        extra, missing = sorted(set(prunable) - want), sorted(want - set(prunable))
        raise StructureError(
            f"prune.granularity=structured prunes every encoder block's attention and FFN weights; prune.include/"
            f"exclude select {'also ' + str(extra[:3]) if extra else ''}{' and ' if extra and missing else ''}"
            f"{'not ' + str(missing[:3]) if missing else ''}: keep prune.include/exclude at their defaults")


class StructuredMaskState(MaskState):
    """Masks over whole heads, FFN neurons and (optionally) layers, ranked by a structure criterion
    (sdp/pruning/criteria/). The same three operations as :class:`MaskState` keep the pruned weights, and
    here their biases too, at exactly zero: apply after every step, mask gradients, zero optimizer moments."""

    def __init__(self, model: nn.Module, params: Mapping[str, nn.Parameter], criterion,
                 structures: Iterable[str] = DEFAULT_STRUCTURES) -> None:
        super().__init__(params, "global")
        self.blocks = find_blocks(model)
        check_structured_prunable(self.blocks, self.params)
        self.structures = tuple(structures)
        self.criterion = criterion
        dev = self.blocks[0].query.weight.device
        self.heads_kept = [torch.ones(b.heads, dtype=torch.bool, device=dev) for b in self.blocks]
        self.ffn_kept = [torch.ones(b.width, dtype=torch.bool, device=dev) for b in self.blocks]
        self.layer_kept = [True] * len(self.blocks)
        for b in self.blocks:  # the teacher is a deepcopy (hooks and all): the hook skips only this very module
            b.module.register_forward_hook(self._skip_hook(b), with_kwargs=True)

    def _skip_hook(self, block: Block):
        def hook(module, args, kwargs, output):
            if module is block.module and not self.layer_kept[block.index]:
                return args[0] if args else kwargs["hidden_states"]
            return output
        return hook

    # ------------------------------------------------------------------ keep vectors -> masks
    def _row_masks(self, b: Block) -> dict[str, torch.Tensor]:
        """Per role, the kept output rows (Q, K, V, FFN in) or input columns (O, FFN out) of block ``b``."""
        on = self.layer_kept[b.index]
        heads = self.heads_kept[b.index].repeat_interleave(b.head_size) & on
        ffn = self.ffn_kept[b.index] & on
        return {"query": heads, "key": heads, "value": heads, "attn_out": heads, "ffn_in": ffn, "ffn_out": ffn}

    def _masks_from_keep(self) -> dict[str, torch.Tensor]:
        masks = {}
        for b in self.blocks:
            for role, keep in self._row_masks(b).items():
                w = b.linear(role).weight
                cols = role in ("attn_out", "ffn_out")
                masks[b.weight_name(role)] = (keep.view(1, -1) if cols else keep.view(-1, 1)).expand(w.shape).clone()
        return masks

    def _bias_masks(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(bias, keep) for every bias a pruned structure owns: Q/K/V/FFN-in rows; O and FFN-out with the layer."""
        out = []
        for b in self.blocks:
            rows = self._row_masks(b)
            for role in ("query", "key", "value", "ffn_in"):
                if b.linear(role).bias is not None:
                    out.append((b.linear(role).bias, rows[role]))
            for role in ("attn_out", "ffn_out"):
                if b.linear(role).bias is not None and not self.layer_kept[b.index]:
                    out.append((b.linear(role).bias, torch.zeros_like(b.linear(role).bias, dtype=torch.bool)))
        return out

    # ---------------------------------------------------------------------------- selection
    def _new_masks(self, sparsity: float) -> dict[str, torch.Tensor]:
        """Remove the lowest-scoring structures (score per prunable weight, so a layer competes with a head
        on equal terms) until ``round(sparsity * n)`` weights are gone; structures removed earlier stay removed.
        A structure that would overshoot the target is passed over while smaller ones can still close the gap;
        the gap left is closed by the cheapest passed-over one, so the overshoot is under the smallest allowed
        structure's weights: one FFN neuron's, or without ``ffn`` one head's, or with ``layers`` alone one layer's."""
        if not 0.0 <= sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
        n = sum(p.numel() for p in self.params.values())
        k = round(sparsity * n)
        removed = self.removed_weights()
        if removed < k:
            scores = self.criterion.scores(self)
            check_structured_scores(getattr(self.criterion, "sdp_name", type(self.criterion).__name__), scores,
                                    self.blocks, self.structures)
            cands = self._candidates(scores)
            late = []
            for _, kind, li, j in cands:
                if removed >= k:
                    break
                cost = self._cost(kind, li, j)
                if cost == 0:
                    continue
                if removed + cost > k:
                    late.append((kind, li, j))
                    continue
                removed += self._remove(kind, li, j)
            while removed < k:  # closing the last gap: the cheapest passed-over structure (best-ranked of equals)
                costs = [(c, rank) for rank, (kind, li, j) in enumerate(late) if (c := self._cost(kind, li, j))]
                if not costs:
                    break
                removed += self._remove(*late[min(costs)[1]])
            if removed < k:
                self.check_reachable(sparsity)
        self.criterion.reset()
        return self._masks_from_keep()

    # The streamed CPU event fuses magnitude selection with zeroing; structures take the generic path on any device.
    _update_cpu = MaskState._update_torch

    def max_sparsity(self) -> float:
        """The most that can go: everything but one head and one neuron per layer; with ``layers``, but one layer
        (its least: an encoder of no layer ran, was scored and then failed to save as "no BERT-like encoder", round 29)."""
        n = sum(p.numel() for p in self.params.values())
        keeps = [b.head_cost * (b.heads if "heads" not in self.structures else 1) +
                 b.neuron_cost * (b.width if "ffn" not in self.structures else 1) for b in self.blocks]
        return (n - (min(keeps) if "layers" in self.structures else sum(keeps))) / n

    def check_reachable(self, sparsity: float) -> None:
        if sparsity > self.max_sparsity():
            raise SparsityOutOfReachError(
                # The most, as the float it is (repr): rounded to 4 places it could be above it, and that very
                # value was refused ("sparsity=0.7422 is out of reach ...: at most 0.7422", probe round 9).
                f"sparsity={sparsity} is out of reach with prune.structures={list(self.structures)}: at most "
                f"{self.max_sparsity()!r} of the prunable weights can go while "
                + ("one layer at least is kept, with a head and a neuron (lower sparsity)" if "layers" in self.structures
                   else "every layer keeps a head and a neuron (add layers to prune.structures, or lower sparsity)"))

    def update(self, sparsity: float, optimizer: torch.optim.Optimizer | None = None) -> dict[str, float]:
        """As :meth:`MaskState.update`, plus what is left: kept heads, FFN neurons and layers (the trace's prune event)."""
        removed = super().update(sparsity, optimizer)
        shapes = self.kept_shapes()
        return {**removed, "kept_heads": sum(s["heads"] for s in shapes), "kept_ffn": sum(s["ffn"] for s in shapes),
                "kept_layers": sum(1 for s in shapes if s["heads"])}

    def _candidates(self, scores: dict[str, list[torch.Tensor]]) -> list[tuple[float, str, int, int]]:
        cands: list[tuple[float, int, str, int, int]] = []
        order = 0
        for kind in ("heads", "ffn", "layers"):
            if kind not in self.structures:
                continue
            for li, s in enumerate(scores[kind]):
                for j, v in enumerate(s.reshape(-1).tolist()):
                    cands.append((v, order, kind, li, j))
                    order += 1
        cands.sort()  # by score, ties by position: the same on every rank and every run
        return [(v, kind, li, j) for v, _, kind, li, j in cands]

    def _cost(self, kind: str, li: int, j: int) -> int:
        """Weights removing this structure would remove now (0: already gone, or not removable)."""
        b = self.blocks[li]
        if not self.layer_kept[li]:
            return 0
        heads, ffn = self.heads_kept[li], self.ffn_kept[li]
        if kind == "layers":
            return int(heads.sum()) * b.head_cost + int(ffn.sum()) * b.neuron_cost
        if kind == "heads":
            return b.head_cost if bool(heads[j]) and int(heads.sum()) > 1 else 0
        return b.neuron_cost if bool(ffn[j]) and int(ffn.sum()) > 1 else 0

    def _remove(self, kind: str, li: int, j: int) -> int:
        cost = self._cost(kind, li, j)
        if kind == "layers":
            self.layer_kept[li] = False
        elif kind == "heads":
            self.heads_kept[li][j] = False
        else:
            self.ffn_kept[li][j] = False
        return cost

    def removed_weights(self) -> int:
        return sum(b.head_cost * b.heads + b.neuron_cost * b.width if not self.layer_kept[b.index] else
                   b.head_cost * int((~self.heads_kept[b.index]).sum()) +
                   b.neuron_cost * int((~self.ffn_kept[b.index]).sum()) for b in self.blocks)

    def kept_shapes(self) -> list[dict[str, int]]:
        """Per block: kept heads and FFN neurons (0 and 0: the layer is removed)."""
        return [{"heads": int(self.heads_kept[b.index].sum()) if self.layer_kept[b.index] else 0,
                 "ffn": int(self.ffn_kept[b.index].sum()) if self.layer_kept[b.index] else 0} for b in self.blocks]

    # ------------------------------------------------------------- the three zero-keeping operations
    def after_backward(self) -> None:
        """The update's gradients are complete (after backward, before the step): the criterion may read them."""
        self.criterion.observe(self)

    @torch.no_grad()
    def apply(self) -> None:
        super().apply()
        for bias, keep in self._bias_masks():
            bias.mul_(keep)

    @torch.no_grad()
    def mask_grads(self) -> None:
        super().mask_grads()
        for bias, keep in self._bias_masks():
            if bias.grad is not None:
                bias.grad.mul_(keep)

    @torch.no_grad()
    def mask_optimizer_state(self, optimizer: torch.optim.Optimizer) -> None:
        super().mask_optimizer_state(optimizer)
        for bias, keep in self._bias_masks():
            for value in optimizer.state.get(bias, {}).values():
                if torch.is_tensor(value) and value.shape == bias.shape:
                    value.mul_(keep)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The masks and the criterion's running scores (taylor's averages since the last event): a resumed run
        ranks at its next event exactly as the uninterrupted one would."""
        return {**self.masks, **{f"criterion::{k}": v.cpu().contiguous() for k, v in self.criterion.state_tensors().items()}}

    def load_masks(self, masks: Mapping[str, torch.Tensor]) -> None:
        """A saved mask (a resumed checkpoint) back into keep vectors: a layer with every weight masked is removed."""
        super().load_masks(masks)
        self.criterion.load_state_tensors({k.split("::", 1)[1]: v for k, v in masks.items() if k.startswith("criterion::")})
        for b in self.blocks:
            q = self.masks[b.weight_name("query")]
            heads = q.any(dim=1).view(b.heads, b.head_size).any(dim=1)
            ffn = self.masks[b.weight_name("ffn_in")].any(dim=1)
            self.layer_kept[b.index] = bool(heads.any())
            self.heads_kept[b.index] = heads if heads.any() else torch.ones_like(heads)
            self.ffn_kept[b.index] = ffn if ffn.any() else torch.ones_like(ffn)
        self.masks = self._masks_from_keep()
