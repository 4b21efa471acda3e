"""The pruning recipe: dense fine-tuning, then iterative magnitude pruning with self-distillation.

    metrics = run(cfg, run_dir)    # validates the config; a run completed in run_dir returns its metrics; else
        recipe = PruneRecipe(cfg, run_dir)
        recipe.setup()              # every component, in dependency order
        metrics = recipe.train()    # dense stage, pruning stage, final evaluation, the run's files

One place owns the flow; it composes ``sdp.data``, ``sdp.models``, ``sdp.pruning`` and ``sdp.objectives``.
"""

from __future__ import annotations

import contextlib
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
from sdp.data.pipeline import build_data, ordered_batches
from sdp.data.tasks import TaskSpec
from sdp.io import append_jsonl
from sdp.metrics import compute_metrics_noting
from sdp.models.presets import load_model, load_tokenizer, precision_record
from sdp.objectives.monitor import cc_monitor_tensors, dev_cross_correlation, dropout_disabled
from sdp.objectives.naming import method_name
from sdp.objectives.registry import DISTILL_TERMS, WEIGHT_TERMS, build_criterion
from sdp.objectives.representations import model_outputs
from sdp.objectives.task_loss import task_loss
from sdp.objectives.teacher import build_teacher, prefill_teacher
from sdp.pruning.build import build_mask_state
from sdp.pruning.masks import assert_sparsity, count_zeros, sparsity_report
from sdp.pruning.overlap import mask_overlap, save_dense_mask
from sdp.pruning.patterns import check_prunable, check_sparsity_leaves_weights
from sdp.pruning.schedules import schedule_from_config
from sdp.run_summary import log_result, run_metrics, save_model_dir, write_outputs
from sdp.training.checkpoint import Checkpointer
from sdp.training.distributed import (
    check_masks_agree,
    count_eval_examples,
    distributed_summary,
    effective_precision,
    make_accelerator,
)
from sdp.training.env import versions
from sdp.training.eval_points import eval_point
from sdp.training.launch import launcher_rank
from sdp.training.logs import attach_run_log
from sdp.training.loop import Stage, UpdateLog, build_stage, endless, optimizer_update, predict
from sdp.training.pooled_window import MicroBatch, pooled_window
from sdp.training.rundir import completed_here, prepare_run_dir, record_data, record_fields, resume_identity
from sdp.training.stage_state import load_dense_weights, load_stage_state, stage_state
from sdp.training.trace import Measurements, probe_batch
from sdp.training.tracking import Tracker
from sdp.validate import validate_config

CKPT_DIR = "checkpoints"  # <run dir>/checkpoints: training state while the run is in progress
DENSE_DIR = "dense_model"  # <run dir>/dense_model: the fine-tuned dense model, written once

log = logging.getLogger("sdp")


