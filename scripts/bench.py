"""`make bench`: what pruning and self-distillation cost over plain fine-tuning, measured side by side.

    python scripts/bench.py                  # the full run (about 10 minutes on 2 CPU cores)
    python scripts/bench.py --quick          # a smoke run of every section (about 4 minutes)
    python scripts/bench.py --sections steps,memory --repeats 10

Every comparison runs its variants in one process (the pruning step: in fresh subprocesses, one per
measurement, for a clean peak-memory reading), round-robin across repeats with the starting variant
rotated, after warm-up. Ratios are taken per repeat between neighbouring measurements on the same
batch and summarised by their median and spread, so a noisy machine slows numerator and denominator
alike. Writes ``bench.md`` and ``bench.json`` to ``--out`` (default ``results/bench``).

Sections:
  steps       optimizer-update time through the recipe's own ``train_step`` (the update its loop runs): plain
              fine-tuning, magnitude pruning (masks kept, between pruning events), SDP-CC with a warm
              teacher cache and with a teacher forward every step (MiniLM, MRPC, real batches).
  throughput  fine-tuning examples/s, MiniLM at max_seq_length 64 (SST-2) and 128 (MRPC), fp32
              against bf16 autocast, dynamic padding.
  prune       one global magnitude pruning step over a BERT-base-sized prunable set (85M random
              weights) against torch.nn.utils.prune.global_unstructured (L1Unstructured).
  memory      bytes that masks, the teacher and the teacher cache add, per prunable weight.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

SECTIONS = ("steps", "throughput", "prune", "memory")
TARGETS = {
    "mp_over_finetune": 1.03,
    "sdp_cached_over_mp": 1.05,
    "sdp_uncached_over_mp": 1.35,
    "prune_speedup_vs_torch": 5.0,
    "prune_seconds": 1.0,
    "mask_bytes_per_weight": 1.0,
}
# BERT-base's prunable set: per layer Q, K, V, attention-output (768x768), FFN in (3072x768), FFN out.
BERT_BASE_LAYER = [(768, 768)] * 4 + [(3072, 768), (768, 3072)]
TASK_NAMES = {"sst2": "SST-2", "mrpc": "MRPC", "rte": "RTE"}


# ----------------------------------------------------------------------------------------- statistics
def summary(values: list[float]) -> dict[str, Any]:
    """Median, quartiles and range of ``values``."""
    v = sorted(float(x) for x in values)
    if not v:
        return {"n": 0}
    q1, q3 = (float(np.percentile(v, 25)), float(np.percentile(v, 75))) if len(v) > 1 else (v[0], v[0])
    return {"median": statistics.median(v), "q1": q1, "q3": q3, "min": v[0], "max": v[-1], "n": len(v)}


def fmt(s: dict[str, Any], digits: int = 3, unit: str = "") -> str:
    """``median [q1, q3]`` for a Markdown cell."""
    if not s.get("n"):
        return "n/a"
    f = f"{{:.{digits}f}}"
    return f"{f.format(s['median'])}{unit} [{f.format(s['q1'])}, {f.format(s['q3'])}]"


def rotated(items: list, r: int) -> list:
    r %= len(items)
    return items[r:] + items[:r]


# ------------------------------------------------------------------------------------------- machine
def machine_info() -> dict[str, Any]:
    from sdp.training.env import versions

    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    info = {
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": mem_gib,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_bf16_native": _cpu_has("avx512_bf16") or _cpu_has("amx_bf16"),
        "loadavg_start": list(os.getloadavg()),
        **versions(),
    }
    return info


def _cpu_has(flag: str) -> bool:
    with contextlib.suppress(OSError):
        return flag in Path("/proc/cpuinfo").read_text().split()
    return False


# ------------------------------------------------------------------------------------------- recipes
def compose_cfg(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401  (registers the structured schema)

    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def data_dir() -> str:
    return os.environ.get("SDP_DATA_DIR") or str(REPO_ROOT.parent / "shared" / "data")


def build_recipe(task: str, work: Path, extra: list[str] = ()):
    """A set-up PruneRecipe (MiniLM, real data) whose stages and train_step the timings drive.

    The schedule prunes once, at update 0 (one_shot); every timed update comes after it, so the
    timings are those of the updates between pruning events, where a run spends nearly all its time.
    """
    from sdp.recipe import PruneRecipe

    overrides = [
        "model=minilm",
        f"task={task}",
        "regularizer=cross_correlation",
        "weight_reg=none",
        "schedule=one_shot",
        "schedule.unit=steps",
        "schedule.start=0",
        "schedule.end=0",
        "sparsity=0.9",
        "prune.teacher=frozen",
        "prune.teacher_cache=memory",
        "train.mixed_precision=no",
        f"data_dir={data_dir()}",
        f"output_dir={work / task}",
        "max_eval_samples=8",
        *extra,
    ]
    recipe = PruneRecipe(compose_cfg(overrides), work / task)
    recipe.setup()
    return recipe


def fixed_batches(recipe, count: int) -> list[dict[str, torch.Tensor]]:
    """The first ``count`` batches of the recipe's (shuffled, dynamically padded) train loader."""
    batches = []
    for batch in recipe.train_loader:
        if len(batch["labels"]) == recipe.cfg.train.batch_size:
            batches.append(batch)
        if len(batches) == count:
            break
    return batches


