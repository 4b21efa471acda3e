"""What a completed run reports: the metrics.json record (docs/metrics_schema.md), the files written with it
(model/, its card, sparsity.json) and its log lines."""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from sdp.crosslingual import run_fields
from sdp.data.fingerprint import ROW_HASHES_KEY, ROW_KEYS_FILE, ROWS_KEY, TRAINED_ROWS_KEY, row_hashes_record
from sdp.data.tasks import TASKS, TaskSpec
from sdp.data.xglue_tasks import XTASKS
from sdp.io import FolderRemovedError, write_json
from sdp.models.card import push_to_hub, write_model_card
from sdp.models.inspect import PRUNABLE_KEY, weights_digest
from sdp.models.tokenizer_digest import tokenizer_digest
from sdp.run.code import code_identity
from sdp.run.env import cell_hash, config_hash
from sdp.run.logs import logged_warnings
from sdp.run.rundir import atomic_dir, read_run_record
from sdp.run.same_data import model_fingerprint
from sdp.training_rows import carve_of

log = logging.getLogger("sdp")


def run_metrics(cfg: Any, task: TaskSpec, method: str, report: dict[str, Any], dense: dict[str, float],
                final: dict[str, float], *, dropped_rows: dict[str, int], **measured: Any) -> dict[str, Any]:
    """The metrics.json record. ``report`` is ``sparsity_report``'s; ``dropped_rows`` is ``load_splits``'
    count per split; ``measured`` holds the run's versions, wall_seconds, analysis, data_fingerprint,
    eval_examples and distributed blocks, in that order."""
    metrics = {
        "status": "completed",
        "task": task.name,
        "model": cfg.model.name,
        "method": method,
        "regularizer": cfg.regularizer.name,
        # The term's own options (representation, alpha, lambda_off, ...): "mse" alone named every representation
        # (probe round 10, t06), which only the method label and .hydra/config.yaml told apart.
        "regularizer_options": _options(cfg.regularizer),
        "weight_reg": cfg.weight_reg.name,
        "weight_reg_options": _options(cfg.weight_reg),
        "schedule": cfg.schedule.name,
        "teacher": cfg.prune.teacher,
        "seed": cfg.seed,
        "stages": cfg.get("stages") or "dense+prune",
        "target_sparsity": 0.0 if cfg.get("stages") == "dense" else cfg.sparsity,  # stages=dense prunes nothing
        "achieved_sparsity": report["achieved_sparsity"],
        "nonzero_params": report["nonzero_params"],
        "total_params": report["total_params"],
        "prunable_params": report["prunable_params"],
        "dense": dense,
        "final": final,
        "config_hash": config_hash(OmegaConf.to_container(cfg, resolve=True)),
        "cell_hash": cell_hash(OmegaConf.to_container(cfg, resolve=True)),
        # When it finished (UTC): of two records of one config and seed, the report keeps the later one. File
        # times cannot tell: a git checkout gives every file the time of the checkout.
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code": code_identity(),  # the code the run started with (cached at its first use): part of its identity
        **measured,
    }
    metrics.update(run_fields(task, dense, final, dropped_rows))  # cross-lingual: per_language, data.dropped_rows
    return metrics


def _options(node: Any) -> dict[str, Any]:
    """A component's options as composed, without its name and ``_target_`` (recorded apart, or code)."""
    return {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k not in ("name", "_target_")}


def save_model_dir(path: Path, model: Any, tokenizer: Any, extra_files: Any = None, cfg: Any = None) -> None:
    """A plain save_pretrained folder (safetensors) plus the tokenizer, never half-written; ``extra_files(folder)``
    adds more files to it first (a structured run's model.onnx). config.json records how the model was trained
    (:func:`record_training`), so that a later load can check what it is handed against it."""
    if not path.parent.is_dir():  # the run folder was removed meanwhile: not made anew with only model/ in it
        raise FolderRemovedError(f"the run folder {str(path.parent)!r} was removed (or moved) while the run went on; "
                                 f"{path.name}/ is not written. Run the same command again to start over")
    record_training(model, tokenizer, cfg, path.parent)
    with atomic_dir(path) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if (rows := path.parent / ROW_KEYS_FILE).is_file():  # which rows it trained on, wherever the folder goes
            shutil.copyfile(rows, Path(tmp) / ROW_KEYS_FILE)
        if extra_files is not None:
            extra_files(Path(tmp))


