"""Section `prune`: one global magnitude pruning step against torch.nn.utils.prune, in fresh subprocesses."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from scripts.bench.common import BERT_BASE_LAYER, rotated, summary


# -------------------------------------------------------------------------------------------- prune
def bert_base_linears(layers: int, seed: int = 0) -> list[nn.Linear]:
    """Bias-free Linear modules shaped like BERT-base's prunable set, weights N(0, 0.02) (as BERT's init)."""
    gen = torch.Generator().manual_seed(seed)
    mods = []
    for _ in range(layers):
        for out_f, in_f in BERT_BASE_LAYER:
            m = torch.nn.utils.skip_init(nn.Linear, in_f, out_f, bias=False)
            with torch.no_grad():
                m.weight.normal_(0.0, 0.02, generator=gen)
            mods.append(m)
    return mods


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def prune_methods():
    """name -> setup(modules) -> step(sparsity) -> keep masks. Only ``step`` is timed: what a setup
    builds once per run (sdp's MaskState with its all-ones masks) is not part of a pruning event."""
    from sdp.pruning.masks import MaskState, magnitude_masks

    def sdp_update(mods):
        """One pruning event of the recipe: MaskState.update (masks by |w|, then weights zeroed)."""
        state = MaskState({f"m{i}.weight": m.weight for i, m in enumerate(mods)}, "global")

        def step(sparsity):
            state.update(sparsity)
            return [state.masks[f"m{i}.weight"] for i in range(len(mods))]

        return step

    def sdp_masks_only(mods):
        """magnitude_masks alone: the selection, without zeroing the weights."""
        weights = {f"m{i}.weight": m.weight for i, m in enumerate(mods)}

        def step(sparsity):
            masks = magnitude_masks(weights, sparsity, "global")
            return [masks[f"m{i}.weight"] for i in range(len(mods))]

        return step

    def torch_global(mods):
        """torch.nn.utils.prune.global_unstructured with L1Unstructured, as its docs show."""
        import torch.nn.utils.prune as prune

        def step(sparsity):
            prune.global_unstructured([(m, "weight") for m in mods], pruning_method=prune.L1Unstructured,
                                      amount=sparsity)
            return [m.weight_mask for m in mods]  # float masks; turned to bool after the timing

        return step

    def concat_kthvalue(mods):
        """The previous sdp implementation: concatenate |w| in fp32, one kthvalue, masks, apply."""

        def step(sparsity):
            flat = torch.cat([m.weight.detach().abs().flatten().float() for m in mods])
            n, k = flat.numel(), round(sparsity * flat.numel())
            threshold = torch.kthvalue(flat, k).values
            keep = flat > threshold
            n_below = n - int(keep.sum()) - int((flat == threshold).sum())
            ties = (flat == threshold).nonzero().squeeze(1)
            keep[ties[k - n_below:]] = True
            masks, offset = [], 0
            for m in mods:
                masks.append(keep[offset: offset + m.weight.numel()].view_as(m.weight))
                offset += m.weight.numel()
                with torch.no_grad():
                    m.weight.mul_(masks[-1])
            return masks

        return step

    return {"sdp": sdp_update, "sdp_masks_only": sdp_masks_only, "torch_global_unstructured": torch_global,
            "sdp_previous_kthvalue": concat_kthvalue}


# What one sdp pruning event moves, in bytes per prunable weight: fp32 weights read twice (the threshold
# pass and the pass that writes masks, measures and zeroes), the old bool mask read, the new one written,
# and the weights written back. Counted at the plain pass's read speed, so the bound is optimistic.
EVENT_BYTES_PER_WEIGHT = 4 + 4 + 1 + 1 + 4


def plain_pass_seconds(mods: list[nn.Linear], repeats: int = 3) -> float:
    """Median time of a plain read of every weight (a sum per matrix, on the same threads sdp's pass
    uses): the memory-bandwidth yardstick for the pruning event, measured in the same process."""
    from sdp.pruning import stream

    flats = stream.flat_views([m.weight for m in mods])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        stream._map(np.sum, flats)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def build_seconds() -> dict[str, Any]:
    """What a run pays once for the compiled passes (in setup, never in an event): a build into an empty
    cache, then a load from it; the process keeps the second."""
    import os

    from sdp.pruning import kernel

    out: dict[str, Any] = {}
    saved = os.environ.get("SDP_KERNEL_CACHE")
    with tempfile.TemporaryDirectory(prefix="sdp-kernel-") as cache:
        os.environ["SDP_KERNEL_CACHE"] = cache
        try:
            for label in ("cold_build_seconds", "cached_load_seconds"):
                kernel.reset()
                start = time.perf_counter()
                kernel.load()
                out[label] = time.perf_counter() - start
        finally:
            os.environ.pop("SDP_KERNEL_CACHE") if saved is None else os.environ.update(SDP_KERNEL_CACHE=saved)
    kernel.reset()
    out["note"] = kernel.note()  # from the run's own cache, as a run finds it
    return out


def engines_worker(layers: int, sparsity: float, threads: int, repeats: int) -> None:
    """Runs in a fresh interpreter: the same pruning event (MaskState.update) with the compiled passes and with
    the numpy passes, interleaved in one process on the same weights (restored and masks reset before each,
    untimed), starting engine alternated. Ratios per repeat (compiled / numpy), then median and IQR."""
    from sdp.pruning import stream
    from sdp.pruning.masks import MaskState

    torch.set_num_threads(threads)
    built = build_seconds()
    mods = bert_base_linears(layers)
    orig = [m.weight.detach().clone() for m in mods]
    state = MaskState({f"m{i}.weight": m.weight for i, m in enumerate(mods)}, "global")
    times: dict[str, list[float]] = {"compiled": [], "numpy": []}
    masks: dict[str, list[torch.Tensor]] = {}
    for r in range(repeats + 1):  # round 0 warms both (allocator, pool threads, scratch blocks), untimed
        for engine in rotated(["compiled", "numpy"], r):
            stream.ENGINE = "auto" if engine == "compiled" else "numpy"
            with torch.no_grad():
                for m, w in zip(mods, orig):
                    m.weight.copy_(w)
            for mk in state.masks.values():
                mk.fill_(True)
            state.current_sparsity = 0.0
            gc.collect()
            start = time.perf_counter()
            removed = state.update(sparsity)
            elapsed = time.perf_counter() - start
            if r:
                times[engine].append(elapsed)
            else:
                masks[engine] = [mk.clone() for mk in state.masks.values()]
                masks[engine + "_removed"] = removed
    stream.ENGINE = "auto"
    same = all(torch.equal(a, b) for a, b in zip(masks["compiled"], masks["numpy"]))
    ratio = [c / n for c, n in zip(times["compiled"], times["numpy"])]
    result = {"engines": True, "weights": sum(w.numel() for w in orig), "repeats": repeats, "build": built,
              "seconds": {k: summary(v) for k, v in times.items()}, "compiled_over_numpy": summary(ratio),
              "runs": times, "masks_identical": same,
              "removed": {k: masks[k + "_removed"] for k in ("compiled", "numpy")}}
    print("RESULT " + json.dumps(result), flush=True)


def prune_worker(method: str, layers: int, sparsity: float, threads: int, mask_out: str | None) -> None:
    """Runs in a fresh interpreter: one timed pruning step, its peak RSS, and its mask; for sdp's event
    also the plain-pass time over the same weights (the bandwidth bound), just before it."""
    if method.startswith("engines:"):  # the compiled passes against the numpy ones, in this one process
        return engines_worker(layers, sparsity, threads, int(method.split(":")[1]))
    torch.set_num_threads(threads)
    setup = prune_methods()[method]
    # Warm-up at full size on other weights: code paths, and the allocator in the state a training run's
    # later events find it in (a process's first multi-MB arrays are fresh mmaps, all page faults).
    setup(bert_base_linears(layers, seed=1))(sparsity)
    gc.collect()
    mods = bert_base_linears(layers)
    fn = setup(mods)
    plain = plain_pass_seconds(mods) if method == "sdp" else None
    gc.collect()
    reset = _reset_peak()
    rss0 = _status_kib("VmRSS")
    hwm0 = _status_kib("VmHWM")
    start = time.perf_counter()
    masks = fn(sparsity)
    elapsed = time.perf_counter() - start
    hwm1 = _status_kib("VmHWM")
    masks = [m.bool() for m in masks]
    n = sum(m.numel() for m in masks)
    pruned = n - sum(int(m.sum()) for m in masks)
    result = {
        "method": method,
        "seconds": elapsed,
        "peak_extra_mib": (hwm1 - rss0) / 1024,
        "peak_reset": reset,
        "hwm_before_mib": hwm0 / 1024,
        "rss_before_mib": rss0 / 1024,
        "weights": n,
        "pruned": pruned,
        "expected_pruned": round(sparsity * n),
    }
    if method.startswith("sdp"):
        from sdp.pruning import stream

        result["passes"] = stream.engine_note()
    if plain is not None:
        gbps = 4 * n / plain / 1e9
        bound = EVENT_BYTES_PER_WEIGHT * n / 1e9 / gbps
        result.update(plain_pass_seconds=plain, plain_pass_gbps=gbps, bandwidth_bound_seconds=bound,
                      over_bandwidth_bound=elapsed / bound)
    if mask_out:
        flat = torch.cat([m.flatten() for m in masks]).numpy()
        np.save(mask_out, np.packbits(flat))
    print("RESULT " + json.dumps(result), flush=True)


def worker_command(method: str, args, mask_out: str | None) -> list[str]:
    """The subprocess line of one prune worker: every setting the parent measures at travels with it
    (the sparsity once did not, so workers pruned at the default whatever --sparsity said)."""
    cmd = [sys.executable, str(Path(__file__).resolve().parent), "--prune-worker", method,
           "--prune-layers", str(args.prune_layers), "--sparsity", repr(float(args.sparsity)),
           "--threads", str(torch.get_num_threads())]
    if mask_out:
        cmd += ["--mask-out", mask_out]
    return cmd


def run_worker(method: str, args, mask_out: str | None) -> dict[str, Any]:
    cmd = worker_command(method, args, mask_out)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"prune worker {method} failed:\n{proc.stderr[-3000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line.removeprefix("RESULT "))


def compare_masks(path_a: str, path_b: str, layers: int, sparsity: float) -> dict[str, Any]:
    """Whether two saved masks agree; where they differ, whether every difference is a tie at the
    threshold (equal |w|, where any order is a valid cut)."""
    a = np.unpackbits(np.load(path_a)).astype(bool)
    b = np.unpackbits(np.load(path_b)).astype(bool)
    n = min(len(a), len(b))  # packbits pads to a multiple of 8
    a, b = a[:n], b[:n]
    diff = np.flatnonzero(a != b)
    out: dict[str, Any] = {"identical": diff.size == 0, "differing_entries": int(diff.size)}
    if diff.size:
        flat = torch.cat([m.weight.detach().abs().flatten() for m in bert_base_linears(layers)]).numpy()
        k = round(sparsity * n)
        threshold = np.partition(flat, k - 1)[k - 1]
        out["all_differences_are_ties"] = bool(np.all(flat[diff] == threshold))
        out["entries_at_threshold"] = int(np.sum(flat == threshold))
    return out


def section_prune(args) -> dict[str, Any]:
    methods = ["sdp", "torch_global_unstructured", "sdp_masks_only"]
    if args.prune_previous:
        methods.append("sdp_previous_kthvalue")
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    with tempfile.TemporaryDirectory(prefix="sdp-bench-") as tmp:
        mask_paths = {m: str(Path(tmp) / f"{m}.npy") for m in methods}
        for r in range(args.prune_repeats):
            for m in rotated(methods, r):
                if m == "sdp_previous_kthvalue" and r >= args.prune_previous:
                    continue
                res = run_worker(m, args, mask_paths[m] if r == 0 else None)
                runs[m].append(res)
                bound = (f", {res['over_bandwidth_bound']:.2f}x the bandwidth bound {res['bandwidth_bound_seconds']:.3f} s"
                         if "over_bandwidth_bound" in res else "")
                print(f"  prune {m}: {res['seconds']:.3f} s, peak +{res['peak_extra_mib']:.0f} MiB{bound}", flush=True)
        engines = None
        if args.prune_engine_repeats:
            engines = run_worker(f"engines:{args.prune_engine_repeats}", args, None)
            r = engines["compiled_over_numpy"]
            print(f"  prune event, compiled passes / numpy passes (same process): {r['median']:.3f}x "
                  f"[{r['q1']:.3f}, {r['q3']:.3f}]; masks identical: {engines['masks_identical']}", flush=True)
        identity = compare_masks(mask_paths["sdp"], mask_paths["torch_global_unstructured"], args.prune_layers,
                                 args.sparsity)
    n = runs["sdp"][0]["weights"]
    secs = {m: [x["seconds"] for x in rs] for m, rs in runs.items()}
    # Workers run in sequence, so pair the i-th of each method (neighbours in time).
    speedup = [t / s for s, t in zip(secs["sdp"], secs["torch_global_unstructured"])]
    return {
        "layers": args.prune_layers,
        "weights": n,
        "sparsity": args.sparsity,
        "repeats": args.prune_repeats,
        "seconds": {m: summary(v) for m, v in secs.items()},
        "peak_extra_mib": {m: summary([x["peak_extra_mib"] for x in rs]) for m, rs in runs.items()},
        "speedup_vs_torch": summary(speedup),
        "event_bytes_per_weight": EVENT_BYTES_PER_WEIGHT,
        "plain_pass_gbps": summary([x["plain_pass_gbps"] for x in runs["sdp"]]),
        "bandwidth_bound_seconds": summary([x["bandwidth_bound_seconds"] for x in runs["sdp"]]),
        "over_bandwidth_bound": summary([x["over_bandwidth_bound"] for x in runs["sdp"]]),
        "exact_count": all(x["pruned"] == x["expected_pruned"] for x in runs["sdp"]),
        "masks_vs_torch": identity,
        "compiled_vs_numpy": engines,
        "runs": runs,
    }
