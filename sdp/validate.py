"""The one validation pass of a composed config, before any model, data or torch is loaded.

Every bad value is named with its key and the allowed values (Hydra itself rejects unknown groups,
keys and wrong types). This module is the single list behind the table (docs/errors.md) "Bad input and the
errors it gets"; it imports nothing heavy, so a config error costs well under the time torch takes
to import. The choice lists below are the registries' keys (tests/test_validate.py checks they agree).
"""

from __future__ import annotations

import importlib.util
import logging
import math
from pathlib import Path
from typing import Any

from sdp.class_names import check_class_names
from sdp.config import term_options, unknown_key_errors
from sdp.errors import ConfigError
from sdp.models.card import repo_id_error
from sdp.models.inspect import (
    ModelLoadError,
    check_model_dir,
    check_pretrained_dir,
    encoder_zero_fraction,
    label_names,
    length_error,
    num_labels,
    preset_config,
    read_config,
    same_labels,
)
from sdp.objectives.registry import CRITERIA, DISTILL_TERMS, REGISTRIES, criteria_for
from sdp.pruning.criteria.base import DEFAULT_CRITERION, RunningScores
from sdp.pruning.schedules import SCHEDULES, schedule_config_errors
from sdp.run.code import REUSE_CHOICES
from sdp.run.tracking import tracker_error
from sdp.saved_model import check_text_order
from sdp.training_rows import carve_difference

MIXED_PRECISION = ("inherit", "no", "bf16", "fp16")  # inherit: sdp/run/launch.py
LR_SCHEDULES = ("linear", "constant")
OFF_TARGETS = ("zero", "teacher")  # sdp.objectives.cross_correlation
DROPOUT_MODES = ("on", "off", "distill_off")  # sdp.objectives.monitor
REPRESENTATIONS = ("all_layers", "cls", "mean", "pooled")  # sdp.objectives.representations
TEACHER_MODES = ("frozen", "refresh", "checkpoint")  # sdp.objectives.teacher
CACHE_MODES = ("off", "memory", "disk")  # sdp.objectives.teacher
SCOPES = ("global", "layerwise")  # sdp.pruning.masks
GRANULARITIES = ("structured", "unstructured")  # sdp.pruning.criteria.base
STRUCTURES = ("ffn", "heads", "layers")  # sdp.pruning.structures
EXPORT_PACKAGES = ("onnx", "onnxruntime")  # sdp.pruning.export: a structured run writes model/model.onnx
CUSTOM_TASK_KEYS = ("train_file", "validation_file", "test_file", "text_fields", "label_column", "label_names",
                    "metric", "target_range")  # sdp/data/custom.py
STAGES = ("dense", "dense+prune")  # the top-level key stages (null: dense+prune): sdp.recipe.PruneRecipe.train
MAX_SEED = 2**32 - 1  # numpy's seed range, which accelerate's set_seed passes on


def _choice(errors: list[str], key: str, value: Any, allowed) -> None:
    if value not in allowed:
        errors.append(f"{key}={value!r} is not one of {sorted(allowed)}")


def _at_least(errors: list[str], key: str, value: Any, low: float, note: str = "") -> None:
    if value is not None and value < low:
        errors.append(f"{key}={value} must be >= {low}{note}")


def _non_finite_errors(cfg: Any) -> list[str]:
    """Every float key holding NaN or +-inf, found by walking the whole config: a comparison with NaN is always
    false, so each range check below would let it through (a NaN alpha wasted a whole dense stage)."""
    from omegaconf import DictConfig, OmegaConf

    try:
        tree = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    except Exception:  # an interpolation that does not resolve is Hydra's to report, not a number
        tree = OmegaConf.to_container(cfg, resolve=False)
    errors: list[str] = []

    def walk(node: Any, key: str) -> None:
        if isinstance(node, dict):
            for name, child in node.items():
                walk(child, f"{key}.{name}" if key else str(name))
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{key}[{i}]")
        elif isinstance(node, float) and not math.isfinite(node):
            errors.append(f"{key}={node} must be a finite number")

    walk(tree, "")
    return errors


