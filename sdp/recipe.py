"""The pruning recipe: dense fine-tuning, then iterative magnitude pruning with self-distillation.

    recipe = PruneRecipe(cfg, run_dir)
    recipe.setup()
    metrics = recipe.train()

One place owns the flow; the components it composes live in ``sdp.data`` (tasks, loading),
``sdp.models`` (presets), ``sdp.pruning`` (masks, schedules) and ``sdp.objectives`` (distillation,
weight regularizers, teacher). See docs/metrics_schema.md for what a run writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import datasets
import torch
from accelerate.utils import set_seed
from omegaconf import DictConfig, OmegaConf

from sdp.crosslingual import eval_groups, resolve_task, run_fields
from sdp.data.loading import (
    VALIDATION_FROM_TRAIN,
    load_splits,
    make_collator,
    make_dataloader,
    resolve_data_dir,
    tokenize_splits,
)
from sdp.data.tasks import TaskSpec
from sdp.metrics import compute_metrics
from sdp.models.card import push_to_hub, write_model_card
from sdp.models.presets import load_model, load_tokenizer
from sdp.objectives.distill import build_distillation
from sdp.objectives.monitor import cc_monitor_parts, dev_cross_correlation, dropout_disabled
from sdp.objectives.naming import method_name
from sdp.objectives.representations import model_outputs
from sdp.objectives.teacher import Teacher, TeacherCache
from sdp.objectives.weight import build_weight_regularizer
from sdp.pruning.masks import MaskState, assert_sparsity, magnitude_masks, select_prunable, sparsity_report
from sdp.pruning.overlap import MASK_FILE, jaccard, load_masks, save_masks
from sdp.pruning.patterns import check_prunable
from sdp.pruning.schedules import resolve_schedule
from sdp.training.checkpoint import Checkpointer
from sdp.training.distributed import (
    check_masks_agree,
    count_eval_examples,
    distributed_summary,
    make_accelerator,
)
from sdp.training.env import config_hash, versions
from sdp.training.io import append_jsonl, write_json
from sdp.training.loop import (
    StageHooks,
    build_lr_scheduler,
    build_optimizer,
    count_updates,
    predict,
    run_stage,
)
from sdp.training.rundir import atomic_dir, completed_metrics, prepare_run_dir
from sdp.training.trace import Measurements, probe_batch
from sdp.training.tracking import Tracker
from sdp.validate import ConfigError, validate_config

log = logging.getLogger("sdp")


class PruneRecipe:
    """Owns one run: setup, dense stage, pruning stage, evaluation and the files it writes."""

    def __init__(self, cfg: DictConfig, run_dir: str | Path) -> None:
        validate_config(cfg)
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.started = time.time()
        self.versions = versions()  # at start: the code that runs, not the tree as it is at the end
        self.method = method_name(cfg.regularizer.name, cfg.weight_reg.name, cfg.regularizer.representation)

    # ----------------------------------------------------------------------------------- setup
    def setup(self) -> None:
        cfg = self.cfg
        prepare_run_dir(self.run_dir)  # a clear error, before anything runs, if it is not writable
        self._setup_logging()
        datasets.disable_progress_bars()  # tqdm bars are for training, not for every map()
        if cfg.train.num_threads:
            torch.set_num_threads(cfg.train.num_threads)
        # Accelerator first: it decides the device and process rank everything else depends on.
        self.accelerator = make_accelerator(cfg, self.run_dir)  # DDP; FSDP/DeepSpeed refused (distributed.py)
        self.tracker = Tracker(self.accelerator, cfg)  # tracker=none|tensorboard|wandb|mlflow (tracking.py)
        set_seed(cfg.seed)
        self.task: TaskSpec = resolve_task(cfg.task)  # cross-lingual: task.languages / eval_test applied
        if cfg.task.validation_from_train:  # tuning runs: the dev split is never read (sdp/data/loading.py)
            self.task = dataclasses.replace(self.task, eval_splits=(VALIDATION_FROM_TRAIN,))
        if cfg.prune.dropout == "distill_off" and self.accelerator.num_processes > 1:
            raise ConfigError("prune.dropout=distill_off runs two forward passes per batch, which DDP does not "
                              "allow; use prune.dropout=off or on with several processes")
        self.tokenizer = load_tokenizer(cfg.model)
        self._setup_data()
        # The model is built after the data so a data error costs no model download.
        model = load_model(
            cfg.model, self.task.num_labels, self.task.label_names, self.tokenizer, checkpoint=cfg.dense.checkpoint
        )
        check_prunable(model, cfg.prune.include, cfg.prune.exclude)  # a wrong pattern fails now, not after dense
        # Prepared once for both stages: each stage only brings its own optimizer and LR schedule.
        self.model, self.train_loader, *eval_loaders = self.accelerator.prepare(
            model, self.train_loader, *self.eval_loaders.values()
        )
        self.eval_loaders = dict(zip(self.eval_loaders, eval_loaders))
        self.trace_path = self.run_dir / "trace.jsonl"
        self.eval_examples: dict[str, int] = {}
        self.extra_analysis: dict[str, Any] = {}  # mask overlaps, dev cross-correlation (prune stage end)
        self.checkpointer = Checkpointer(self)  # resumes from run_dir/checkpoints (sdp/training/checkpoint.py)
        self._setup_measurements()
        log.info("task=%s model=%s method=%s sparsity=%s seed=%s", self.task.name, cfg.model.name,
                 self.method, cfg.sparsity, cfg.seed)

    def _setup_measurements(self) -> None:
        """Probe batch, recovery tracker, separability and weight statistics (sdp/training/trace.py)."""
        train = self.datasets[self.task.train_split]
        # A training-size batch: twice per pruning step in eval mode, so it must stay cheap.
        probe = probe_batch(train, make_collator(self.tokenizer), self.cfg.train.batch_size, self.accelerator.device)

        def write(record: dict) -> None:
            if self.accelerator.is_main_process:
                append_jsonl(self.trace_path, record)

        self.measure = Measurements(probe, self._task_loss, self.task.is_regression, write)

    def _measure_separability(self, which: str) -> None:
        split = self.task.eval_splits[0]
        self.measure.measure_separability(which, self.accelerator, self.model, split, self.eval_loaders[split])

    def _setup_logging(self) -> None:
        path = self.run_dir / "run.log"
        if not any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path for h in log.handlers):
            handler = logging.FileHandler(path)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            log.addHandler(handler)
        log.setLevel(logging.INFO)

    def _setup_data(self) -> None:
        cfg = self.cfg
        # Tokenise on the main process first so the others read its cache instead of racing it.
        with self.accelerator.main_process_first():
            raw = load_splits(
                self.task,
                resolve_data_dir(cfg.data_dir),
                max_train_samples=cfg.max_train_samples,
                max_eval_samples=cfg.max_eval_samples,
                validation_from_train=cfg.task.validation_from_train,
                validation_seed=cfg.task.validation_seed,
            )
            self.datasets = tokenize_splits(raw, self.task, self.tokenizer, cfg.task.max_seq_length, cfg.cache_dir)
        self.eval_groups = eval_groups(self.task, raw)  # query ids for ranking metrics (WPR), else {}
        train = self.datasets[self.task.train_split]
        if len(train) < cfg.train.batch_size:
            raise ValueError(
                f"train.batch_size={cfg.train.batch_size} is larger than the training set "
                f"({len(train)} examples); lower it or raise max_train_samples"
            )
        collator = make_collator(self.tokenizer)
        # A trailing batch of one cannot be standardised by the cross-correlation loss: drop just that case.
        drop_last = len(train) % cfg.train.batch_size == 1
        self.train_loader = make_dataloader(train, collator, cfg.train.batch_size, True, cfg.seed, drop_last)
        self.eval_loaders = {
            split: make_dataloader(self.datasets[split], collator, cfg.train.eval_batch_size, False, cfg.seed)
            for split in self.task.eval_splits
        }

    # ------------------------------------------------------------------------------- evaluate
    def evaluate(self, model) -> dict[str, float]:
        outputs = {split: predict(self.accelerator, model, loader) for split, loader in self.eval_loaders.items()}
        self.eval_examples = count_eval_examples(outputs, self.datasets)  # no duplicates across processes
        return compute_metrics(self.task, outputs, groups=self.eval_groups)

    def _task_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.task.is_regression:
            return torch.nn.functional.mse_loss(logits.squeeze(-1).float(), labels.float())
        return torch.nn.functional.cross_entropy(logits.float(), labels)

    # ---------------------------------------------------------------------------------- train
    def train(self) -> dict[str, Any]:
        dense_metrics = self.dense_stage()
        final_metrics = self.prune_stage()
        return self._finish(dense_metrics, final_metrics)

    def dense_stage(self) -> dict[str, float]:
        resumed = self.checkpointer.resume_dense()  # dense stage done before a kill: its metrics
        if resumed is not None:
            if self.measure.separability.get("dense") is None:  # not restored from the checkpoint
                self._measure_separability("dense")  # the dense weights are loaded again: measure them
            return resumed
        if self.cfg.dense.checkpoint:
            log.info("dense stage skipped: loaded fine-tuned checkpoint %s", self.cfg.dense.checkpoint)
        else:
            self._fit(self.cfg.dense, "dense", self._dense_hooks)
        metrics = self.evaluate(self.model)
        log.info("dense dev: %s", metrics)
        self._measure_separability("dense")
        self.checkpointer.dense_done(metrics)
        return metrics

    def _dense_hooks(self) -> StageHooks:
        def loss_step(batch):
            loss = self._task_loss(self.model(**_inputs(batch)).logits, batch["labels"])
            return loss, {"loss": loss.item()}

        return StageHooks(loss_step=loss_step, after_update=self._trace_update("dense"))

    def _fit(self, stage_cfg, stage: str, hooks_factory) -> None:
        """Build a stage's optimizer and LR schedule, then run it."""
        cfg = self.cfg
        updates = count_updates(
            stage_cfg.epochs, stage_cfg.max_steps, len(self.train_loader), cfg.train.gradient_accumulation_steps
        )
        raw_optimizer = build_optimizer(self.model, stage_cfg.lr, cfg.train.weight_decay)
        optimizer = self.accelerator.prepare_optimizer(raw_optimizer)
        # Not prepared: accelerate would step it once per process per update.
        lr_scheduler = build_lr_scheduler(raw_optimizer, updates, cfg.train.warmup_ratio, stage_cfg.lr_schedule)
        self.raw_optimizer, self.stage_updates = raw_optimizer, updates
        # Restores the stage from a checkpoint; saves every train.checkpoint_every updates and on SIGTERM/SIGINT.
        with self.checkpointer.stage(stage, raw_optimizer, lr_scheduler, hooks_factory(), updates) as resume:
            run_stage(
                self.accelerator, self.model, self.train_loader, optimizer, lr_scheduler, updates, resume.hooks,
                cfg.train.max_grad_norm, desc=stage, start_update=resume.step, position=resume.position,
            )

    def _trace_update(self, stage: str):
        every = max(1, self.cfg.train.log_every)
        window: list[dict[str, float]] = []  # the updates since the last record: each record is their mean

        def after_update(step: int, parts: dict[str, float]) -> None:
            self.measure.observe(parts)
            self.tracker.log_update(stage, parts)
            window.append(parts)
            if step % every == 0 or step == self.stage_updates:
                if self.accelerator.is_main_process:
                    record = {"event": "train", "stage": stage, "step": step, "updates": len(window),
                              **window_means(window)}
                    append_jsonl(self.trace_path, record)
                window.clear()

        return after_update

    # --------------------------------------------------------------------------- prune stage
    def prune_stage(self) -> dict[str, float]:
        cfg = self.cfg
        student = self.accelerator.unwrap_model(self.model)
        self.prunable = select_prunable(student, cfg.prune.include, cfg.prune.exclude)
        self.measure.measure_weights("dense", self.prunable)
        self.masks = MaskState(self.prunable, cfg.prune.scope)
        self._save_dense_mask()
        options = {k: v for k, v in OmegaConf.to_container(cfg.regularizer).items() if k != "name"}
        self.distill = build_distillation(cfg.regularizer.name, **options)
        self.weight_reg = build_weight_regularizer(cfg.weight_reg.name)
        monitor = cfg.prune.monitor_representation
        self.monitor_needs = (monitor,) if monitor else ()
        self.teacher = self._build_teacher(student)
        # The teacher's own (frozen, or refreshed in place) parameters are the AWR reference weights.
        self.teacher_weights = (
            self.teacher.weights(list(self.prunable)) if cfg.weight_reg.name != "none" else None
        )
        self._prefill_teacher()
        with dropout_disabled(student) if cfg.prune.dropout == "off" else contextlib.nullcontext():
            self._fit(cfg.prune, "prune", self._prune_hooks)
        self.measure.end_prune_stage()
        if self.teacher is not None and self.teacher.cache is not None:
            log.info("teacher cache: %s", self.teacher.cache.stats())
            self.teacher.cache.close()
        assert_sparsity(self.prunable, cfg.sparsity, cfg.prune.scope)
        self._measure_mask_overlap()
        self._measure_dev_cross_correlation()
        metrics = self.evaluate(self.model)
        log.info("pruned dev: %s", metrics)
        self._measure_separability("final")
        self.measure.measure_weights("final", self.prunable)
        return metrics

    def _prefill_teacher(self) -> None:
        """Cache a fixed teacher's outputs for the whole training set before the stage (prune.teacher_prefill)."""
        teacher = self.teacher
        if teacher is None or teacher.cache is None or teacher.mode == "refresh" or not self.cfg.prune.teacher_prefill:
            return
        train = self.datasets[self.task.train_split]
        loader = make_dataloader(train, make_collator(self.tokenizer), self.cfg.train.eval_batch_size, False,
                                 self.cfg.seed)
        device = self.accelerator.device
        with self.accelerator.autocast():
            n = teacher.prefill({k: v.to(device) for k, v in batch.items()} for batch in loader)
        log.info("teacher cache prefilled: %d examples", n)

    def _save_dense_mask(self) -> None:
        """The mask the dense weights imply at the target sparsity (one shot), kept to measure how far the
        iterative schedule moved away from it. Written once: a resumed stage keeps the first one."""
        path = self.run_dir / "dense_mask.safetensors"
        if path.exists() or not self.accelerator.is_main_process:
            return
        save_masks(path, magnitude_masks(self.prunable, self.cfg.sparsity, self.cfg.prune.scope))

    def _measure_mask_overlap(self) -> None:
        """Jaccard overlap of this run's final mask with the dense-magnitude mask and a reference run's."""
        cfg, overlap = self.cfg, {}
        if self.accelerator.is_main_process:
            save_masks(self.run_dir / MASK_FILE, self.masks.masks)
        dense_path = self.run_dir / "dense_mask.safetensors"
        if dense_path.exists():
            overlap["dense_magnitude"] = jaccard(self.masks.masks, load_masks(dense_path))
        if cfg.prune.reference_mask:
            overlap["reference"] = jaccard(self.masks.masks, load_masks(cfg.prune.reference_mask))
            overlap["reference_path"] = str(cfg.prune.reference_mask)
        self.extra_analysis["mask_overlap"] = overlap
        log.info("mask overlap (Jaccard of kept weights): %s", overlap)

    def _measure_dev_cross_correlation(self) -> None:
        """CC(student, teacher) on the first eval split, both dropout-free, in training-size batches."""
        rep = self.cfg.prune.monitor_representation
        if not rep or self.teacher is None:
            return
        split = self.task.eval_splits[0]
        loader = make_dataloader(self.datasets[split], make_collator(self.tokenizer), self.cfg.train.batch_size,
                                 False, self.cfg.seed)
        device = self.accelerator.device
        batches = ({k: v.to(device) for k, v in b.items()} for b in loader)
        student = self.accelerator.unwrap_model(self.model)
        self.extra_analysis["cross_correlation"] = {
            "split": split, **dev_cross_correlation(student, self.teacher.model, batches, rep)}

    def _build_teacher(self, student) -> Teacher | None:
        cfg = self.cfg
        needs = tuple(dict.fromkeys((*self.distill.needs, *self.monitor_needs)))
        if not needs and cfg.weight_reg.name == "none":
            return None  # plain MP with the monitor off: no teacher at all
        cache = None
        if needs and cfg.prune.teacher_cache != "off":
            n = len(self.datasets[self.task.train_split])
            cache = TeacherCache(n, cfg.prune.teacher_cache, self.run_dir / "teacher_cache",
                                 rank=self.accelerator.process_index)
        if cfg.prune.teacher == "checkpoint":
            model = load_model(cfg.model, self.task.num_labels, self.task.label_names, self.tokenizer,
                               checkpoint=cfg.prune.teacher_checkpoint)
            teacher = Teacher(model.to(self.accelerator.device), "checkpoint", needs, cache)
        else:
            teacher = Teacher.copy_of(student, cfg.prune.teacher, needs, cache)
        return teacher

    def _prune_hooks(self) -> StageHooks:
        cfg = self.cfg
        self.schedule = resolve_schedule(
            cfg.schedule.name, cfg.sparsity, self.stage_updates,
            start=cfg.schedule.start, end=cfg.schedule.end, frequency=cfg.schedule.frequency,
            unit=cfg.schedule.unit, initial_sparsity=cfg.schedule.initial_sparsity,
        )
        log.info("schedule: %s, pruning at updates %s", self.schedule, self.schedule.pruning_steps())
        alpha, beta = cfg.regularizer.alpha, cfg.weight_reg.beta
        trace_update = self._trace_update("prune")

        distill_needs, monitor_needs = tuple(self.distill.needs), self.monitor_needs
        needs = tuple(dict.fromkeys((*distill_needs, *monitor_needs)))
        clean_pass = cfg.prune.dropout == "distill_off" and bool(distill_needs)

        def loss_step(batch):
            out = model_outputs(self.model, batch, needs)
            task_loss = self._task_loss(out["logits"], batch["labels"])
            loss, parts = task_loss, {"task_loss": task_loss.item()}
            if needs:
                with self.accelerator.autocast():
                    teacher_out = self.teacher.outputs(batch)
            if clean_pass:  # D (and the monitor) on a dropout-free pass; the task loss keeps its dropout
                with dropout_disabled(self.model):
                    out = model_outputs(self.model, batch, needs)
            if distill_needs:
                distill = self.distill(out, teacher_out)
                loss = loss + alpha * distill
                parts["distill"] = distill.item()
            if monitor_needs:  # CC(student, teacher) for every method, never part of the loss
                parts.update(cc_monitor_parts(out[monitor_needs[0]], teacher_out[monitor_needs[0]]))
            if self.teacher_weights is not None:
                reg = self.weight_reg(self.prunable, self.teacher_weights)
                loss = loss + beta * reg
                parts["weight_reg"] = reg.item()
            parts["loss"] = loss.item()
            return loss, parts

        def before_update(step: int) -> None:
            if not self.schedule.is_pruning_step(step):
                return
            target = self.schedule.sparsity_at(step)
            if target <= self.masks.current_sparsity:
                return  # e.g. cubic's first event at s_i = 0: nothing to prune, nothing to record
            if self.teacher is not None and self.teacher.mode == "refresh":
                self.teacher.refresh_from(self.accelerator.unwrap_model(self.model))

            def prune() -> float:
                self.masks.update(target, self.raw_optimizer)
                zeros = sum(int((w == 0).sum()) for w in self.prunable.values())
                return zeros / sum(w.numel() for w in self.prunable.values())

            record = self.measure.prune_step(self.model, step, target, prune)
            check_masks_agree(self.accelerator, self.masks, step)  # same masks on every rank, or raise
            self.tracker.log_prune_event(record)
            log.info("update %d: pruned to %.4f (achieved %.4f), probe loss %.4f -> %.4f", step, target,
                     record["achieved_sparsity"], record["loss_before"], record["loss_after"])

        def after_update(step: int, parts: dict[str, float]) -> None:
            self.masks.apply()
            parts["sparsity"] = self.masks.current_sparsity
            trace_update(step, parts)

        return StageHooks(loss_step, before_update, self.masks.mask_grads, after_update)

    # ---------------------------------------------------------------------------------- finish
    def _finish(self, dense: dict[str, float], final: dict[str, float]) -> dict[str, Any]:
        cfg = self.cfg
        student = self.accelerator.unwrap_model(self.model)
        report = sparsity_report(student, self.prunable)
        container = OmegaConf.to_container(cfg, resolve=True)
        metrics = {
            "status": "completed",
            "task": self.task.name,
            "model": cfg.model.name,
            "method": self.method,
            "regularizer": cfg.regularizer.name,
            "weight_reg": cfg.weight_reg.name,
            "schedule": cfg.schedule.name,
            "teacher": cfg.prune.teacher,
            "seed": cfg.seed,
            "target_sparsity": cfg.sparsity,
            "achieved_sparsity": report["achieved_sparsity"],
            "nonzero_params": report["nonzero_params"],
            "total_params": report["total_params"],
            "prunable_params": report["prunable_params"],
            "dense": dense,
            "final": final,
            "config_hash": config_hash(container),
            "versions": self.versions,
            "wall_seconds": round(time.time() - self.started, 2),
            "analysis": {**self.measure.summary(), **self.extra_analysis},
            "eval_examples": self.eval_examples,  # per split, after the cross-process gather
            "distributed": distributed_summary(self.accelerator, self.masks),  # world size, per-rank mask digests
        }
        metrics.update(run_fields(self.task, dense, final))  # cross-lingual: per_language, data.dropped_rows
        self.tracker.log_final(dense, final, report["achieved_sparsity"]["prunable"])
        if self.accelerator.is_main_process:
            self.save_model(student)
            write_model_card(self.run_dir / "model", metrics, cfg)  # model/README.md (sdp/models/card.py)
            if cfg.push_to_hub:
                log.info("pushed model/ to %s", push_to_hub(self.run_dir / "model", cfg.push_to_hub, self.task.name))
            write_json(self.run_dir / "sparsity.json", report["per_matrix"])
            write_json(self.run_dir / "metrics.json", metrics)
        self.accelerator.wait_for_everyone()
        self.checkpointer.cleanup()  # metrics.json is written: the training checkpoints are redundant
        per_matrix = report["per_matrix"].values()
        log.info("achieved sparsity %s (target %s), per matrix min %.4f max %.4f over %d matrices "
                 "(sparsity.json), nonzero params %d", report["achieved_sparsity"], cfg.sparsity,
                 min(per_matrix), max(per_matrix), len(per_matrix), report["nonzero_params"])
        scored_on = "held-out" if cfg.task.validation_from_train else "dev"  # never call the carve "dev"
        log.info("RESULT %s %s %s: dense %s %s -> pruned %s %s at %.2f%% prunable sparsity; run dir %s",
                 self.task.name, cfg.model.name, self.method, scored_on, _fmt(dense), scored_on, _fmt(final),
                 100 * report["achieved_sparsity"]["prunable"], self.run_dir)
        return metrics

    def save_model(self, student) -> None:
        """A plain save_pretrained checkpoint (safetensors) with the zeros baked in, plus tokenizer."""
        with atomic_dir(self.run_dir / "model") as out:  # never a half-written model folder
            student.save_pretrained(out, safe_serialization=True)
            self.tokenizer.save_pretrained(out)


def window_means(window: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each logged part over a window of updates; ``sparsity`` and ``lr`` are the window's last."""
    keys = dict.fromkeys(k for parts in window for k in parts)
    out = {}
    for k in keys:
        values = [parts[k] for parts in window if k in parts]
        out[k] = values[-1] if k in ("sparsity", "lr") else sum(values) / len(values)
    return out


def _fmt(scores: dict[str, float]) -> str:
    return ", ".join(f"{k}={100 * v:.2f}" for k, v in scores.items() if "/" not in k)


def _inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in batch.items() if k not in ("labels", "idx")}


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    """Run one experiment and return its metrics (the dict written to metrics.json)."""
    if run_dir is None:
        run_dir = cfg.output_dir
    if run_dir is None:
        from hydra.core.hydra_config import HydraConfig

        run_dir = HydraConfig.get().runtime.output_dir
    recipe = PruneRecipe(cfg, run_dir)
    done = completed_metrics(run_dir, cfg)  # this config already completed here: nothing to recompute
    if done is not None:
        log.info("run %s already completed: returning its metrics.json", run_dir)
        return done
    recipe.setup()
    return recipe.train()
