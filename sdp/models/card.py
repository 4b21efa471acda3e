"""The pruned model's card (``model/README.md``) and its optional upload (``push_to_hub=<repo id>``).

The card says what a reader of the Hub page needs to reuse the checkpoint or reproduce it: the base
model, task and data, the method and its settings, target and achieved sparsity, dense and pruned
scores, the command and the sdp version. Everything comes from the run's metrics and config.
"""

from __future__ import annotations

import json
import os
import shlex
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
            # quoted for a shell: pasted as printed, `prune.exclude=[layer\.1\.]` ran as `[layer.1.]` (bash drops the
            # backslashes: another regex) and `{seed: 3}` split into two words (probe round 27, cq1, cq2)
            return " ".join(shlex.quote(a) for a in ["sdp-run", *HydraConfig.get().overrides.task])
    except Exception:  # noqa: BLE001 - outside a Hydra job: fall back to the process arguments
        pass
    return " ".join(["python", *sys.argv]) + "  # via sdp.recipe.run(cfg)"


def _scores(scores: dict[str, float]) -> str:
    return ", ".join(f"{k} {100 * v:.2f}" for k, v in scores.items() if "/" not in k)


def model_card(metrics: dict[str, Any], cfg: Any, command: str, structure: dict[str, Any] | None = None) -> str:
    """The card's text. Every claim is what this run did, from its metrics and config (a card that said
    "unstructured magnitude pruning", "its train split" and "2.0 pruning epochs" for a structured run on 64 rows
    cut at 2 updates, or a target of 70% for a dense-only run, read as facts: probe round 17).
    ``structure``: model/structure.json of a structured run (the forms model/ holds)."""
    base = cfg.model.get("pretrained") or cfg.model.get("package") or f"{cfg.model.name} (random init)"
    if str(base).startswith("~") and not (read := os.path.expanduser(str(base))).startswith("~"):
        base = f"{base} ({read})"  # the folder `~` meant when it ran (review of session 24's fixes)
    task = cfg.task.name
    dense_only = metrics.get("stages") == "dense"
    held_out = cfg.task.get("validation_from_train")  # a tuning run: scored on rows carved from train, never dev
    scored_on = (f"{100 * held_out:g}% of the training rows held out (task.validation_from_train)" if held_out
                 else "the validation data")
    achieved = metrics["achieved_sparsity"]["prunable"]
    tags = ["sdp", "pruning", "text-classification", task]
    title = (f"# {cfg.model.name} fine-tuned on {task} (dense, not pruned)" if dense_only
             else f"# {cfg.model.name} on {task}, {100 * achieved:.1f}% of its prunable weights pruned")
    return "\n".join([
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        "tags:", *(f"- {t}" for t in tags),
        "---",
        "",
        title,
        "",
        *_what_was_done(cfg, dense_only, structure),
        "",
        "| | |", "| :-- | :-- |",
        f"| Base model | {base} |",
        f"| Task and data | {_data(metrics, cfg, scored_on)} |",
        f"| Method | {_method(metrics, cfg, dense_only)} |",
        f"| Schedule | {_schedule(cfg, dense_only)} |",
        f"| Target sparsity | {100 * float(metrics.get('target_sparsity', cfg.sparsity)):.1f}% of the "
        f"{_prunable(metrics, cfg)} |",
        f"| Achieved sparsity | {100 * achieved:.2f}% of the prunable weights{_encoder_share(metrics, structure)} "
        f"({metrics['nonzero_params']} of {metrics['total_params']} parameters non-zero"
        f"{' in the masked network' if structure else ''}, in the whole model with its embeddings) |",  # (round 34)
        *([f"| Forms | {_forms(metrics, structure)} |"] if structure else []),
        f"| Dense score | {_scores(metrics['dense'])} |",
        f"| {'Score' if dense_only else 'Pruned score'} | {_scores(metrics['final'])} |",
        f"| Seed | {metrics['seed']} |",
        f"| sdp version | {_code_version(metrics['versions'])} |",
        "",
        f"Scores are percent on {scored_on}. Reproduce with:",
        "",
        "```", _with_plugins(_launch(command, metrics)), "```",
        "",
        *_warnings(metrics),
    ])