def _numeric_errors(cfg: Any) -> list[str]:
    errors: list[str] = []
    if not (isinstance(cfg.sparsity, (int, float)) and 0.0 <= cfg.sparsity < 1.0):
        errors.append(f"sparsity={cfg.sparsity!r} must be in [0, 1)")
    if not 0 <= cfg.seed <= MAX_SEED:
        errors.append(f"seed={cfg.seed} must be in [0, {MAX_SEED}]")
    if not 0 <= cfg.task.validation_seed <= MAX_SEED:  # numpy's seed range: it was numpy's traceback
        errors.append(f"task.validation_seed={cfg.task.validation_seed} must be in [0, {MAX_SEED}]")
    for key in ("max_train_samples", "max_eval_samples"):
        value = cfg[key]
        if value is not None and value <= 0:
            errors.append(f"{key}={value} must be a positive number of examples (or null for all)")
    train = cfg.train
    _at_least(errors, "train.batch_size", train.batch_size, 1)
    _at_least(errors, "train.eval_batch_size", train.eval_batch_size, 1)
    if train.batch_size == 1:  # CC standardises over the batch: the loss and the monitor need two rows
        if cfg.regularizer.name in DISTILL_TERMS and DISTILL_TERMS.entry(cfg.regularizer.name).cls.min_batch > 1:
            errors.append(f"train.batch_size={train.batch_size}: {cfg.regularizer.name} standardises over the batch "
                          "and needs batches of at least 2")
        elif cfg.prune.monitor_representation is not None:
            errors.append(f"train.batch_size={train.batch_size}: the CC(student, teacher) monitor "
                          f"(prune.monitor_representation={cfg.prune.monitor_representation}) standardises over "
                          "the batch and needs batches of at least 2; or set prune.monitor_representation=null")
    _at_least(errors, "train.gradient_accumulation_steps", train.gradient_accumulation_steps, 1)
    _at_least(errors, "train.checkpoint_every", train.checkpoint_every, 0, " (0: stage ends only)")
    _at_least(errors, "train.log_every", train.log_every, 1)
    _at_least(errors, "train.eval_every", train.eval_every, 1, " (or null: off)")
    _at_least(errors, "train.num_threads", train.num_threads, 1, " (or null: torch's default)")
    _at_least(errors, "train.weight_decay", train.weight_decay, 0)
    if not 0.0 <= train.warmup_ratio <= 1.0:
        errors.append(f"train.warmup_ratio={train.warmup_ratio} must be in [0, 1]")
    if not train.max_grad_norm > 0:
        errors.append(f"train.max_grad_norm={train.max_grad_norm} must be > 0")
    errors += _seq_length_floor(cfg)
    if not 0.0 <= cfg.schedule.initial_sparsity < 1.0:
        errors.append(f"schedule.initial_sparsity={cfg.schedule.initial_sparsity} must be in [0, 1)")
    elif isinstance(cfg.sparsity, (int, float)) and cfg.schedule.initial_sparsity > cfg.sparsity:
        errors.append(f"schedule.initial_sparsity={cfg.schedule.initial_sparsity} must be <= "
                      f"sparsity={cfg.sparsity} (the schedule rises from it to the target)")
    for stage in ("dense", "prune"):
        sc = cfg[stage]
        _at_least(errors, f"{stage}.max_steps", sc.max_steps, 1, " (or null: use epochs)")
        if sc.epochs < 0:
            errors.append(f"{stage}.epochs={sc.epochs} must be > 0 (or set {stage}.max_steps)")
        elif sc.epochs == 0 and not sc.max_steps and not (stage == "dense" and sc.checkpoint):
            errors.append(f"{stage}.epochs={sc.epochs} must be > 0 (or set {stage}.max_steps)")
        if sc.lr <= 0:
            errors.append(f"{stage}.lr={sc.lr} must be > 0")
    # A term weighted 0 is computed and adds nothing: the run is MP (or the distillation alone) under the term's
    # label, and the tables showed it as KD / SDP-CC / AWR (probe round 6). The term's group set to none says it.
    if cfg.regularizer.name != "none" and cfg.regularizer.alpha <= 0:
        errors.append(f"regularizer.alpha={cfg.regularizer.alpha} must be > 0 with regularizer="
                      f"{cfg.regularizer.name} (0 adds none of the term: for no distillation use regularizer=none)")
    # The converse: a weight given to no term weights nothing, yet it entered the config and its hash: `method=mp
    # regularizer.alpha=2` ran MP, recorded alpha 2.0, and split MP's cells from the same runs without it (round 16).
    if cfg.regularizer.name == "none" and cfg.regularizer.alpha != 0:
        errors.append(f"regularizer.alpha={cfg.regularizer.alpha} weights no term with regularizer=none (MP): leave "
                      "it unset, or choose a distillation term (regularizer=kd, cross_correlation, ...); "
                      "hparams_search=optuna searches it, so it tunes a distillation method, not MP")
    if cfg.weight_reg.get("name", "none") == "none" and cfg.weight_reg.beta != 0:
        errors.append(f"weight_reg.beta={cfg.weight_reg.beta} weights no term with weight_reg=none: leave it unset, "
                      "or choose a weight term (weight_reg=cosine, frobenius)")
    if cfg.weight_reg.beta < 0:
        errors.append(f"weight_reg.beta={cfg.weight_reg.beta} must be >= 0")
    elif cfg.weight_reg.get("name", "none") != "none" and cfg.weight_reg.beta == 0:
        errors.append(f"weight_reg.beta={cfg.weight_reg.beta} must be > 0 with weight_reg={cfg.weight_reg.get('name')} "
                      "(0 adds none of the term: for no weight term use weight_reg=none)")
    return errors


