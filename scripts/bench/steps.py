"""Section `steps`: optimizer-update time through the recipe's own `update`, and the mask operations."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from scripts.bench.common import Variant, fixed_batches, interleave, per_repeat_ratio, rotated, summary


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
