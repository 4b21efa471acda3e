"""Which training rows a model was trained on: the carve of the training set (sdp/data/loading.py: subsample, then
carve_validation), recorded with a model (config.json ``sdp_training_rows``, sdp/run_summary.py) and compared by
sdp-eval and a tuning run's dense.checkpoint check (sdp/validate.py), which must hold out the same rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdp.models.inspect import read_config

# The keys that decide which training rows a run holds out.
CARVE_KEYS = (("task", "name"), ("max_train_samples",), ("task", "validation_from_train"),
              ("task", "validation_seed"))


def carve_of(config: dict[str, Any]) -> dict[str, Any]:
    """The CARVE_KEYS of a plain config, by dotted name (config.json's ``sdp_training_rows``)."""
    def value(keys: tuple[str, ...]) -> Any:
        node: Any = config
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node

    return {".".join(keys): value(keys) for keys in CARVE_KEYS}


def carve_difference(model_dir: Path, cfg: Any) -> str | None:
    """How the carve of the training rows (CARVE_KEYS) ``model_dir`` was trained on differs from ``cfg``'s, or None
    (the same carve, or nothing recorded: a model from elsewhere is taken as given). The record is config.json's
    ``sdp_training_rows`` (sdp-run writes it beside the weights, so a model folder copied away keeps it), else the
    run.json of the run folder it sits in (models saved before that)."""
    from sdp.run.rundir import read_run_record

    theirs = (read_config(model_dir) or {}).get("sdp_training_rows")
    if not isinstance(theirs, dict):
        record = read_run_record(model_dir.parent)
        if not record or not isinstance(record.get("config"), dict):
            return None
        theirs = carve_of(record["config"])
    ours = carve_of({"task": dict(cfg.task), "max_train_samples": cfg.max_train_samples})
    return ", ".join(f"{key}: {theirs.get(key)!r} there, {value!r} here" for key, value in ours.items()
                     if theirs.get(key) != value) or None
