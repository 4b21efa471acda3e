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
from omegaconf import DictConfig
from tqdm.auto import tqdm

from sdp.config import term_options
from sdp.crosslingual import resolve_task
from sdp.data.fingerprint import record_data, verify_completed_data
from sdp.data.loading import VALIDATION_FROM_TRAIN, make_dataloader
from sdp.data.pipeline import build_data
from sdp.data.tasks import TaskSpec
from sdp.metrics import compute_metrics
from sdp.models.card import push_to_hub, write_model_card
from sdp.models.presets import load_model, load_tokenizer
from sdp.objectives.distill import build_distillation
from sdp.objectives.monitor import cc_monitor_parts, dev_cross_correlation, dropout_disabled
from sdp.objectives.naming import method_name
from sdp.objectives.representations import model_outputs
from sdp.objectives.task_loss import task_loss
from sdp.objectives.teacher import Teacher, TeacherCache
from sdp.objectives.weight import build_weight_regularizer
from sdp.pruning.masks import (
    MaskState,
    assert_sparsity,
    count_zeros,
    magnitude_masks,
    select_prunable,
    sparsity_report,
)
from sdp.pruning.overlap import MASK_FILE, jaccard, load_masks, save_masks
from sdp.pruning.patterns import check_prunable
from sdp.pruning.schedules import resolve_schedule
from sdp.run_summary import log_result, run_metrics
from sdp.training.checkpoint import Checkpointer
from sdp.training.distributed import (
    check_masks_agree,
    count_eval_examples,
    distributed_summary,
    make_accelerator,
)
from sdp.training.env import versions
from sdp.training.io import append_jsonl, write_json
from sdp.training.launch import launcher_rank
from sdp.training.logs import attach_run_log
from sdp.training.loop import (
    DataPosition,
    Stage,
    build_lr_scheduler,
    build_optimizer,
    count_updates,
    endless,
    mean_parts,
    predict,
)
from sdp.training.rundir import atomic_dir, completed_metrics, prepare_run_dir, resume_identity
from sdp.training.state_io import (
    CheckpointError,
    cpu_state,
    load_weights,
    optimizer_from_files,
    optimizer_to_files,
)
from sdp.training.trace import Measurements, probe_batch
from sdp.training.tracking import Tracker
from sdp.validate import ConfigError, validate_config

CKPT_DIR = "checkpoints"  # <run dir>/checkpoints: training state while the run is in progress
DENSE_DIR = "dense_model"  # <run dir>/dense_model: the fine-tuned dense model, written once
DENSE_MASK = "dense_mask.safetensors"  # the mask the dense weights imply at the target sparsity

log = logging.getLogger("sdp")


