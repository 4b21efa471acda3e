"""The two passes of a pruning event (sdp.pruning.stream) as one compiled loop each, built with the C compiler.

The numpy passes sweep each block of weights once per operation (7 in the first pass, 9 in the second) and pay
Python's overhead per operation; here each pass reads a weight once and does everything with it in registers.
Why C and not torch.compile: the first pass collects the few |w| inside the threshold's bracket, a compaction
whose output size depends on the data, which inductor does not fuse into a loop; numba would do it, but it is a
~40 MB dependency (numba + llvmlite) for two loops. The compiler is the one inductor needs too (gcc or cc).

The library is built once per machine and source (cached under ``SDP_KERNEL_CACHE``, default
``~/.cache/sdp/kernels``; written to a temporary name and renamed, so ranks building at once do not clash) and
loaded with ctypes, which releases the GIL during each call, so stream's thread pool runs tensors side by side.
Nothing here raises: without a compiler, when the build fails, or with ``SDP_PRUNE_KERNEL=numpy``, :func:`load`
returns None and stream keeps its numpy passes; :func:`note` says which ran, for run.json.

Semantics equal the numpy passes operation by operation (IEEE comparisons, no -ffast-math: NaN compares false
as in numpy), so masks, counts and zeroed weights are identical; sums are accumulated in float64.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

SOURCE = r"""
#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

/* Pass 1: how many |w| <= hi, and the |w| in (lo, hi] with their positions (the first cap of them; the return
   value is how many there are, so the caller can retry with room for all). */
int64_t sdp_scan(const float *w, int64_t n, float lo, float hi, float *vals, int64_t *pos, int64_t cap,
                 int64_t *n_le_hi) {
    int64_t le = 0, m = 0, i = 0;
#ifdef __AVX2__
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    while (i + 8 <= n) {
        __m256i cnt = _mm256_setzero_si256();  /* int32 lanes: flushed every 2^28 steps of 8 */
        int64_t stop = n - (n - i) % 8, chunk = i + ((int64_t)1 << 31);
        if (stop > chunk) stop = chunk;
        for (; i < stop; i += 8) {
            __m256 a = _mm256_and_ps(_mm256_loadu_ps(w + i), absmask);
            __m256 le_hi = _mm256_cmp_ps(a, vhi, _CMP_LE_OQ);
            cnt = _mm256_sub_epi32(cnt, _mm256_castps_si256(le_hi));
            unsigned bits = (unsigned)_mm256_movemask_ps(_mm256_and_ps(le_hi, _mm256_cmp_ps(a, vlo, _CMP_GT_OQ)));
            while (bits) {
                int j = __builtin_ctz(bits);
                bits &= bits - 1;
                if (m < cap) { vals[m] = fabsf(w[i + j]); pos[m] = i + j; }
                m++;
            }
        }
        int32_t lanes[8];
        _mm256_storeu_si256((__m256i *)lanes, cnt);
        for (int j = 0; j < 8; j++) le += lanes[j];
    }
#endif
    for (; i < n; i++) {
        float a = fabsf(w[i]);
        if (a <= hi) {
            le++;
            if (a > lo) { if (m < cap) { vals[m] = a; pos[m] = i; } m++; }
        }
    }
    *n_le_hi = le;
    return m;
}

/* Pass 2 over [s, e) without ties: keep = |w| > t (or the given keep), measure old & ~keep from |w| as it
   was, write keep, zero. inplace: old is keep itself (each entry read before it is written). The flags are
   constants at every call, so each variant is its own loop. 16 lanes in GCC vector types (lowered to what
   the machine has), float sums per lane flushed to double every 1024 weights (<= 64 terms per float sum). */
typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
typedef uint8_t vb __attribute__((vector_size(16)));

