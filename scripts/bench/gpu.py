"""Section `gpu`: where a GPU's time goes in a MiniLM run, and how to keep it busy (issue 23).

Measured on one CUDA device, MiniLM on SST-2 at max_seq_length 64, batch 32, in this order (cheapest first):
  1. runner    the recipe's own update (``update``, its logging included, dense stage and SDP-CC with a warm
               teacher cache) against a plain transformers loop (forward, loss, backward, clip, AdamW, LR
               step) on the same GPU and batches; blocks of updates timed between two synchronisations,
               round-robin, ratios per round.
  2. precision the plain loop at fixed length 64: eager fp32, eager bf16 autocast, torch.compile fp32 and bf16
               (compile time reported apart).
  3. parallel  aggregate examples/s of N runner processes side by side on the one GPU (N = 1, 2, 4, 8, 12), each
               updating through the recipe for the same wall-clock window, one CPU thread each (as grids run).
Without a CUDA device the section says so and measures nothing. Results: ``results/bench/gpu.json`` (and
gpu.md), with the machine named: an absolute time counts only on a GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from scripts.bench.common import REPO_ROOT, build_recipe, fixed_batches, rotated, summary

SEQ = 64
BATCH = 32
TRAIN_ROWS = 4096  # enough distinct batches; the timing does not depend on the rows
PARALLEL = (1, 2, 4, 8, 12)


DRY_RUN = os.environ.get("SDP_BENCH_GPU_DRY_RUN") == "1"  # the same code on CPU, tiny, to check it before a GPU call


def no_cuda_reason() -> str | None:
    if not torch.cuda.is_available() and not DRY_RUN:
        return "no CUDA device visible (torch.cuda.is_available() is False): the gpu section measured nothing"
    return None


def gpu_recipe(work: Path, threads: int | None = None):
    extra = [f"max_train_samples={64 if DRY_RUN else TRAIN_ROWS}", f"task.max_seq_length={SEQ}", f"train.batch_size={BATCH}",
             "prune.monitor_representation=mean", "regularizer.representation=mean"]
    if threads:
        extra.append(f"train.num_threads={threads}")
    return build_recipe("sst2", work, extra)


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


# ------------------------------------------------------------------------------------- 1. the runner
class RunnerLoop:
    """The recipe's update as its loop runs it: ``update`` (the step count, the deferred parts log), the flushes."""

    def __init__(self, name: str, recipe, stage) -> None:
        from sdp.training.loop import UpdateLog

        self.name, self.recipe, self.stage = name, recipe, stage
        self.log = UpdateLog(stage, lambda parts: None, lambda *a: None, lambda record: None,
                             recipe.cfg.train.log_every)

    def run(self, batches: list, n: int) -> None:
        stage = self.stage
        for i in range(n):
            self.recipe.update(stage, batches[i % len(batches)], iter(()), self.log)  # one micro-batch per update
            if self.log.due(stage.step) or i == n - 1:
                self.log.flush(stage.name)
        stage.step = min(stage.step, stage.updates - 1)  # never past the stage's schedule


class PlainLoop:
    """What a user would write with transformers alone: the same model weights, AdamW, clip, linear LR."""

    def __init__(self, name: str, model, lr: float = 2e-5, autocast: torch.dtype | None = None) -> None:
        from transformers import get_linear_schedule_with_warmup

        self.name, self.model, self.autocast = name, model, autocast
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, 0, 10**6)

    def run(self, batches: list, n: int) -> None:
        model = self.model
        model.train()
        for i in range(n):
            batch = batches[i % len(batches)]
            device = "cuda" if torch.cuda.is_available() else "cpu"
            with torch.autocast(device, dtype=self.autocast or torch.float32, enabled=self.autocast is not None):
                out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                            token_type_ids=batch.get("token_type_ids"), labels=batch["labels"])
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)


