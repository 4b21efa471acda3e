"""Exact bottom-k selection by |w| and the pruning pass, streamed over CPU weights in cache-sized blocks.

A pruning event at BERT-base size reads 85M weights (340 MB of fp32). What bounds it is how often the
weights come in from memory and how many operations touch each block once it is in cache, so an event
is two passes over the weights, each doing a few numpy operations per 512 KiB block (numpy: one thread
per block, no OpenMP barrier, which on a shared, loaded machine costs more than the arithmetic). Blocks
that size keep a block in a core's L2 while making the ~10 Python-level operations per block cheap
next to the arithmetic (at 256 KiB the per-operation overhead was a third of the event).

1. :func:`select` reads the weights once: it counts |w| <= lo and collects the few candidates in
   (lo, hi] (a bracket placed by a fixed-seed sample), then picks the exact threshold among them.
2. :func:`finish` reads them once more: it writes keep = |w| > t (ties at t kept or pruned by
   position), measures what the event removes (count and L1 mass of old & ~keep, the total L1 mass)
   from the same |w| in cache, and zeroes the pruned weights in place.

Tensors are independent, so both passes spread them over a few threads (numpy releases the GIL
inside each operation); results are combined in tensor order, so they do not depend on the threads.

Where a C compiler is available, each pass over a tensor is one compiled loop instead (sdp.pruning.kernel:
the same arithmetic, read once per weight); the numpy passes remain, and run when it is not (``ENGINE``).
"""

from __future__ import annotations

import functools
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from sdp.pruning import kernel

_STREAM_MIN = 1 << 20  # below this many weights one kthvalue over an fp32 copy is already fast
_BLOCK = 1 << 17  # weights per block: 512 KiB of fp32, so every operation on a block stays in cache
_SAMPLE = 1 << 17  # sampled |w| that place the bracket around the threshold
_SIGMAS = 6.0  # bracket half-width in standard errors of the sampled quantile
ENGINE = "auto"  # "auto": the compiled passes when they build (kernel.load), else numpy; "numpy": numpy always


def _lib():
    """The compiled passes, or None for the numpy ones."""
    return kernel.load() if ENGINE != "numpy" else None


def engine_note() -> str:
    """Which passes pruning events run in this process, and why: one line for run.json."""
    return kernel.note() if ENGINE != "numpy" else "numpy (stream.ENGINE=numpy)"


def _compiled(*arrays: np.ndarray | None) -> bool:
    """Whether the compiled loops can take these arrays: contiguous, and writable where they write."""
    return all(a is None or (a.flags.c_contiguous and a.flags.writeable) for a in arrays)


@dataclass
class Cut:
    """The exact cut: prune |w| < t, keep |w| > t; of the entries equal to t, keep those at ``kept_ties``
    (global positions in concatenation order, ascending) and prune the rest."""

    t: np.float32
    kept_ties: np.ndarray


_local = threading.local()


def _scratch(*dtypes: type) -> list[np.ndarray]:
    """Block-sized scratch arrays of ``dtypes`` for this thread, kept between events: a fresh 512 KiB array
    is a fresh mmap whose page faults cost as much as the arithmetic on it."""
    out, cache = [], _local.__dict__.setdefault("buffers", {})
    for i, dtype in enumerate(dtypes):
        key = (i, np.dtype(dtype).str, _BLOCK)
        if key not in cache:
            cache[key] = np.empty(_BLOCK, dtype)
        out.append(cache[key])
    return out


def flat_views(weights: list[torch.Tensor]) -> list[np.ndarray]:
    """1-D fp32 numpy arrays over ``weights`` in flatten order: views of the weights' own storage when
    they are contiguous fp32 (so :func:`finish` can zero them in place), copies otherwise."""
    out = []
    for w in weights:
        f = w.detach().reshape(-1)
        out.append(f.numpy() if f.dtype == torch.float32 else f.float().numpy())
    return out


def shares_storage(w: torch.Tensor, flat: np.ndarray) -> bool:
    return w.dtype == torch.float32 and w.is_contiguous() and np.shares_memory(w.detach().numpy(), flat)


_pools: dict[int, ThreadPoolExecutor] = {}