def write_outputs(run_dir: Path, cfg: Any, metrics: dict[str, Any], report: dict[str, Any], student: Any,
                  tokenizer: Any, masks: Any = None) -> None:
    """The finished run's files (main process only): model/ with the zeros baked in and its README.md card,
    sparsity.json per matrix, metrics.json, and only then the Hub upload if ``cfg.push_to_hub``: a login or
    network failure must not cost the finished run its record. Structured ``masks``: model/ holds the smaller
    standard-form model, model.onnx and structure.json instead (sdp/pruning/export.py)."""
    from sdp.pruning.export import structured_outputs

    model, extra_files = structured_outputs(student, masks)
    if said := logged_warnings(run_dir):  # what the run warned of travels with its record and card, not run.log only
        metrics["warnings"] = said
    save_model_dir(run_dir / "model", model, tokenizer, extra_files, cfg)
    write_model_card(run_dir / "model", metrics, cfg)  # model/README.md (sdp/models/card.py)
    # What model/ holds, by content: a model/ edited or replaced later is then told by sdp-eval and by a relaunch
    # (sdp/run/rundir.py missing_weights), not only by its nonzero count.
    metrics["model_sha256"] = weights_digest(run_dir / "model")
    if not OmegaConf.select(cfg, "dense.checkpoint") and (run_dir / "dense_model").is_dir():  # its own, by content
        metrics["dense_model_fingerprint"] = model_fingerprint(run_dir / "dense_model")
    if isinstance(metrics.get("code"), dict):
        metrics["code"] = code_trail(run_dir, metrics["code"])
    write_json(run_dir / "sparsity.json", report["per_matrix"])
    write_json(run_dir / "metrics.json", metrics)
    # an earlier launch's failure, resumed past: its traceback beside a completed record read as this run's (probe
    # round 41, er1)
    (run_dir / "error.txt").unlink(missing_ok=True)
    if cfg.push_to_hub:
        try:
            log.info("pushed model/ to %s", push_to_hub(run_dir / "model", cfg.push_to_hub, metrics["task"]))
        except Exception as exc:  # noqa: BLE001 - not raised: the other ranks wait for this one, and the run is done
            log.error("the run is complete, but pushing model/ to %r failed (%s: %s); upload it with "
                      "`hf upload %s %s --exclude %s`", cfg.push_to_hub, type(exc).__name__, exc,
                      cfg.push_to_hub, run_dir / "model", ROW_KEYS_FILE)  # its training rows' hashes stay local


def code_trail(run_dir: Path, code: dict[str, Any]) -> dict[str, Any]:
    """``code`` with ``before_resume``, the ids of the code the launches before this one ran (run.json's earlier_code,
    kept by a resume with reuse=any_code): the record named the last code alone, and the tables "one sdp version"
    for a run two codes trained (probe round 30, rz1)."""
    earlier = [c.get("id") for c in (read_run_record(run_dir) or {}).get("earlier_code") or [] if isinstance(c, dict)]
    return {**code, "before_resume": earlier} if earlier else code