class Variant:
    """One training configuration: a recipe stage (which optimizer, masks, teacher) stepped through the
    recipe's own public ``train_step``, the update the training loop runs."""

    def __init__(self, name: str, recipe, stage, autocast: torch.dtype | None = None) -> None:
        self.name, self.recipe, self.stage, self.autocast = name, recipe, stage, autocast

    def update(self, batch) -> float:
        """One optimizer update (one micro-batch: no accumulation), timed wall-clock."""
        device = self.recipe.accelerator.device.type
        sync()
        start = time.perf_counter()
        # What accelerate's mixed_precision does: autocast, fp32 master weights.
        with torch.autocast(device_type=device, dtype=self.autocast or torch.float32, enabled=self.autocast is not None):
            self.recipe.train_step(self.stage, batch)
        sync()
        elapsed = time.perf_counter() - start
        self.stage.step += 1
        return elapsed


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def interleave(variants: list[Variant], batches: list, warmup: int, repeats: int) -> dict[str, list[float]]:
    """Warm-up, then ``repeats`` rounds; round r runs every variant once on batch r, starting with a
    rotating variant so no variant always runs first or last."""
    for w in range(warmup):
        for v in rotated(variants, w):
            v.update(batches[w % len(batches)])
    times: dict[str, list[float]] = {v.name: [] for v in variants}
    gc.collect()
    for r in range(repeats):
        for v in rotated(variants, r):
            times[v.name].append(v.update(batches[r % len(batches)]))
    return times


def per_repeat_ratio(times: dict[str, list[float]], num: str, den: str) -> dict[str, Any]:
    return summary([a / b for a, b in zip(times[num], times[den])])


# -------------------------------------------------------------------------------------------- steps
def section_steps(recipe, args) -> dict[str, Any]:
    from dataclasses import replace

    from sdp.objectives.teacher import Teacher

    cfg = recipe.cfg
    # The recipe's own stages: dense (no masks, no teacher) and prune (masks, the frozen teacher with
    # its in-memory cache, as setup() built them). MP is the prune stage without a teacher.
    dense, prune = recipe.stages["dense"], recipe.stages["prune"]
    cached_teacher = prune.teacher
    uncached_teacher = Teacher(cached_teacher.model, "frozen", cached_teacher.needs, None)
    batches = fixed_batches(recipe, args.batches)
    # Update 0 of the prune stage is its one pruning event (one_shot at 0): masks go to 90%.
    recipe.prune_event(prune)
    variants = [
        Variant("finetune", recipe, dense),
        Variant("mp", recipe, replace(prune, teacher=None, schedule=None)),
        Variant("sdp_cc_cached", recipe, replace(prune, schedule=None)),
        Variant("sdp_cc_uncached", recipe, replace(prune, teacher=uncached_teacher, schedule=None)),
    ]
    # Warm the cache: every example of every timed batch has its teacher outputs stored.
    for batch in batches:
        cached_teacher.outputs(batch)
    cache = cached_teacher.cache
    hits0, misses0 = cache.hits, cache.misses
    times = interleave(variants, batches, args.warmup, args.repeats)
    lengths = [int(b["input_ids"].shape[1]) for b in batches]
    mask_ops = time_mask_ops(recipe, max(args.repeats, 5)) if recipe.accelerator.device.type == "cpu" else None
    out = {
        "task": cfg.task.name,
        "batch_size": cfg.train.batch_size,
        "max_seq_length": cfg.task.max_seq_length,
        "padded_lengths": lengths,
        "sparsity": recipe.masks.current_sparsity,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "seconds": {name: summary(t) for name, t in times.items()},
        "raw_seconds": times,
        "ratios": {
            "mp_over_finetune": per_repeat_ratio(times, "mp", "finetune"),
            "sdp_cached_over_mp": per_repeat_ratio(times, "sdp_cc_cached", "mp"),
            "sdp_uncached_over_mp": per_repeat_ratio(times, "sdp_cc_uncached", "mp"),
            "sdp_cached_over_finetune": per_repeat_ratio(times, "sdp_cc_cached", "finetune"),
        },
        "mask_ops": mask_ops,
        "cache_hits": cache.hits - hits0,
        "cache_misses": cache.misses - misses0,
    }
    return out