def _warnings(metrics: dict[str, Any]) -> list[str]:
    """The run's warnings (metrics.json ``warnings``, from its run.log): a reader of the card learns, for one, that
    the model it started from was pruned already, or that a setting it names was not used."""
    said = metrics.get("warnings") or []
    if not said:
        return []
    return ["The run warned:", "", *(f"- {' '.join(text.split())}" for text in said), ""]


# prune.include's default in sdp/config.py's schema (models/ imports no config: a leaf; tests/test_configs.py checks
# the two agree): every encoder layer.
DEFAULT_INCLUDE = [r"encoder\.layer\.\d+\."]


def _prunable(metrics: dict[str, Any], cfg: Any) -> str:
    """Which weights the sparsity is of: their number, and prune.include/exclude where they narrow the default set
    (a card said "pruned to 50.0%" for an encoder 23.98% sparse, half its matrices excluded: probe round 23, c03)."""
    count = metrics.get("prunable_params")
    text = f"{count} prunable weights" if count is not None else "prunable weights"
    include, exclude = list(cfg.prune.get("include") or []), list(cfg.prune.get("exclude") or [])
    chosen = [*([f"prune.include={include}"] if include != DEFAULT_INCLUDE else []),
              *([f"prune.exclude={exclude}"] if exclude else [])]
    return text + (f" ({', '.join(chosen)})" if chosen else "")


def _encoder_share(metrics: dict[str, Any], structure: Any = None) -> str:
    share = (metrics.get("achieved_sparsity") or {}).get("encoder")
    # zeros among all the encoder's parameters, biases and LayerNorms too: not "weights" (probe round 40, noticed); of a
    # structured run, in the masked network (a removed layer's LayerNorm is not zero there: probe round 44, noticed)
    where = " in the masked network" if structure else ""
    return f", {100 * share:.2f}% of all the encoder's parameters{where}" if share is not None else ""


def _start(cfg: Any) -> str:
    """Where the pruning stage started: the run's own dense fine-tuning, or a given dense.checkpoint (a card said
    "dense fine-tuning" for a run that fine-tuned nothing: probe round 23, c04)."""
    given = cfg.dense.get("checkpoint")
    return f"from the fine-tuned dense.checkpoint {given} (no fine-tuning in this run)" if given else "dense fine-tuning"


def _term(cfg: Any) -> str:
    """What kept the pruned network near its teacher: an MP card said "a distillation term" (probe round 23, c05)."""
    distill, weight = cfg.regularizer.name != "none", cfg.weight_reg.name != "none"
    if distill and weight:
        return ("while a distillation term keeps the pruned network close to its teacher and a weight-alignment "
                "term its weights close to the teacher's")
    if distill:
        return "while a distillation term keeps the pruned network close to its teacher"
    if weight:
        return "while a weight-alignment term keeps its weights close to the teacher's (no distillation term)"
    return "with no distillation term (pruning alone)"


def _method(metrics: dict[str, Any], cfg: Any, dense_only: bool) -> str:
    if dense_only:  # the record keeps the config's method name; none of it ran
        return f"dense fine-tuning only (the config's {metrics['method']} pruning stage did not run)"
    teacher = cfg.prune.teacher + (f" {cfg.prune.get('teacher_checkpoint')}" if cfg.prune.teacher == "checkpoint"
                                   else "")
    criterion = _criterion(cfg)[1]
    criterion += "".join(f" ({_settings(opts)})" for opts in [cfg.prune.get("criterion_options") or {}] if opts)
    dropout = cfg.prune.get("dropout") or "on"
    return (f"{metrics['method']} (regularizer {_component(cfg.regularizer)}; weight_reg {_component(cfg.weight_reg)}; "
            f"criterion {criterion}; teacher {teacher}{'' if dropout == 'on' else f'; dropout {dropout}'})")


def _settings(options: Any) -> str:
    return ", ".join(f"{key} {value}" for key, value in options.items())


def _component(node: Any) -> str:
    """A component with every option it ran with (KD's temperature, a plug-in's own): the name alone left the
    reader to guess them (probe round 17's left)."""
    options = {key: value for key, value in node.items() if key != "name"}
    return f"{node.name} ({_settings(options)})" if options else str(node.name)


