"""The compiled passes of a pruning event (sdp.pruning.kernel) against the numpy passes and the plain reference:
identical masks, zeroed weights and removed counts, the same L1 measurements; and the fallback to numpy, with
its note, when no compiler is present, compiling fails, or it is switched off."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

import sdp.pruning.kernel as kernel
import sdp.pruning.stream as stream
from sdp.pruning.masks import MaskState

KINDS = ["normal", "quantised", "zeros", "constant", "bf16", "transposed"]
SPARSITIES = (0.3, 0.3, 0.6, 0.9)


def _weights(kind: str, seed: int) -> list[torch.Tensor]:
    """Matrices of odd sizes (tails of 8-wide loops), with ties (quantised, constant), exact zeros, a dtype
    that is copied (bf16) and non-contiguous ones."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for shape in [(37, 53), (64, 31), (5, 403)]:
        w = torch.randn(shape, generator=gen)
        if kind == "quantised":
            w = (w * 4).round() / 4
        elif kind == "zeros":
            w[torch.rand(shape, generator=gen) < 0.7] = 0.0
        elif kind == "constant":
            w = torch.full(shape, 0.5) * torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0)
        elif kind == "bf16":
            w = w.to(torch.bfloat16)
        elif kind == "transposed":
            w = w.t()
        out.append(w)
    return out


def _events(kind: str, scope: str, engine: str) -> list:
    """Successive events on the same weights with ``engine``'s passes: (measurements, masks, weights) after each.
    Before the third a masked weight is set non-zero, so removed really is old & ~new."""
    stream.ENGINE = engine
    params = {f"w{i}": torch.nn.Parameter(w) for i, w in enumerate(_weights(kind, KINDS.index(kind)))}
    state = MaskState(params, scope)
    out = []
    for step, sparsity in enumerate(SPARSITIES):
        if step == 2:
            with torch.no_grad():
                first = params["w0"]
                gone = (~state.masks["w0"]).nonzero()[0]
                first[tuple(gone)] = 0.25
        got = state.update(sparsity)
        out.append((got, {n: m.clone() for n, m in state.masks.items()},
                    {n: p.detach().clone() for n, p in params.items()}))
    return out


