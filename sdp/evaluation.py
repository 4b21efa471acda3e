"""sdp-eval's work: score a saved ``model/`` folder on a task's eval splits, with no training, and write the record.

    record = evaluate_saved(cfg, model_dir, out_dir)   # cfg: the composed sdp-run config (task, data_dir, ...)

The data goes through the run's own pipeline (sdp/data: the task's reader, subsampling with max_eval_samples,
tokenising, the metrics of sdp/metrics.py), so a score here is the score a run reports for the same model. Its
``metrics.json`` has the schema's fields with ``"kind": "eval"``: sdp-tables lists it apart and never counts it as
a training run (docs/metrics_schema.md).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch

from sdp.config import PruneConfig, model_name_from
from sdp.crosslingual import resolve_run_task
from sdp.data.batch import model_inputs
from sdp.data.custom import SCORING_ONLY
from sdp.data.fingerprint import (
    ROWS_KEY,
    TRAINED_ROWS_KEY,
    read_row_hashes,
    rows_fingerprint,
    same_rows,
    split_fingerprints,
    trained_rows_error,
)
from sdp.data.loading import load_splits, resolve_data_dir
from sdp.data.rows_kept import trained_rows
from sdp.data.scored_rows import (
    say_not_compared,
    warn_custom_rows_scored,
    warn_model_rows_scored,
    warn_rows_among,
)
from sdp.data.sources import FILE_SOURCES, LOCAL_READERS
from sdp.data.token_repeats import warn_tokens_among
from sdp.data.tokenize import make_collator, make_dataloader, tokenize_splits
from sdp.errors import ConfigError
from sdp.eval_output import EVAL_KIND, check_out_dir, record_bytes
from sdp.eval_task import fill_custom_task, named_as_given
from sdp.io import folder_lock, write_json
from sdp.metrics import compute_metrics_noting, eval_queries
from sdp.models.inspect import PRUNABLE_KEY, changed_weights, length_error
from sdp.pruning.masks import select_prunable, sparsity_report
from sdp.pruning.patterns import check_patterns
from sdp.run.env import versions
from sdp.saved_model import (
    SavedModel,
    check_saved_model,
    check_task_labels,
    load_saved_model,
    source_run,
    text_order_error,
    trained_length,
)
from sdp.training_rows import carve_differences, carve_words, rows_decide, sdp_run_record

log = logging.getLogger("sdp")


def load_eval_data(cfg: Any, task: Any, tokenizer: Any, config: dict[str, Any] | None = None, model_dir: Any = None,
                   differences: dict | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The task's eval splits, tokenised, and their query groups (ranking tasks). The train split is not read,
    unless the eval split is carved from it (task.validation_from_train): then the rows the carve leaves for
    training must be those the model's run trained on (``config``, its config.json); ``differences``: how the carve
    here differs from its run's (training_rows.carve_differences), said with a refusal."""
    carved = bool(cfg.task.get("validation_from_train"))
    # A carve depends on the training rows it is cut from: max_train_samples as the run had it (None scored
    # 622 rows of the whole RTE file for a model whose run held out 16 of 64, with its 48 training rows among them)
    with trained_rows(cfg):  # a GLUE training file's rows under two labels, among the carve's (probe round 36, gt2)
        loaded = load_splits(task, resolve_data_dir(cfg.data_dir),
                             max_train_samples=cfg.max_train_samples if carved else None,
                             max_eval_samples=cfg.max_eval_samples,
                             validation_from_train=cfg.task.get("validation_from_train"),
                             validation_seed=cfg.task.get("validation_seed", 0), read_train=carved)
    raw = loaded.datasets
    if carved and (error := trained_rows_error(config, split_fingerprints({"train": raw[task.train_split]})["train"],
                                               rows_fingerprint(raw[task.train_split]))):
        diff = carve_words(differences or {})  # the rows decided (rows_decide): what else differs is said with them
        raise ConfigError(f"model_dir {str(model_dir)!r}: {error}" + (f"; its run's carve differs here in {diff}"
                                                                    if diff else ""))
    evaluated = type(raw)({split: raw[split] for split in task.eval_splits})
    rows = (config or {}).get("sdp_training_rows")
    trained = rows.get(TRAINED_ROWS_KEY) if isinstance(rows, dict) and not carved else None  # none: nothing to compare
    prints = split_fingerprints(evaluated) if trained else {}
    # the training file given as the dev file was scored as held-out (round 32, tr1); shuffled, it is the same rows
    whole = [split for split, fingerprint in prints.items()
             if same_rows(rows, fingerprint, rows_fingerprint(evaluated[split]) if rows.get(ROWS_KEY) else None)]
    hashes = read_row_hashes(Path(str(model_dir)).expanduser()) if model_dir is not None else None
    if hashes is not None:  # the model's training rows by row, a carve's held-out rows too (probe round 36, mpc2)
        warn_rows_among(task, {s: evaluated[s] for s in evaluated if s not in whole}, hashes, loaded.file_rows,
                        raw[task.train_split] if carved else None)
    elif trained and (rest := {s: evaluated[s] for s in evaluated if s not in whole}) and \
            rows.get("task.name") == task.name:  # the other files of one that is its training file too (review)
        if task.source == "custom":  # part of its training file (round 33, tu1; round 38, hl1)
            warn_custom_rows_scored(task, model_dir, rest, rows, loaded.file_rows)
        elif ((root := resolve_data_dir(cfg.data_dir)) is None and task.source not in FILE_SOURCES) or \
                task.source not in LOCAL_READERS:
            say_not_compared(f"no training split of task {task.name} is read from the Hub to compare them with "
                             "(give data_dir=<a folder of the files it was trained on>)")  # (review of round 38's)
        # a data folder's training rows as dev rows (round 32, gl4; a carve: round 34, gc1); one without them said
        elif warn_model_rows_scored(task, root and Path(root), rest, rows, loaded.file_rows) is False:
            where = f"the data folder {str(root)!r} holds" if root else "its own files hold"
            say_not_compared(f"{where} no training split of task {task.name} of the rows it records (none there, or "
                             "of other rows)")
    for split in whole:
        order = "" if prints[split] == trained else f" in another order (split fingerprint {prints[split]})"
        log.warning("sdp-eval: split %s holds the very rows model_dir was trained on%s (training data fingerprint "
                    "%s, config.json sdp_training_rows): its score is a training score, not a held-out one",
                    split, order, trained)
    tokenized = tokenize_splits(evaluated, task, tokenizer, cfg.task.max_seq_length, cfg.cache_dir,
                                loaded.file_rows, loaded.labels_checked)
    # rows read as training rows (hashes) or a test file's as dev rows, their texts not (round 35, lt2; round 37, tc2)
    warn_tokens_among(task, evaluated, {s: tokenized[s] for s in tokenized if s not in whole}, hashes,
                      cfg.task.max_seq_length, loaded.file_rows, loaded.labels_checked, tokenizer,
                      trained_length(Path(str(model_dir)), config) if model_dir and config else None)
    return tokenized, loaded.groups


