"""The streaming selection large CPU prunable sets use must give exactly the masks of one kthvalue over
the concatenated |w|: same count, same threshold, same tie-breaking by position; and a pruning event
(MaskState.update), which streams selection, measurements and zeroing together, must give the masks,
measurements and zeroed weights of the plain reference: masks first, then sums of |w| in float64."""

from __future__ import annotations

import pytest
import torch

import sdp.pruning.masks as masks_mod
import sdp.pruning.stream as stream
from sdp.pruning.masks import MaskState, magnitude_masks


@pytest.fixture
def small_streaming(monkeypatch):
    """Route even small inputs through the streaming path, with tiny blocks and samples."""
    calls = {"stream": 0, "fallback": 0}
    real = stream.select

    def counted(flats, k):
        out = real(flats, k)
        calls["stream" if out is not None else "fallback"] += 1
        return out

    monkeypatch.setattr(stream, "_STREAM_MIN", 1)
    monkeypatch.setattr(stream, "_BLOCK", 257)
    monkeypatch.setattr(stream, "_SAMPLE", 128)
    monkeypatch.setattr(stream, "select", counted)
    return calls


def _reference(weights: list[torch.Tensor], k: int) -> torch.Tensor:
    return masks_mod._exact_bottom_k(torch.cat([w.detach().abs().flatten().float() for w in weights]), k)


def _weights(kind: str, gen: torch.Generator) -> list[torch.Tensor]:
    shapes = [(37, 53), (64, 31), (5, 400)]
    out = []
    for shape in shapes:
        w = torch.randn(shape, generator=gen)
        if kind == "quantised":  # many equal magnitudes everywhere
            w = (w * 4).round() / 4
        elif kind == "zeros":  # most weights already pruned to exactly zero
            w[torch.rand(shape, generator=gen) < 0.7] = 0.0
        elif kind == "constant":  # every magnitude ties
            w = torch.full(shape, 0.5) * torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0)
        elif kind == "bf16":
            w = w.to(torch.bfloat16)
        elif kind == "transposed":  # non-contiguous
            w = w.t()
        out.append(w)
    return out


KINDS = ["normal", "quantised", "zeros", "constant", "bf16", "transposed"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 0.69, 0.7, 0.71, 0.9, 0.999])
def test_streaming_equals_exact_selection(small_streaming, kind, sparsity):
    weights = _weights(kind, torch.Generator().manual_seed(KINDS.index(kind)))
    n = sum(w.numel() for w in weights)
    k = round(sparsity * n)
    got = torch.cat([m.flatten() for m in masks_mod._bottom_k_masks(weights, k)])
    assert int((~got).sum()) == k
    assert torch.equal(got, _reference(weights, k))
    assert small_streaming["fallback"] == 0


def test_magnitude_masks_streams_and_keeps_shapes(small_streaming):
    gen = torch.Generator().manual_seed(0)
    weights = {f"w{i}": torch.randn(20, 30 + i, generator=gen) for i in range(3)}
    for scope in ("global", "layerwise"):
        masks = magnitude_masks(weights, 0.6, scope)
        for name, w in weights.items():
            assert masks[name].shape == w.shape and masks[name].dtype == torch.bool
    assert small_streaming["stream"] >= 4


def test_nested_masks_through_mask_state(small_streaming):
    # Re-pruning weights whose pruned entries are exact zeros: the zero mass sits at the threshold.
    torch.manual_seed(3)
    params = {"a": torch.nn.Parameter(torch.randn(40, 40)), "b": torch.nn.Parameter(torch.randn(30, 50))}
    state = MaskState(params)
    previous = {n: torch.ones_like(p, dtype=torch.bool) for n, p in params.items()}
    for sparsity in (0.3, 0.3, 0.5, 0.501, 0.9):
        state.update(sparsity)
        total = sum(p.numel() for p in params.values())
        assert sum(int((~m).sum()) for m in state.masks.values()) == round(sparsity * total)
        for n in params:
            assert not (state.masks[n] & ~previous[n]).any(), "a pruned weight came back"
        previous = {n: m.clone() for n, m in state.masks.items()}
    assert small_streaming["fallback"] == 0