def validate_config(cfg: Any) -> None:
    """ConfigError listing every bad value; then ModelLoadError for an unusable checkpoint."""
    from sdp.data.tasks import TASKS

    errors = unknown_key_errors(cfg)  # sdp/config.py: the schema's own keys
    if errors:  # a key nothing reads: said before anything is read from the others
        raise ConfigError("; ".join(errors))
    errors = _non_finite_errors(cfg)
    if errors:  # every range check below compares, and NaN compares false: these are reported alone
        raise ConfigError("; ".join(errors))
    _choice(errors, "task", cfg.task.name, [*TASKS, "custom"])  # custom: the user's files (sdp/data/custom.py)
    for group, registry in REGISTRIES.items():  # the components' registries (sdp/objectives/registry.py)
        name = cfg[group].name
        _choice(errors, group, name, registry.names())
        if name in registry:  # an option the chosen term does not take is an error, not silently dropped
            error = registry.unknown_option_error(name, term_options(cfg[group]))
            if error:
                errors.append(error)
            else:  # the component's own checks (Component.check): a ValueError once the model had loaded
                try:
                    registry.build(name, **term_options(cfg[group]))
                except (TypeError, ValueError) as err:
                    errors.append(f"{group}={name}: {err}")
    # regularizer.representation: the term's own check() above names the value (a second one said it twice: round 29)
    _choice(errors, "schedule", cfg.schedule.name, SCHEDULES)
    _choice(errors, "schedule.unit", cfg.schedule.unit, ("fraction", "steps"))
    if cfg.schedule.unit in ("fraction", "steps"):
        sc = cfg.schedule
        errors += schedule_config_errors(sc.name, sc.start, sc.end, sc.frequency, sc.unit)
    _choice(errors, "prune.scope", cfg.prune.scope, SCOPES)
    errors += _granularity_errors(cfg.prune, cfg.schedule)
    _choice(errors, "prune.teacher", cfg.prune.teacher, TEACHER_MODES)
    _choice(errors, "prune.teacher_cache", cfg.prune.teacher_cache, CACHE_MODES)
    _choice(errors, "train.mixed_precision", cfg.train.mixed_precision, MIXED_PRECISION)
    if (error := tracker_error(cfg.get("tracker") or "none")) is not None:
        errors.append(error)
    if cfg.get("push_to_hub") and (error := repo_id_error(cfg.push_to_hub)) is not None:
        errors.append(error)
    if cfg.regularizer.get("off_target") is not None:
        _choice(errors, "regularizer.off_target", cfg.regularizer.off_target, OFF_TARGETS)
    _choice(errors, "prune.dropout", cfg.prune.dropout, DROPOUT_MODES)
    _choice(errors, "dense.lr_schedule", cfg.dense.lr_schedule, LR_SCHEDULES)
    _choice(errors, "prune.lr_schedule", cfg.prune.lr_schedule, LR_SCHEDULES)
    _choice(errors, "reuse", cfg.get("reuse", "same_code"), REUSE_CHOICES)
    if cfg.get("stages") is not None:
        _choice(errors, "stages", cfg.stages, STAGES)
        if cfg.stages == "dense" and cfg.dense.checkpoint:
            errors.append(f"stages=dense trains the dense model, but dense.checkpoint={cfg.dense.checkpoint!r} skips "
                          "that training: nothing would run; drop one of them")
        if cfg.stages == "dense" and cfg.prune.get("reference_mask"):  # taken and never read (round 33, noticed)
            errors.append(f"stages=dense prunes nothing, but prune.reference_mask={cfg.prune.reference_mask!r} compares "
                          "a pruned mask with that run's: nothing would be compared; drop one of them")
    if cfg.prune.monitor_representation is not None:
        _choice(errors, "prune.monitor_representation", cfg.prune.monitor_representation, REPRESENTATIONS)
    frac = cfg.task.validation_from_train
    if frac is not None:
        if not 0.0 < frac < 1.0:
            errors.append(f"task.validation_from_train={frac!r} must be a fraction in (0, 1) (or null)")
        if TASKS.get(cfg.task.name) is not None and TASKS[cfg.task.name].languages:
            errors.append(f"task.validation_from_train is not supported for the cross-lingual task "
                          f"{cfg.task.name!r} (its eval splits are per language)")
        if cfg.task.get("test_file"):
            errors.append("task.test_file is not scored with task.validation_from_train (a tuning run reads "
                          "no held-out file); set one of them")
    if cfg.task.name != "custom":  # the user's-files keys would be accepted and silently ignored
        given = [k for k in CUSTOM_TASK_KEYS if cfg.task.get(k) is not None]
        if given:
            errors.append(f"task.{given[0]}={cfg.task[given[0]]!r}: only task=custom reads "
                          f"{', '.join('task.' + k for k in CUSTOM_TASK_KEYS)}; task={cfg.task.name} takes none")
    if cfg.prune.teacher == "checkpoint" and not cfg.prune.teacher_checkpoint:
        errors.append("prune.teacher=checkpoint needs prune.teacher_checkpoint=<fine-tuned model dir>")
    elif cfg.prune.teacher != "checkpoint" and cfg.prune.teacher_checkpoint:  # it ran the dense teacher (round 18 t09)
        errors.append(f"prune.teacher_checkpoint is read only with prune.teacher=checkpoint (prune.teacher="
                      f"{cfg.prune.teacher} distils from the run's own dense model): add prune.teacher=checkpoint")
    if not (cfg.model.get("package") or cfg.model.get("architecture") or cfg.model.get("pretrained")):
        errors.append("model.pretrained is not set: model=hf takes any encoder as model.pretrained=<Hub id or "
                      "local model folder>, e.g. model.pretrained=distilbert/distilbert-base-uncased")
    errors += _numeric_errors(cfg)
    student = preset_config(cfg.model)
    if not errors and cfg.dense.checkpoint is None and student is not None:
        errors += _length_errors(cfg, student, f"model={cfg.model.name}")
    if errors:
        raise ConfigError("; ".join(errors))
    check_pretrained_dir(cfg.model)
    _check_checkpoints(cfg, TASKS.get(cfg.task.name), student)  # None: task=custom, labels known at load
    if cfg.prune.reference_mask:  # said before the run, which can then be stopped (torch only here)
        from sdp.pruning.overlap import reference_run_note

        if note := reference_run_note(cfg.prune.reference_mask, cfg.seed, cfg.sparsity, cfg.task.name, cfg.model.name,
                                      cfg.task.get("train_file")):
            logging.getLogger("sdp").warning("%s", note)


