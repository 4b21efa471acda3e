"""The pruned model's card (``model/README.md``) and its optional upload (``push_to_hub=<repo id>``).

The card says what a reader of the Hub page needs to reuse the checkpoint or reproduce it: the base
model, task and data, the method and its settings, target and achieved sparsity, dense and pruned
scores, the command and the sdp version. Everything comes from the run's metrics and config.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sdp.io import atomic_write

CARD = "README.md"


def run_command() -> str:
    """The sdp-run command line of this job (Hydra's overrides), or how it was called from Python."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            return " ".join(["sdp-run", *HydraConfig.get().overrides.task])
    except Exception:  # noqa: BLE001 - outside a Hydra job: fall back to the process arguments
        pass
    return " ".join(["python", *sys.argv]) + "  # via sdp.recipe.run(cfg)"


def _scores(scores: dict[str, float]) -> str:
    return ", ".join(f"{k} {100 * v:.2f}" for k, v in scores.items() if "/" not in k)


def model_card(metrics: dict[str, Any], cfg: Any, command: str) -> str:
    base = cfg.model.get("pretrained") or cfg.model.get("package") or f"{cfg.model.name} (random init)"
    task = cfg.task.name
    held_out = cfg.task.get("validation_from_train")  # a tuning run: scored on rows carved from train, never dev
    scored_on = (f"{100 * held_out:g}% of the training rows held out (task.validation_from_train)" if held_out
                 else "the validation data")
    data = (f"{task}: train {cfg.task.get('train_file')}, validation {cfg.task.get('validation_file')}"
            if task == "custom" else f"{task}: its train split; scored on {scored_on if held_out else 'its dev split(s)'}")
    achieved = metrics["achieved_sparsity"]["prunable"]
    tags = ["sdp", "pruning", "text-classification", task]
    return "\n".join([
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        "tags:", *(f"- {t}" for t in tags),
        "---",
        "",
        f"# {cfg.model.name} pruned to {100 * achieved:.1f}% on {task}",
        "",
        "Unstructured magnitude pruning with self-distillation (sdp): dense fine-tuning, then iterative",
        "magnitude pruning while a distillation term keeps the pruned network close to its teacher.",
        "Pruned weights are stored as exact zeros in `model.safetensors` (a plain `save_pretrained` folder).",
        "",
        "| | |", "| :-- | :-- |",
        f"| Base model | {base} |",
        f"| Task and data | {data} |",
        f"| Method | {metrics['method']} (regularizer {cfg.regularizer.name}, alpha {cfg.regularizer.alpha}; "
        f"weight_reg {cfg.weight_reg.name}; teacher {cfg.prune.teacher}) |",
        f"| Schedule | {cfg.schedule.name}, scope {cfg.prune.scope}, {cfg.prune.epochs} pruning epochs, "
        f"lr {cfg.prune.lr} |",
        f"| Target sparsity | {100 * float(cfg.sparsity):.1f}% of the prunable weights |",
        f"| Achieved sparsity | {100 * achieved:.2f}% of the prunable weights "
        f"({metrics['nonzero_params']} of {metrics['total_params']} parameters non-zero) |",
        f"| Dense score | {_scores(metrics['dense'])} |",
        f"| Pruned score | {_scores(metrics['final'])} |",
        f"| Seed | {metrics['seed']} |",
        f"| sdp version | {_code_version(metrics['versions'])} |",
        "",
        f"Scores are percent on {scored_on}. Reproduce with:",
        "",
        "```", command, "```",
        "",
    ])


def _code_version(versions: dict[str, Any]) -> str:
    """The package version, with the git commit where the run came from a checkout (a wheel has none)."""
    version = str(versions.get("sdp_version") or "unknown")
    commit = versions.get("sdp")
    if commit and commit != "unknown":
        version += f" (commit {str(commit)[:12]}{', uncommitted changes' if versions.get('sdp_dirty') else ''})"
    return version


def write_model_card(model_dir: str | Path, metrics: dict[str, Any], cfg: Any) -> Path:
    path = Path(model_dir) / CARD
    text = model_card(metrics, cfg, run_command())
    atomic_write(path, lambda tmp: tmp.write_text(text))  # a full disk: one line naming it, no half card
    return path


def push_to_hub(model_dir: str | Path, repo_id: str, task: str) -> str:
    """Upload ``model_dir`` (weights, tokenizer, card) to the Hub repo ``repo_id``; its URL."""
    from huggingface_hub import HfApi  # a transformers dependency; imported only when pushing

    api = HfApi()
    api.create_repo(repo_id, exist_ok=True)
    info = api.upload_folder(folder_path=str(model_dir), repo_id=repo_id,
                             commit_message=f"sdp: pruned model for {task}")
    return str(getattr(info, "commit_url", info))