def record_training(model: Any, tokenizer: Any, cfg: Any = None, run_dir: Path | None = None) -> None:
    """config.json keys that travel with the weights (a model folder copied away keeps them):
    - ``sdp_tokenizer_digest``: the tokenizer, by behaviour; every load compares it with the one it is handed
      (check_vocab), so a tokenizer replaced or edited beside the weights is refused, not scored;
    - ``sdp_text_fields``: the input it takes; sdp-predict refuses one text for a pair model, and back;
    - ``sdp_label_columns``: the column(s) of its answers (a GLUE task's local file's and the Hub's ``label``);
      sdp-predict refuses them as texts;
    - ``sdp_max_seq_length``: the length it was trained and scored at; sdp-eval and sdp-predict take it when not
      told another (they took the task's default 128 for a model trained at 32, unsaid: probe round 11);
    - ``sdp_training_rows``: the carve of the training rows (sdp/training_rows.py); sdp-eval and a tuning run's
      dense.checkpoint are checked against it (it was read from run.json beside the folder only), with the
      fingerprint of the rows the run trained on (``run_dir``'s run.json), checked once the data is read: a tuning
      run's carve, or another run's training rows (a dense.checkpoint of other rows is said; recorded for every run
      since a folder copied away from its run had none: round 31's dc2, Left)."""
    model.config.sdp_tokenizer_digest = tokenizer_digest(tokenizer)
    task_cfg = (cfg.get("task") if hasattr(cfg, "get") else None) or {}
    if not task_cfg:
        return
    fields = _text_fields(cfg)
    if fields:
        model.config.sdp_text_fields = fields
    model.config.sdp_label_columns = _label_columns(task_cfg)  # sdp-predict refuses them as text fields
    if task_cfg.get("max_seq_length"):
        model.config.sdp_max_seq_length = int(task_cfg.get("max_seq_length"))
    plain = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)
    model.config.sdp_training_rows = carve_of(plain)
    prune = plain.get("prune") if isinstance(plain.get("prune"), dict) else {}
    if isinstance(prune.get("include"), list):  # the prunable set, for sdp-eval of a copy (probe round 36, ev1)
        setattr(model.config, PRUNABLE_KEY, {"include": prune["include"], "exclude": list(prune.get("exclude") or [])})
    if run_dir is not None:
        record = read_run_record(run_dir) or {}
        if trained := (record.get("data_fingerprint") or {}).get("train"):
            model.config.sdp_training_rows[TRAINED_ROWS_KEY] = trained
        if record.get(ROWS_KEY):  # the same rows in any order (a shuffled file of them is not "other rows")
            model.config.sdp_training_rows[ROWS_KEY] = record[ROWS_KEY]
        if (hashes := row_hashes_record(run_dir)) is not None:  # the file it copies in, so a cut copy is known (hc1)
            model.config.sdp_training_rows[ROW_HASHES_KEY] = hashes


def _label_columns(task_cfg: Any) -> list[str]:
    """The names a task's label column goes by: task=custom's task.label_column; a GLUE/XGLUE task's in its local
    files (MRPC `Quality`, QQP `is_duplicate`, MNLI `gold_label`) and on the Hub (`label`; XGLUE's own names)."""
    if task_cfg.get("label_column"):
        return [str(task_cfg.get("label_column"))]
    name = str(task_cfg.get("name")).strip().lower()  # as get_task looks it up
    local = getattr(TASKS.get(name), "local_label_column", None)
    hub = getattr(XTASKS.get(name), "hub_label", None)  # XGLUE's: news_category, relevance_label, relavance_label
    return sorted({"label", *(c for c in (local, hub) if isinstance(c, str))})


def _text_fields(cfg: Any) -> list[str] | None:
    task_cfg = cfg.get("task") if hasattr(cfg, "get") else None
    if task_cfg is None:
        return None
    if task_cfg.get("name") == "custom":  # the user's columns, as given (no need to read the files again)
        return list(task_cfg.get("text_fields") or []) or None
    from sdp.crosslingual import resolve_task

    return list(resolve_task(task_cfg).text_fields)


def log_result(metrics: dict[str, Any], report: dict[str, Any], run_dir: Any) -> None:
    """The sparsity line and the one-line RESULT summary."""
    per_matrix = report["per_matrix"].values()
    log.info("achieved sparsity %s (target %s), per matrix min %.4f max %.4f over %d matrices "
             "(sparsity.json), nonzero params %d", report["achieved_sparsity"], metrics["target_sparsity"],
             min(per_matrix), max(per_matrix), len(per_matrix), report["nonzero_params"])
    # A tuning run is scored on the split carved from train: never call that "dev".
    scored_on = "held-out" if "validation_from_train" in metrics.get("eval_examples", {}) else "dev"
    if metrics.get("stages") == "dense":  # it said "-> pruned ... at 0.00%" of a run that pruned nothing (round 12)
        log.info("RESULT %s %s dense only (stages=dense): %s %s; no pruning stage; run dir %s", metrics["task"],
                 metrics["model"], scored_on, _fmt(metrics["dense"]), run_dir)
        return
    log.info("RESULT %s %s %s: dense %s %s -> pruned %s %s at %.2f%% prunable sparsity; run dir %s",
             metrics["task"], metrics["model"], metrics["method"], scored_on, _fmt(metrics["dense"]), scored_on,
             _fmt(metrics["final"]),
             100 * report["achieved_sparsity"]["prunable"], run_dir)


def _fmt(scores: dict[str, float]) -> str:
    return ", ".join(f"{k}={100 * v:.2f}" for k, v in scores.items() if "/" not in k)
