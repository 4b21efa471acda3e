"""Which training rows a model was trained on: the carve of the training set (sdp/data/loading.py: subsample, then
carve_validation), recorded with a model (config.json ``sdp_training_rows``, sdp/run_summary.py) and compared by
sdp-eval and a tuning run's dense.checkpoint check (sdp/validate.py), which must hold out the same rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sdp.io import is_sdp_run_record
from sdp.models.inspect import label_names, read_config

# The keys that decide which training rows a run holds out.
CARVE_KEYS = (("task", "name"), ("max_train_samples",), ("task", "validation_from_train"),
              ("task", "validation_seed"))


RUN_MODELS = ("model", "dense_model")  # a run's model folders (sdp/config.py RUN_MODEL_DIRS: it imports sdp.run)


def sdp_run_record(run_dir: Path) -> dict | None:
    """The run.json of a run folder where it is sdp's (sdp.io.is_sdp_run_record: another app's config was read as the
    run's, review of round 43), or None."""
    try:
        record = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if is_sdp_run_record(record) else None


def carve_of(config: dict[str, Any]) -> dict[str, Any]:
    """The CARVE_KEYS of a plain config, by dotted name (config.json's ``sdp_training_rows``)."""
    def value(keys: tuple[str, ...]) -> Any:
        node: Any = config
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node

    return {".".join(keys): value(keys) for keys in CARVE_KEYS}


def carve_differences(model_dir: Path, cfg: Any) -> dict[str, tuple[Any, Any]]:
    """{key: (there, here)} for each of the CARVE_KEYS in which the carve of the training rows ``model_dir`` was
    trained on differs from ``cfg``'s; {} where none does, or nothing is recorded (a model from elsewhere is taken as
    given). The record is config.json's ``sdp_training_rows`` (sdp-run writes it beside the weights, so a model folder
    copied away keeps it), else the run.json of the run folder it sits in (models saved before that)."""
    theirs = (read_config(model_dir) or {}).get("sdp_training_rows")
    if not isinstance(theirs, dict):
        record = sdp_run_record(model_dir.parent)  # not another app's run.json (review of round 43's fixes)
        if not record or not isinstance(record.get("config"), dict):
            return {}
        theirs = carve_of(record["config"])
    ours = carve_of({"task": dict(cfg.task), "max_train_samples": cfg.max_train_samples})
    return {key: (theirs.get(key), value) for key, value in ours.items() if theirs.get(key) != value}


def carve_words(differences: dict[str, tuple[Any, Any]]) -> str | None:
    """carve_differences in words, or None where there are none."""
    return ", ".join(f"{key}: {there!r} there, {here!r} here" for key, (there, here) in differences.items()) or None


def carve_difference(model_dir: Path, cfg: Any) -> str | None:
    """carve_differences in words, or None where the carve is the same (or not recorded)."""
    return carve_words(carve_differences(model_dir, cfg))


def rows_decide(config: dict[str, Any], differences: dict[str, tuple[Any, Any]]) -> bool:
    """Whether the rows a model trained on decide if a carve holds them out (sdp-eval then compares their fingerprint
    with the carve's, sdp/evaluation.py load_eval_data): only max_train_samples differs from its run's carve, and its
    config.json records the rows. max_train_samples=10000 of a 600-row file kept every row, and sdp-eval without it
    was refused as holding out rows the run trained on, falsely (probe round 31, mt2)."""
    from sdp.data.fingerprint import TRAINED_ROWS_KEY

    rows = config.get("sdp_training_rows")
    return isinstance(rows, dict) and bool(rows.get(TRAINED_ROWS_KEY)) and list(differences) == ["max_train_samples"]


