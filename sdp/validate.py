"""Early checks of a composed config: every bad value is named with the allowed ones, before any
model or data is loaded (Hydra itself rejects unknown groups, keys and wrong types)."""

from __future__ import annotations

from typing import Any

from sdp.config import term_options
from sdp.objectives.cross_correlation import OFF_TARGETS
from sdp.objectives.distill import DISTILLATION_TERMS
from sdp.objectives.monitor import DROPOUT_MODES
from sdp.objectives.options import term_options_of, unknown_option_error
from sdp.objectives.representations import REPRESENTATIONS
from sdp.objectives.teacher import CACHE_MODES, TEACHER_MODES
from sdp.objectives.weight import WEIGHT_REGULARIZERS
from sdp.pruning.masks import SCOPES
from sdp.pruning.schedules import SCHEDULES, schedule_config_errors

MIXED_PRECISION = ("no", "bf16", "fp16")
LR_SCHEDULES = ("linear", "constant")


class ConfigError(ValueError):
    """One or more invalid config values."""


def _choice(errors: list[str], key: str, value: Any, allowed) -> None:
    if value not in allowed:
        errors.append(f"{key}={value!r} is not one of {sorted(allowed)}")


def validate_config(cfg: Any) -> None:
    from sdp.data.tasks import TASKS

    errors: list[str] = []
    from sdp.data.custom import NAME as CUSTOM_TASK

    _choice(errors, "task", cfg.task.name, [*TASKS, CUSTOM_TASK])  # custom: the user's files (sdp/data/custom.py)
    if not (isinstance(cfg.sparsity, (int, float)) and 0.0 <= cfg.sparsity < 1.0):
        errors.append(f"sparsity={cfg.sparsity!r} must be in [0, 1)")
    _choice(errors, "regularizer", cfg.regularizer.name, DISTILLATION_TERMS)
    if cfg.regularizer.get("representation") is not None:
        _choice(errors, "regularizer.representation", cfg.regularizer.representation, REPRESENTATIONS)
    _choice(errors, "weight_reg", cfg.weight_reg.name, WEIGHT_REGULARIZERS)
    for group, terms in (("regularizer", DISTILLATION_TERMS), ("weight_reg", WEIGHT_REGULARIZERS)):
        name = cfg[group].name
        if name in terms:  # an option the chosen term does not take is an error, not silently dropped
            error = unknown_option_error(group, name, term_options(cfg[group]), term_options_of(terms, name))
            if error:
                errors.append(error)
    _choice(errors, "schedule", cfg.schedule.name, SCHEDULES)
    _choice(errors, "schedule.unit", cfg.schedule.unit, ("fraction", "steps"))
    if cfg.schedule.unit in ("fraction", "steps"):
        sc = cfg.schedule
        errors += schedule_config_errors(sc.name, sc.start, sc.end, sc.frequency, sc.unit)
    _choice(errors, "prune.scope", cfg.prune.scope, SCOPES)
    _choice(errors, "prune.teacher", cfg.prune.teacher, TEACHER_MODES)
    _choice(errors, "prune.teacher_cache", cfg.prune.teacher_cache, CACHE_MODES)
    _choice(errors, "train.mixed_precision", cfg.train.mixed_precision, MIXED_PRECISION)
    if cfg.regularizer.get("off_target") is not None:
        _choice(errors, "regularizer.off_target", cfg.regularizer.off_target, OFF_TARGETS)
    _choice(errors, "prune.dropout", cfg.prune.dropout, DROPOUT_MODES)
    _choice(errors, "dense.lr_schedule", cfg.dense.lr_schedule, LR_SCHEDULES)
    _choice(errors, "prune.lr_schedule", cfg.prune.lr_schedule, LR_SCHEDULES)
    if cfg.prune.monitor_representation is not None:
        _choice(errors, "prune.monitor_representation", cfg.prune.monitor_representation, REPRESENTATIONS)
    frac = cfg.task.validation_from_train
    if frac is not None:
        if not 0.0 < frac < 1.0:
            errors.append(f"task.validation_from_train={frac!r} must be a fraction in (0, 1) (or null)")
        if TASKS.get(cfg.task.name) is not None and TASKS[cfg.task.name].languages:
            errors.append(f"task.validation_from_train is not supported for the cross-lingual task "
                          f"{cfg.task.name!r} (its eval splits are per language)")
    if cfg.prune.teacher == "checkpoint" and not cfg.prune.teacher_checkpoint:
        errors.append("prune.teacher=checkpoint needs prune.teacher_checkpoint=<fine-tuned model dir>")
    for key in ("max_train_samples", "max_eval_samples"):
        value = cfg[key]
        if value is not None and value <= 0:
            errors.append(f"{key}={value} must be a positive number of examples (or null for all)")
    if cfg.train.batch_size < 1 or cfg.train.eval_batch_size < 1:
        errors.append(f"train.batch_size={cfg.train.batch_size} and eval_batch_size must be >= 1")
    if cfg.regularizer.name in ("cross_correlation",) and cfg.train.batch_size < 2:
        errors.append(
            f"train.batch_size={cfg.train.batch_size}: cross_correlation standardises over the batch "
            "and needs batches of at least 2"
        )
    if cfg.train.gradient_accumulation_steps < 1:
        errors.append(f"train.gradient_accumulation_steps={cfg.train.gradient_accumulation_steps} must be >= 1")
    if cfg.train.get("checkpoint_every", 0) < 0:
        errors.append(f"train.checkpoint_every={cfg.train.checkpoint_every} must be >= 0 (0: stage ends only)")
    if cfg.regularizer.name != "none" and cfg.regularizer.alpha < 0:
        errors.append(f"regularizer.alpha={cfg.regularizer.alpha} must be >= 0")
    if cfg.weight_reg.beta < 0:
        errors.append(f"weight_reg.beta={cfg.weight_reg.beta} must be >= 0")
    for stage in ("dense", "prune"):
        sc = cfg[stage]
        if sc.epochs <= 0 and not sc.max_steps and not (stage == "dense" and sc.checkpoint):
            errors.append(f"{stage}.epochs={sc.epochs} must be > 0 (or set {stage}.max_steps)")
        if sc.lr <= 0:
            errors.append(f"{stage}.lr={sc.lr} must be > 0")
    if errors:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(errors))
