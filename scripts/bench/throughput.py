"""Section `throughput`: fine-tuning examples/s, fp32 against bf16 autocast."""

from __future__ import annotations

import gc
import time
from typing import Any

import torch

from scripts.bench.common import Variant, fixed_batches, rotated, summary, sync


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
