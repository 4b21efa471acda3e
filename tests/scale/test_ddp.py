"""Two processes through ``accelerate launch --multi_gpu --num_processes 2`` on CPU (gloo), against one
process with the same global batch, and one process with gradient accumulation.

Why a tolerance and what it is: the three runs see the same 8 examples per optimizer update (the
seedable sampler gives every process the same permutation; DDP rank r takes per-rank batches r, r+2, ...
of it, i.e. the two halves of the one-process batch; accumulation takes them one after the other). With
a loss that is a mean over examples (``regularizer=kd``: KL ``batchmean``) and dropout off, the averaged
gradients are the same up to float summation order (all-reduce / accumulation vs one batch). So the
final weights agree to |diff| <= 1e-4 and the dev score to within 2 of the 277 RTE dev examples (a
rounding-level logit change can flip a near-tie prediction). The sparsity is exact in every run.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
from pathlib import Path

import torch
from safetensors.torch import load_file

_spec = importlib.util.spec_from_file_location("scale_helpers", Path(__file__).with_name("helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)

TOLERANCE_EXAMPLES = 2
WEIGHT_ATOL = 1e-4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dev_size(data_dir: Path) -> int:
    lines = (data_dir / "glue" / "RTE" / "dev.tsv").read_text(encoding="utf-8").strip("\n").split("\n")
    return len(lines) - 1  # header


def test_ddp_two_processes_match_one_process(tmp_path, data_dir):
    common = h.smoke_args(
        data_dir, "cpu=true", "max_eval_samples=null", "regularizer=kd",
        "+model.random_init.hidden_dropout_prob=0.0", "+model.random_init.attention_probs_dropout_prob=0.0",
    )
    ddp_dir, one_dir, acc_dir = tmp_path / "ddp", tmp_path / "one", tmp_path / "accum"
    launch = [
        str(Path(h.sys.executable).with_name("accelerate")), "launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()),
        "-m", "cli.run", *common, "train.batch_size=4", f"output_dir={ddp_dir}",
    ]
    # CUDA hidden: --multi_gpu then starts 2 torchrun workers and Accelerator(cpu=True) joins them with gloo.
    ddp = subprocess.Popen(launch, cwd=h.REPO_ROOT, env=h.env(CUDA_VISIBLE_DEVICES=""),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    one = h.cli([*common, "train.batch_size=8", f"output_dir={one_dir}"])
    acc = h.cli([*common, "train.batch_size=4", "train.gradient_accumulation_steps=2", f"output_dir={acc_dir}"])
    for proc in (ddp, one, acc):
        h.finish(proc)

    runs = {name: h.metrics(d) for name, d in (("ddp", ddp_dir), ("one", one_dir), ("accum", acc_dir))}
    dist = runs["ddp"]["distributed"]
    # Two processes really ran, and their masks were identical (also checked at every pruning step).
    assert dist["world_size"] == 2 and dist["ranks"] == [0, 1], dist
    assert dist["distributed_type"] == "MULTI_CPU"
    assert len(dist["mask_digests"]) == 2 and dist["mask_digests"][0] == dist["mask_digests"][1]
    assert runs["one"]["distributed"]["world_size"] == 1

    n_dev = _dev_size(data_dir)
    for name, m in runs.items():
        assert m["status"] == "completed", name
        assert m["achieved_sparsity"]["prunable"] == 0.5, name  # exactly the target
        assert m["eval_examples"] == {"validation": n_dev}, name  # gathered without duplicates
    # The same global batch per update: scores within the stated tolerance, weights to float rounding.
    for name in ("ddp", "accum"):
        for phase in ("dense", "final"):
            diff = abs(runs[name][phase]["main"] - runs["one"][phase]["main"])
            assert diff <= TOLERANCE_EXAMPLES / n_dev + 1e-12, (name, phase, diff)
        a = load_file(str((ddp_dir if name == "ddp" else acc_dir) / "model" / "model.safetensors"))
        b = load_file(str(one_dir / "model" / "model.safetensors"))
        for key in b:
            assert torch.allclose(a[key], b[key], atol=WEIGHT_ATOL, rtol=0), (name, key)

    # Schedules count optimizer updates: the same pruning steps with 2 micro-batches per update.
    def prune_steps(run_dir: Path) -> list[int]:
        events = [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]
        return sorted(e["step"] for e in events if e["event"] == "prune")

    def updates(run_dir: Path, stage: str) -> int:
        events = [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]
        return max(e["step"] for e in events if e["event"] == "train" and e["stage"] == stage)

    assert prune_steps(acc_dir) == prune_steps(one_dir) == prune_steps(ddp_dir)
    for d in (acc_dir, ddp_dir):
        assert updates(d, "prune") == updates(one_dir, "prune") == 16  # 2 epochs x 64 / 8


def test_pooled_cc_on_two_processes_with_accumulation_matches_one_batch(tmp_path, data_dir):
    """SDP-CC with regularizer.gather=true: 2 ranks x 2 micro-batches of 2 pool their representations into
    one CC batch of 8 per update (sdp/training/pooled_window.py), so they train like one process on batches
    of 8 (same examples per update, dropout off), to float summation order."""
    common = h.smoke_args(
        data_dir, "cpu=true", "max_eval_samples=null", "regularizer=cross_correlation", "regularizer.gather=true",
        "+model.random_init.hidden_dropout_prob=0.0", "+model.random_init.attention_probs_dropout_prob=0.0",
    )
    ddp_dir, one_dir = tmp_path / "ddp", tmp_path / "one"
    launch = [
        str(Path(h.sys.executable).with_name("accelerate")), "launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()),
        "-m", "cli.run", *common, "train.batch_size=2", "train.gradient_accumulation_steps=2",
        f"output_dir={ddp_dir}",
    ]
    ddp = subprocess.Popen(launch, cwd=h.REPO_ROOT, env=h.env(CUDA_VISIBLE_DEVICES=""),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    one = h.cli([*common, "train.batch_size=8", f"output_dir={one_dir}"])
    for proc in (ddp, one):
        h.finish(proc)
    runs = {"ddp": h.metrics(ddp_dir), "one": h.metrics(one_dir)}
    assert runs["ddp"]["distributed"]["world_size"] == 2
    for m in runs.values():
        assert m["status"] == "completed" and m["achieved_sparsity"]["prunable"] == 0.5
    # The pooled CC is the one-batch CC: equal to float summation order while the masks agree (the first
    # updates), and within 5% after a weight tied at a pruning threshold fell on the other side in one run...
    def distill(run_dir: Path) -> list[float]:
        events = [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]
        return [e["distill"] for e in events if e["event"] == "train" and e["stage"] == "prune"]

    pooled, whole = distill(ddp_dir), distill(one_dir)
    assert len(pooled) == len(whole) == 16
    # The first update reads the same weights: float summation order only. Each later one reads weights that differ
    # by it, and the CC (small differences of large sums) amplifies that: measured 1.6e-5, 5.9e-5 and 7.8e-4 relative
    # for updates 1-3 on one machine (an absolute 1e-6 held on another's kernels and failed here: 1.2e-6 at update 3).
    assert abs(pooled[0] - whole[0]) <= 1e-3 * abs(whole[0]), list(zip(pooled, whole))
    assert all(abs(x - y) <= 1e-2 * abs(y) for x, y in zip(pooled[:3], whole[:3])), list(zip(pooled, whole))
    assert all(abs(x - y) <= 0.05 * abs(y) for x, y in zip(pooled, whole)), list(zip(pooled, whole))
    # ...and the weights agree but for those few ties (measured: 2-4 mask flips, 26-78 of 1,011,426 weights
    # off by more than 1e-4; without pooling, per-rank CC batches of 2 give a different objective altogether).
    a = load_file(str(ddp_dir / "model" / "model.safetensors"))
    b = load_file(str(one_dir / "model" / "model.safetensors"))
    off = sum(int(((a[k] - b[k]).abs() > WEIGHT_ATOL).sum()) for k in b)
    assert off <= 5e-4 * sum(t.numel() for t in b.values()), off