def _criterion(cfg: Any) -> tuple[bool, str]:
    """(structured?, the criterion that ranked): a null criterion is the granularity's default."""
    structured = cfg.prune.get("granularity") == "structured"
    return structured, cfg.prune.get("criterion") or ("l2" if structured else "magnitude")


def _what_was_done(cfg: Any, dense_only: bool, structure: dict[str, Any] | None) -> list[str]:
    if dense_only:
        return ["Dense fine-tuning only (sdp, `stages=dense`): no pruning stage ran; every weight is kept."]
    structured, criterion = _criterion(cfg)
    how = "in one step" if cfg.schedule.name == "one_shot" else "iteratively"
    kind = f"{'Structured' if structured else 'Unstructured'} pruning{' with self-distillation' if cfg.regularizer.name != 'none' else ''} (sdp)"
    if structured:
        kinds = ", ".join(cfg.prune.get("structures") or ["heads", "ffn"])
        return [f"{kind}: {_start(cfg)}, then whole structures ({kinds}) removed {how}, ranked by `{criterion}`, "
                f"{_term(cfg)}. `model.safetensors` is the standard form (removed layers gone, "
                "the FFN cut to one width, pruned heads kept as zeros); `model.onnx` holds every layer at its own "
                "kept heads and neurons (`structure.json`)."]
    return [f"{kind}: {_start(cfg)}, then single weights removed {how}, ranked by `{criterion}`, {_term(cfg)}. "
            "Pruned weights are stored as exact zeros in `model.safetensors` (a plain `save_pretrained` folder)."]


def _data(metrics: dict[str, Any], cfg: Any, scored_on: str) -> str:
    """The rows trained on and scored on: ``max_train_samples``/``max_eval_samples`` said, with the counts."""
    task = cfg.task.name
    if task == "custom":
        train = f"train {cfg.task.get('train_file')}"
        scored = (f"scored on {scored_on}" if cfg.task.get("validation_from_train")
                  else f"validation {cfg.task.get('validation_file')}")
    else:  # xnli_small trains on a side of the XNLI dev files, not a train split (probe round 44, noticed)
        small = task == "xnli_small"
        train = "the English train side of the XNLI dev files (conf/task/xnli_small.yaml)" if small else "its train split"
        scored = f"scored on {scored_on if cfg.task.get('validation_from_train') else 'its dev split(s)'}"
        scored += (" (each language's eval side" + ("; test.de: its test file" if cfg.task.get("eval_test") else "")
                   + ")") if small and not cfg.task.get("validation_from_train") else ""
    if cfg.get("max_train_samples") is not None:
        train += f" (a sample of at most {cfg.max_train_samples} rows: max_train_samples)"
    counts = metrics.get("eval_examples") or {}
    if counts:
        named = {"test": f" (task.test_file {cfg.task.get('test_file')})"} if task == "custom" else {}
        queries = {split: (f" ({q['scored']} queries" + (f"; {q['left_out']} with nothing to rank left out)"
                                                         if q["left_out"] else ")"))
                   for split, q in (metrics.get("eval_queries") or {}).items()}
        scored += " (" + ", ".join(f"{n} rows of {split}{named.get(split, '')}{queries.get(split, '')}"
                                   for split, n in counts.items()) + (
            f": max_eval_samples={cfg.max_eval_samples}" if cfg.get("max_eval_samples") is not None else "") + ")"
    return f"{task}: {train}; {scored}" if task != "custom" else f"{task}: {train}, {scored}"


def _schedule(cfg: Any, dense_only: bool) -> str:
    if dense_only:
        return "none (stages=dense)"
    steps = cfg.prune.get("max_steps")
    length = (f"{cfg.prune.epochs} pruning epochs, at most {steps} updates (prune.max_steps)" if steps is not None
              else f"{cfg.prune.epochs} pruning epochs")
    return f"{cfg.schedule.name}, scope {cfg.prune.scope}, {length}, lr {cfg.prune.lr}"


def _forms(metrics: dict[str, Any], structure: dict[str, Any]) -> str:
    params = structure.get("encoder_params") or {}
    return (f"encoder parameters: {params.get('dense')} dense, {params.get('standard')} in `model.safetensors`, "
            f"{params.get('onnx')} in `model.onnx`")