def check_checkpoint_rows(cfg: Any, trained: str | None, rows: str | None = None) -> None:
    """The rows a dense.checkpoint (or a prune.teacher_checkpoint) was fine-tuned on, against this run's training rows
    (``trained``: their fingerprint). A tuning run's must be its carve's: refused otherwise, its held-out rows may be
    training rows (a teacher's targets carry them into the student). Another run is warned where they differ: its
    dense score and teacher are a model of other data (a checkpoint fine-tuned on another file with the same
    max_train_samples was taken unsaid: probe round 31, dc2; a teacher checkpoint, unsaid until round 33's noticed).
    Recorded in config.json (``train_fingerprint``), else, for a run's own model/ or dense_model/, in its run's
    run.json. ``rows``: this run's training rows in any order (fingerprint.rows_fingerprint): a file of them shuffled
    is the same rows (it was warned of as other rows)."""
    prune = cfg.get("prune") or {}
    teacher = prune.get("teacher_checkpoint") if prune.get("teacher") == "checkpoint" else None
    # (a tuning run's model.pretrained is refused where its rows hold held-out ones, by row: sdp/run/data_record.py;
    # by fingerprint, every model of other data was refused, transfer from another task too: review of round 36)
    for key, path, whose in (("dense.checkpoint", cfg.dense.get("checkpoint"), "its dense score and teacher are"),
                             ("prune.teacher_checkpoint", teacher, "the teacher's targets are")):
        if path:
            _check_rows_of(cfg, key, Path(str(path)).expanduser(), trained, rows, whose)


def _check_rows_of(cfg: Any, key: str, checkpoint: Path, trained: str | None, rows: str | None, whose: str) -> None:
    """check_checkpoint_rows for one model folder (``key``: its config key)."""
    import logging

    from sdp.data.fingerprint import ROWS_KEY, TRAINED_ROWS_KEY, same_rows, trained_rows_error
    from sdp.errors import ConfigError

    config = read_config(checkpoint) or {}
    if cfg.task.get("validation_from_train"):
        if error := trained_rows_error(config, trained, rows):
            raise ConfigError(f"{key} {str(checkpoint)!r}: {error}")
        return
    recorded = config.get("sdp_training_rows")
    recorded = recorded if isinstance(recorded, dict) else {}
    if not recorded.get(TRAINED_ROWS_KEY) and checkpoint.resolve().name in RUN_MODELS:  # a run's own model folder
        record = sdp_run_record(checkpoint.parent) or {}  # (older records): its run.json
        recorded = {TRAINED_ROWS_KEY: (record.get("data_fingerprint") or {}).get("train"),
                    ROWS_KEY: record.get(ROWS_KEY)}
    theirs = recorded.get(TRAINED_ROWS_KEY)
    # a dense.checkpoint whose carve keys differ is said by sdp/validate.py (_check_held_out_rows), once
    said = key == "dense.checkpoint" and carve_difference(checkpoint, cfg) is not None
    differ = bool(theirs and trained and not same_rows(recorded, trained, rows))
    if said and differ and _other_file(cfg, recorded, label_names(config)):
        logging.getLogger("sdp").warning(  # the carve's words alone hid another file (probe round 35, noticed)
            "%s %r: beside its other sample or carve of the training rows (said above), the rows it was fine-tuned "
            "on are not this training file's, sampled and carved as its config.json records (training data "
            "fingerprint %s there): another training file, or one edited since; %s that model's", key,
            str(checkpoint), theirs, whose)
    if differ and not said:
        other = "" if recorded.get(ROWS_KEY) and rows else ", or the same in another order (an older record)"
        logging.getLogger("sdp").warning(
            "%s %r was fine-tuned on other training rows than this run trains on (training data fingerprint %s "
            "there, %s here: another training file, or other rows of it%s): %s that model's", key, str(checkpoint),
            theirs, trained, other, whose)


def _other_file(cfg: Any, recorded: dict[str, Any], classes: list[str] | None) -> bool:
    """Whether the rows a model's record (config.json ``sdp_training_rows``: sample, carve, fingerprints) names are
    not the rows this run's training file gives by that record; False where that cannot be told (no carve recorded,
    another task, Hub data, a file that does not read). ``classes``: the model's class names, in its id order."""
    from sdp.crosslingual import resolve_task
    from sdp.data.loading import resolve_data_dir
    from sdp.data.scored_rows import rebuilt_training_rows
    from sdp.data.sources import FILE_SOURCES
    from sdp.data.tasks import DataError
    from sdp.errors import warnings_held_back

    if recorded.get("task.name") != cfg.task.get("name") or "max_train_samples" not in recorded:
        return False
    with warnings_held_back():  # a custom task's files are read again: their warnings are said already (review)
        task, root = resolve_task(cfg.task), resolve_data_dir(cfg.get("data_dir"))
    if root is None and task.source not in FILE_SOURCES:
        return False
    try:
        return rebuilt_training_rows(task, root, recorded, classes) is None
    except (DataError, KeyError, TypeError, ValueError):
        return False