# Special tokens every supported encoder adds: [CLS] x [SEP] (2); [CLS] a [SEP] b [SEP] (3; RoBERTa's <s> a </s></s>
# b </s> is 4). A max_seq_length that leaves no room for text makes the tokenizer give up truncating with only a
# logged error, so every sequence is kept whole: one text token per field is the least that means anything.
# The tokenizer's exact count is checked again when the data is tokenized (sdp/data/tokenize.py).
MIN_SPECIAL_TOKENS = {1: 2, 2: 3}


def _seq_length_floor(cfg: Any) -> list[str]:
    from sdp.data.tasks import TASKS

    spec = TASKS.get(cfg.task.name)
    fields = list(spec.text_fields) if spec is not None else list(cfg.task.get("text_fields") or [])
    n_fields = len(fields) if len(fields) in MIN_SPECIAL_TOKENS else 1
    low = MIN_SPECIAL_TOKENS[n_fields] + n_fields
    if cfg.task.max_seq_length < low:
        what = "a text pair" if n_fields == 2 else "one text"
        return [f"task.max_seq_length={cfg.task.max_seq_length} must be >= {low}: {what} takes "
                f"{MIN_SPECIAL_TOKENS[n_fields]} special tokens and at least one token of text per field "
                "(shorter, the tokenizer stops truncating)"]
    return []


