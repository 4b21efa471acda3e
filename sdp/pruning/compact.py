"""A structured-pruned network made physically smaller: pruned heads, FFN neurons and layers cut out of the weights.

Two forms, both exact (the same predictions as the masked network, to float rounding):

- :func:`standard_form`: what a stock transformers config can express: removed layers are gone
  (``num_hidden_layers``) and every layer's FFN is cut to one width (``intermediate_size``: the widest
  layer's kept neurons; narrower layers are padded with pruned, all-zero neurons, which add exactly nothing).
  Heads stay, as zeros: transformers 5 has no per-layer head pruning (``prune_heads`` and
  ``config.pruned_heads`` are gone) and the head size is ``hidden_size / num_attention_heads``.
- :func:`compact_form`: every layer at its own kept heads and neurons; it runs in this process (and exports
  to ONNX, sdp/pruning/export.py), but its config cannot describe it, so it is never saved as a checkpoint.

What is removable is read from the weights themselves (:func:`kept_from_weights`): a head whose columns of the
attention output projection are all zero, or an FFN neuron whose column of the FFN output is all zero, adds
nothing to the residual stream whatever its other weights. So any model folder can be compacted, not only one
this run's masks describe; the masks give the same answer (:func:`kept_from_masks`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from sdp.pruning.structures import Block, find_blocks


@dataclass
class Kept:
    """Per block: the kept heads [nh] and FFN neurons [I] (bool), and whether the layer stays at all."""

    heads: list[torch.Tensor]
    ffn: list[torch.Tensor]
    layers: list[bool]

    def summary(self) -> list[dict[str, int]]:
        return [{"heads": int(h.sum()) if on else 0, "ffn": int(f.sum()) if on else 0}
                for h, f, on in zip(self.heads, self.ffn, self.layers)]


def kept_from_masks(state) -> Kept:
    """The keep vectors of a StructuredMaskState (sdp/pruning/structures.py)."""
    return Kept([h.clone().cpu() for h in state.heads_kept], [f.clone().cpu() for f in state.ffn_kept],
                list(state.layer_kept))


@torch.no_grad()
def kept_from_weights(model: nn.Module) -> Kept:
    """Keep vectors read off the weights: zero output columns mark heads and neurons that add nothing; a layer
    is never removed here (a layer with no head and no neuron still adds its biases and LayerNorms)."""
    heads, ffn = [], []
    for b in find_blocks(model):
        o = b.attn_out.weight.detach().cpu()
        heads.append(o.ne(0).any(dim=0).view(b.heads, b.head_size).any(dim=1))
        ffn.append(b.ffn_out.weight.detach().cpu().ne(0).any(dim=0))
    # A layer keeps at least one head and one neuron: a 0-wide attention cannot be reshaped into heads.
    for v in (*heads, *ffn):
        if not v.any():
            v[0] = True
    return Kept(heads, ffn, [True] * len(heads))


def _rows(linear: nn.Linear, keep: torch.Tensor) -> nn.Linear:
    """A new Linear with only the kept output rows."""
    idx = keep.nonzero().squeeze(1).to(linear.weight.device)
    new = nn.Linear(linear.in_features, len(idx), bias=linear.bias is not None,
                    device=linear.weight.device, dtype=linear.weight.dtype)
    new.weight.data.copy_(linear.weight.data.index_select(0, idx))
    if linear.bias is not None:
        new.bias.data.copy_(linear.bias.data.index_select(0, idx))
    return new


def _cols(linear: nn.Linear, keep: torch.Tensor) -> nn.Linear:
    """A new Linear with only the kept input columns (the bias is the whole output's)."""
    idx = keep.nonzero().squeeze(1).to(linear.weight.device)
    new = nn.Linear(len(idx), linear.out_features, bias=linear.bias is not None,
                    device=linear.weight.device, dtype=linear.weight.dtype)
    new.weight.data.copy_(linear.weight.data.index_select(1, idx))
    if linear.bias is not None:
        new.bias.data.copy_(linear.bias.data)
    return new


def _set(block: Block, path: str, module: nn.Module) -> None:
    parent_path, _, attr = path.rpartition(".")
    setattr(block.module.get_submodule(parent_path), attr, module)


def _shrink(model: nn.Module, kept: Kept, heads: bool, uniform_ffn: bool) -> nn.Module:
    """A copy of ``model`` with removed layers dropped, FFN neurons cut (to one width if ``uniform_ffn``) and,
    if ``heads``, pruned heads cut per layer."""
    model = copy.deepcopy(model)
    model._forward_hooks.clear()
    blocks = find_blocks(model)
    if len(blocks) != len(kept.layers):
        raise ValueError(f"the model has {len(blocks)} layers, the keep vectors {len(kept.layers)}")
    staying = [b for b in blocks if kept.layers[b.index]]
    width = max(int(kept.ffn[b.index].sum()) for b in staying) if staying else 0
    for b in staying:
        b.module._forward_hooks.clear()  # a masked run's layer-skip hook belongs to the training model
        ffn = kept.ffn[b.index].clone()
        if uniform_ffn:  # pad with pruned (all-zero) neurons, first ones first, up to the widest layer
            for j in (~ffn).nonzero().squeeze(1)[: width - int(ffn.sum())].tolist():
                ffn[j] = True
        _set(b, Block.NAMES["ffn_in"], _rows(b.ffn_in, ffn))
        _set(b, Block.NAMES["ffn_out"], _cols(b.ffn_out, ffn))
        if heads:
            rows = kept.heads[b.index].repeat_interleave(b.head_size)
            for role in ("query", "key", "value"):
                _set(b, Block.NAMES[role], _rows(b.linear(role), rows))
            _set(b, Block.NAMES["attn_out"], _cols(b.attn_out, rows))
            attn = b.module.get_submodule("attention.self")
            attn.num_attention_heads = int(kept.heads[b.index].sum())  # the forward infers it; kept honest
            attn.all_head_size = attn.num_attention_heads * b.head_size
    # Drop removed layers from their ModuleList (every block of an encoder sits in one).
    if blocks:
        list_path = blocks[0].prefix.rpartition(".")[0]
        parent_path, _, attr = list_path.rpartition(".")
        parent = model.get_submodule(parent_path) if parent_path else model
        setattr(parent, attr, nn.ModuleList([b.module for b in staying]))
    config = getattr(model, "config", None)
    if config is not None:
        config.num_hidden_layers = len(staying)
        if uniform_ffn and staying:
            config.intermediate_size = width
    return model


UNPRUNED_KEY = "sdp_unpruned"  # config.json: the shape the standard form was cut from (sdp-export's dense figure)


def standard_form(model: nn.Module, kept: Kept) -> nn.Module:
    """The smallest model a stock config can describe (layers removed, one FFN width; heads kept as zeros). Its
    config keeps the unpruned shape under ``sdp_unpruned``: the saved weights alone no longer tell it."""
    small = _shrink(model, kept, heads=False, uniform_ffn=True)
    config = getattr(small, "config", None)
    if config is not None and getattr(config, UNPRUNED_KEY, None) is None:  # cut twice: the first shape stays
        setattr(config, UNPRUNED_KEY, {"num_hidden_layers": len(kept.layers),
                                       "intermediate_size": getattr(model.config, "intermediate_size", None),
                                       "encoder_params": encoder_params(model)})
    return small


def fresh_start(model: nn.Module) -> nn.Module:
    """A run's starting model is its own unpruned one: an earlier cut's ``sdp_unpruned`` (a structured run's model/
    given as model.pretrained or dense.checkpoint) is dropped, or sdp-export of the new run's model/ reported the
    first cut's size as its dense figure (17088 for a run that started from 8898: probe round 26, rp2)."""
    config = getattr(model, "config", None)
    if config is not None and getattr(config, UNPRUNED_KEY, None) is not None:
        delattr(config, UNPRUNED_KEY)
    return model


def compact_form(model: nn.Module, kept: Kept) -> nn.Module:
    """Every layer at its own kept heads and neurons: the smallest exact model (ONNX, not a checkpoint)."""
    return _shrink(model, kept, heads=True, uniform_ffn=False)


def encoder_params(model: nn.Module) -> int:
    """Parameters in the encoder blocks (what structured pruning shrinks)."""
    return sum(p.numel() for b in find_blocks(model) for p in b.module.parameters())