def _map(fn, items: list) -> list:
    """``fn`` over ``items`` in order, on up to torch's thread count (numpy releases the GIL per op). The
    pool outlives the call, so its threads keep their scratch blocks from one event to the next."""
    workers = min(torch.get_num_threads(), len(items))
    if workers <= 1:
        return [fn(x) for x in items]
    threads = torch.get_num_threads()
    if threads not in _pools:
        _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="sdp-prune")
    return list(_pools[threads].map(fn, items))


@functools.lru_cache(maxsize=8)
def _sample_positions(sizes: tuple[int, ...], sample: int) -> tuple[np.ndarray, ...]:
    """The fixed-seed sample's positions in each tensor, sorted (the gather walks memory forwards). They depend
    on the sizes alone, so a run's events share them: drawing and sorting them cost as much as a pass."""
    gen, n = np.random.default_rng(0), sum(sizes)
    return tuple(np.sort(gen.integers(0, size, max(1, round(sample * size / n)))) for size in sizes)


def _bracket(flats: list[np.ndarray], k: int) -> tuple[np.float32, np.float32, float]:
    """(lo, hi] that holds the k-th smallest |w| with near certainty: quantiles of a fixed-seed sample,
    6 standard errors either side, and the share of the sample inside it. Only speed depends on it;
    :func:`select` checks it exactly."""
    n = sum(f.size for f in flats)
    positions = _sample_positions(tuple(f.size for f in flats), _SAMPLE)
    sample = np.abs(np.concatenate([f[p] for f, p in zip(flats, positions)]))
    m, q = sample.size, k / n
    delta = _SIGMAS * math.sqrt(q * (1.0 - q) / m) + 2.0 / m
    lo_i, hi_i = math.floor((q - delta) * m), math.ceil((q + delta) * m)
    inner = [i for i in (lo_i, hi_i) if 0 <= i < m]
    if inner:
        sample = np.partition(sample, inner)  # the two order statistics, not a full sort
    lo = sample[lo_i] if lo_i >= 0 else np.float32(-1.0)
    hi = sample[hi_i] if hi_i < m else np.float32(np.inf)
    return lo, hi, (min(hi_i, m) - max(lo_i, 0)) / m


def _scan(flat: np.ndarray, lo: np.float32, hi: np.float32, share: float = 0.0
          ) -> tuple[int, np.ndarray, list[np.ndarray]]:
    """Pass 1 over one tensor: the count of |w| <= lo, the values of |w| in (lo, hi] in position order, and
    their in-block indices per block (positions are only needed when ties at the threshold are split).
    ``share``: the expected fraction inside the bracket (room the compiled loop reserves first)."""
    lib = _lib()
    if lib is not None and _compiled(flat):  # one block as long as the tensor: its indices are its positions
        n_le_lo, values, positions = kernel.scan(lib, flat, lo, hi, int(1.25 * share * flat.size) + 1024)
        return n_le_lo, values, [positions]
    a_buf, le_buf, in_buf = _scratch(np.float32, bool, bool)
    n_le_hi, values, indices = 0, [], []
    for start in range(0, flat.size, _BLOCK):
        blk = flat[start : start + _BLOCK]
        a = np.abs(blk, out=a_buf[: blk.size])
        le = np.less_equal(a, hi, out=le_buf[: blk.size])
        n_le_hi += int(np.count_nonzero(le))
        inside = np.greater(a, lo, out=in_buf[: blk.size])
        inside &= le
        idx = np.flatnonzero(inside)
        values.append(a[idx])
        indices.append(idx)
    values_all = np.concatenate(values) if values else np.empty(0, np.float32)
    return n_le_hi - values_all.size, values_all, indices


def _positions(indices: list[np.ndarray]) -> np.ndarray:
    """Positions in the tensor of the candidates :func:`_scan` found, from its per-block indices."""
    return np.concatenate([idx + b * _BLOCK for b, idx in enumerate(indices)]) if indices else np.empty(0, np.int64)