def _granularity_errors(prune: Any, schedule: Any) -> list[str]:
    """prune.granularity, prune.criterion and prune.structures, which only make sense together."""
    errors: list[str] = []
    granularity = prune.get("granularity") or "unstructured"
    if granularity not in GRANULARITIES:
        return [f"prune.granularity={granularity!r} is not one of {sorted(GRANULARITIES)}"]
    errors += _criterion_errors(prune, granularity)
    name = prune.get("criterion") or DEFAULT_CRITERION[granularity]
    # An event before any update is ranked by |w| (l2) under taylor's (movement's) name (probe round 17), and
    # masks are nested, so what it prunes stays pruned: one_shot's only event, or a first event at update 0 that
    # already prunes (schedule.initial_sparsity > 0, or schedule.end=0) (probe round 19).
    if name in CRITERIA and issubclass(CRITERIA.entry(name).cls, RunningScores) and not schedule.start:
        if schedule.name == "one_shot":
            errors.append(f"prune.criterion={name} ranks by the updates before a pruning event, and "
                          "schedule=one_shot with schedule.start=0 prunes before the first one: it would rank by "
                          "|w| (l2) under its name; set schedule.start (e.g. 0.1) or use prune.criterion=magnitude "
                          "(l2 for structured)")
        elif schedule.get("initial_sparsity") or not schedule.end:
            first = schedule.get("initial_sparsity") if schedule.end else "the target sparsity"
            errors.append(f"prune.criterion={name} ranks by the updates before a pruning event, and "
                          f"schedule={schedule.name} with schedule.start=0 prunes to {first} (schedule."
                          f"{'initial_sparsity' if schedule.end else 'end=0'}) before the first update: those "
                          "weights would be ranked by |w| (l2) under its name, and stay pruned; set schedule.start "
                          "(e.g. 0.1), leave schedule.initial_sparsity at 0, or use prune.criterion=magnitude "
                          "(l2 for structured)")
    structures = prune.get("structures")
    if structures is not None and granularity != "structured":
        errors.append(f"prune.structures={list(structures)} is read only with prune.granularity=structured")
    elif structures is not None:
        bad = [s for s in structures if s not in STRUCTURES]
        if bad or not structures:
            errors.append(f"prune.structures={list(structures)} must be a non-empty list of {sorted(STRUCTURES)}")
    if granularity == "structured":
        if prune.scope != "global":
            errors.append(f"prune.scope={prune.scope!r}: structured pruning ranks structures over the whole "
                          "encoder; only prune.scope=global applies")
        missing = [p for p in EXPORT_PACKAGES if importlib.util.find_spec(p) is None]  # no import: cheap
        if missing:
            errors.append(f"prune.granularity=structured writes model/model.onnx and needs {missing}: "
                          "pip install 'sdp[export]'")
    return errors


def _criterion_errors(prune: Any, granularity: str) -> list[str]:
    """prune.criterion, from the registry (sdp/objectives/registry.py), for ``granularity``; its options."""
    from omegaconf import DictConfig

    criterion, allowed = prune.get("criterion"), criteria_for(granularity)
    if criterion is not None and criterion not in allowed:
        ranks = list(CRITERIA.entry(criterion).cls.granularities) if criterion in CRITERIA else []
        return [f"prune.criterion={criterion!r} is not one of {allowed} for prune.granularity={granularity}"
                + (f" ({criterion!r} ranks {' and '.join(ranks)} pruning)" if ranks else "")]
    name, options = criterion or DEFAULT_CRITERION[granularity], prune.get("criterion_options")
    if options is None:
        return []
    if not isinstance(options, (dict, DictConfig)):
        return [f"prune.criterion_options={options!r} must be a mapping of option to value, e.g. "
                "prune.criterion_options='{seed: 3}'"]
    options = dict(options)
    error = CRITERIA.unknown_option_error(name, options)  # as a term's: an option it does not take is an error
    if error is None:
        try:
            CRITERIA.build(name, **options)  # its check(): a bad value, named
        except (TypeError, ValueError) as err:
            error = f"prune.criterion_options={options} for prune.criterion={name}: {err}"
    return [error] if error else []


def _length_errors(cfg: Any, model_config: dict, what: str) -> list[str]:
    error = length_error("task.max_seq_length", cfg.task.max_seq_length, model_config, what)
    return [] if error is None else [error]


# A fine-tuned dense model holds next to no exact zeros in its encoder matrices; above this share a dense.checkpoint
# is a pruned model, whose score would be reported as the dense one and whose sparsity would be counted twice.
PRUNED_ZEROS = 0.01


