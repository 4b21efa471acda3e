"""Multi-process runs through ``accelerate launch`` (DDP): the accelerator, and the cross-rank checks.

What makes a DDP run prune exactly like a one-process run:

* every rank holds the full weights (DDP replicates them and all-reduces gradients), so every rank
  computes the same global magnitude threshold; :func:`check_masks_agree` proves it at every
  pruning step by gathering :meth:`MaskState.digest` from all ranks and raising if any differs;
* schedules count optimizer updates (``accelerator.sync_gradients``), never micro-batches, so
  gradient accumulation and the number of processes do not move a pruning step;
* evaluation is sharded and gathered with ``gather_for_metrics``, which drops the samples the last
  uneven batch duplicates; :func:`count_eval_examples` checks the gathered count equals the split size;
* the teacher is a per-rank copy and its cache is per rank: each rank computes (and caches) teacher
  outputs for the examples of ITS OWN batches only, keyed by the example ``idx``. Which examples a
  rank sees changes every epoch (the sampler is reseeded per epoch, then sharded), so a rank's cache
  simply misses more often; it is never wrong, because a lookup only hits when every example of the
  batch was filled by this rank's own teacher. ``teacher_cache=disk`` memory-maps one scratch file
  per rank (``teacher_cache/teacher_<name>.rank<i>.npy``) so ranks never share (and truncate) each other's files;
* result files (checkpoints, model, metrics, trace) are written by the main process only.

FSDP and DeepSpeed (ZeRO) shard the weights across ranks: a rank then sees only its slice, and a
"global" magnitude threshold computed per rank would prune each slice to its own threshold, i.e.
wrongly and silently. They are refused at setup (:func:`refuse_sharded`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, DistributedType

from sdp.errors import ConfigError
from sdp.run.launch import check_accumulation, check_world_size, port_in_use_said, resolve_precision, use_cpu
from sdp.run.tracking import accelerator_kwargs

log = logging.getLogger("sdp")

SHARDED = {
    DistributedType.FSDP: "FSDP",
    DistributedType.DEEPSPEED: "DeepSpeed",
}
# accelerate launch sets these before the Accelerator exists: refuse before any process group starts.
SHARDED_ENV = {"ACCELERATE_USE_FSDP": "FSDP", "ACCELERATE_USE_DEEPSPEED": "DeepSpeed"}


class ShardedWeightsError(RuntimeError):
    """A distributed mode that shards the weights, which magnitude pruning cannot use."""


class MaskMismatchError(RuntimeError):
    """Ranks computed different masks: the run would silently train different sparse networks."""


def _sharded_message(name: str) -> str:
    return (
        f"{name} is not supported: it shards the weights across processes, but global magnitude pruning "
        "needs the full weights on every process to compute one threshold over all prunable matrices "
        "(with shards each rank would prune its own slice to its own threshold, silently wrong). "
        "Use plain data parallel instead: accelerate launch --multi_gpu --num_processes N -m sdp.cli.run ..."
    )


def refuse_sharded(distributed_type: Any = None, env: dict[str, str] | None = None) -> None:
    """Raise :class:`ShardedWeightsError` for FSDP/DeepSpeed, named by the launcher env or the accelerator."""
    env = os.environ if env is None else env
    for var, name in SHARDED_ENV.items():
        if str(env.get(var, "")).lower() in ("1", "true", "yes"):
            raise ShardedWeightsError(_sharded_message(name) + f" (set by {var})")
    if distributed_type in SHARDED:
        raise ShardedWeightsError(_sharded_message(SHARDED[distributed_type]))


def make_accelerator(cfg: Any, run_dir: str | Path | None = None) -> Accelerator:
    """The run's Accelerator: mixed precision and accumulation from ``cfg.train`` (``inherit``: the
    launcher's), CPU if ``cfg.cpu`` or if several processes were launched without a visible GPU, and a
    :class:`~sdp.run.launch.LauncherError` if fewer processes joined than were launched.

    The train sampler is made seedable: each epoch's order is a function of (seed, epoch) only, the
    same on every rank and on a resumed run, which is what lets a resume skip the batches already
    consumed in an epoch and see exactly the rest.
    """
    refuse_sharded()
    check_accumulation(cfg.train.gradient_accumulation_steps)
    with port_in_use_said():  # a LOCAL_RANK starts a process group: its port taken (probe round 50, rk_portbusy)
        accelerator = Accelerator(
            mixed_precision=resolve_precision(cfg.train.mixed_precision),
            gradient_accumulation_steps=cfg.train.gradient_accumulation_steps,
            cpu=use_cpu(cfg),
            dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
            **accelerator_kwargs(cfg, run_dir),  # tracker=...: log_with, project_dir (sdp/run/tracking.py)
        )
    refuse_sharded(accelerator.distributed_type)
    check_world_size(accelerator.num_processes)
    if accelerator.mixed_precision != effective_precision(accelerator):
        log.warning("train.mixed_precision=%s has no effect on %s: accelerate runs full precision there (recorded "
                    "as mixed_precision: no)", accelerator.mixed_precision, accelerator.device.type)
    if cfg.prune.dropout == "distill_off" and accelerator.num_processes > 1:
        raise ConfigError("prune.dropout=distill_off runs two forward passes per batch, which DDP does not "
                          "allow; use prune.dropout=off or on with several processes")
    return accelerator


def effective_precision(accelerator: Accelerator) -> str:
    """The precision the run computes in: accelerate turns fp16 off on a CPU (no grad scaler, no autocast)."""
    if accelerator.mixed_precision == "fp16" and not accelerator.native_amp:
        return "no"
    return accelerator.mixed_precision


def gather_strings(accelerator: Accelerator, value: str) -> list[str]:
    """``value`` from every rank, in rank order (a list of one outside distributed runs)."""
    if accelerator.num_processes == 1:
        return [value]
    from accelerate.utils import gather_object

    return list(gather_object([value]))


def check_masks_agree(accelerator: Accelerator, masks, step: int | None = None) -> list[str]:
    """Gather every rank's mask digest; raise :class:`MaskMismatchError` unless all are equal."""
    digests = gather_strings(accelerator, masks.digest())
    if len(set(digests)) != 1:
        where = f" at optimizer step {step}" if step is not None else ""
        raise MaskMismatchError(
            f"pruning masks differ across ranks{where}: digests {[d[:12] for d in digests]}; "
            "the ranks' weights have diverged (non-deterministic kernels or a rank-specific code path)"
        )
    return digests