static inline void span(float *restrict w, uint8_t *restrict keep, const uint8_t *restrict old, int64_t s,
                        int64_t e, float t, const int cut, const int measure, const int inplace, const int zero,
                        int64_t *removed, double *acc) {
    int64_t i = s;
    while (e - i >= 16) {
        int64_t stop = e - i >= 1024 ? i + 1024 : e - (e - i) % 16;
        vf mass = {0}, total = {0};
        vi gone_n = {0};
        for (; i < stop; i += 16) {
            vf x, a;
            vi kb, g;  /* -1 where true */
            vb k8, o8;
            memcpy(&x, w + i, sizeof x);
            a = (vf)((vi)x & 0x7fffffff);
            if (cut) kb = a > t;
            else { memcpy(&k8, keep + i, sizeof k8); kb = -__builtin_convertvector(k8, vi); }
            if (measure) {
                memcpy(&o8, (inplace ? keep : old) + i, sizeof o8);
                g = -__builtin_convertvector(o8, vi) & ~kb;
                total += a;
                mass += (vf)((vi)a & g);
                gone_n -= g;
            }
            if (cut) { k8 = __builtin_convertvector(-kb, vb); memcpy(keep + i, &k8, sizeof k8); }
            if (zero) { x = x * __builtin_convertvector(-kb, vf); memcpy(w + i, &x, sizeof x); }
        }
        for (int j = 0; j < 16; j++) { *removed += gone_n[j]; acc[0] += mass[j]; acc[1] += total[j]; }
    }
    for (; i < e; i++) {
        float a = fabsf(w[i]);
        uint8_t kb = cut ? (uint8_t)(a > t) : keep[i];
        if (measure) {
            uint8_t g = (uint8_t)((inplace ? keep[i] : old[i]) > kb);
            acc[1] += a;
            acc[0] += g ? (double)a : 0.0;
            *removed += g;
        }
        if (cut) keep[i] = kb;
        if (zero) w[i] = w[i] * (float)kb;
    }
}

#define SPAN(c, m, p, z) span(w, keep, old, s, e, t, c, m, p, z, removed, acc)
static void spans(float *w, uint8_t *keep, const uint8_t *old, int64_t s, int64_t e, float t, int cut,
                  int measure, int inplace, int zero, int64_t *removed, double *acc) {
    if (!measure) { if (cut && zero) SPAN(1, 0, 0, 1); else if (cut) SPAN(1, 0, 0, 0); else if (zero) SPAN(0, 0, 0, 1); }
    else if (inplace) { if (cut && zero) SPAN(1, 1, 1, 1); else if (cut) SPAN(1, 1, 1, 0); else if (zero) SPAN(0, 1, 1, 1); else SPAN(0, 1, 1, 0); }
    else { if (cut && zero) SPAN(1, 1, 0, 1); else if (cut) SPAN(1, 1, 0, 0); else if (zero) SPAN(0, 1, 0, 1); else SPAN(0, 1, 0, 0); }
}

/* Pass 2: ties (ascending positions) are kept; keep may be old itself. old NULL: nothing measured.
   out: removed count, removed L1 mass, total L1 mass. */
void sdp_finish(float *w, int64_t n, uint8_t *keep, const uint8_t *old, int cut, float t, const int64_t *ties,
                int64_t n_ties, int zero, double *out) {
    int64_t removed = 0, s = 0;
    double acc[2] = {0.0, 0.0};
    int measure = old != 0, inplace = old == keep;
    if (inplace) old = 0;
    for (int64_t k = 0; k <= n_ties; k++) {
        int64_t e = k < n_ties ? ties[k] : n;
        spans(w, keep, old, s, e, t, cut, measure, inplace, zero, &removed, acc);
        if (k < n_ties) {  /* a tie at t that the cut keeps: not removed, weight unchanged */
            if (measure) acc[1] += fabsf(w[e]);
            keep[e] = 1;
            s = e + 1;
        }
    }
    out[0] = (double)removed;
    out[1] = acc[0];
    out[2] = acc[1];
}
"""

_FLAGS = ["-O3", "-march=native", "-fPIC", "-shared", "-fno-strict-aliasing"]
_state: dict = {}


def _compiler() -> str | None:
    cc = os.environ.get("CC") or "gcc"
    return shutil.which(cc) or (shutil.which("cc") if "CC" not in os.environ else None)


def _cache_dir() -> Path:
    root = os.environ.get("SDP_KERNEL_CACHE")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sdp" / "kernels"


def _machine() -> str:
    """What -march=native depends on: a library built on one CPU may not run on another sharing the cache."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    import platform

    return platform.machine() + platform.processor()