def time_mask_ops(recipe, repeats: int) -> dict[str, Any]:
    """What MP adds per update: MaskState.mask_grads + MaskState.apply (``p.mul_(bool mask)``), against
    two ways of doing the same multiplies (a float mask, 4 bytes/weight; numpy on the bool mask)."""
    masks, params = recipe.masks, recipe.prunable
    grads = {n: torch.randn_like(p) for n, p in params.items()}
    fmasks = {n: m.float() for n, m in masks.masks.items()}

    def current():
        masks.mask_grads()
        masks.apply()

    def float_mask():
        with torch.no_grad():
            for n, p in params.items():
                p.grad.mul_(fmasks[n])
                p.mul_(fmasks[n])

    def numpy_bool():
        with torch.no_grad():
            for n, p in params.items():
                m = masks.masks[n].numpy()
                np.multiply(p.grad.numpy(), m, out=p.grad.numpy())
                np.multiply(p.detach().numpy(), m, out=p.detach().numpy())

    fns = {"torch_mul_bool_current": current, "torch_mul_float_mask": float_mask, "numpy_multiply_bool": numpy_bool}
    for n, p in params.items():
        p.grad = grads[n]
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(repeats + 2):
        for k in rotated(list(fns), r):
            start = time.perf_counter()
            fns[k]()
            if r >= 2:
                times[k].append(time.perf_counter() - start)
    for p in params.values():
        p.grad = None
    return {k: summary([1000 * t for t in v]) for k, v in times.items()}


# --------------------------------------------------------------------------------------- throughput
def section_throughput(recipes: dict[str, Any], args) -> dict[str, Any]:
    variants, batches_of = [], {}
    for task, recipe in recipes.items():
        batches_of[task] = fixed_batches(recipe, args.batches)
        seq = recipe.cfg.task.max_seq_length
        for precision, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
            v = Variant(f"{task}@{seq}/{precision}", recipe, recipe.stages["dense"], autocast=dtype)
            v.task = task
            variants.append(v)
    # Round-robin over all four; each variant steps through its own task's fixed batches. bf16 on a
    # CPU without native bf16 is an order of magnitude slower, so it runs only the first rounds.
    def rounds(v: Variant, warm: bool) -> int:
        if v.autocast is None:
            return args.warmup if warm else args.repeats
        return args.bf16_warmup if warm else args.bf16_repeats

    for w in range(args.warmup):
        for v in rotated(variants, w):
            if w < rounds(v, True):
                v.update(batches_of[v.task][w % args.batches])
    times: dict[str, list[float]] = {v.name: [] for v in variants}
    gc.collect()
    for r in range(args.repeats):
        for v in rotated(variants, r):
            if r < rounds(v, False):
                times[v.name].append(v.update(batches_of[v.task][r % args.batches]))
    out: dict[str, Any] = {"warmup": args.warmup, "repeats": args.repeats, "bf16_repeats": args.bf16_repeats,
                           "bf16_warmup": args.bf16_warmup, "matmul_probe": matmul_probe(), "rows": []}
    for task, recipe in recipes.items():
        bs = recipe.cfg.train.batch_size
        seq = recipe.cfg.task.max_seq_length
        fp32, bf16 = times[f"{task}@{seq}/fp32"], times[f"{task}@{seq}/bf16"]
        lengths = [int(batches_of[task][r % args.batches]["input_ids"].shape[1]) for r in range(args.repeats)]
        out["rows"].append({
            "task": task,
            "max_seq_length": seq,
            "batch_size": bs,
            "padded_length": summary(lengths),
            "fp32_examples_per_s": summary([bs / t for t in fp32]),
            "bf16_examples_per_s": summary([bs / t for t in bf16]),
            "bf16_speedup": summary([a / b for a, b in zip(fp32, bf16)]),
            "raw_seconds": {"fp32": fp32, "bf16": bf16},
        })
    return out