def count_eval_examples(outputs: dict[str, tuple[np.ndarray, np.ndarray]], datasets: Any) -> dict[str, int]:
    """Examples each split's gathered predictions cover; raises if it differs from the split size
    (duplicated or lost samples in the cross-process gather)."""
    counts = {}
    for split, (_, labels) in outputs.items():
        counts[split] = int(len(labels))
        if datasets is not None and split in datasets and len(datasets[split]) != counts[split]:
            raise RuntimeError(
                f"evaluation of {split!r} gathered {counts[split]} predictions for {len(datasets[split])} "
                "examples: samples were duplicated or lost across processes"
            )
    return counts


def distributed_summary(accelerator: Accelerator, masks) -> dict[str, Any]:
    """``{world_size, ranks, mask_digests, distributed_type, mixed_precision}`` for metrics.json.

    Collective: every rank must call it (each contributes its own rank and final mask digest)."""
    ranks = gather_strings(accelerator, str(accelerator.process_index))
    digests = check_masks_agree(accelerator, masks) if masks is not None else []
    return {
        "world_size": accelerator.num_processes,
        "ranks": [int(r) for r in ranks],
        "mask_digests": digests,
        "distributed_type": str(accelerator.distributed_type).split(".")[-1],
        "mixed_precision": effective_precision(accelerator),
    }