def _launch(command: str, metrics: dict[str, Any]) -> str:
    """A run on several processes is given as its launch: train.batch_size is per process, and the card's plain
    `sdp-run ...` ran on one, another global batch (90.67 where the card said 94.67: probe round 30, dc1)."""
    world = (metrics.get("distributed") or {}).get("world_size") if isinstance(metrics.get("distributed"), dict) else None
    if not isinstance(world, int) or world < 2 or not command.startswith("sdp-run "):
        return command
    return f"accelerate launch --multi_gpu --num_processes {world} -m sdp.cli.run {command.removeprefix('sdp-run ')}"


def _with_plugins(command: str) -> str:
    """The command, with the ``SDP_PLUGINS`` it ran with: a plug-in's ``regularizer=<name>`` does not compose
    without it (entry points come with their package); and the ``PYTHONPATH`` it ran with, through which a plug-in
    outside the installed packages was found (the card's command alone failed with "cannot import", round 27)."""
    plugins = os.environ.get("SDP_PLUGINS", "").strip()
    if not plugins:
        return command
    path = os.pathsep.join(_plugin_roots(plugins))
    return (f"PYTHONPATH={shlex.quote(path)} " if path else "") + f"SDP_PLUGINS={shlex.quote(plugins)} {command}"


def _plugin_roots(plugins: str) -> list[str]:
    """The PYTHONPATH entries (absolute) a plug-in module of ``plugins`` was imported from; none where each came
    from the installed packages (a cluster's own PYTHONPATH is not the run's to repeat)."""
    entries = [Path(p).absolute() for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p.strip()]
    roots = []
    for name in (n.strip() for n in plugins.split(",")):
        file = getattr(sys.modules.get(name), "__file__", None)
        for entry in entries if file else []:
            if Path(file).absolute().is_relative_to(entry) and str(entry) not in roots:
                roots.append(str(entry))
                break
    return roots


def _code_version(versions: dict[str, Any]) -> str:
    """The package version, with the git commit where the run came from a checkout (a wheel has none)."""
    version = str(versions.get("sdp_version") or "unknown")
    commit = versions.get("sdp")
    if commit and commit != "unknown":
        version += f" (commit {str(commit)[:12]}{', uncommitted changes' if versions.get('sdp_dirty') else ''})"
    return version


def write_model_card(model_dir: str | Path, metrics: dict[str, Any], cfg: Any) -> Path:
    path = Path(model_dir) / CARD
    structure_file = Path(model_dir) / "structure.json"  # a structured run's, written with model/ before the card
    structure = json.loads(structure_file.read_text()) if structure_file.is_file() else None
    text = model_card(metrics, cfg, run_command(), structure)
    atomic_write(path, lambda tmp: tmp.write_text(text))  # a full disk: one line naming it, no half card
    return path


def repo_id_error(repo_id: Any) -> str | None:
    """Why ``push_to_hub`` cannot name a Hub repo, or None: said before the run, not after it (the upload, last, failed
    on an id such as 'my model' once the training was done)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(str(repo_id))
    except HFValidationError as err:
        return f"push_to_hub={str(repo_id)!r} is not a Hub repo id ({str(err).split(': ')[0]}); write <namespace>/<name>"
    return None


# The training rows' hashes (sdp/data/fingerprint.py ROW_KEYS_FILE) stay local: on a public Hub repo they would tell
# anyone whether a given sentence was a training row (a custom data set may be private).
NOT_UPLOADED = "sdp_training_rows.u64"


def push_to_hub(model_dir: str | Path, repo_id: str, task: str) -> str:
    """Upload ``model_dir`` (weights, tokenizer, card) to the Hub repo ``repo_id``; its URL."""
    from huggingface_hub import HfApi  # a transformers dependency; imported only when pushing

    api = HfApi()
    api.create_repo(repo_id, exist_ok=True)
    info = api.upload_folder(folder_path=str(model_dir), repo_id=repo_id, ignore_patterns=[NOT_UPLOADED],
                             commit_message=f"sdp: pruned model for {task}")
    return str(getattr(info, "commit_url", info))