def _check_checkpoints(cfg: Any, task: Any, student: dict | None) -> None:
    """Existence, safetensors, labels (names, not just their number), pair order and width of the given models."""
    if cfg.dense.checkpoint:
        check_model_dir(cfg.dense.checkpoint, "dense.checkpoint")
        student = read_config(cfg.dense.checkpoint) or {}
        _check_labels("dense.checkpoint", cfg.dense.checkpoint, student, task)
        check_text_order("dense.checkpoint", cfg.dense.checkpoint, student, cfg.task, task)
        if (Path(str(cfg.dense.checkpoint)) / "structure.json").is_file():  # sdp/pruning/export.py STRUCTURE_FILE
            # A structured run's compact model/ ran as a dense model: its pruned score was reported as "dense", its
            # sparsity counted on the smaller shape, and the run pooled with the full model's in the tables.
            raise ModelLoadError(f"dense.checkpoint {str(cfg.dense.checkpoint)!r} is a structured run's compact "
                                 "model (it holds structure.json): pruned already, with fewer neurons or layers than "
                                 f"model={cfg.model.name}; give a dense model (a run's dense_model/), or start from "
                                 "it as a model of its own: model=hf model.pretrained=<it>")
        zeros = encoder_zero_fraction(cfg.dense.checkpoint)
        if zeros is not None and zeros > PRUNED_ZEROS:  # an unstructured run's model/ ran as "dense" (probe round 6)
            raise ModelLoadError(f"dense.checkpoint {str(cfg.dense.checkpoint)!r} is pruned already: {zeros:.1%} of "
                                 f"its encoder weights are exact zeros (a dense model has next to none; above "
                                 f"{PRUNED_ZEROS:.0%} is refused); give a dense model (a run's dense_model/), or "
                                 "start from it as a model of its own: model=hf model.pretrained=<it>")
        errors = _length_errors(cfg, student, f"dense.checkpoint {str(cfg.dense.checkpoint)!r}")
        if errors:
            raise ConfigError(errors[0])
        _check_held_out_rows(cfg)
    if cfg.prune.teacher == "checkpoint":
        path = cfg.prune.teacher_checkpoint
        check_model_dir(path, "prune.teacher_checkpoint")
        teacher = read_config(path) or {}
        _check_labels("prune.teacher_checkpoint", path, teacher, task)
        check_text_order("prune.teacher_checkpoint", path, teacher, cfg.task, task)
        width, expected = teacher.get("hidden_size"), (student or {}).get("hidden_size")
        if width is not None and expected is not None and width != expected:
            raise ModelLoadError(f"prune.teacher_checkpoint {str(path)!r} has hidden_size {width}, the student "
                                 f"has {expected}: the distillation terms compare same-width representations")


def _check_held_out_rows(cfg: Any) -> None:
    """A tuning run (task.validation_from_train) scores rows its dense.checkpoint must never have trained on: an
    sdp dense model (its run folder's run.json) must come from the same carve; another run is warned where its
    dense.checkpoint trained on other rows. A model from elsewhere cannot be checked, and is taken as given."""
    diff = carve_difference(Path(str(cfg.dense.checkpoint)).expanduser(), cfg)
    if diff and not cfg.task.get("validation_from_train"):  # said: beside runs that fine-tune their own on this
        # run's rows, its dense score and teacher are a model trained on others (probe round 29, noticed)
        logging.getLogger("sdp").warning("dense.checkpoint %r was fine-tuned on other training rows than this run "
                                         "trains on (%s): its dense score and teacher are that model's",
                                         str(cfg.dense.checkpoint), diff)
    elif diff:
        raise ConfigError(f"dense.checkpoint {str(cfg.dense.checkpoint)!r} was not trained on this run's carve of "
                          f"the training rows ({diff}): it may have trained on the rows this run holds out and "
                          "scores on; fine-tune it with the same task, max_train_samples, task.validation_from_train and "
                          "task.validation_seed")


def _check_labels(key: str, path: str | Path, config: dict, task: Any) -> None:
    check_class_names(config, f"{key} {str(path)!r}")  # a traceback from label_names below, or two classes of one name
    if task is None:  # task=custom: its labels are read from the user's files when the run loads them
        return
    expected = list(task.label_names) if task.label_names else None
    n_task = len(expected) if expected else 1
    if num_labels(config) != n_task:
        raise ModelLoadError(f"{key} {str(path)!r} has {num_labels(config)} labels, task {task.name!r} needs {n_task}")
    names = label_names(config)
    if expected and names is not None and not same_labels(names, expected):
        raise ModelLoadError(f"{key} {str(path)!r} was fine-tuned for labels {names}, task {task.name!r} has "
                             f"{expected}: it belongs to another task")
