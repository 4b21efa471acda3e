"""Shared by every section: targets, statistics, the machine record, recipe building and interleaved timing."""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]

SECTIONS = ("steps", "throughput", "prune", "memory", "latency")
# The goals of issue 27 ("the performance ledger"), one per measured ratio or figure.
TARGETS = {
    "mp_over_finetune": 1.03,  # MP update / plain fine-tuning update
    "sdp_cached_over_mp": 1.05,  # SDP-CC update with a warm teacher cache / MP update
    "sdp_uncached_over_mp": 1.35,  # SDP-CC update with a teacher forward / MP update
    "prune_seconds": 0.15,  # one pruning event at BERT-base size (85M weights, 90%), median ...
    "prune_over_bandwidth_bound": 2.0,  # ... or within this factor of its memory-bandwidth bound
    "prune_speedup_vs_torch": 100.0,  # the event against torch.nn.utils.prune.global_unstructured
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
    from sdp.run.env import versions

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
    """A set-up PruneRecipe (MiniLM, real data) whose stages and update the timings drive.

    The schedule prunes once, at update 0 (one_shot); every timed update comes after it, so the
    timings are those of the updates between pruning events, where a run spends nearly all its time.
    """
    from sdp.recipe import PruneRecipe
    from sdp.run.rundir import prepare_run_dir
    from sdp.validate import validate_config

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
    cfg = compose_cfg(overrides)
    validate_config(cfg)  # as sdp.recipe.run does: the caller's overrides are checked too
    recipe = PruneRecipe(cfg, prepare_run_dir(work / task))  # setup expects the folder made, as run() makes it
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
    recipe's own public ``update``, the update the training loop runs."""

    def __init__(self, name: str, recipe, stage, autocast: torch.dtype | None = None) -> None:
        from sdp.training.loop import UpdateLog

        self.name, self.recipe, self.stage, self.autocast = name, recipe, stage, autocast
        # The update's parts go nowhere; flushed after each timed update (outside the timing), so none pile up.
        self.log = UpdateLog(stage, lambda parts: None, lambda *a: None, lambda record: None, 10**9)

    def update(self, batch) -> float:
        """One optimizer update (one micro-batch: no accumulation), timed wall-clock."""
        device = self.recipe.accelerator.device.type
        sync()
        start = time.perf_counter()
        # What accelerate's mixed_precision does: autocast, fp32 master weights.
        with torch.autocast(device_type=device, dtype=self.autocast or torch.float32, enabled=self.autocast is not None):
            self.recipe.update(self.stage, batch, iter(()), self.log)  # the window's only micro-batch; counts the step
        sync()
        elapsed = time.perf_counter() - start
        self.log.flush(self.stage.name)
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