@pytest.fixture(autouse=True)
def engine_restored():
    """Every test leaves the passes as it found them (tests here switch ENGINE and undo monkeypatches early)."""
    yield
    stream.ENGINE = "auto"


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Stream even small inputs, with tiny blocks and samples (many candidates: pass 1's retry is exercised)."""
    monkeypatch.setattr(stream, "_STREAM_MIN", 1)
    monkeypatch.setattr(stream, "_BLOCK", 257)
    monkeypatch.setattr(stream, "_SAMPLE", 128)
    monkeypatch.setattr(stream, "ENGINE", "auto")


@pytest.fixture
def compiled():
    lib = kernel.load()
    if lib is None:
        pytest.skip(f"no compiled passes here: {kernel.note()}")
    return lib


def _assert_same(a: list, b: list) -> None:
    for (got_a, masks_a, w_a), (got_b, masks_b, w_b) in zip(a, b):
        assert got_a["removed"] == got_b["removed"]
        for key in ("removed_mean_abs", "removed_mass"):  # float64 sums against float32 block sums
            assert got_a[key] == pytest.approx(got_b[key], rel=1e-5, abs=1e-12)
        for name in masks_a:
            assert torch.equal(masks_a[name], masks_b[name]), name
            assert torch.equal(w_a[name], w_b[name]), name


@pytest.mark.parametrize("scope", ["global", "layerwise"])
@pytest.mark.parametrize("kind", KINDS)
def test_compiled_passes_equal_numpy_passes(tiny_blocks, compiled, kind, scope):
    _assert_same(_events(kind, scope, "auto"), _events(kind, scope, "numpy"))


def test_compiled_passes_run_and_are_exact_at_real_size(compiled, monkeypatch):
    # Default blocks and sample, above _STREAM_MIN: the compiled loops are what runs (the numpy ones are never
    # called), and masks, weights and counts equal numpy's.
    monkeypatch.setattr(stream, "_scratch", lambda *d: pytest.fail("the numpy passes ran"))
    gen = torch.Generator().manual_seed(5)
    weights = [torch.randn(1024, 768, generator=gen) * 0.02, torch.randn(768, 515, generator=gen) * 0.02]
    results = {}
    for engine in ("auto", "numpy"):
        params = {f"w{i}": torch.nn.Parameter(w.clone()) for i, w in enumerate(weights)}
        state = MaskState(params)
        if engine == "numpy":
            monkeypatch.undo()
        stream.ENGINE = engine
        got = [state.update(s) for s in (0.5, 0.9)]
        results[engine] = [(got[-1], dict(state.masks), {n: p.detach() for n, p in params.items()})]
    _assert_same(results["auto"], results["numpy"])


def test_scan_makes_room_for_every_candidate(compiled):
    """Pass 1 reserves room for the expected candidates; with more it runs again with room for all."""
    flat = np.random.default_rng(0).standard_normal(10_000).astype(np.float32)
    lo, hi = np.float32(0.1), np.float32(1.5)
    n_le_lo, values, positions = kernel.scan(compiled, flat, lo, hi, expect=0)
    a = np.abs(flat)
    inside = (a > lo) & (a <= hi)
    assert n_le_lo == int(np.count_nonzero(a <= lo))
    assert np.array_equal(positions, np.flatnonzero(inside)) and np.array_equal(values, a[inside])
    assert values.size > 64  # more than the first call's room


def test_portable_build_equals_numpy(tiny_blocks, tmp_path, monkeypatch):
    """The loops the compiler builds without -march=native (no AVX2 on x86-64: the plain C loop of pass 1)."""
    if kernel._compiler() is None:
        pytest.skip("no C compiler")
    monkeypatch.setenv("SDP_KERNEL_CACHE", str(tmp_path))
    kernel.reset()
    try:
        assert kernel.load(["-O2", "-fPIC", "-shared"]) is not None, kernel.note()
        _assert_same(_events("quantised", "global", "auto"), _events("quantised", "global", "numpy"))
    finally:
        kernel.reset()
        stream.ENGINE = "auto"


def _fallback(monkeypatch, tmp_path, **env) -> str:
    """The note and an exact event when the compiled passes cannot be had under ``env``."""
    monkeypatch.setenv("SDP_KERNEL_CACHE", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    kernel.reset()
    try:
        assert kernel.load() is None
        note = stream.engine_note()
        calls = []
        monkeypatch.setattr(kernel, "finish", lambda *a: calls.append(a))
        monkeypatch.setattr(kernel, "scan", lambda *a: calls.append(a))
        monkeypatch.setattr(stream, "_STREAM_MIN", 1)
        got = _events("quantised", "global", "auto")
        assert not calls
        monkeypatch.undo()
        _assert_same(got, _events("quantised", "global", "numpy"))
    finally:
        kernel.reset()
        stream.ENGINE = "auto"
    assert not list(tmp_path.glob("*.so"))
    assert "\n" not in note
    return note


def test_no_compiler_falls_back_to_numpy(monkeypatch, tmp_path):
    note = _fallback(monkeypatch, tmp_path, CC=str(tmp_path / "no-such-cc"))
    assert note.startswith("numpy (no C compiler") and "no-such-cc" in note


def test_failed_compile_falls_back_to_numpy(monkeypatch, tmp_path):
    if shutil.which("false") is None:
        pytest.skip("no `false` command to stand in for a broken compiler")
    note = _fallback(monkeypatch, tmp_path, CC=shutil.which("false"))
    assert note.startswith("numpy (compiling failed: RuntimeError: ")


def test_switched_off_by_environment(monkeypatch, tmp_path):
    assert _fallback(monkeypatch, tmp_path, SDP_PRUNE_KERNEL="numpy").startswith("numpy (SDP_PRUNE_KERNEL=numpy)")


def test_build_is_cached(tmp_path, monkeypatch):
    """One build per source, compiler and machine: a second process (here: a reset) loads the same file."""
    if kernel._compiler() is None:
        pytest.skip("no C compiler")
    monkeypatch.setenv("SDP_KERNEL_CACHE", str(tmp_path))
    kernel.reset()
    try:
        assert kernel.load() is not None
        built = list(tmp_path.glob("*.so"))
        mtime = built[0].stat().st_mtime_ns
        kernel.reset()
        assert kernel.load() is not None and kernel.note().startswith("compiled C (") and built[0].name in kernel.note()
        assert list(tmp_path.glob("*.so")) == built and built[0].stat().st_mtime_ns == mtime
        assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # no build folder left behind
    finally:
        kernel.reset()


def test_passes_note_names_what_an_event_runs():
    params = {"w": torch.nn.Parameter(torch.randn(8, 8))}
    assert MaskState(params).passes() == stream.engine_note()
    assert stream.engine_note().startswith(("compiled C (", "numpy ("))
    stream.ENGINE = "numpy"
    assert MaskState(params).passes() == "numpy (stream.ENGINE=numpy)"
    from sdp.pruning.scored import ScoredMaskState

    assert ScoredMaskState(params, "global", None).passes() == "torch ops (ScoredMaskState)"