def select(flats: list[np.ndarray], k: int) -> Cut | None:
    """The cut that removes exactly the ``k`` smallest |w| over ``flats`` (0 < k < n), ties broken by
    position in their concatenation (earliest pruned first): what a kthvalue over the concatenated |w|
    gives, without that copy. None when the sampled bracket misses, which only NaNs can cause."""
    lo, hi, share = _bracket(flats, k)
    offsets = np.cumsum([0] + [f.size for f in flats])
    scans = _map(lambda f: _scan(f, lo, hi, share), flats)
    n_le_lo = sum(s[0] for s in scans)
    cand = np.concatenate([s[1] for s in scans])
    if n_le_lo < k <= n_le_lo + cand.size:
        j = k - n_le_lo - 1
        t = np.partition(cand, j)[j]
        n_lt = n_le_lo + int(np.count_nonzero(cand < t))
        at_t = cand == t
        if k - n_lt == int(np.count_nonzero(at_t)):  # every tie is pruned: no position is needed
            return Cut(t, np.empty(0, np.int64))
        pos = np.concatenate([_positions(s[2]) + offsets[i] for i, s in enumerate(scans)])  # ascending
        ties = pos[at_t]
    elif k <= n_le_lo and lo >= 0:
        # The k-th smallest is lo itself when many |w| equal it (weights already pruned to zero):
        # one more pass for the count below lo and the positions of the ties.
        t = lo
        n_lt = sum(int(np.count_nonzero(np.abs(f) < lo)) for f in flats)
        if n_lt >= k:
            return None
        ties = np.concatenate([np.flatnonzero(np.abs(f) == t) + offsets[i] for i, f in enumerate(flats)])
    else:
        return None
    return Cut(t, ties[k - n_lt :])


def finish(
    flats: list[np.ndarray],
    keep: list[np.ndarray],
    cut: Cut | None = None,
    old: list[np.ndarray] | None = None,
    zero: list[bool] | None = None,
) -> tuple[int, float, float]:
    """Pass 2: with ``cut``, writes the keep-masks into ``keep`` (1-D bool views of the mask tensors,
    which may be the ``old`` masks themselves: each block of old is read before it is overwritten);
    without it, ``keep`` already holds them. With ``old`` (the previous masks), returns (removed, removed
    L1 mass, total L1 mass) of old & ~keep, from |w| as it was; otherwise (0, 0.0, 0.0). Where ``zero[i]``,
    zeroes the pruned entries of ``flats[i]`` in place (``w * keep``, as ``p.mul_(mask)`` does)."""
    offsets = np.cumsum([0] + [f.size for f in flats])
    tie_sets = [None] * len(flats)
    if cut is not None and cut.kept_ties.size:
        bounds = np.searchsorted(cut.kept_ties, offsets)
        tie_sets = [cut.kept_ties[bounds[i] : bounds[i + 1]] - offsets[i] for i in range(len(flats))]

    lib = _lib()

    def one(i: int) -> tuple[int, float, float]:
        flat, out, ties = flats[i], keep[i], tie_sets[i]
        measure, zero_i = old is not None, bool(zero and zero[i])
        if lib is not None and _compiled(flat, out, old[i] if measure else None):
            return kernel.finish(lib, flat, out, None if cut is None else cut.t, old[i] if measure else None,
                                 ties, zero_i)
        a_buf, f_buf, k_buf, g_buf = _scratch(np.float32, np.float32, bool, bool)
        # Sums: einsum and dot (vectorised, several accumulators) are 2-3x faster than ndarray.sum's pairwise
        # loop here; each block's float32 sum is added to a Python float, so the relative error stays ~1e-7.
        removed, gone_mass, total = 0, 0.0, 0.0
        for start in range(0, flat.size, _BLOCK):
            end = min(start + _BLOCK, flat.size)
            blk, kb = flat[start:end], out[start:end]
            a = np.abs(blk, out=a_buf[: end - start])
            if cut is not None:  # the new keep, in a scratch block until old's block has been read
                kb = np.greater(a, cut.t, out=k_buf[: end - start])
                if ties is not None and ties.size:
                    lo_i, hi_i = np.searchsorted(ties, (start, end))
                    kb[ties[lo_i:hi_i] - start] = True
            if measure:
                total += float(np.einsum("i->", a))
                gone = np.greater(old[i][start:end], kb, out=g_buf[: end - start])  # old & ~keep
                c = int(np.count_nonzero(gone))
                if c:
                    removed += c
                    np.copyto(f_buf[: end - start], gone)  # bool -> 0/1 floats, then one dot product
                    gone_mass += float(np.dot(a, f_buf[: end - start]))
            if cut is not None:
                out[start:end] = kb
            if zero_i:
                np.multiply(blk, kb, out=blk)
        return removed, gone_mass, total

    parts = _map(one, list(range(len(flats))))
    return sum(p[0] for p in parts), sum(p[1] for p in parts), sum(p[2] for p in parts)