class PruneRecipe:
    """Owns one run: setup, dense stage, pruning stage, evaluation and the files it writes."""

    def __init__(self, cfg: DictConfig, run_dir: str | Path) -> None:
        validate_config(cfg)
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.trace_path = self.run_dir / "trace.jsonl"
        self.started = time.time()
        self.versions = versions()  # at start: the code that runs, not the tree as it is at the end
        self.method = method_name(cfg.regularizer.name, cfg.weight_reg.name, cfg.regularizer.representation or "cls")
        self.dense_metrics: dict[str, float] | None = None  # set when the dense stage ends (or is resumed)
        self.eval_examples: dict[str, int] = {}  # per split, after the cross-process gather
        self.extra_analysis: dict[str, Any] = {}  # mask overlaps, held-out CC(student, teacher): prune stage end

    # ----------------------------------------------------------------------------------- setup
    def setup(self) -> None:
        """Build every component, in dependency order; nothing that holds state is created later."""
        cfg = self.cfg
        prepare_run_dir(self.run_dir)  # a clear error, before anything runs, if it is not writable
        attach_run_log(self.run_dir, launcher_rank() == 0)  # this job's run.log only, main process only
        datasets.disable_progress_bars()  # tqdm bars are for training, not for every map()
        if cfg.train.num_threads:
            torch.set_num_threads(cfg.train.num_threads)
        # 1. Accelerator first: it decides the device and process rank everything else depends on.
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
        # 2. Data before the model, so a data error costs no model download.
        data = build_data(cfg, self.task, self.tokenizer, self.accelerator)
        self.datasets, self.eval_groups, self.collator = data.datasets, data.groups, data.collator
        # Per split, in run.json now and metrics.json at the end: a skip or resume on other data is refused.
        self.data_fingerprint = record_data(self.run_dir, cfg, data.raw, self.accelerator.is_main_process)
        # 3. Model, prepared once for both stages.
        model = load_model(
            cfg.model, self.task.num_labels, self.task.label_names, self.tokenizer, checkpoint=cfg.dense.checkpoint
        )
        check_prunable(model, cfg.prune.include, cfg.prune.exclude)  # a wrong pattern fails now, not after dense
        self.model, self.train_loader, *eval_loaders = self.accelerator.prepare(
            model, data.train_loader, *data.eval_loaders.values()
        )
        self.eval_loaders = dict(zip(data.eval_loaders, eval_loaders))
        student = self.accelerator.unwrap_model(self.model)
        # 4. The prunable set and its masks: views of the student's own parameters.
        self.prunable = select_prunable(student, cfg.prune.include, cfg.prune.exclude)
        self.masks = MaskState(self.prunable, cfg.prune.scope)
        # 5. The objective's terms, then the teacher they need (its weights become the dense model's
        #    when the pruning stage starts) and its output cache.
        self.distill = build_distillation(cfg.regularizer.name, **term_options(cfg.regularizer))
        self.weight_reg = build_weight_regularizer(cfg.weight_reg.name, **term_options(cfg.weight_reg))
        # CC(student, teacher) is monitored for every method, MP included (never part of the loss).
        self.monitor_needs = (cfg.prune.monitor_representation,) if cfg.prune.monitor_representation else ()
        self.teacher = self._setup_teacher(student)
        # The teacher's own (frozen, or refreshed in place) parameters are the AWR reference weights.
        self.teacher_weights = (
            self.teacher.weights(list(self.prunable)) if self.teacher is not None and cfg.weight_reg.name != "none"
            else None
        )
        # 6. One optimizer, LR schedule and progress per stage; the pruning schedule spans the prune stage.
        self.stages = {"dense": self._setup_stage("dense", cfg.dense), "prune": self._setup_stage("prune", cfg.prune)}
        prune = self.stages["prune"]
        prune.masks, prune.teacher = self.masks, self.teacher
        prune.schedule = resolve_schedule(
            cfg.schedule.name, cfg.sparsity, prune.updates,
            start=cfg.schedule.start, end=cfg.schedule.end, frequency=cfg.schedule.frequency,
            unit=cfg.schedule.unit, initial_sparsity=cfg.schedule.initial_sparsity,
        )
        # 7. Checkpoints (resumes from run_dir/checkpoints), then the measurements behind the analysis.
        self.checkpointer = Checkpointer(self.run_dir / CKPT_DIR, self.accelerator, resume_identity(cfg),
                                         cfg.resume, self.trace_path)
        self.measure = self._setup_measurements()
        log.info("task=%s model=%s method=%s sparsity=%s seed=%s", self.task.name, cfg.model.name,
                 self.method, cfg.sparsity, cfg.seed)
        log.info("schedule: %s, pruning at updates %s", prune.schedule, prune.schedule.pruning_steps())

    def _setup_teacher(self, student) -> Teacher | None:
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
            # Its random head init must not shift the RNG stream the dense stage trains with.
            with torch.random.fork_rng(devices=[]):
                model = load_model(cfg.model, self.task.num_labels, self.task.label_names, self.tokenizer,
                                   checkpoint=cfg.prune.teacher_checkpoint)
            return Teacher(model.to(self.accelerator.device), "checkpoint", needs, cache)
        return Teacher.copy_of(student, cfg.prune.teacher, needs, cache)  # dense weights: at prune start

    def _setup_stage(self, name: str, stage_cfg) -> Stage:
        cfg = self.cfg
        updates = count_updates(
            stage_cfg.epochs, stage_cfg.max_steps, len(self.train_loader), cfg.train.gradient_accumulation_steps
        )
        raw = build_optimizer(self.model, stage_cfg.lr, cfg.train.weight_decay)
        # Not prepared: accelerate would step it once per process per update.
        lr_scheduler = build_lr_scheduler(raw, updates, cfg.train.warmup_ratio, stage_cfg.lr_schedule)
        return Stage(name, updates, self.accelerator.prepare_optimizer(raw), raw, lr_scheduler)

    def _setup_measurements(self) -> Measurements:
        """Probe batch, recovery tracker, separability and weight statistics (sdp/training/trace.py)."""
        train = self.datasets[self.task.train_split]
        # A training-size batch: twice per pruning step in eval mode, so it must stay cheap.
        probe = probe_batch(train, self.collator, self.cfg.train.batch_size, self.accelerator.device)

        def write(record: dict) -> None:
            if self.accelerator.is_main_process:
                append_jsonl(self.trace_path, record)

        return Measurements(probe, self._task_loss, self.task.is_regression, write)

    # ------------------------------------------------------------------------------- evaluate
    def evaluate(self) -> dict[str, float]:
        outputs = {split: predict(self.accelerator, self.model, loader) for split, loader in self.eval_loaders.items()}
        self.eval_examples = count_eval_examples(outputs, self.datasets)  # no duplicates across processes
        return compute_metrics(self.task, outputs, groups=self.eval_groups)

    def _measure_separability(self, which: str) -> None:
        split = self.task.eval_splits[0]
        self.measure.measure_separability(which, self.accelerator, self.model, split, self.eval_loaders[split])

    def _task_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return task_loss(logits, labels, self.task.is_regression)

    # ---------------------------------------------------------------------------------- train
    def train(self) -> dict[str, Any]:
        dense_metrics = self.dense_stage()
        final_metrics = self.prune_stage()
        return self._finish(dense_metrics, final_metrics)

    def dense_stage(self) -> dict[str, float]:
        resume = self.checkpointer.latest
        if resume is not None and resume["stage"] == "prune":  # the dense stage finished before a kill
            self.load_dense_state(resume)
            if self.measure.separability.get("dense") is None:  # not restored from the checkpoint
                self._measure_separability("dense")  # the dense weights are loaded again: measure them
            return self.dense_metrics
        if self.cfg.dense.checkpoint:
            log.info("dense stage skipped: loaded fine-tuned checkpoint %s", self.cfg.dense.checkpoint)
        else:
            self.run_stage(self.stages["dense"])
        metrics = self.evaluate()
        log.info("dense dev: %s", metrics)
        self._measure_separability("dense")
        self.dense_metrics = metrics
        if self.accelerator.is_main_process and not self.cfg.dense.checkpoint:
            student = self.accelerator.unwrap_model(self.model)
            with atomic_dir(self.run_dir / DENSE_DIR) as tmp:  # saved once; the teacher's reference weights
                student.save_pretrained(tmp, safe_serialization=True)
                self.tokenizer.save_pretrained(tmp)
        self.save_checkpoint(self.stages["prune"])  # the prune stage's step 0
        return metrics

    def prune_stage(self) -> dict[str, float]:
        cfg = self.cfg
        student = self.accelerator.unwrap_model(self.model)
        self.measure.measure_weights("dense", self.prunable)
        if self.teacher is not None and self.teacher.mode != "checkpoint":
            self.teacher.copy_weights(student)  # the fine-tuned dense network
        self._save_dense_mask()
        self._prefill_teacher()
        with dropout_disabled(student) if cfg.prune.dropout == "off" else contextlib.nullcontext():
            self.run_stage(self.stages["prune"])
        self.measure.end_prune_stage()
        if self.teacher is not None and self.teacher.cache is not None:
            log.info("teacher cache: %s", self.teacher.cache.stats())
            self.teacher.cache.close()
        assert_sparsity(self.prunable, cfg.sparsity, cfg.prune.scope)
        self._measure_mask_overlap()
        self._measure_heldout_cross_correlation()
        metrics = self.evaluate()
        log.info("pruned dev: %s", metrics)
        self._measure_separability("final")
        self.measure.measure_weights("final", self.prunable)
        return metrics

    def _save_dense_mask(self) -> None:
        """The mask the dense weights imply at the target sparsity (one shot), kept to measure how far the
        iterative schedule moved away from it. Written once: a resumed stage keeps the first one."""
        path = self.run_dir / DENSE_MASK
        if path.exists() or not self.accelerator.is_main_process:
            return
        save_masks(path, magnitude_masks(self.prunable, self.cfg.sparsity, self.cfg.prune.scope))

    def _measure_mask_overlap(self) -> None:
        """Jaccard overlap of this run's final mask with the dense-magnitude mask and a reference run's."""
        reference, overlap = self.cfg.prune.reference_mask, {}
        if self.accelerator.is_main_process:
            save_masks(self.run_dir / MASK_FILE, self.masks.masks)
        if (self.run_dir / DENSE_MASK).exists():
            overlap["dense_magnitude"] = jaccard(self.masks.masks, load_masks(self.run_dir / DENSE_MASK))
        if reference:
            overlap["reference"] = jaccard(self.masks.masks, load_masks(reference))
            overlap["reference_path"] = str(reference)
        self.extra_analysis["mask_overlap"] = overlap
        log.info("mask overlap (Jaccard of kept weights): %s", overlap)

    def _measure_heldout_cross_correlation(self) -> None:
        """CC(student, teacher) on the first eval split, both dropout-free, in training-size batches."""
        rep = self.cfg.prune.monitor_representation
        if not rep or self.teacher is None:
            return
        split = self.task.eval_splits[0]
        loader = make_dataloader(self.datasets[split], self.collator, self.cfg.train.batch_size, False, self.cfg.seed)
        device = self.accelerator.device
        batches = ({k: v.to(device) for k, v in b.items()} for b in loader)
        student = self.accelerator.unwrap_model(self.model)
        self.extra_analysis["cross_correlation"] = {
            "split": split, **dev_cross_correlation(student, self.teacher.model, batches, rep)}

    def _prefill_teacher(self) -> None:
        """Cache a fixed teacher's outputs for the whole training set before the stage (prune.teacher_prefill)."""
        teacher = self.teacher
        if teacher is None or teacher.cache is None or teacher.mode == "refresh" or not self.cfg.prune.teacher_prefill:
            return
        train = self.datasets[self.task.train_split]
        loader = make_dataloader(train, self.collator, self.cfg.train.eval_batch_size, False, self.cfg.seed)
        device = self.accelerator.device
        with self.accelerator.autocast():
            n = teacher.prefill({k: v.to(device) for k, v in batch.items()} for batch in loader)
        log.info("teacher cache prefilled: %d examples", n)

    # ----------------------------------------------------------------------------- the loop
    def run_stage(self, stage: Stage) -> None:
        """Train ``stage`` for its optimizer updates (resuming it if the checkpoint is in it).

        Each update: (1) prune, if the schedule says so; (2-7) ``train_step`` per micro-batch: forward
        and loss parts, backward under accumulation, then mask gradients, clip, step, apply masks;
        (8) log; (9) checkpoint, every ``train.checkpoint_every`` updates and on SIGTERM/SIGINT.
        """
        acc, cfg = self.accelerator, self.cfg
        resume = self.checkpointer.latest
        if resume is not None and resume["stage"] == stage.name:
            self.load_state_dict(resume)
            self.checkpointer.latest = None
        every, log_every = int(cfg.train.checkpoint_every or 0), max(1, cfg.train.log_every)
        self.model.train()
        bar = tqdm(total=stage.updates, initial=stage.step, desc=stage.name, disable=not acc.is_main_process)
        window: list[dict[str, float]] = []  # the micro-batches of the update in progress
        logged: list[dict[str, float]] = []  # the updates since the last trace record: it holds their means
        with self.checkpointer.watch_signals():
            for _, batch in endless(self.train_loader, acc, stage.position):
                if stage.step >= stage.updates:
                    break
                # 1. Prune event, before the update's first micro-batch.
                if not window and stage.schedule is not None and stage.schedule.is_pruning_step(stage.step):
                    self.prune_event(stage)
                # 2-7. Forward, loss parts, backward; at the window's end mask grads, clip, step, apply masks.
                window.append(self.train_step(stage, batch))
                if not acc.sync_gradients:
                    continue
                stage.step += 1
                # 8. Log the update's mean parts.
                parts = {**mean_parts(window), "lr": stage.lr_scheduler.get_last_lr()[0]}
                window = []
                if stage.masks is not None:
                    parts["sparsity"] = stage.masks.current_sparsity
                self.measure.observe(parts)
                self.tracker.log_update(stage.name, parts)
                logged.append(parts)
                if stage.step % log_every == 0 or stage.step == stage.updates:
                    if acc.is_main_process:
                        append_jsonl(self.trace_path, {"event": "train", "stage": stage.name, "step": stage.step,
                                                       "updates": len(logged),
                                                       **mean_parts(logged, last=("sparsity", "lr"))})
                    logged = []
                bar.update(1)
                bar.set_postfix(loss=f"{parts['loss']:.4f}")
                # 9. Checkpoint: periodically, and on a signal (then stop).
                stop = self.checkpointer.stop_requested()
                # The stage's last update too: a signal during the evaluation that follows loses no training.
                if stop or (every > 0 and stage.step % every == 0) or stage.step == stage.updates:
                    self.save_checkpoint(stage)
                if stop:
                    bar.close()
                    raise self.checkpointer.interrupted(stage.name, stage.step, self.run_dir / "metrics.json")
        bar.close()

    def prune_event(self, stage: Stage) -> None:
        """Raise the masks to the schedule's sparsity at this update, measuring the probe loss around it."""
        step, masks = stage.step, stage.masks
        target = stage.schedule.sparsity_at(step)
        if target <= masks.current_sparsity:
            return  # e.g. cubic's first event at s_i = 0: nothing to prune, nothing to record
        if stage.teacher is not None and stage.teacher.mode == "refresh":
            stage.teacher.refresh_from(self.accelerator.unwrap_model(self.model))
        before = self.measure.probe_loss(self.model)
        masks.update(target, stage.raw_optimizer)  # also zeroes the pruned weights' AdamW moments
        zeros, total = count_zeros(self.prunable.values())
        record = self.measure.pruned(step, target, zeros / total, before, self.measure.probe_loss(self.model))
        check_masks_agree(self.accelerator, masks, step)  # same masks on every rank, or raise
        self.tracker.log_prune_event(record)
        log.info("update %d: pruned to %.4f (achieved %.4f), probe loss %.4f -> %.4f", step, target,
                 record["achieved_sparsity"], record["loss_before"], record["loss_after"])

    def train_step(self, stage: Stage, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One micro-batch: forward and backward; at an accumulation window's end, the optimizer update.
        Returns the loss parts as floats."""
        acc, masks = self.accelerator, stage.masks
        with acc.accumulate(self.model):
            loss, parts = self.loss_step(stage, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{stage.name}: non-finite loss {loss.item()} at optimizer step {stage.step}")
            acc.backward(loss)
            if acc.sync_gradients:
                if masks is not None:
                    masks.mask_grads()  # pruned weights get no update...
                if self.cfg.train.max_grad_norm > 0:
                    # Unscale (fp16) through this stage's optimizer only: accelerate's clip_grad_norm_
                    # would unscale through every prepared optimizer, both stages', i.e. twice.
                    acc.unscale_gradients(optimizer=stage.optimizer)
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.max_grad_norm)
            stage.optimizer.step()  # a no-op inside an accumulation window (accelerate)
            if acc.sync_gradients:
                stage.lr_scheduler.step()
            stage.optimizer.zero_grad(set_to_none=True)
        if acc.sync_gradients and masks is not None:
            masks.apply()  # ...and weight decay cannot move them off zero either
        return {k: v.item() if torch.is_tensor(v) else float(v) for k, v in parts.items()}

    def loss_step(self, stage: Stage, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Forward ``batch``; the total loss and its parts (task loss, distillation, weight term).
        Without a teacher (dense stage, plain MP) the loss is the task loss alone."""
        teacher = stage.teacher
        distill_needs = tuple(self.distill.needs) if teacher is not None else ()
        monitor_needs = self.monitor_needs if teacher is not None else ()
        needs = tuple(dict.fromkeys((*distill_needs, *monitor_needs)))
        out = model_outputs(self.model, batch, needs)
        task_loss = self._task_loss(out["logits"], batch["labels"])
        loss, parts = task_loss, {"task_loss": task_loss}
        if needs:
            with self.accelerator.autocast():
                teacher_out = teacher.outputs(batch)
        if distill_needs and self.cfg.prune.dropout == "distill_off":
            with dropout_disabled(self.model):  # D (and the monitor) on a dropout-free pass; the task loss
                out = model_outputs(self.model, batch, needs)  # above keeps its dropout
        if distill_needs:
            parts["distill"] = self.distill(out, teacher_out)
            loss = loss + self.cfg.regularizer.alpha * parts["distill"]
        if monitor_needs:  # CC(student, teacher) for every method, never part of the loss
            parts.update(cc_monitor_parts(out[monitor_needs[0]], teacher_out[monitor_needs[0]]))
        if teacher is not None and self.teacher_weights is not None:
            parts["weight_reg"] = self.weight_reg(self.prunable, self.teacher_weights)
            loss = loss + self.cfg.weight_reg.beta * parts["weight_reg"]
        parts["loss"] = loss.detach()
        return loss, parts

    # ------------------------------------------------------------------------------ state
    def state_dict(self, stage: Stage) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
        """Everything a resume needs, in one place: JSON values and named groups of tensors."""
        acc = self.accelerator
        state: dict[str, Any] = {
            "dense_metrics": self.dense_metrics,
            "dense_model": self.dense_model_dir,  # the dense weights (frozen teacher, resumed step 0)
            "measurements": self.measure.state_dict(),
        }
        tensors: dict[str, dict[str, torch.Tensor]] = {}
        if stage.step == 0:
            return state, tensors  # nothing trained in this stage yet
        state["position"] = {"epoch": stage.position.epoch, "batches": stage.position.batches}
        state["accelerator_step"] = int(getattr(acc, "step", 0))
        state["lr_scheduler"] = stage.lr_scheduler.state_dict()
        scaler = getattr(acc, "scaler", None)
        state["scaler"] = scaler.state_dict() if scaler is not None else None
        tensors["model"] = cpu_state(acc.unwrap_model(self.model))
        tensors["optimizer"], state["optimizer"] = optimizer_to_files(stage.raw_optimizer)
        if stage.masks is not None:
            tensors["masks"] = {n: m.cpu().contiguous() for n, m in stage.masks.masks.items()}
            state["sparsity"] = stage.masks.current_sparsity
            state["mask_digest"] = stage.masks.digest()
        teacher = stage.teacher
        if teacher is not None:
            weights = {"frozen": self.dense_model_dir, "checkpoint": self.cfg.prune.teacher_checkpoint}
            state["teacher"] = {"mode": teacher.mode, "weights": weights.get(teacher.mode, "teacher.safetensors")}
            if teacher.mode == "refresh":
                tensors["teacher"] = cpu_state(teacher.model)
            # A prefilled cache is rebuilt exactly at resume (same teacher, same batches), so saving it
            # would only copy up to gigabytes into every checkpoint.
            rebuilt = self.cfg.prune.teacher_prefill and teacher.mode != "refresh"
            if teacher.cache is not None and not rebuilt:
                tensors["teacher_cache"] = teacher.cache.state_tensors()
                state["teacher"]["cache_version"] = teacher.cache.version
        return state, tensors

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the stage named in ``state`` (a checkpoint's state.json) to where it was saved."""
        acc, stage = self.accelerator, self.stages[state["stage"]]
        stage.step = int(state["step"])
        if stage.step > 0:
            load_weights(acc.unwrap_model(self.model), Path(state["path"]) / "model.safetensors")
            optimizer_from_files(stage.raw_optimizer, Checkpointer.tensors(state, "optimizer"), state["optimizer"])
            stage.lr_scheduler.load_state_dict(state["lr_scheduler"])
            if state.get("scaler") and getattr(acc, "scaler", None) is not None:
                acc.scaler.load_state_dict(state["scaler"])
            acc.step = int(state.get("accelerator_step", 0))
            stage.position = DataPosition(**state["position"])
            if stage.masks is not None:
                stage.masks.load_masks(Checkpointer.tensors(state, "masks"))
                stage.masks.current_sparsity = float(state["sparsity"])
                stage.masks.apply()
            teacher = stage.teacher
            if teacher is not None and teacher.mode == "refresh":
                load_weights(teacher.model, Path(state["path"]) / "teacher.safetensors")
            cache = Checkpointer.tensors(state, "teacher_cache") if acc.is_main_process else None
            if teacher is not None and teacher.cache is not None and cache is not None:
                teacher.cache.load_state_tensors(cache, state["teacher"].get("cache_version", 0))
        self.dense_metrics = state["dense_metrics"]
        self.measure.load_state_dict(state["measurements"])
        self.checkpointer.restore_rng(state)
        log.info("resumed %s stage at optimizer step %d (epoch %d, batch %d) from %s",
                 stage.name, stage.step, stage.position.epoch, stage.position.batches, state["path"])
        if acc.is_main_process:
            append_jsonl(self.trace_path, {"event": "resume", "stage": stage.name, "step": stage.step})

    def load_dense_state(self, state: dict[str, Any]) -> None:
        """The dense stage finished before a kill: its weights (dense_model/) and its results."""
        if not self.cfg.dense.checkpoint:  # a given dense.checkpoint was already loaded at setup
            path = Path(state["dense_model"]) / "model.safetensors"
            if not path.is_file():
                raise CheckpointError(f"resuming the prune stage needs the dense model {str(path)!r}; it is missing")
            load_weights(self.accelerator.unwrap_model(self.model), path)
        self.dense_metrics = state["dense_metrics"]
        self.measure.load_state_dict(state["measurements"])
        log.info("dense stage already done (checkpoint %s): dense dev %s", state["path"], self.dense_metrics)

    def save_checkpoint(self, stage: Stage) -> None:
        state, tensors = self.state_dict(stage)
        self.checkpointer.save(stage.name, stage.step, state, tensors)

    @property
    def dense_model_dir(self) -> str:
        return str(self.cfg.dense.checkpoint or self.run_dir / DENSE_DIR)

    # ---------------------------------------------------------------------------------- finish
    def _finish(self, dense: dict[str, float], final: dict[str, float]) -> dict[str, Any]:
        student = self.accelerator.unwrap_model(self.model)
        report = sparsity_report(student, self.prunable)
        metrics = run_metrics(
            self.cfg, self.task, self.method, report, dense, final,
            versions=self.versions,
            wall_seconds=round(time.time() - self.started, 2),
            analysis={**self.measure.summary(), **self.extra_analysis},
            data_fingerprint=self.data_fingerprint,  # per split: a skip or resume on other data is refused
            eval_examples=self.eval_examples,  # per split, after the cross-process gather
            distributed=distributed_summary(self.accelerator, self.masks),  # world size, per-rank mask digests
        )
        self.tracker.log_final(dense, final, report["achieved_sparsity"]["prunable"])
        if self.accelerator.is_main_process:
            self.save_model(student)
            write_model_card(self.run_dir / "model", metrics, self.cfg)  # model/README.md (sdp/models/card.py)
            if self.cfg.push_to_hub:
                log.info("pushed model/ to %s", push_to_hub(self.run_dir / "model", self.cfg.push_to_hub,
                                                            self.task.name))
            write_json(self.run_dir / "sparsity.json", report["per_matrix"])
            write_json(self.run_dir / "metrics.json", metrics)
        self.accelerator.wait_for_everyone()
        self.checkpointer.cleanup()  # metrics.json is written: the training checkpoints are redundant
        log_result(metrics, report, self.run_dir)
        return metrics

    def save_model(self, student) -> None:
        """A plain save_pretrained checkpoint (safetensors) with the zeros baked in, plus tokenizer."""
        with atomic_dir(self.run_dir / "model") as out:  # never a half-written model folder
            student.save_pretrained(out, safe_serialization=True)
            self.tokenizer.save_pretrained(out)


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
        verify_completed_data(done, cfg, f"the completed run in {str(run_dir)!r}")
        log.info("run %s already completed: returning its metrics.json", run_dir)
        return done
    recipe.setup()
    return recipe.train()