class PruneRecipe:
    """Owns one run: setup, dense stage, pruning stage, evaluation and the files it writes."""

    def __init__(self, cfg: DictConfig, run_dir: str | Path) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.trace_path = self.run_dir / "trace.jsonl"
        self.started = time.time()
        self.method = method_name(cfg.regularizer.name, cfg.weight_reg.name, cfg.regularizer.get("representation"), cfg.prune)
        self.dense_model_dir = str(cfg.dense.checkpoint or self.run_dir / DENSE_DIR)  # the frozen teacher's weights
        self.dense_metrics: dict[str, float] | None = None  # set when the dense stage ends (or is resumed)
        self.eval_examples, self.metric_warnings = {}, []  # per split (after the gather); undefined metrics (0.0)
        self.extra_analysis: dict[str, Any] = {}  # mask overlaps, held-out CC(student, teacher): prune stage end

    # ----------------------------------------------------------------------------------- setup
    def setup(self) -> None:
        """Build every component, in dependency order; nothing that holds state is created later."""
        cfg = self.cfg
        self.versions = versions(cfg.train.num_threads)  # at start: the code that runs, not the tree at the end
        prepare_run_dir(self.run_dir)  # a clear error, before anything runs, if it is not writable
        attach_run_log(self.run_dir, launcher_rank() == 0)  # this job's run.log only, main process only
        datasets.disable_progress_bars()  # tqdm bars are for training, not for every map()
        if cfg.train.num_threads:
            torch.set_num_threads(cfg.train.num_threads)
        # 1. Accelerator first: it decides the device and process rank everything else depends on.
        self.accelerator = make_accelerator(cfg, self.run_dir)  # DDP; FSDP/DeepSpeed refused (distributed.py)
        self.tracker = Tracker(self.accelerator, cfg)  # tracker=none|tensorboard|wandb|mlflow (tracking.py)
        set_seed(cfg.seed)
        self.task: TaskSpec = resolve_task(cfg.task)  # languages, eval_test, validation_from_train applied
        self.tokenizer = load_tokenizer(cfg.model)
        # 2. Data before the model, so a data error costs no model download.
        data = build_data(cfg, self.task, self.tokenizer, self.accelerator)
        self.datasets, self.eval_groups, self.collator = data.datasets, data.groups, data.collator
        self.dropped_rows = data.dropped_rows  # per split, for metrics.json data.dropped_rows
        # Per split, in run.json now and metrics.json at the end: a skip or resume on other data is refused.
        self.data_fingerprint = record_data(self.run_dir, cfg, data.raw, self.accelerator.is_main_process)
        # 3. Model, prepared once for both stages.
        model = load_model(
            cfg.model, self.task.num_labels, self.task.label_names, self.tokenizer, checkpoint=cfg.dense.checkpoint
        )
        prunable = check_prunable(model, cfg.prune.include, cfg.prune.exclude)  # fails now, not after dense
        check_sparsity_leaves_weights(prunable, cfg.sparsity, cfg.prune.scope)
        if self.accelerator.is_main_process:  # fp32 weights whatever the stored dtype (sdp/models/presets.py)
            record_fields(self.run_dir, precision=precision_record(model, effective_precision(self.accelerator)))
        self.model, self.train_loader, *eval_loaders = self.accelerator.prepare(model, data.train_loader,
                                                                                *data.eval_loaders.values())
        self.eval_loaders = dict(zip(data.eval_loaders, eval_loaders))
        student = self.accelerator.unwrap_model(self.model)
        # 4. The prunable set and its masks (prune.granularity, prune.criterion): views of the student's parameters.
        self.prunable, self.masks = build_mask_state(student, cfg.prune, build_criterion(cfg.prune), cfg.sparsity)
        # 5. The objective's terms, then the teacher they need (its weights become the dense model's
        #    when the pruning stage starts) and its output cache.
        self.distill = DISTILL_TERMS.build(cfg.regularizer.name, **term_options(cfg.regularizer))
        self.weight_reg = WEIGHT_TERMS.build(cfg.weight_reg.name, **term_options(cfg.weight_reg))
        self.pool = pooled_window(cfg, self.accelerator, self.distill)  # CC over the whole accumulation window
        # CC(student, teacher) is monitored for every method, MP included (never part of the loss).
        self.monitor_needs = (cfg.prune.monitor_representation,) if cfg.prune.monitor_representation else ()
        self.teacher = build_teacher(
            student, cfg.prune, (*self.distill.needs, *self.monitor_needs), cfg.weight_reg.name != "none",
            len(self.datasets[self.task.train_split]), self.run_dir / "teacher_cache", self.accelerator.process_index,
            lambda: load_model(cfg.model, self.task.num_labels, self.task.label_names, self.tokenizer,
                               checkpoint=cfg.prune.teacher_checkpoint).to(self.accelerator.device),
        )
        # The teacher's own (frozen, or refreshed in place) parameters are the AWR reference weights.
        awr = self.teacher is not None and cfg.weight_reg.name != "none"
        self.teacher_weights = self.teacher.weights(list(self.prunable)) if awr else None
        # 6. One optimizer, LR schedule and progress per stage; the pruning schedule spans the prune stage.
        self.stages = {name: build_stage(name, cfg[name], cfg.train, self.model, self.accelerator,
                                         len(self.train_loader)) for name in ("dense", "prune")}
        prune = self.stages["prune"]
        prune.masks, prune.teacher = self.masks, self.teacher
        self.tracker.offsets["prune"] = 0 if cfg.dense.checkpoint else self.stages["dense"].updates  # one step axis
        prune.schedule = schedule_from_config(cfg.schedule, cfg.sparsity, prune.updates)
        # 7. Checkpoints (resumes from run_dir/checkpoints), then the measurements behind the analysis.
        self.checkpointer = Checkpointer(self.run_dir / CKPT_DIR, self.accelerator, resume_identity(cfg),
                                         cfg.resume, self.trace_path)
        self.resume_state = self.checkpointer.latest  # None: a fresh start; else used once, by its stage
        # Probe loss around each prune event (a training-size batch: twice per event, so it stays cheap),
        # recovery, separability and weight statistics (sdp/training/trace.py).
        probe = probe_batch(self.datasets[self.task.train_split], self.collator, cfg.train.batch_size,
                            self.accelerator.device)
        self.measure = Measurements(probe, self._task_loss, self.task.is_regression, self._trace)
        log.info("task=%s model=%s method=%s sparsity=%s seed=%s", self.task.name, cfg.model.name,
                 self.method, cfg.sparsity, cfg.seed)
        log.info("schedule: %s, pruning at updates %s", prune.schedule, prune.schedule.pruning_steps())

    # ------------------------------------------------------------------------------- evaluate
    def evaluate(self) -> dict[str, float]:
        outputs = {split: predict(self.accelerator, self.model, loader) for split, loader in self.eval_loaders.items()}
        self.eval_examples = count_eval_examples(outputs, self.datasets)  # no duplicates across processes
        return compute_metrics_noting(self.task, outputs, self.eval_groups, self.metric_warnings)

    def _measure_separability(self, which: str) -> None:
        split = self.task.eval_splits[0]
        self.measure.measure_separability(which, self.accelerator, self.model, split, self.eval_loaders[split])

    def _trace(self, record: dict[str, Any]) -> None:
        if self.accelerator.is_main_process:
            append_jsonl(self.trace_path, record)

    def _task_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return task_loss(logits, labels, self.task.is_regression)

    # ---------------------------------------------------------------------------------- train
    def train(self) -> dict[str, Any]:
        dense_metrics = self.dense_stage()
        final_metrics = self.prune_stage()
        return self._finish(dense_metrics, final_metrics)

    def dense_stage(self) -> dict[str, float]:
        resume = self.resume_state
        if resume is not None and resume["stage"] == "prune":  # the dense stage finished before a kill
            if not self.cfg.dense.checkpoint:  # a given dense.checkpoint was already loaded at setup
                load_dense_weights(self.accelerator.unwrap_model(self.model), resume["dense_model"])
            self.dense_metrics = resume["dense_metrics"]
            self.measure.load_state_dict(resume["measurements"])
            log.info("dense stage already done (checkpoint %s): %s", resume["path"], self.dense_metrics)
            if self.measure.separability.get("dense") is None:  # not restored from the checkpoint
                self._measure_separability("dense")  # the dense weights are loaded again: measure them
            return self.dense_metrics
        if self.cfg.dense.checkpoint:
            log.info("dense stage skipped: loaded fine-tuned checkpoint %s", self.cfg.dense.checkpoint)
        else:
            self.run_stage(self.stages["dense"])
        metrics = self.evaluate()
        log.info("dense %s: %s", self.task.eval_splits[0], metrics)  # a tuning run: the carved split
        self._measure_separability("dense")
        self.dense_metrics = metrics
        if self.accelerator.is_main_process and not self.cfg.dense.checkpoint:  # the frozen teacher's weights
            save_model_dir(self.run_dir / DENSE_DIR, self.accelerator.unwrap_model(self.model), self.tokenizer)
        self.save_checkpoint(self.stages["prune"])  # the prune stage's step 0
        return metrics

    def prune_stage(self) -> dict[str, float]:
        cfg = self.cfg
        student = self.accelerator.unwrap_model(self.model)
        self.measure.measure_weights("dense", self.prunable)
        if self.teacher is not None and self.teacher.mode != "checkpoint":
            self.teacher.copy_weights(student)  # the fine-tuned dense network
        if self.accelerator.is_main_process:
            save_dense_mask(self.run_dir, self.prunable, cfg.sparsity, cfg.prune.scope)
        if cfg.prune.teacher_prefill:  # a fixed teacher's outputs for the whole training set, in large batches
            train = ordered_batches(self.datasets[self.task.train_split], self.collator, cfg.train.eval_batch_size,
                                    self.accelerator.device)
            prefill_teacher(self.teacher, train, self.accelerator.autocast)
        with dropout_disabled(student) if cfg.prune.dropout == "off" else contextlib.nullcontext():
            self.run_stage(self.stages["prune"])
        self.measure.end_prune_stage()
        if self.teacher is not None:
            self.teacher.close_cache()
        assert_sparsity(self.prunable, cfg.sparsity, cfg.prune.scope)
        # How far the masks moved (Jaccard of kept weights) from the dense-magnitude mask and a reference run's.
        self.extra_analysis["mask_overlap"] = mask_overlap(self.masks.masks, self.run_dir, cfg.prune.reference_mask,
                                                           save=self.accelerator.is_main_process)
        rep, split = cfg.prune.monitor_representation, self.task.eval_splits[0]
        if rep and self.teacher is not None and self.accelerator.is_main_process:  # only it writes metrics.json
            # Held-out CC(student, teacher), both dropout-free; the teacher is the unpruned network only for
            # prune.teacher=frozen (refresh: the last refreshed one; checkpoint: the given model).
            batches = ordered_batches(self.datasets[split], self.collator, cfg.train.batch_size, self.accelerator.device)
            self.extra_analysis["cross_correlation"] = {"split": split, "teacher": cfg.prune.teacher,
                                                        **dev_cross_correlation(student, self.teacher.model, batches, rep)}
        metrics = self.evaluate()
        log.info("pruned %s: %s", split, metrics)
        self._measure_separability("final")
        self.measure.measure_weights("final", self.prunable)
        return metrics

    # ----------------------------------------------------------------------------- the loop
    def run_stage(self, stage: Stage) -> None:
        """Train ``stage`` for its optimizer updates (resuming it if the checkpoint is in it).

        Each update: (1) prune, if the schedule says so; (2-7) ``train_step`` per micro-batch: forward and loss
        parts, backward under accumulation, then mask gradients, clip, step, apply masks; (8) log; (9) checkpoint,
        every ``train.checkpoint_every`` updates and on SIGTERM/SIGINT."""
        acc, cfg = self.accelerator, self.cfg
        if self.resume_state is not None and self.resume_state["stage"] == stage.name:
            self.load_state_dict(self.resume_state)
            self.resume_state = None  # restored: a later stage starts fresh
        every = cfg.train.checkpoint_every
        self.model.train()
        bar = tqdm(total=stage.updates, initial=stage.step, desc=stage.name, disable=not acc.is_main_process)
        window: list[dict[str, torch.Tensor | float]] = []  # the micro-batches of the update in progress
        update_log = UpdateLog(stage, self.measure.observe, self.tracker.log_update, self._trace, cfg.train.log_every)
        with self.checkpointer.watch_signals():
            for _, batch in endless(self.train_loader, acc, stage.position):
                if stage.step >= stage.updates:
                    break
                # 1. Prune event, before the update's first micro-batch.
                pending = self.pool is not None and self.pool.pending  # micro-batches queued for a pooled window
                if not window and not pending and stage.schedule is not None and stage.schedule.is_pruning_step(stage.step):
                    update_log.flush(stage.name)  # the recovery measurement has seen every update before the event
                    self.prune_event(stage)
                # 2-7. Forward, loss parts, backward; at the window's end mask grads, clip, step, apply masks.
                if self.pool is not None and stage.teacher is not None:  # regularizer.gather, k > 1: GradCache
                    if not self.pool.add(batch):
                        continue
                    window = [self.train_step(stage, b, mb) for b, mb in self.pool.first_pass(self.model, stage.teacher)]
                else:
                    window.append(self.train_step(stage, batch))
                if not acc.sync_gradients:
                    continue
                stage.step += 1
                # 8. Log the update's mean parts (with lr, sparsity): kept on the device, read in one transfer per
                #    trace window (and before a prune event or checkpoint), where a non-finite loss is raised.
                parts = update_log.add(stage.step, window)
                window = []
                bar.update(1)
                # 9. Checkpoint: periodically, on a signal (then stop), and after the stage's last update (so a
                #    signal during the evaluation that follows loses no training).
                stop = self.checkpointer.stop_requested()
                save = stop or (every > 0 and stage.step % every == 0) or stage.step == stage.updates
                if save or update_log.due(stage.step):
                    bar.set_postfix(loss=f"{update_log.flush(stage.name)['loss']:.4f}")  # recovery, tracker, trace
                eval_point(self, stage, parts)  # every train.eval_every updates: dev score against sparsity
                if save:
                    self.save_checkpoint(stage)
                if stop:
                    bar.close()
                    raise self.checkpointer.interrupted(stage.name, stage.step, self.run_dir / "metrics.json")
            if self.checkpointer.stop_requested():  # a signal during the last update or its save: it is on disk
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
        removed = masks.update(target, stage.raw_optimizer)  # also zeroes the pruned weights' AdamW moments
        zeros, total = count_zeros(self.prunable.values())
        record = self.measure.pruned(step, target, zeros / total, before, self.measure.probe_loss(self.model), removed)
        check_masks_agree(self.accelerator, masks, step)  # same masks on every rank, or raise
        self.tracker.log_prune_event(record)
        log.info("update %d: pruned to %.4f (achieved %.4f), probe loss %.4f -> %.4f", step, target,
                 record["achieved_sparsity"], record["loss_before"], record["loss_after"])

    def train_step(self, stage: Stage, batch: dict[str, torch.Tensor], pooled: MicroBatch | None = None) -> dict:
        """One micro-batch: forward and backward; at an accumulation window's end, the optimizer update. ``pooled``:
        its pass-1 result when CC is pooled over the window. Returns the loss parts (device tensors, floats)."""
        acc, masks = self.accelerator, stage.masks
        with acc.accumulate(self.model) if pooled is None else pooled.step(acc, self.model):
            loss, parts = self.loss_step(stage, batch, pooled)  # a non-finite loss is raised by UpdateLog.flush
            acc.backward(loss)
            optimizer_update(stage, acc, self.model, self.cfg.train.max_grad_norm)  # at the window's end only
        if acc.sync_gradients and masks is not None:
            masks.apply()  # after the step: no part of the optimizer's update may leave a pruned weight off zero
        return {k: v.detach() if torch.is_tensor(v) else float(v) for k, v in parts.items()}  # read in UpdateLog.flush

    def loss_step(self, stage: Stage, batch: dict[str, torch.Tensor], pooled: MicroBatch | None = None
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Forward ``batch``; the total loss and its parts (task loss, distillation, weight term); without a teacher
        (dense stage, MP) the task loss alone; with ``pooled``, pass 1's teacher outputs and the pooled CC as D."""
        teacher = stage.teacher
        distill_needs = tuple(self.distill.needs) if teacher is not None else ()
        monitor_needs = self.monitor_needs if teacher is not None else ()
        needs = tuple(dict.fromkeys((*distill_needs, *monitor_needs)))
        out = model_outputs(self.model, batch, needs)
        task_loss = self._task_loss(out["logits"], batch["labels"])
        loss, parts = task_loss, {"task_loss": task_loss}
        if needs:
            with self.accelerator.autocast():
                teacher_out = teacher.outputs(batch) if pooled is None else pooled.teacher_out
        if needs and self.cfg.prune.dropout == "distill_off":  # every method's monitor alike, MP's included
            with dropout_disabled(self.model):  # D and the monitor on a dropout-free pass; the task loss
                out = model_outputs(self.model, batch, needs)  # above keeps its dropout
        if distill_needs:
            parts["distill"] = self.distill(out, teacher_out) if pooled is None else pooled.distill(out)
            loss = loss + self.cfg.regularizer.alpha * parts["distill"]
        if monitor_needs:  # CC(student, teacher) for every method, never part of the loss
            parts.update(cc_monitor_tensors(out[monitor_needs[0]], teacher_out[monitor_needs[0]]))
        if teacher is not None and self.teacher_weights is not None:
            parts["weight_reg"] = self.weight_reg(self.prunable, self.teacher_weights)
            loss = loss + self.cfg.weight_reg.beta * parts["weight_reg"]
        parts["loss"] = loss.detach()
        return loss, parts

    # ------------------------------------------------------------------------------ state
    def state_dict(self, stage: Stage) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
        """Everything a resume needs, in one place: JSON values and named groups of tensors."""
        state: dict[str, Any] = {
            "dense_metrics": self.dense_metrics,
            "dense_model": self.dense_model_dir,  # the dense weights (frozen teacher, resumed step 0)
            "measurements": self.measure.state_dict(),
        }
        if stage.step == 0:
            return state, {}  # nothing trained in this stage yet
        # The stage's weights, optimizer, LR schedule, scaler, data position, masks, teacher and cache.
        teacher_weights = {"frozen": self.dense_model_dir, "checkpoint": self.cfg.prune.teacher_checkpoint}
        trained, tensors = stage_state(stage, self.accelerator, self.model, teacher_weights,
                                       cache_rebuilt=bool(self.cfg.prune.teacher_prefill))
        return {**state, **trained}, tensors

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the stage named in ``state`` (a checkpoint's state.json) to where it was saved."""
        acc, stage = self.accelerator, self.stages[state["stage"]]
        stage.step = int(state["step"])
        if stage.step > 0:
            load_stage_state(stage, acc, self.model, state)
        self.dense_metrics = state["dense_metrics"]
        self.measure.load_state_dict(state["measurements"])
        self.checkpointer.restore_rng(state)
        log.info("resumed %s stage at optimizer step %d (epoch %d, batch %d) from %s",
                 stage.name, stage.step, stage.position.epoch, stage.position.batches, state["path"])
        self._trace({"event": "resume", "stage": stage.name, "step": stage.step})

    def save_checkpoint(self, stage: Stage) -> None:
        state, tensors = self.state_dict(stage)
        self.checkpointer.save(stage.name, stage.step, state, tensors)

    # ---------------------------------------------------------------------------------- finish
    def _finish(self, dense: dict[str, float], final: dict[str, float]) -> dict[str, Any]:
        student = self.accelerator.unwrap_model(self.model)
        report = sparsity_report(student, self.prunable)
        metrics = run_metrics(
            self.cfg, self.task, self.method, report, dense, final, dropped_rows=self.dropped_rows,
            versions=self.versions, wall_seconds=round(time.time() - self.started, 2),
            analysis={**self.measure.summary(), **self.extra_analysis},
            data_fingerprint=self.data_fingerprint,  # per split: a skip or resume on other data is refused
            eval_examples=self.eval_examples,  # per split, after the cross-process gather
            distributed=distributed_summary(self.accelerator, self.masks),  # world size, per-rank mask digests
            **({"metric_warnings": self.metric_warnings} if self.metric_warnings else {}),
        )
        self.tracker.log_final(dense, final, report["achieved_sparsity"]["prunable"])
        if self.accelerator.is_main_process:  # model/ and its card, sparsity.json, metrics.json last
            write_outputs(self.run_dir, self.cfg, metrics, report, student, self.tokenizer, self.masks)
        self.accelerator.wait_for_everyone()
        self.checkpointer.cleanup()  # metrics.json is written: the training checkpoints are redundant
        log_result(metrics, report, self.run_dir)
        return metrics


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    """Run one experiment and return its metrics (the dict written to metrics.json)."""
    run_dir = cfg.output_dir if run_dir is None else run_dir
    if run_dir is None:
        from hydra.core.hydra_config import HydraConfig

        run_dir = HydraConfig.get().runtime.output_dir
    validate_config(cfg)  # every config error at once, before anything is read or built (sdp/validate.py)
    recipe = PruneRecipe(cfg, run_dir)
    done = completed_here(run_dir, cfg)  # this config already completed here, on this data: nothing to recompute
    if done is not None:
        log.info("run %s already completed: returning its metrics.json", run_dir)
        return done
    recipe.setup()
    return recipe.train()