def _build(cc: str, flags: list[str]) -> Path:
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=60).stdout
    key = hashlib.sha256("\0".join([SOURCE, cc, version, *flags, _machine()]).encode()).hexdigest()[:16]
    lib = _cache_dir() / f"sdp_prune_{key}.so"
    if lib.exists():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=lib.parent) as tmp:
        src, out = Path(tmp) / "prune.c", Path(tmp) / lib.name
        src.write_text(SOURCE)
        proc = subprocess.run([cc, *flags, str(src), "-o", str(out)], capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"{cc} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-300:]}")
        os.replace(out, lib)  # atomic: a rank building at the same time finds a whole file or none
    return lib


def _bind(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    i64, f32, ptr = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
    lib.sdp_scan.argtypes = [ptr, i64, f32, f32, ptr, ptr, i64, ptr]
    lib.sdp_scan.restype = i64
    lib.sdp_finish.argtypes = [ptr, i64, ptr, ptr, ctypes.c_int, f32, ptr, i64, ctypes.c_int, ptr]
    lib.sdp_finish.restype = None
    return lib


def load(flags: list[str] | None = None) -> ctypes.CDLL | None:
    """The compiled passes, built or found in the cache on the first call of the process; None (and
    :func:`note` says why) when they cannot be had. Never raises."""
    if "lib" in _state:
        return _state["lib"]
    start, lib = time.perf_counter(), None
    if os.environ.get("SDP_PRUNE_KERNEL", "auto") == "numpy":
        why = "SDP_PRUNE_KERNEL=numpy"
    elif (cc := _compiler()) is None:
        why = f"no C compiler ({os.environ.get('CC') or 'gcc or cc'} not on PATH)"
    else:
        try:
            path = _build(cc, flags or _FLAGS)
            lib = _bind(path)
            why = f"{Path(cc).name}, {path.name}"
        except Exception as err:  # noqa: BLE001 -- any failure to build or load means the numpy passes
            why = f"compiling failed: {type(err).__name__}: {' '.join(str(err).split())[:200]}"
    _state.update(lib=lib, note=(f"compiled C ({why})" if lib else f"numpy ({why})")
                  + f", ready in {time.perf_counter() - start:.2f} s")
    return lib


def note() -> str:
    """One line for run.json: which passes a pruning event runs and why (loads them first)."""
    load()
    return _state["note"]


def reset() -> None:
    """Forget the loaded library, so the next :func:`load` looks again (tests, the bench)."""
    _state.clear()


def _ptr(a: np.ndarray | None) -> int | None:
    return None if a is None else a.ctypes.data


def scan(lib: ctypes.CDLL, flat: np.ndarray, lo: np.float32, hi: np.float32, expect: int
         ) -> tuple[int, np.ndarray, np.ndarray]:
    """Pass 1 over one contiguous fp32 tensor: (count of |w| <= lo, |w| in (lo, hi], their positions);
    ``expect``: room for this many candidates first (a second call when there are more)."""
    n_le_hi = np.zeros(1, np.int64)
    cap = max(expect, 64)
    while True:
        vals, pos = np.empty(cap, np.float32), np.empty(cap, np.int64)
        m = lib.sdp_scan(_ptr(flat), flat.size, lo, hi, _ptr(vals), _ptr(pos), cap, _ptr(n_le_hi))
        if m <= cap:
            return int(n_le_hi[0]) - m, vals[:m], pos[:m]
        cap = m


def finish(lib: ctypes.CDLL, flat: np.ndarray, keep: np.ndarray, t: np.float32 | None, old: np.ndarray | None,
           ties: np.ndarray | None, zero: bool) -> tuple[int, float, float]:
    """Pass 2 over one tensor (see stream.finish): ``t`` None when ``keep`` already holds the mask."""
    out = np.zeros(3, np.float64)
    ties = np.ascontiguousarray(ties, np.int64) if ties is not None and ties.size else None
    lib.sdp_finish(_ptr(flat), flat.size, _ptr(keep), _ptr(old), int(t is not None),
                   np.float32(0.0 if t is None else t), _ptr(ties), 0 if ties is None else ties.size, int(zero),
                   _ptr(out))
    return int(out[0]), float(out[1]), float(out[2])