def test_large_input_takes_the_streaming_path():
    # Above _STREAM_MIN the default settings stream; one real-size check against the exact path.
    gen = torch.Generator().manual_seed(7)
    weights = [torch.randn(1024, 768, generator=gen) * 0.02, torch.randn(768, 512, generator=gen) * 0.02]
    k = round(0.9 * sum(w.numel() for w in weights))
    assert masks_mod._streamable(weights, k)
    cut = stream.select(stream.flat_views(weights), k)
    assert cut is not None
    streamed = masks_mod._bottom_k_masks(weights, k)
    assert torch.equal(torch.cat([m.flatten() for m in streamed]), _reference(weights, k))


def _reference_event(weights: list[torch.Tensor], old: list[torch.Tensor], sparsity: float, scope: str):
    """One pruning event the plain way: exact masks (one kthvalue per selection set), then removed count,
    removed L1 mass and total L1 mass from the weights as they were, in float64."""
    if scope == "global":
        k = round(sparsity * sum(w.numel() for w in weights))
        keep = _reference(weights, k) if k else torch.ones(sum(w.numel() for w in weights), dtype=torch.bool)
        masks = [m.view(w.shape) for m, w in zip(keep.split([w.numel() for w in weights]), weights)]
    else:
        masks = []
        for w in weights:
            k = round(sparsity * w.numel())
            masks.append((_reference([w], k) if k else torch.ones(w.numel(), dtype=torch.bool)).view(w.shape))
    removed = mass = total = 0.0
    for w, m, o in zip(weights, masks, old):
        mag, gone = w.detach().abs().double(), o & ~m
        removed, mass, total = removed + int(gone.sum()), mass + float((mag * gone).sum()), total + float(mag.sum())
    return masks, {"removed": int(removed), "removed_mean_abs": mass / removed if removed else 0.0,
                   "removed_mass": mass / total if total else 0.0}


@pytest.mark.parametrize("scope", ["global", "layerwise"])
@pytest.mark.parametrize("kind", KINDS)
def test_pruning_event_equals_reference(small_streaming, kind, scope):
    """Masks, measurements and zeroing of successive events, against the reference on the same weights.
    The weights move between events and one previously masked weight is set non-zero, so the removed
    count really is old & ~new and not just the count of new zeros."""
    gen = torch.Generator().manual_seed(10 + KINDS.index(kind))
    params = {f"w{i}": torch.nn.Parameter(w) for i, w in enumerate(_weights(kind, gen))}
    state = MaskState(params, scope)
    for step, sparsity in enumerate((0.3, 0.3, 0.6, 0.9)):
        if step == 2:
            with torch.no_grad():
                first = next(iter(params.values()))
                first.add_(0.01 * torch.randn(first.shape, generator=gen).to(first.dtype))
                gone = (~state.masks["w0"]).nonzero()[0]
                first[tuple(gone)] = 0.25  # a masked weight that is not zero: not "removed" again
        weights = [p.detach().clone() for p in params.values()]
        old = [m.clone() for m in state.masks.values()]
        want_masks, want = _reference_event(weights, old, sparsity, scope)
        got = state.update(sparsity)
        assert got["removed"] == want["removed"]
        assert got["removed_mean_abs"] == pytest.approx(want["removed_mean_abs"], rel=1e-5, abs=1e-12)
        assert got["removed_mass"] == pytest.approx(want["removed_mass"], rel=1e-5, abs=1e-12)
        for (name, p), w, m in zip(params.items(), weights, want_masks):
            assert torch.equal(state.masks[name], m), (name, sparsity)
            assert torch.equal(p.detach(), w * m), "weights are zeroed exactly where the mask is False"
    assert small_streaming["fallback"] == 0
    assert small_streaming["stream"] >= (4 if scope == "global" else 12)