@torch.no_grad()
def predict_split(saved: SavedModel, dataset: Any, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels over one tokenised split, in row order."""
    loader = make_dataloader(dataset, make_collator(saved.tokenizer), batch_size, False, seed=0)
    logits, labels = [], []
    for batch in loader:
        batch = {k: v.to(saved.device) for k, v in batch.items()}
        logits.append(saved.model(**model_inputs(batch)).logits.float().cpu())
        labels.append(batch["labels"].cpu())
    return torch.cat(logits).numpy(), torch.cat(labels).numpy()


def weight_sparsity(model: Any, prune_cfg: Any) -> dict[str, Any]:
    """The model's zeros as a run reports them (the prunable set of prune.include/exclude); only the whole model's
    count where those patterns match none of its weights (another architecture's names). A pattern that is no regular
    expression is a PrunableSetError (it was re.error's traceback: probe round 36, ei1, ei2)."""
    check_patterns(list(prune_cfg.include), list(prune_cfg.exclude))
    try:
        report = sparsity_report(model, select_prunable(model, prune_cfg.include, prune_cfg.exclude))
    except ValueError:
        zeros = sum(int((p == 0).sum()) for p in model.parameters())
        total = sum(p.numel() for p in model.parameters())
        return {"achieved_sparsity": {"model": zeros / total}, "nonzero_params": total - zeros, "total_params": total}
    return {k: report[k] for k in ("achieved_sparsity", "nonzero_params", "total_params", "prunable_params")}


def run_prune_config(model_dir: Path, source: dict[str, Any]) -> Any:
    """The prunable set (prune.include/exclude, run.json; else config.json's PRUNABLE_KEY) of the run that wrote
    ``model_dir``, or None: a run that narrowed it (prune.exclude=[layer\\.1\\.]) was measured over the default set,
    25% for its 50%, and its untouched folder called edited (probe round 26, ev1)."""
    from omegaconf import OmegaConf

    from sdp.models.inspect import read_config

    model_dir = Path(model_dir).expanduser().resolve()  # through a link: the run it names (probe round 36, ev2)
    prune = ((sdp_run_record(model_dir.parent) or {}).get("config") or {}).get("prune") if source else None
    if not isinstance(prune, dict) or not isinstance(prune.get("include"), list):  # away from its run: its config.json
        prune = (read_config(model_dir) or {}).get(PRUNABLE_KEY)  # (it was the default set: 70% for 80%; round 36, ev1)
    if not isinstance(prune, dict) or not isinstance(prune.get("include"), list):
        return None
    return OmegaConf.create({"include": prune["include"], "exclude": list(prune.get("exclude") or [])})


def compact_sparsity(report: dict[str, Any], source: dict[str, Any], model: Any = None) -> dict[str, Any]:
    """A structured run's model/ is its compact form: whole heads, neurons and layers are gone, not zero, so its
    zeros alone understated what the run pruned (35% reported for a run pruned to 50%, under the same key). With
    fewer parameters than the run that made it had, the record takes the run's own measurement (on the full shape)
    and keeps the compact form's size beside it."""
    total = source.get("total_params")
    if not source and model is not None:  # copied away from its run: the shape config.json records (round 36, cs1)
        return _unpruned_shape_sparsity(report, model)
    if not isinstance(total, int) or report["total_params"] >= total or "achieved_sparsity" not in source:
        return report
    return {"achieved_sparsity": source["achieved_sparsity"], "nonzero_params": source.get("nonzero_params"),
            "total_params": total, "compact_params": {"total": report["total_params"],
                                                      "nonzero": report["nonzero_params"]},
            "sparsity_from": "the source run (model/ is its compact structured form)"}


def _unpruned_shape_sparsity(report: dict[str, Any], model: Any) -> dict[str, Any]:
    """compact_sparsity of a compact structured model away from its run: its zeros over the unpruned shape its
    config.json records (sdp_unpruned: layers, FFN width, encoder parameters), as its run measured them on the masked
    network (a removed layer's LayerNorms counted non-zero, as the kept layers' are); its zeros alone gave 24.62% for
    a run pruned to 61.72%, under the same key."""
    shape, config = getattr(model.config, "sdp_unpruned", None), model.config
    keys = ("num_hidden_layers", "intermediate_size", "encoder_params")
    share, prunable = report.get("achieved_sparsity", {}).get("prunable"), report.get("prunable_params")
    if not isinstance(shape, dict) or not all(isinstance(shape.get(k), int) for k in keys) or share is None \
            or not isinstance(prunable, int):
        return report
    hidden = int(config.hidden_size)  # the prunable set of a structured run: Q, K, V, O and the FFN's two matrices
    full = shape["num_hidden_layers"] * (4 * hidden * hidden + 2 * hidden * shape["intermediate_size"])
    encoder = [p for n, p in model.named_parameters() if ".encoder." in f".{n}"]
    kept, nonzero = sum(p.numel() for p in encoder), sum(int((p != 0).sum()) for p in encoder)
    if full <= prunable or shape["encoder_params"] <= kept:
        return report
    total = report["total_params"] + shape["encoder_params"] - kept
    # A removed layer's LayerNorms stay non-zero in the masked network its run measured (its Linears are zeros):
    # 1002850 non-zero and encoder 50.00% here were 1002978 and 49.25% in the run (probe round 39, sp1).
    norms = [p for n, p in model.named_parameters() if ".encoder." in f".{n}" and "LayerNorm" in n]
    layers = int(config.num_hidden_layers)
    gone = (shape["num_hidden_layers"] - layers) * sum(int((p != 0).sum()) for p in norms) // max(layers, 1)
    nonzero, masked = nonzero + gone, report["nonzero_params"] + gone
    return {"achieved_sparsity": {"prunable": 1 - (prunable - round(share * prunable)) / full,
                                  "encoder": 1 - nonzero / shape["encoder_params"], "model": 1 - masked / total},
            "nonzero_params": masked, "total_params": total,
            "compact_params": {"total": report["total_params"], "nonzero": report["nonzero_params"]},
            "sparsity_from": "config.json's sdp_unpruned (model/ is a compact structured form, away from its run)"}


def _prunable_nonzero(record: dict[str, Any]) -> int | None:
    """Nonzero prunable weights of a record (a run's metrics.json, or weight_sparsity's count), None if not known."""
    total, share = record.get("prunable_params"), (record.get("achieved_sparsity") or {}).get("prunable")
    if not isinstance(total, int) or not isinstance(share, (int, float)):
        return None
    return total - round(total * share)


def same_model_as_run(source: dict[str, Any], measured: dict[str, Any], model_dir: Path
                      ) -> tuple[dict[str, Any], str]:
    """The source run's record if ``model_dir`` still holds the model it wrote, else ({}, why). A run's model/ keeps
    every nonzero prunable weight it had (a structured run's compact form drops only all-zero heads, neurons and
    layers; the nonzero LayerNorms of a removed layer go with it, so the whole model's count may differ), so
    another count means the folder was edited or replaced after the run: its method, seed, target sparsity and
    measured sparsity are not this model's (a dense model copied in was listed as SDP-CC at 50%, and an edited
    compact model got the run's sparsity). Where the run recorded its weights' sha256 (``model_sha256``), any other
    content is such an edit, whatever the count."""
    recorded, held = _prunable_nonzero(source), _prunable_nonzero(measured)
    changed = changed_weights(model_dir, source.get("model_sha256")) if source else None
    if changed:  # by content, where the run recorded it: an edit that keeps the nonzero count is seen too
        why = (f"model_dir's {changed} is not the file its run wrote (its sha256 differs from the run's metrics.json "
               "model_sha256): edited or replaced after the run, so nothing is taken from that record")
    elif not source or recorded is None or held is None or recorded == held or source.get("model_sha256"):
        return source, ""  # the weights its run wrote, by content (a count over sdp-eval's own prune.* set differs)
    else:
        why = (f"model_dir holds {held} nonzero prunable weights, its run's metrics.json recorded {recorded}: edited "
               "or replaced after the run, so nothing is taken from that record")
    log.warning("sdp-eval: %s", why)
    return {}, why


def _dense_stage_of(path: Path) -> dict[str, Any]:
    """A run's own dense_model/ (its record's dense_model_fingerprint, where it has one, matching the folder):
    method Dense at sparsity 0 and the run's seed; other folders: nothing known. The record listed such a model
    with no method, seed or sparsity (probe round 28, noticed)."""
    from sdp.run.nesting import is_sdp_metrics
    from sdp.run.rundir import read_metrics
    from sdp.run.same_data import model_fingerprint

    unknown = {"method": "", "seed": None, "target_sparsity": None}
    path = path.resolve()
    run = (read_metrics(path.parent) or {}) if path.name == "dense_model" else {}
    recorded = run.get("dense_model_fingerprint")
    if run.get("status") != "completed" or run.get("kind", "run") != "run" or not is_sdp_metrics(run, path.parent) or (
            recorded is not None and recorded != model_fingerprint(path)):  # edited or replaced since
        return unknown
    return {"method": "Dense", "seed": run.get("seed"), "target_sparsity": 0.0, "model": run.get("model")}


@contextlib.contextmanager
def _warnings_kept() -> Iterator[list[str]]:
    """The WARNING lines sdp logs meanwhile, kept for the record: a run's reach its metrics.json, card and summary.md;
    an evaluation's were on the console only (its test rows repeating the dev rows: probe round 31, ew1)."""
    said: list[str] = []
    # and on the console where nothing else prints them: the handler above took the place of logging's last resort,
    # and sdp-eval printed none of its warnings (probe round 33, cw1)
    console = not any(logger.handlers for logger in (log, logging.getLogger()))

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())
            if console:
                print(f"warning: {record.getMessage()}", file=sys.stderr)

    handler = _Keep(logging.WARNING)
    log.addHandler(handler)
    try:
        yield said
    finally:
        log.removeHandler(handler)


def evaluate_saved(cfg: Any, model_dir: str | Path, out_dir: str | Path, length_given: bool = True) -> dict[str, Any]:
    """Score ``model_dir`` on ``cfg.task``'s eval splits; metrics.json (kind "eval") in ``out_dir``; the record.
    ``length_given`` false (sdp-eval without task.max_seq_length=): the length the model was trained at is taken.
    Every warning it gives is in the record's ``warnings`` (they were on the console only: probe round 31, ew1)."""
    with _warnings_kept() as said:
        return _evaluate_saved(cfg, model_dir, out_dir, length_given, said)


def _evaluate_saved(cfg: Any, model_dir: str | Path, out_dir: str | Path, length_given: bool,
                    said: list[str]) -> dict[str, Any]:
    """evaluate_saved's work; ``said``: the warnings given so far, kept in the record."""
    started = time.time()
    out_dir = Path(out_dir)
    path, config = check_saved_model(model_dir)  # cheap checks first: no weights, no data read yet
    check_out_dir(out_dir, path, cfg.task.name)
    seen = record_bytes(out_dir)
    trained = None if length_given else trained_length(path, config)
    if trained is not None and trained != int(cfg.task.max_seq_length):
        # A model trained at 32 tokens was scored at the task's default 128 (38.14 where its run said 41.84), unsaid
        log.warning("sdp-eval: scoring at task.max_seq_length=%d, the length model_dir was trained and scored at "
                    "(the task's default is %d); set task.max_seq_length= to score at another", trained,
                    cfg.task.max_seq_length)
        cfg.task.max_seq_length = trained
    if (error := length_error("task.max_seq_length", cfg.task.max_seq_length, config,
                              f"model_dir {str(model_dir)!r}")) is not None:
        raise ConfigError(error)
    filled = fill_custom_task(cfg, config)
    scoring = SCORING_ONLY.set(True)  # the custom task's train_file is the scored file itself (fill_custom_task)
    try:
        with named_as_given(filled):
            task = resolve_run_task(cfg)  # a test file against the dev rows scored (round 37, fr1)
    finally:
        SCORING_ONLY.reset(scoring)
    check_task_labels(model_dir, config, task)
    key = "task.text_fields" if cfg.task.name == "custom" else f"task={cfg.task.name}"  # a GLUE task's columns are its own
    if (error := text_order_error(model_dir, config, task.text_fields, key)) is not None:
        raise ConfigError(error)
    differences = carve_differences(path, cfg) if cfg.task.get("validation_from_train") else {}
    if differences and not rows_decide(config, differences):
        raise ConfigError(f"model_dir {str(model_dir)!r} was not trained on the carve of the training rows that "
                          f"task.validation_from_train gives here ({carve_words(differences)}): the rows held out "
                          "here include rows its run trained on; give its run's max_train_samples, task.validation_from_train and "
                          "task.validation_seed (or score it on the dev split)")
    saved = load_saved_model(path, cpu=cfg.cpu)
    datasets.disable_progress_bars()  # as a run does: bars are for training, not for every map()
    with named_as_given(filled):
        data, groups = load_eval_data(cfg, task, saved.tokenizer, config, model_dir, differences)
    outputs = {split: predict_split(saved, data[split], cfg.train.eval_batch_size) for split in task.eval_splits}
    # An undefined metric (constant predictions) is stored as 0.0: the record says so, as a run's metrics.json does
    # (it was on stderr only, so a one-class CoLA model's mcc 0.00 read as measured).
    metric_warnings: list[str] = []
    scores = compute_metrics_noting(task, outputs, groups, metric_warnings, data)
    source = source_run(path)
    given = list(cfg.prune.include) != PruneConfig().include or list(cfg.prune.exclude)  # sdp-eval's own prune.*
    measured = weight_sparsity(saved.model, (None if given else run_prune_config(path, source)) or cfg.prune)
    source, edited = same_model_as_run(source, measured, path)
    report = compact_sparsity({k: v for k, v in measured.items() if k != "prunable_params" or not source}, source,
                              saved.model)
    report.pop("prunable_params", None)
    stage = _dense_stage_of(path) if not source else {"method": source.get("method", ""), "seed": source.get("seed"),
                                                      "target_sparsity": source.get("target_sparsity")}
    record = {
        "kind": EVAL_KIND,
        "status": "completed",
        "task": task.name,
        # the run's model, else the folder's name as sdp-eval's own folder says it: a run's dense_model/ was named
        # after its run folder (a sweep job's 250 bytes), a folder of no run after the folder above it (round 32, ed1)
        "model": source.get("model") or stage.pop("model", None) or model_name_from(str(path)),
        **stage,
        **report,
        "final": scores,
        "model_dir": str(path.resolve()),
        "source_run": {"config_hash": source.get("config_hash"), "final": source.get("final")} if source else None,
        **({"source_run_differs": edited} if edited else {}),
        **({"metric_warnings": metric_warnings} if metric_warnings else {}),
        "eval_examples": {split: len(out[1]) for split, out in outputs.items()},
        **eval_queries(groups, data),
        "max_seq_length": int(cfg.task.max_seq_length),
        # the length model_dir was trained at (config.json sdp_max_seq_length): the tables say where they differ
        **({"trained_max_seq_length": at} if (at := trained_length(path, config)) is not None else {}),
        **({"warnings": list(dict.fromkeys(said))} if said else {}),
        "versions": versions(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(time.time() - started, 2),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with folder_lock(out_dir):  # another sdp-eval's record written here meanwhile: checked again, not lost unsaid
        if record_bytes(out_dir) != seen:
            check_out_dir(out_dir, path, cfg.task.name)  # two at once both wrote, one record lost (round 30, ec1)
        write_json(out_dir / "metrics.json", record)
    return record