def matmul_probe(repeats: int = 5) -> dict[str, Any]:
    """One FFN-sized matmul (a batch of 32 x 80 tokens, 384 -> 1536) in fp32 and under bf16 autocast:
    shows whether the CPU multiplies bf16 natively or emulates it."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x, w = torch.randn(32 * 80, 384, device=device), torch.randn(1536, 384, device=device)
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for r in range(repeats + 1):
        for name in rotated(["fp32", "bf16"], r):
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=name == "bf16"):
                sync()
                start = time.perf_counter()
                torch.nn.functional.linear(x, w)
                sync()
                if r:
                    times[name].append(1000 * (time.perf_counter() - start))
    return {k: summary(v) for k, v in times.items()}


# ------------------------------------------------------------------------------------------- memory
def section_memory(recipe) -> dict[str, Any]:
    """Exact tensor sizes: masks, the teacher copy and the cache, against the prunable weight count."""
    n_prunable = sum(p.numel() for p in recipe.prunable.values())
    teacher = recipe.teacher
    if teacher is None or teacher.cache is None:
        raise RuntimeError("memory section needs a recipe with a cached teacher (regularizer=cross_correlation)")
    tmodel = teacher.model
    teacher_bytes = sum(t.numel() * t.element_size() for t in [*tmodel.parameters(), *tmodel.buffers()])
    student = recipe.accelerator.unwrap_model(recipe.model)
    student_bytes = sum(p.numel() * p.element_size() for p in student.parameters())
    cache = teacher.cache
    per_example = cache.nbytes() / cache.num_examples
    return {
        "prunable_weights": n_prunable,
        "model_params": sum(p.numel() for p in student.parameters()),
        "mask_bytes": recipe.masks.mask_bytes(),
        "mask_bytes_per_weight": recipe.masks.mask_bytes() / n_prunable,
        "teacher_bytes": teacher_bytes,
        "teacher_bytes_per_weight": teacher_bytes / n_prunable,
        "student_param_bytes": student_bytes,
        "cache_examples": cache.num_examples,
        "cache_outputs": {k: list(v.shape[1:]) for k, v in cache.store.items()},
        "cache_bytes": cache.nbytes(),
        "cache_bytes_per_example": per_example,
        "cache_bytes_per_weight": cache.nbytes() / n_prunable,
        "adamw_bytes_per_weight": 8.0,  # exp_avg + exp_avg_sq, fp32: for scale
    }


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


def prune_worker(method: str, layers: int, sparsity: float, threads: int, mask_out: str | None) -> None:
    """Runs in a fresh interpreter: one timed pruning step, its peak RSS, and its mask."""
    torch.set_num_threads(threads)
    setup = prune_methods()[method]
    setup(bert_base_linears(1, seed=1))(sparsity)  # warm-up on a one-layer model (code paths, allocator)
    mods = bert_base_linears(layers)
    fn = setup(mods)
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
    if mask_out:
        flat = torch.cat([m.flatten() for m in masks]).numpy()
        np.save(mask_out, np.packbits(flat))
    print("RESULT " + json.dumps(result), flush=True)


def run_worker(method: str, args, mask_out: str | None) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--prune-worker", method,
           "--prune-layers", str(args.prune_layers), "--threads", str(torch.get_num_threads())]
    if mask_out:
        cmd += ["--mask-out", mask_out]
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
                print(f"  prune {m}: {res['seconds']:.3f} s, peak +{res['peak_extra_mib']:.0f} MiB", flush=True)
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
        "exact_count": all(x["pruned"] == x["expected_pruned"] for x in runs["sdp"]),
        "masks_vs_torch": identity,
        "runs": runs,
    }


# ------------------------------------------------------------------------------------------- report
def verdict(value: float | None, target: float, higher_is_better: bool = False) -> str:
    if value is None:
        return "not measured"
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "**missed**"


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# sdp benchmark",
        "",
        f"Command: `{result['command']}` ({result['wall_seconds']:.0f} s wall). "
        "Figures are medians over repeats after warm-up, with the interquartile range in brackets; "
        "ratios are per-repeat ratios of neighbouring measurements (same batch), then the median.",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu_model']}, {m['cpu_count']} logical cores ({m['cpu_affinity']} usable), "
        f"{m['memory_gib']} GiB; GPU: {m['cuda_device'] or 'none'}; native CPU bf16: {m['cpu_bf16_native']}",
        f"- torch {m['torch']} ({m['torch_threads']} intra-op threads), transformers {m['transformers']}, "
        f"accelerate {m['accelerate']}, datasets {m['datasets']}, Python {m['python']}",
        f"- {m['platform']}; sdp {m['sdp'][:12]}{' (dirty tree)' if m['sdp_dirty'] else ''}",
        f"- load average (1/5/15 min) at start {_load(m['loadavg_start'])}, at end {_load(m['loadavg_end'])}",
        "",
    ]
    steps, prune, mem, thr = (result.get(k) for k in ("steps", "prune", "memory", "throughput"))
    lines += ["## Targets", "", "| measure | measured | target | |", "|---|---|---|---|"]
    if steps:
        r = steps["ratios"]
        for key, label in [
            ("mp_over_finetune", "(1) magnitude pruning step / fine-tuning step"),
            ("sdp_cached_over_mp", "(2) SDP-CC step, teacher cache warm / MP step"),
            ("sdp_uncached_over_mp", "(2) SDP-CC step, teacher forward every step / MP step"),
        ]:
            lines.append(f"| {label} | {fmt(r[key])} | <= {TARGETS[key]} | "
                         f"{verdict(r[key]['median'], TARGETS[key])} |")
    if prune:
        sp, sec = prune["speedup_vs_torch"], prune["seconds"]["sdp"]
        lines.append(f"| (3) global pruning step, speed-up over torch global_unstructured | {fmt(sp, 1, 'x')} | "
                     f">= {TARGETS['prune_speedup_vs_torch']}x | "
                     f"{verdict(sp['median'], TARGETS['prune_speedup_vs_torch'], True)} |")
        lines.append(f"| (3) global pruning step, seconds ({prune['weights'] / 1e6:.1f}M weights) | {fmt(sec, 3, ' s')} | "
                     f"< {TARGETS['prune_seconds']} s | {verdict(sec['median'], TARGETS['prune_seconds'])} |")
        ident = prune["masks_vs_torch"]
        same = "identical" if ident["identical"] else (
            f"{ident['differing_entries']} entries differ"
            + (", all ties at the threshold" if ident.get("all_differences_are_ties") else ", NOT all ties"))
        ok = ident["identical"] or ident.get("all_differences_are_ties")
        lines.append(f"| (3) masks vs torch | {same} | identical (ties aside) | {'met' if ok else '**missed**'} |")
    if mem:
        lines.append(f"| (5) mask bytes per prunable weight | {mem['mask_bytes_per_weight']:.3f} | "
                     f"<= {TARGETS['mask_bytes_per_weight']} | "
                     f"{verdict(mem['mask_bytes_per_weight'], TARGETS['mask_bytes_per_weight'])} |")
    lines.append("")
    if steps:
        lines += _render_steps(steps)
    if thr:
        lines += _render_throughput(thr)
    if prune:
        lines += _render_prune(prune)
    if mem:
        lines += _render_memory(mem)
    notes = result.get("notes", [])
    if notes:
        lines += ["## What bounds the figures", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def _load(v: list[float] | None) -> str:
    return "n/a" if not v else "/".join(f"{x:.2f}" for x in v)


def _render_steps(s: dict[str, Any]) -> list[str]:
    lens = s["padded_lengths"]
    out = [
        "## (1, 2) Optimizer-update time",
        "",
        f"MiniLM on {TASK_NAMES.get(s['task'], s['task'])} (batch {s['batch_size']}, max_seq_length {s['max_seq_length']}, "
        f"dynamic padding: {len(lens)} fixed real batches, padded to {min(lens)}-{max(lens)} tokens), "
        f"fp32, AdamW, grad clipping. Each variant runs `recipe.train_step` for one update on the recipe's own "
        f"stages; the pruning variants are at {s['sparsity']:.0%} sparsity, between pruning events. "
        f"{s['warmup']} warm-up rounds, {s['repeats']} timed rounds, round-robin. "
        f"Teacher cache during the cached variant: {s['cache_hits']} hits, {s['cache_misses']} misses.",
        "",
        "| variant | seconds per update |",
        "|---|---|",
    ]
    labels = {
        "finetune": "plain fine-tuning (the dense stage)",
        "mp": "magnitude pruning: mask grads + re-apply masks",
        "sdp_cc_cached": "SDP-CC, frozen teacher, cache warm",
        "sdp_cc_uncached": "SDP-CC, frozen teacher, forward every update",
    }
    out += [f"| {labels[k]} | {fmt(v)} |" for k, v in s["seconds"].items()]
    out += ["", "| ratio (per repeat) | median [IQR] | min-max |", "|---|---|---|"]
    for k, v in s["ratios"].items():
        out.append(f"| {k} | {fmt(v)} | {v['min']:.3f}-{v['max']:.3f} |")
    if s.get("mask_ops"):
        out += ["", "What the masks cost per update (grads and weights of all prunable matrices, the same "
                "multiplies three ways), milliseconds:", "", "| implementation | ms per update |", "|---|---|"]
        out += [f"| {k} | {fmt(v, 1)} |" for k, v in s["mask_ops"].items()]
    return out + [""]


def _render_throughput(t: dict[str, Any]) -> list[str]:
    out = [
        "## (4) Fine-tuning throughput",
        "",
        f"MiniLM, batch 32, plain fine-tuning updates through `recipe.train_step` on real batches with dynamic "
        f"padding (collation excluded). bf16 = the forward under `torch.autocast(bfloat16)` with fp32 "
        f"weights, as accelerate's mixed_precision=bf16 does. {t['warmup']} warm-up rounds, "
        f"{t['repeats']} timed rounds (bf16: {t['bf16_warmup']} warm-up, {t['bf16_repeats']} timed, in the first "
        f"rounds), all "
        f"four variants round-robin. The bf16 speed-up pairs each bf16 update with the fp32 update of the "
        f"same round (same batch).",
        "",
        "| task | max_seq_length | padded length | fp32 examples/s | bf16 examples/s | bf16 speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for r in t["rows"]:
        out.append(f"| {TASK_NAMES.get(r['task'], r['task'])} | {r['max_seq_length']} | {fmt(r['padded_length'], 0)} | "
                   f"{fmt(r['fp32_examples_per_s'], 1)} | {fmt(r['bf16_examples_per_s'], 1)} | "
                   f"{fmt(r['bf16_speedup'], 2, 'x')} |")
    probe = t.get("matmul_probe")
    if probe:
        out += ["", f"One FFN matmul (2560x384 @ 384x1536): fp32 {fmt(probe['fp32'], 2, ' ms')}, bf16 autocast "
                f"{fmt(probe['bf16'], 2, ' ms')}."]
    return out + [""]


def _render_prune(p: dict[str, Any]) -> list[str]:
    names = {
        "sdp": "sdp `MaskState.update` (masks by streaming exact selection, then weights zeroed)",
        "sdp_masks_only": "sdp `magnitude_masks` alone (the selection)",
        "torch_global_unstructured": "`torch.nn.utils.prune.global_unstructured` (L1Unstructured)",
        "sdp_previous_kthvalue": "previous sdp code (fp32 concat + one kthvalue), for reference",
    }
    out = [
        "## (3) One global magnitude pruning step",
        "",
        f"{p['layers']} layers x (4 x 768x768 + 3072x768 + 768x3072) = {p['weights']:,} weights, N(0, 0.02), "
        f"sparsity {p['sparsity']}. Each measurement is a fresh subprocess (warm-up on a one-layer model "
        f"first); peak memory is VmHWM after the step minus VmRSS before it (HWM reset via clear_refs). "
        f"Both compute the masks and leave the weights pruned. {p['repeats']} interleaved repeats.",
        "",
        "| method | seconds | peak extra memory (MiB) | runs |",
        "|---|---|---|---|",
    ]
    for m, s in p["seconds"].items():
        out.append(f"| {names.get(m, m)} | {fmt(s)} | {fmt(p['peak_extra_mib'][m], 0)} | {s['n']} |")
    out += ["", f"Speed-up over torch (per repeat): {fmt(p['speedup_vs_torch'], 1, 'x')}. Exact count "
            f"round(s*n) pruned: {p['exact_count']}. Masks vs torch: {p['masks_vs_torch']}.", ""]
    return out


def _render_memory(mm: dict[str, Any]) -> list[str]:
    n = mm["prunable_weights"]
    return [
        "## (5) Memory that pruning and the teacher add",
        "",
        f"MiniLM: {n:,} prunable weights of {mm['model_params']:,} parameters. Exact tensor sizes.",
        "",
        "| what | bytes | per prunable weight |",
        "|---|---|---|",
        f"| masks (bool) | {mm['mask_bytes']:,} | {mm['mask_bytes_per_weight']:.3f} |",
        f"| teacher (full frozen model copy, fp32) | {mm['teacher_bytes']:,} | {mm['teacher_bytes_per_weight']:.3f} |",
        f"| teacher cache, {mm['cache_examples']:,} examples x {mm['cache_outputs']} fp32 + 1 flag byte "
        f"= {mm['cache_bytes_per_example']:.0f} bytes/example | {mm['cache_bytes']:,} | {mm['cache_bytes_per_weight']:.3f} |",
        f"| for scale: AdamW moments | {int(8 * mm['model_params']):,} | {8 * mm['model_params'] / n:.3f} |",
        "",
    ]


def notes_for(result: dict[str, Any]) -> list[str]:
    """What bounds each figure; written for every target, louder where one is missed."""
    notes = []
    steps, prune, thr = result.get("steps"), result.get("prune"), result.get("throughput")
    if steps:
        r, sec = steps["ratios"], steps["seconds"]
        mp = r["mp_over_finetune"]["median"]
        ft_ms = 1000 * sec["finetune"]["median"]
        ops = steps.get("mask_ops") or {}
        cur = ops.get("torch_mul_bool_current", {}).get("median")
        text = (f"(1) MP/fine-tune = {mp:.3f} [IQR {r['mp_over_finetune']['q1']:.3f}-{r['mp_over_finetune']['q3']:.3f}] "
                f"(target <= 1.03, {verdict(mp, 1.03)}). What MP adds is two elementwise multiplies per prunable "
                "weight per update (MaskState.mask_grads, MaskState.apply), memory-bound and independent of "
                "batch size and sequence length")
        if cur is not None:
            best = min(ops.items(), key=lambda kv: kv[1]["median"])
            text += (f": measured alone they take {cur:.1f} ms, {100 * cur / ft_ms:.1f}% of a {ft_ms:.0f} ms "
                     f"fine-tuning update, so the expected ratio is {1 + cur / ft_ms:.3f}; the spread of the "
                     "per-repeat ratio (one update each, on a shared machine) is noise around that, wider "
                     "than the target's 3% margin, so this mechanistic figure is the tighter bound. ")
            if best[0] != "torch_mul_bool_current":
                text += (f"`p.mul_(bool_mask)` is torch's slow mixed-dtype path; {best[0]} does the same in "
                         f"{best[1]['median']:.1f} ms (a float mask would cost 4 bytes/weight, against target "
                         "(5); numpy on the bool mask keeps 1 byte) - a change to MaskState.apply/mask_grads.")
        notes.append(text)
        c = r["sdp_cached_over_mp"]["median"]
        notes.append(
            f"(2) SDP-CC cached/MP = {c:.3f} (target <= 1.05, {verdict(c, 1.05)}): the student forward returns "
            "hidden states and the cross-correlation loss is one d x d matmul; the teacher is a cache lookup.")
        u = r["sdp_uncached_over_mp"]["median"]
        notes.append(
            f"(2) SDP-CC uncached/MP = {u:.3f} (target <= 1.35, {verdict(u, 1.35)}): bounded below by one "
            "extra no-grad teacher forward per update (about a third of a forward+backward); it applies "
            "only to the first epoch with teacher_cache on (every example is then cached), and to every "
            "update with teacher=refresh or teacher_cache=off.")
    if prune:
        sp = prune["speedup_vs_torch"]["median"]
        s = prune["seconds"]["sdp"]["median"]
        sel = prune["seconds"].get("sdp_masks_only", {}).get("median")
        if sel is not None:
            notes.append(
                f"(3) of the {s:.3f} s, the selection (magnitude_masks) takes {sel:.3f} s; the rest is "
                "MaskState.apply zeroing the weights with `p.mul_(bool_mask)` (see (1): torch's mixed-dtype "
                "multiply), which is what a faster apply would shave.")
        notes.append(
            f"(3) pruning step {s:.3f} s, {sp:.1f}x faster than torch (targets < 1 s and >= 5x: "
            f"{verdict(s, 1.0)}, {verdict(sp, 5.0, True)}). sdp samples a bracket around the k-th "
            "smallest |w|, streams the weights in cache-sized blocks once to count and collect the "
            "candidates inside it, selects the exact threshold among those (~1% of n) and streams once "
            "more to write the bool masks: two passes over the weights, no fp32 copy of all |w|, no sort. "
            f"It is bound by memory bandwidth: reading {4 * prune['weights'] / 1e6:.0f} MB of weights twice, "
            f"writing {prune['weights'] / 1e6:.0f} MB of masks. "
            "torch's utility runs a top-k over all n and keeps float masks and weight_orig copies.")
    if thr:
        probe = thr.get("matmul_probe") or {}
        probe_text = ""
        if probe.get("fp32", {}).get("n") and probe.get("bf16", {}).get("n"):
            probe_text = (f" A lone FFN matmul takes {probe['fp32']['median']:.2f} ms in fp32 and "
                          f"{probe['bf16']['median']:.2f} ms under bf16 autocast.")
        for row in thr["rows"]:
            su = row["bf16_speedup"]["median"]
            if su < 1.0:
                notes.append(
                    f"(4) {TASK_NAMES.get(row['task'], row['task'])}: bf16 autocast is {su:.2f}x fp32 here: "
                    + ("this CPU has no native bf16 (no AVX512-BF16/AMX), so autocast adds casts without "
                       "faster matmuls; on a GPU or AMX CPU bf16 is expected to win."
                       if not result["machine"]["cpu_bf16_native"] else
                       "casts outweigh the matmul gain at this size.") + probe_text)
    return notes


# --------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few repeats and a 2-layer pruning model (development)")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds for steps/throughput (default 20; 3 quick)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up rounds (default 2; 1 quick)")
    p.add_argument("--bf16-repeats", type=int, default=None,
                   help="timed rounds for the bf16 throughput variants (default 2; 1 quick)")
    p.add_argument("--bf16-warmup", type=int, default=None, help="bf16 warm-up rounds (default 1; 0 quick)")
    p.add_argument("--batches", type=int, default=8, help="fixed real batches cycled through the rounds")
    p.add_argument("--prune-repeats", type=int, default=None, help="subprocess rounds for (3) (default 3; 2 quick)")
    p.add_argument("--prune-previous", type=int, default=None,
                   help="how many repeats also time the previous kthvalue code (default 2; 0 quick)")
    p.add_argument("--prune-layers", type=int, default=None, help="BERT-base layers for (3) (default 12; 2 quick)")
    p.add_argument("--sparsity", type=float, default=0.9)
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--out", default=str(REPO_ROOT / "results" / "bench"))
    p.add_argument("--prune-worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--mask-out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    quick = args.quick
    defaults = {"repeats": (20, 3), "warmup": (2, 1), "bf16_repeats": (2, 1), "bf16_warmup": (1, 0), "prune_repeats": (3, 2), "prune_previous": (2, 0),
                "prune_layers": (12, 2)}
    for key, (full, fast) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, fast if quick else full)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}; allowed: {SECTIONS}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.prune_worker:
        prune_worker(args.prune_worker, args.prune_layers, args.sparsity, args.threads or torch.get_num_threads(),
                     args.mask_out)
        return 0
    started = time.time()
    command = "python scripts/bench.py" + ("" if argv is None and len(sys.argv) == 1 else " " + " ".join(
        sys.argv[1:] if argv is None else argv))
    result: dict[str, Any] = {"command": command, "args": {k: v for k, v in vars(args).items()
                                                            if k not in ("prune_worker", "mask_out")}}
    result["machine"] = machine_info()
    print(f"machine: {result['machine']['cpu_model']}, {result['machine']['torch_threads']} threads, "
          f"load {result['machine']['loadavg_start']}", flush=True)
    import logging

    logging.getLogger("sdp").setLevel(logging.WARNING)
    need_recipe = {"steps", "throughput", "memory"} & set(args.sections)
    with tempfile.TemporaryDirectory(prefix="sdp-bench-") as tmp:
        work = Path(tmp)
        recipes: dict[str, Any] = {}
        if need_recipe:
            recipes["mrpc"] = build_recipe("mrpc", work)
        if "steps" in args.sections or "memory" in args.sections:
            t0 = time.time()
            reps = args.repeats if "steps" in args.sections else 0
            result["steps"] = section_steps(recipes["mrpc"], argparse.Namespace(**{**vars(args), "repeats": reps}))
            if "steps" not in args.sections:
                result.pop("steps")
            print(f"steps: {time.time() - t0:.0f} s", flush=True)
        if "memory" in args.sections:
            result["memory"] = section_memory(recipes["mrpc"])
        if "throughput" in args.sections:
            t0 = time.time()
            recipes["sst2"] = build_recipe("sst2", work, ["max_train_samples=4096"])
            result["throughput"] = section_throughput({"sst2": recipes["sst2"], "mrpc": recipes["mrpc"]}, args)
            print(f"throughput: {time.time() - t0:.0f} s", flush=True)
        # The recipes hold models, teachers and caches: free them before the pruning subprocesses.
        recipes.clear()
        gc.collect()
    if "prune" in args.sections:
        t0 = time.time()
        result["prune"] = section_prune(args)
        print(f"prune: {time.time() - t0:.0f} s", flush=True)
    result["machine"]["loadavg_end"] = list(os.getloadavg())
    result["wall_seconds"] = time.time() - started
    result["notes"] = notes_for(result)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    (out / "bench.md").write_text(render(result) + "\n")
    print(render(result))
    print(f"wrote {out / 'bench.md'} and {out / 'bench.json'} in {result['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