def timed_blocks(loops: list, batches: list, block: int, rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per update of each loop: ``rounds`` blocks of ``block`` updates, round-robin, rotated start."""
    for loop in loops:
        for _ in range(warmup):
            loop.run(batches, block)
    sync()
    times: dict[str, list[float]] = {loop.name: [] for loop in loops}
    for r in range(rounds):
        for loop in rotated(loops, r):
            sync()
            start = time.perf_counter()
            loop.run(batches, block)
            sync()
            times[loop.name].append((time.perf_counter() - start) / block)
    return times


def ratio(times: dict[str, list[float]], num: str, den: str) -> dict[str, Any]:
    return summary([a / b for a, b in zip(times[num], times[den])])


def plain_model(recipe):
    """A copy of the recipe's (dense, fine-tuning) model: the same weights and shapes, its own optimizer."""
    import copy

    return copy.deepcopy(recipe.accelerator.unwrap_model(recipe.model)).to(recipe.accelerator.device)


def section_runner(recipe, batches: list, block: int, rounds: int) -> dict[str, Any]:
    from dataclasses import replace

    dense, prune = recipe.stages["dense"], recipe.stages["prune"]
    recipe.prune_event(prune)  # one-shot 90% at update 0 (build_recipe's schedule)
    for batch in batches:  # the cache warm: every timed example's teacher outputs stored
        prune.teacher.outputs(batch)
    loops = [RunnerLoop("runner_finetune", recipe, dense), PlainLoop("plain_loop", plain_model(recipe)),
             RunnerLoop("runner_sdp_cc_cached", recipe, replace(prune, schedule=None))]
    times = timed_blocks(loops, batches, block, rounds)
    return {
        "ms_per_update": {k: summary([1000 * t for t in v]) for k, v in times.items()},
        "examples_per_s": {k: BATCH / summary(v)["median"] for k, v in times.items()},
        "ratios": {"runner_over_plain": ratio(times, "runner_finetune", "plain_loop"),
                   "sdp_cc_cached_over_runner": ratio(times, "runner_sdp_cc_cached", "runner_finetune")},
        "block_updates": block, "rounds": rounds,
    }


# ---------------------------------------------------------------------------------- 2. precision, compile
def fixed_length(batches: list, length: int = SEQ) -> list:
    """The batches padded to ``length`` (static shapes: compile does not recompile per padded length)."""
    out = []
    for b in batches:
        pad = length - b["input_ids"].shape[1]
        fixed = {k: torch.nn.functional.pad(v, (0, pad)) if v.dim() == 2 else v for k, v in b.items()
                 if k in ("input_ids", "attention_mask", "token_type_ids", "labels")}
        out.append(fixed)
    return out


def section_precision(recipe, batches: list, block: int, rounds: int) -> dict[str, Any]:
    static = fixed_length(batches)
    loops = [PlainLoop("eager_fp32", plain_model(recipe)), PlainLoop("eager_bf16", plain_model(recipe),
                                                                     autocast=torch.bfloat16)]
    compile_seconds = {}
    for name, dtype in (("compiled_fp32", None), ("compiled_bf16", torch.bfloat16)):
        model = plain_model(recipe)
        loop = PlainLoop(name, torch.compile(model), autocast=dtype)
        sync()
        start = time.perf_counter()
        loop.run(static, 2)  # compiles forward and backward
        sync()
        compile_seconds[name] = time.perf_counter() - start
        loops.append(loop)
    times = timed_blocks(loops, static, block, rounds)
    return {
        "ms_per_update": {k: summary([1000 * t for t in v]) for k, v in times.items()},
        "examples_per_s": {k: BATCH / summary(v)["median"] for k, v in times.items()},
        "ratios": {f"{k}_over_eager_fp32": ratio(times, k, "eager_fp32") for k in times if k != "eager_fp32"},
        "compile_seconds": compile_seconds, "sequence_length": SEQ,
    }


# ---------------------------------------------------------------------------------------- 3. side by side
def parallel_worker(spec_path: str) -> None:
    """One process of section 3: build the recipe, say ready, then update in each phase it belongs to."""
    spec = json.loads(Path(spec_path).read_text())
    index, work = spec["index"], Path(spec["work"])
    torch.set_num_threads(1)
    recipe = gpu_recipe(work / f"w{index}", threads=1)
    loop = RunnerLoop("runner", recipe, recipe.stages["dense"])
    batches = fixed_batches(recipe, 8)
    loop.run(batches, 5)
    sync()
    (work / f"ready{index}").write_text("1")
    while not (work / "phases.json").exists():
        time.sleep(0.05)
    phases = json.loads((work / "phases.json").read_text())
    results = []
    for phase in phases:
        if index >= phase["n"]:
            continue
        end_wall = phase["start"] + phase["seconds"]
        if time.time() >= end_wall:  # the previous phase overran this one (a slow machine): not measured
            results.append({"n": phase["n"], "updates": 0, "seconds": 0.0, "late": True})
            continue
        while time.time() < phase["start"]:
            time.sleep(0.002)
        start, updates = time.perf_counter(), 0
        while time.time() < end_wall:
            loop.run(batches, 10)
            updates += 10
        sync()
        results.append({"n": phase["n"], "updates": updates, "seconds": time.perf_counter() - start})
    (work / f"result{index}.tmp").write_text(json.dumps(results))
    (work / f"result{index}.tmp").replace(work / f"result{index}.json")


def section_parallel(window: float, counts: tuple[int, ...] = PARALLEL) -> dict[str, Any]:
    most = max(counts)
    with tempfile.TemporaryDirectory(prefix="sdp-gpu-par-") as tmp:
        work = Path(tmp)
        procs = []
        for i in range(most):
            spec = work / f"spec{i}.json"
            spec.write_text(json.dumps({"index": i, "work": str(work)}))
            env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
            procs.append(subprocess.Popen([sys.executable, str(REPO_ROOT / "scripts" / "bench"), "--gpu-worker",
                                           str(spec)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        deadline = time.time() + 300
        while sum((work / f"ready{i}").exists() for i in range(most)) < most:
            if time.time() > deadline or any(p.poll() not in (None, 0) for p in procs):
                errors = [p.stderr.read().decode()[-600:] for p in procs if p.poll() not in (None, 0)]
                for p in procs:
                    p.kill()
                return {"error": "workers did not start", "stderr": errors}
            time.sleep(0.2)
        t0 = time.time() + 1.0
        phases = [{"n": n, "start": t0 + k * (window + 2.0), "seconds": window} for k, n in enumerate(counts)]
        (work / "phases.tmp").write_text(json.dumps(phases))
        (work / "phases.tmp").replace(work / "phases.json")  # whole, or not there: workers poll for it
        for p in procs:
            p.wait(timeout=len(counts) * (window + 2.0) + 120)
        per = [json.loads((work / f"result{i}.json").read_text()) for i in range(most)
               if (work / f"result{i}.json").exists()]
    out = {}
    for n in counts:
        rows = [r for worker in per for r in worker if r["n"] == n]
        measured = [r for r in rows if r["updates"] > 0 and r["seconds"] > 0]
        per_run = [r["updates"] / r["seconds"] for r in measured]
        out[str(n)] = {"processes": len(rows), "measured": len(measured), "examples_per_s": BATCH * sum(per_run),
                       "ms_per_update_each": summary([1000 / u for u in per_run])}
    if not out:
        return {"error": "no worker reported", "window_seconds": window}
    base = out[str(counts[0])]["examples_per_s"]
    for n in counts:
        out[str(n)]["over_one"] = out[str(n)]["examples_per_s"] / base if base else None
    return {"window_seconds": window, "threads_per_process": 1, "by_processes": out}


# ---------------------------------------------------------------------------------------------- section
def guarded(part, *args) -> dict[str, Any]:
    """A part's result, or its error: one failing part (torch.compile without a compiler, say) keeps the others'."""
    try:
        return part(*args)
    except Exception as err:
        import traceback

        traceback.print_exc()
        return {"error": f"{type(err).__name__}: {str(err)[:400]}"}


def section_gpu(args) -> dict[str, Any]:
    reason = no_cuda_reason()
    if reason:
        print(f"gpu: {reason}", flush=True)
        return {"skipped": reason}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        device = {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
                  "multiprocessors": props.multi_processor_count, "capability": f"{props.major}.{props.minor}"}
    else:
        device = {"name": "cpu (SDP_BENCH_GPU_DRY_RUN: a check of the code, not a measurement)", "memory_gib": 0,
                  "multiprocessors": 0, "capability": "-"}
    result: dict[str, Any] = {"device": {**device, "cuda": torch.version.cuda, "torch": torch.__version__}}
    block, rounds = (2, 1) if DRY_RUN else (10, 2) if args.quick else (40, 4)
    parts = args.gpu_parts
    with tempfile.TemporaryDirectory(prefix="sdp-gpu-") as tmp:
        recipe = gpu_recipe(Path(tmp))
        batches = fixed_batches(recipe, 8)
        if "runner" in parts:
            t0 = time.time()
            result["runner"] = guarded(section_runner, recipe, batches, block, rounds)
            print(f"gpu runner: {time.time() - t0:.0f} s {json.dumps(result['runner'].get('ratios'))}", flush=True)
        if "precision" in parts:
            t0 = time.time()
            if DRY_RUN and not torch.cuda.is_available():
                torch.compile = lambda model: model  # noqa: E731  (a CPU check of the code: inductor's C++ build takes minutes)
            result["precision"] = guarded(section_precision, recipe, batches, block, rounds)
            print(f"gpu precision: {time.time() - t0:.0f} s", flush=True)
        del recipe
        torch.cuda.empty_cache()
    if "parallel" in parts:
        t0 = time.time()
        result["parallel"] = guarded(section_parallel, 3.0 if args.quick else args.gpu_window,
                                     (1, 2) if args.quick else PARALLEL)
        print(f"gpu parallel: {time.time() - t0:.0f} s", flush=True)
    return result


def render_gpu(result: dict[str, Any]) -> str:
    """gpu.md: the machine, then each part's table."""
    if "skipped" in result.get("gpu", {}):  # never written: a skip leaves the committed result alone
        return f"# GPU bench\n\n{result['gpu']['skipped']}\n"
    gpu = result["gpu"]
    dev = gpu["device"]
    lines = [f"# GPU bench: {dev['name']} ({dev['memory_gib']} GiB, {dev['multiprocessors']} SMs, CUDA {dev['cuda']}, "
             f"torch {dev['torch']})", "", f"Command: `{result['command']}`; commit {result['machine'].get('sdp')}"
             f"{' (dirty tree)' if result['machine'].get('sdp_dirty') else ''}. MiniLM, SST-2, batch {BATCH}, "
             f"max_seq_length {SEQ}. Times are wall-clock between synchronisations over blocks of updates.", ""]
    for part in ("runner", "precision"):
        if part not in gpu:
            continue
        if "error" in gpu[part]:
            lines += [f"## {part}", "", f"error: {gpu[part]['error']}", ""]
            continue
        lines += [f"## {part}", "", "| variant | ms per update (median [q1, q3]) | examples/s |", "|---|---|---|"]
        for k, s in gpu[part]["ms_per_update"].items():
            lines.append(f"| {k} | {s['median']:.2f} [{s['q1']:.2f}, {s['q3']:.2f}] | {gpu[part]['examples_per_s'][k]:.0f} |")
        lines += ["", "| ratio | median [q1, q3] |", "|---|---|"]
        for k, s in gpu[part]["ratios"].items():
            lines.append(f"| {k} | {s['median']:.3f} [{s['q1']:.3f}, {s['q3']:.3f}] |")
        if gpu[part].get("compile_seconds"):
            lines += ["", "Compile time (first two updates): " + ", ".join(
                f"{k} {v:.1f} s" for k, v in gpu[part]["compile_seconds"].items())]
        lines.append("")
    par = gpu.get("parallel")
    if par and "by_processes" in par:
        lines += ["## parallel (runner processes side by side on the one GPU)", "",
                  f"Each process updates for {par['window_seconds']} s, one CPU thread each.", "",
                  "| processes | aggregate examples/s | x one process | ms per update, each (median) |", "|---|---|---|---|"]
        for n, row in par["by_processes"].items():
            lines.append(f"| {n} | {row['examples_per_s']:.0f} | {row['over_one']:.2f} | "
                         f"{row['ms_per_update_each'].get('median', float('nan')):.1f} |")
    elif par:
        lines += ["## parallel", "", f"error: {par.get('error')}"]
    return "\n".join(lines) + "\n"
