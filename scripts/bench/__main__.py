"""`make bench`: what pruning and self-distillation cost over plain fine-tuning, measured side by side.

    python scripts/bench                  # the full run (10-22 minutes on 2 CPU cores, by load: README.md)
    python scripts/bench --quick          # a smoke run of every section (about 4 minutes)
    python scripts/bench --sections steps,memory --repeats 10
    python scripts/bench --check          # a fresh run against results/bench/bench.json: exit 1 and one
                                          # line per ratio that regressed beyond its noise band
    python scripts/bench --check --fresh /tmp/bench.json   # the same, against an earlier fresh run

Every comparison runs its variants in one process (the pruning step: in fresh subprocesses, one per
measurement, for a clean peak-memory reading), round-robin across repeats with the starting variant
rotated, after warm-up. Ratios are taken per repeat between neighbouring measurements on the same
batch and summarised by their median and spread, so a noisy machine slows numerator and denominator
alike. Writes ``bench.md`` and ``bench.json`` to ``--out`` (default ``results/bench``).

Sections:
  steps       the MP update and the SDP-CC update against a plain fine-tuning update, through the recipe's
              own ``update`` (the update its loop runs): magnitude pruning (masks kept, between pruning
              events), SDP-CC with a warm teacher cache and with a teacher forward every update (MiniLM,
              MRPC, real batches).
  throughput  fine-tuning examples/s, MiniLM at max_seq_length 64 (SST-2) and 128 (MRPC), fp32
              against bf16 autocast, dynamic padding.
  prune       one pruning event (MaskState.update: global magnitude masks, the measurements it records,
              the weights zeroed) over a BERT-base-sized prunable set (85M random weights), against its
              memory-bandwidth bound (a plain pass over the same weights, same process) and against
              torch.nn.utils.prune.global_unstructured (L1Unstructured); then the event with its compiled
              passes against its numpy passes, interleaved in one process (--prune-engine-repeats).
  memory      bytes that masks, the teacher and the teacher cache add, per prunable weight.
  latency     CPU inference of structured-pruned MiniLM shapes against dense, batch 1 and 32 at 128 tokens,
              torch and onnxruntime (scripts/bench/latency.py).
  gpu         on a CUDA device only (scripts/bench/gpu.py; not in the default set): the runner against a plain
              transformers loop, eager/compile/bf16, and N runs side by side; writes gpu.json and gpu.md (never
              over a committed GPU result when no GPU is visible: it says so and writes nothing).

    python scripts/bench --sections gpu   # on a GPU machine
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: sdp and scripts.bench

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402

from scripts.bench.check import NOT_COMPARED, compare  # noqa: E402
from scripts.bench.common import REPO_ROOT, SECTIONS, build_recipe, machine_info  # noqa: E402
from scripts.bench.gpu import parallel_worker, render_gpu, section_gpu  # noqa: E402
from scripts.bench.latency import section_latency  # noqa: E402
from scripts.bench.memory import section_memory  # noqa: E402
from scripts.bench.prune import prune_worker, section_prune  # noqa: E402
from scripts.bench.report import notes_for, render  # noqa: E402
from scripts.bench.steps import section_steps  # noqa: E402
from scripts.bench.throughput import section_throughput  # noqa: E402


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
    p.add_argument("--prune-engine-repeats", type=int, default=None,
                   help="in-process rounds of the compiled against the numpy pruning passes (default 10; 3 quick; 0 off)")
    p.add_argument("--sparsity", type=float, default=0.9)
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--out", default=None,
                   help="where bench.md/bench.json go (default results/bench; with --check a temporary folder)")
    p.add_argument("--check", nargs="?", const=str(REPO_ROOT / "results" / "bench" / "bench.json"), default=None,
                   metavar="COMMITTED", help="compare a fresh run with COMMITTED (default results/bench/bench.json)")
    p.add_argument("--fresh", default=None, help="with --check: compare this earlier result instead of running")
    p.add_argument("--gpu-parts", default="runner,precision,parallel", help="gpu section parts to run")
    p.add_argument("--gpu-window", type=float, default=10.0, help="seconds each side-by-side phase updates")
    p.add_argument("--gpu-worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--prune-worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--mask-out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    quick = args.quick
    defaults = {"repeats": (20, 3), "warmup": (2, 1), "bf16_repeats": (2, 1), "bf16_warmup": (1, 0), "prune_repeats": (3, 2), "prune_previous": (2, 0),
                "prune_layers": (12, 2), "prune_engine_repeats": (10, 3)}
    for key, (full, fast) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, fast if quick else full)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    if args.fresh and not args.check:
        p.error("--fresh is only used with --check")
    for path in (args.check, args.fresh):
        if path and not Path(path).is_file():
            p.error(f"no bench result at {path}")
    if args.out is None:
        args.out = tempfile.mkdtemp(prefix="sdp-bench-check-") if args.check else str(REPO_ROOT / "results" / "bench")
    # before the minutes of measuring: a file in the way was a FileExistsError traceback at the end, results lost
    blocker = next((q for q in [Path(args.out), *Path(args.out).parents] if q.exists()), None)
    if blocker is not None and not blocker.is_dir():
        where = "is a file" if blocker == Path(args.out) else f"is under {str(blocker)!r}, which is a file"
        p.error(f"--out {args.out!r} {where}, not a folder; give a folder for bench.md and bench.json")
    unknown = set(args.sections) - set(SECTIONS) - {"gpu"}
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}; allowed: {[*SECTIONS, 'gpu']}")
    args.gpu_parts = [s.strip() for s in args.gpu_parts.split(",") if s.strip()]
    bad = set(args.gpu_parts) - {"runner", "precision", "parallel"}
    if bad:
        p.error(f"unknown --gpu-parts {sorted(bad)}; allowed: ['runner', 'precision', 'parallel']")
    return args


def check(committed_path: str, fresh: dict[str, Any]) -> int:
    """Prints one line per compared ratio, then one per regression; 1 when any regressed."""
    regressions, checked = compare(json.loads(Path(committed_path).read_text()), fresh)
    compared = [line for line in checked if not line.startswith(NOT_COMPARED)]
    for line in checked:
        print(f"  {line}")
    if not compared:
        print(f"check: no ratio in both {committed_path} and the fresh run measured on the same workload "
              "(different --sections, or --quick against a full run?)")
        return 2
    for line in regressions:
        print(line)
    skipped = len(checked) - len(compared)
    print(f"check: {len(regressions)} of {len(compared)} ratios regressed beyond their noise band"
          + (f"; {skipped} not compared (another workload)" if skipped else "") + f" (committed: {committed_path})")
    return 1 if regressions else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.gpu_worker:
        parallel_worker(args.gpu_worker)
        return 0
    if args.prune_worker:
        prune_worker(args.prune_worker, args.prune_layers, args.sparsity, args.threads or torch.get_num_threads(),
                     args.mask_out)
        return 0
    if args.fresh:
        return check(args.check, json.loads(Path(args.fresh).read_text()))
    started = time.time()
    command = "python scripts/bench" + ("" if argv is None and len(sys.argv) == 1 else " " + " ".join(
        sys.argv[1:] if argv is None else argv))
    result: dict[str, Any] = {"command": command, "args": {k: v for k, v in vars(args).items()
                                                            if k not in ("prune_worker", "mask_out", "fresh")}}
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
    if "gpu" in args.sections:
        result["gpu"] = section_gpu(args)
    if "latency" in args.sections:
        result["latency"] = section_latency(args)  # structured-pruned shapes, torch and onnxruntime
    if "prune" in args.sections:
        t0 = time.time()
        result["prune"] = section_prune(args)
        print(f"prune: {time.time() - t0:.0f} s", flush=True)
    result["machine"]["loadavg_end"] = list(os.getloadavg())
    result["wall_seconds"] = time.time() - started
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gpu = result.pop("gpu", None)
    if gpu is not None and "skipped" not in gpu:  # GPU numbers in their own file, with the machine named
        gpu_result = {**{k: result[k] for k in ("command", "args", "machine", "wall_seconds")}, "gpu": gpu}
        stem = "gpu" if torch.cuda.is_available() else "gpu_dry_run"  # a CPU check never replaces GPU numbers
        (out / f"{stem}.json").write_text(json.dumps(gpu_result, indent=2, default=float) + "\n")
        (out / f"{stem}.md").write_text(render_gpu(gpu_result))
        print(render_gpu(gpu_result))
        print(f"wrote {out / f'{stem}.md'} and {out / f'{stem}.json'}")
    if set(args.sections) - {"gpu"}:
        result["notes"] = notes_for(result)
        (out / "bench.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
        (out / "bench.md").write_text(render(result) + "\n")
        print(render(result))
        print(f"wrote {out / 'bench.md'} and {out / 'bench.json'} in {result['wall_seconds']:.0f} s")
    return check(args.check, result) if args.check else 0


if __name__ == "__main__":
    sys.exit(main())
