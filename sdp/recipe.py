"""The pruning recipe: dense fine-tuning, then iterative magnitude pruning with self-distillation. One place owns the
flow; it composes ``sdp.data``, ``sdp.models``, ``sdp.pruning`` and ``sdp.objectives``.

    metrics = run(cfg, run_dir)    # the run's checks, once; then train_run (run_job calls it after its own):
        recipe = PruneRecipe(cfg, run_dir)
        recipe.setup()              # every component, in dependency order
        metrics = recipe.train()    # dense stage, pruning stage, final evaluation, the run's files
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
import torch
from accelerate.utils import set_seed
from omegaconf import DictConfig
from tqdm.auto import tqdm

from sdp.config import term_options
from sdp.crosslingual import resolve_run_task
from sdp.data.locations import local_config
from sdp.data.pipeline import build_data, ordered_batches
from sdp.io import append_jsonl
from sdp.metrics import compute_metrics_noting, eval_queries
from sdp.models.presets import load_model, load_tokenizer, precision_record
from sdp.objectives.monitor import dev_cross_correlation, dropout_disabled
from sdp.objectives.naming import run_method
from sdp.objectives.objective import Objective
from sdp.objectives.registry import DISTILL_TERMS, WEIGHT_TERMS, build_criterion
from sdp.objectives.task_loss import task_loss
from sdp.objectives.teacher import build_teacher, prefill_teacher
from sdp.pruning.build import build_mask_state
from sdp.pruning.compact import fresh_start
from sdp.pruning.masks import assert_sparsity, count_zeros, sparsity_report
from sdp.pruning.overlap import mask_overlap, save_dense_mask
from sdp.pruning.patterns import check_prunable, check_sparsity_leaves_weights
from sdp.pruning.schedules import schedule_from_config
from sdp.run.data_record import record_data
from sdp.run.env import versions
from sdp.run.launch import check_rank_in_world, launcher_rank
from sdp.run.lock import run_lock
from sdp.run.logs import attach_run_log
from sdp.run.rundir import completed_here, prepare_run_dir, record_fields, resume_identity
from sdp.run.tracking import Tracker
from sdp.run_summary import log_result, run_metrics, save_model_dir, write_outputs
from sdp.training.checkpoint import Checkpointer
from sdp.training.distributed import (
    check_masks_agree,
    count_eval_examples,
    distributed_summary,
    effective_precision,
    make_accelerator,
)
from sdp.training.eval_points import eval_due, eval_point
from sdp.training.loop import (
    Stage,
    UpdateLog,
    accumulation_window,
    build_stage,
    endless,
    predict,
    stage_updates,
)
from sdp.training.pooled_window import pooled_window
from sdp.training.stage_state import load_dense_weights, load_stage_state, stage_state
from sdp.training.trace import Measurements, probe_batch
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
        self.method = run_method(cfg)
        self.dense_model_dir = str(cfg.dense.checkpoint or self.run_dir / DENSE_DIR)  # the frozen teacher's weights
        self.dense_metrics: dict[str, float] | None = None  # set when the dense stage ends (or is resumed)
        self.eval_examples, self.metric_warnings = {}, []  # per split (after the gather); undefined metrics (0.0)
        self.extra_analysis: dict[str, Any] = {}  # mask overlaps, held-out CC(student, teacher): prune stage end

    # ----------------------------------------------------------------------------------- setup
    def setup(self) -> None:
        """Build every component, in dependency order; nothing that holds state is created later."""
        cfg = self.cfg
        attach_run_log(self.run_dir, launcher_rank() == 0)  # this job's run.log only, main process only
        datasets.disable_progress_bars()  # tqdm bars are for training, not for every map()
        if cfg.train.num_threads:
            torch.set_num_threads(cfg.train.num_threads)
        # 1. Accelerator first: it decides the device and process rank everything else depends on.
        self.accelerator = make_accelerator(cfg, self.run_dir)  # DDP; FSDP/DeepSpeed refused (distributed.py)
        self.versions = versions(cfg.train.num_threads, self.accelerator.device)  # at start: the code that runs
        set_seed(cfg.seed)
        self.task = resolve_run_task(cfg)  # languages, eval_test, the carve; files checked by rows used
        self.tokenizer = load_tokenizer(cfg.model)
        # 2. Data before the model, so a data error costs no model download.
        data = build_data(cfg, self.task, self.tokenizer, self.accelerator)
        self.datasets, self.groups, self.collator = data.datasets, data.groups, data.collator  # groups: ranking
        self.dropped_rows = data.dropped_rows  # per split, for metrics.json data.dropped_rows
        self.data_fingerprint = record_data(self.run_dir, cfg, data.raw, self.accelerator.is_main_process,
                                            self.task.text_fields, data.token_ids, data.datasets, data.file_rows)
        # 3. Model, prepared once for both stages.
        model = fresh_start(load_model(  # a structured run's model/ given: its earlier cut is not this run's
            cfg.model, self.task.num_labels, self.task.label_names, self.tokenizer, checkpoint=cfg.dense.checkpoint))
        prunable = check_prunable(model, cfg.prune.include, cfg.prune.exclude)  # fails now, not after dense
        check_sparsity_leaves_weights(prunable, cfg.sparsity, cfg.prune.scope)
        if self.accelerator.is_main_process:  # fp32 weights whatever the stored dtype (sdp/models/presets.py)
            record_fields(self.run_dir, precision=precision_record(model, effective_precision(self.accelerator)))
        self.model, self.train_loader, *eval_loaders = self.accelerator.prepare(model, data.train_loader, *data.eval_loaders.values())
        self.eval_loaders = dict(zip(data.eval_loaders, eval_loaders))
        student = self.accelerator.unwrap_model(self.model)
        # 4. The prunable set and its masks (prune.granularity, prune.criterion): views of the student's parameters.
        self.prunable, self.masks = build_mask_state(student, cfg.prune, build_criterion(cfg.prune), cfg.sparsity)
        passes = self.masks.passes()  # what an event runs; CPU: compiled now (on every rank), not in event 1
        if self.accelerator.is_main_process:
            record_fields(self.run_dir, prune_passes=passes)
        # 5. The objective's terms, then the teacher they need (the dense model's weights, at the prune stage) and its cache.
        self.distill = DISTILL_TERMS.build(cfg.regularizer.name, **term_options(cfg.regularizer))
        self.weight_reg = WEIGHT_TERMS.build(cfg.weight_reg.name, **term_options(cfg.weight_reg))
        self.pool = pooled_window(cfg, self.accelerator, self.distill)  # CC over the whole accumulation window
        # CC(student, teacher) is monitored for every method, MP included (never part of the loss).
        self.monitor_needs = (cfg.prune.monitor_representation,) if cfg.prune.monitor_representation else ()
        self.teacher = build_teacher(
            student, cfg.prune, (*self.distill.needs, *self.monitor_needs), cfg.weight_reg.name != "none",
            len(self.datasets[self.task.train_split]), self.run_dir / "teacher_cache", self.accelerator.process_index,
            lambda: load_model(cfg.model, self.task.num_labels, self.task.label_names, self.tokenizer,
                               checkpoint=cfg.prune.teacher_checkpoint, checkpoint_key="prune.teacher_checkpoint",
                               same_vocab_as=student).to(self.accelerator.device),
        )
        # The teacher's own (frozen, or refreshed in place) parameters are the AWR reference weights.
        awr = self.teacher is not None and cfg.weight_reg.name != "none"
        self.teacher_weights = self.teacher.weights(list(self.prunable)) if awr else None
        self._task_loss = functools.partial(task_loss, is_regression=self.task.is_regression)  # and the probe's
        self.objective = Objective(self._task_loss, self.distill, cfg.regularizer.alpha, self.weight_reg,
                                   cfg.weight_reg.beta, self.monitor_needs, cfg.prune.dropout == "distill_off",
                                   self.prunable, self.teacher_weights, self.accelerator.autocast)
        # 6. Per stage: optimizer, LR schedule, progress (pruning: masks, teacher, schedule); the tracker (one step axis).
        updates = {name: stage_updates(cfg[name], cfg.train, len(self.train_loader)) for name in ("dense", "prune")}
        self.stages = {"dense": build_stage("dense", cfg.dense, cfg.train, self.model, self.accelerator, updates["dense"]),
                       "prune": build_stage("prune", cfg.prune, cfg.train, self.model, self.accelerator, updates["prune"],
                                            masks=self.masks, teacher=self.teacher, schedule=schedule_from_config(
                                                cfg.schedule, cfg.sparsity, updates["prune"]))}
        self.tracker = Tracker(self.accelerator, cfg, prune_offset=0 if cfg.dense.checkpoint else updates["dense"])
        # 7. Checkpoints in run_dir/checkpoints, then the measurements behind the analysis.
        self.checkpointer = Checkpointer(self.run_dir / CKPT_DIR, self.accelerator, resume_identity(cfg), self.trace_path, self.versions)
        # Probe loss around prune events (twice each: cheap), recovery, separability, weights (sdp/training/trace.py).
        probe = probe_batch(self.datasets[self.task.train_split], self.collator, cfg.train.batch_size, self.accelerator.device)
        self.measure = Measurements(probe, self._task_loss, self.task.is_regression, self._trace)
        schedule = None if cfg.get("stages") == "dense" else self.stages["prune"].schedule  # dense only: none
        log.info("task=%s model=%s method=%s seed=%s; %s", self.task.name, cfg.model.name, self.method, cfg.seed,
                 "stages=dense (no pruning)" if schedule is None else
                 f"sparsity={cfg.sparsity}, schedule: {schedule}, pruning at updates {schedule.pruning_steps()}")
        # 8. Resume: the newest intact checkpoint is restored here, and nowhere else (resume=false: none is kept).
        self.resumed_in: str | None = None  # the stage the checkpoint was in
        state = self.checkpointer.load_latest() if cfg.resume else self.checkpointer.clear()
        if state is not None:
            self.restore(state)

    # ------------------------------------------------------------------------------- evaluate
    def evaluate(self, label: str) -> dict[str, float]:  # label: dense, final or an eval point, in metric_warnings
        out = {split: predict(self.accelerator, self.model, loader) for split, loader in self.eval_loaders.items()}
        self.eval_examples = count_eval_examples(out, self.datasets)  # no duplicates across processes
        loaded = f"dense.checkpoint {self.cfg.dense.checkpoint!r}" if label == "dense" and self.cfg.dense.checkpoint else None
        return compute_metrics_noting(self.task, out, self.groups, self.metric_warnings, self.datasets, label, loaded)

    def _measure_separability(self, which: str) -> None:
        split = self.task.eval_splits[0]
        self.measure.measure_separability(which, self.accelerator, self.model, split, self.eval_loaders[split])

    def _trace(self, record: dict[str, Any]) -> None:
        if self.accelerator.is_main_process:
            append_jsonl(self.trace_path, record)

    # ---------------------------------------------------------------------------------- train
    def train(self) -> dict[str, Any]:
        dense_metrics = self.dense_stage()
        if self.cfg.get("stages") == "dense":  # the dense stage only: its model is the run's model/
            return self._finish(dense_metrics, dense_metrics)
        return self._finish(dense_metrics, self.prune_stage())

    def dense_stage(self) -> dict[str, float]:
        if self.resumed_in == "prune":  # the dense stage finished before a kill (setup restored its result)
            return self.dense_metrics
        if self.cfg.dense.checkpoint:
            log.info("dense stage skipped: loaded fine-tuned checkpoint %s", self.cfg.dense.checkpoint)
        else:
            self.run_stage(self.stages["dense"])
        metrics = self.evaluate("dense")
        log.info("dense %s: %s", self.task.scored_splits(), metrics)  # a tuning run: the carved split
        self._measure_separability("dense")
        self.dense_metrics = metrics
        if self.accelerator.is_main_process and not self.cfg.dense.checkpoint:  # the frozen teacher's weights
            save_model_dir(self.run_dir / DENSE_DIR, self.accelerator.unwrap_model(self.model), self.tokenizer,
                           cfg=self.cfg)
        if self.cfg.get("stages") != "dense":
            self.save_checkpoint(self.stages["prune"])  # the prune stage's step 0
        return metrics

    def start_prune_stage(self) -> None:
        """What the pruning stage starts from the dense weights: their measurement and mask, the teacher's copy of
        them and its prefilled outputs (run by setup's restore instead, when a run resumes in the stage)."""
        cfg, student = self.cfg, self.accelerator.unwrap_model(self.model)
        self.measure.measure_weights("dense", self.prunable)
        if self.teacher is not None and self.teacher.mode != "checkpoint":
            self.teacher.copy_weights(student)  # the fine-tuned dense network
        if self.accelerator.is_main_process:
            save_dense_mask(self.run_dir, self.prunable, cfg.sparsity, cfg.prune.scope)
        if cfg.prune.teacher_prefill:  # a fixed teacher's outputs for the whole training set, in large batches
            train = ordered_batches(self.datasets[self.task.train_split], self.collator, cfg.train.eval_batch_size,
                                    self.accelerator.device)
            prefill_teacher(self.teacher, train, self.accelerator.autocast)

    def prune_stage(self) -> dict[str, float]:
        cfg, student = self.cfg, self.accelerator.unwrap_model(self.model)
        if self.resumed_in != "prune":
            self.start_prune_stage()
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
            # Held-out CC(student, teacher), dropout-free; the teacher: unpruned (frozen), last refreshed, or given
            batches = ordered_batches(self.datasets[split], self.collator, cfg.train.batch_size, self.accelerator.device)
            cc = dev_cross_correlation(student, self.teacher.model, batches, rep, self.teacher.source)
            self.extra_analysis["cross_correlation"] = {"split": split, "teacher": cfg.prune.teacher, **cc}
        metrics = self.evaluate("final")
        log.info("pruned %s: %s", self.task.scored_splits(), metrics)
        self._measure_separability("final")
        self.measure.measure_weights("final", self.prunable)
        return metrics

    # ----------------------------------------------------------------------------- the loop
    def run_stage(self, stage: Stage) -> None:
        """Train ``stage`` from its step (0, or where setup's restore left it) to its last: each ``update``, then its
        evaluation point and checkpoint (every train.checkpoint_every updates, at the end, and on a signal: then stop)."""
        acc, every = self.accelerator, self.cfg.train.checkpoint_every
        self.model.train()
        bar = tqdm(total=stage.updates, initial=stage.step, desc=stage.name, disable=not acc.is_main_process)
        update_log = UpdateLog(stage, self.measure.observe, self.tracker.log_update, self._trace,
                               self.cfg.train.log_every)
        with self.checkpointer.watch_signals():
            batches = (batch for _, batch in endless(self.train_loader, acc, stage.position))
            for first in batches:  # an update's first micro-batch; ``update`` takes the rest of its window
                if stage.step >= stage.updates:
                    break
                parts = self.update(stage, first, batches, update_log)
                bar.update(1)
                # A checkpoint after the stage's last update too: a signal in the evaluation after it loses no training.
                stop = self.checkpointer.stop_requested()
                save = stop or (every > 0 and stage.step % every == 0) or stage.step == stage.updates
                if save or update_log.due(stage.step) or eval_due(self.cfg, stage):
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

    def update(self, stage: Stage, first: dict[str, torch.Tensor], batches: Iterator[dict[str, torch.Tensor]],
               update_log: UpdateLog) -> dict[str, Any]:
        """One optimizer update of ``stage`` (dense or prune), top to bottom, on one accumulation window: ``first``,
        then micro-batches from ``batches`` until accelerate ends the window. Returns the update's loss parts."""
        acc, masks, max_norm = self.accelerator, stage.masks, self.cfg.train.max_grad_norm
        # 1. Prune event, before the update's first forward, at the updates the pruning schedule names.
        if stage.schedule is not None and stage.schedule.is_pruning_step(stage.step):
            update_log.flush(stage.name)  # the recovery measurement has seen every update before the event
            self.prune_event(stage)
        window = []  # each micro-batch's loss parts (device tensors, floats: read in UpdateLog.flush)
        pooling = self.pool is not None and stage.teacher is not None  # regularizer.gather, k > 1: GradCache, 2 passes
        for batch, pooled in (self.pool.window(first, batches, self.model, stage.teacher) if pooling
                              else accumulation_window(acc, first, batches)):
            with acc.accumulate(self.model) if pooled is None else pooled.step(acc, self.model):  # DDP syncs at the end
                # 2. Forward and loss parts: task loss, and with a teacher distillation and weight term.
                loss, parts = self.objective(self.model, batch, stage.teacher, pooled)  # non-finite: UpdateLog.flush raises
                # 3. Backward: accelerate divides the loss by the window's length; gradients add up over the window.
                acc.backward(loss)
            window.append({k: v.detach() if torch.is_tensor(v) else float(v) for k, v in parts.items()})
        # 4. Masking: the criterion sees the update's whole gradient, then pruned weights get none.
        if masks is not None:
            masks.after_backward()  # prune.criterion=movement|taylor accumulate their scores here
            masks.mask_grads()
        if max_norm > 0:  # 5. Clip. Unscale (fp16) through this stage's optimizer only: accelerate's clip_grad_norm_ would
            acc.unscale_gradients(optimizer=stage.optimizer)  # unscale through both stages' optimizers, i.e. twice
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        # 6. Step, then 7. the LR schedule; the masks again, so no part of the step leaves a pruned weight off zero.
        lr = stage.lr_scheduler.get_last_lr()[0]  # this update's (read after the schedule steps: the next update's)
        stage.optimizer.step()
        stage.lr_scheduler.step()
        stage.optimizer.zero_grad(set_to_none=True)
        if masks is not None:
            masks.apply()
        stage.step += 1
        # 8. Log the mean parts (with lr, sparsity): on the device until UpdateLog.flush reads a window's at once.
        return update_log.add(stage.step, window, {"lr": lr})

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
        check_masks_agree(self.accelerator, masks, step)  # same masks on every rank, or raise
        if removed.get("removed", 1) == 0:  # a structured event past its target (a whole layer went earlier) removes
            return  # nothing: it was a pruning step of jump 0 in analysis.recovery and the plots (probe round 39, sr1)
        zeros, total = count_zeros(self.prunable.values())
        record = self.measure.pruned(step, target, zeros / total, before, self.measure.probe_loss(self.model), removed)
        self.tracker.log_prune_event(record)
        log.info("update %d: pruned to %.4f (achieved %.4f), probe loss %.4f -> %.4f", step, target,
                 record["achieved_sparsity"], record["loss_before"], record["loss_after"])

    # ------------------------------------------------------------------------------ state
    def save_checkpoint(self, stage: Stage) -> None:
        """Everything a resume needs (``restore`` puts it back): JSON values and named groups of tensors."""
        state: dict[str, Any] = {
            "dense_metrics": self.dense_metrics, "metric_warnings": self.metric_warnings,
            "dense_model": self.dense_model_dir,  # the dense weights (frozen teacher, resumed step 0)
            "measurements": self.measure.state_dict(),
        }
        tensors: dict[str, dict[str, torch.Tensor]] = {}  # none before the stage's first update
        if stage.step > 0:  # the stage's weights, optimizer, LR schedule, scaler, data position, masks, teacher, cache
            teacher_weights = {"frozen": self.dense_model_dir, "checkpoint": self.cfg.prune.teacher_checkpoint}
            trained, tensors = stage_state(stage, self.accelerator, self.model, teacher_weights,
                                           cache_rebuilt=bool(self.cfg.prune.teacher_prefill))
            state.update(trained)
        self.checkpointer.save(stage.name, stage.step, state, tensors)

    def restore(self, state: dict[str, Any]) -> None:
        """Put the run back where the checkpoint ``state`` (its state.json) left it; setup's last step. In the pruning
        stage, the stage is first started from the dense weights as the killed run started it, then its own state is
        loaded over that."""
        acc, stage = self.accelerator, self.stages[state["stage"]]
        self.resumed_in, self.dense_metrics = stage.name, state["dense_metrics"]
        self.metric_warnings = list(state.get("metric_warnings") or [])  # the dense score's undefined metrics
        self.measure.load_state_dict(state["measurements"])
        if stage.name == "prune":  # the dense stage finished before the kill
            if not self.cfg.dense.checkpoint:  # a given dense.checkpoint was already loaded
                load_dense_weights(acc.unwrap_model(self.model), state["dense_model"])
            log.info("dense stage already done (checkpoint %s): %s", state["path"], self.dense_metrics)
            if self.measure.separability.get("dense") is None:  # not restored from the checkpoint
                self._measure_separability("dense")  # the dense weights are loaded again: measure them
            self.start_prune_stage()
        stage.step = int(state["step"])
        if stage.step > 0:
            load_stage_state(stage, acc, self.model, state)  # weights, optimizer, schedules, data position, masks, teacher
        self.measure.load_state_dict(state["measurements"])  # again: the checkpoint's values over start_prune_stage's
        self.checkpointer.restore_rng(state)  # last: the first update draws what the killed run's would have
        log.info("resumed %s stage at optimizer step %d (epoch %d, batch %d) from %s",
                 stage.name, stage.step, stage.position.epoch, stage.position.batches, state["path"])
        self._trace({"event": "resume", "stage": stage.name, "step": stage.step})

    # ---------------------------------------------------------------------------------- finish
    def _finish(self, dense: dict[str, float], final: dict[str, float]) -> dict[str, Any]:
        student = self.accelerator.unwrap_model(self.model)
        report = sparsity_report(student, self.prunable)
        metrics = run_metrics(
            self.cfg, self.task, self.method, report, dense, final, dropped_rows=self.dropped_rows,
            versions=self.versions, wall_seconds=round(time.time() - self.started, 2),
            analysis={**self.measure.summary(), **self.extra_analysis},
            data_fingerprint=self.data_fingerprint,  # per split: a skip or resume on other data is refused
            eval_examples=self.eval_examples, **eval_queries(self.groups, self.datasets),  # after the gather
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
    """The library entry point: one run's checks, once (as run_job's for sdp-run, without set-aside), then it, locked."""
    check_rank_in_world()  # an inherited RANK=1 ran with no lock (probe round 47, rk1): refused, as by sdp-run
    local_config(cfg)  # file:// values as their paths, output_dir's before it is read (probe round 50, lib_od)
    if (run_dir := cfg.output_dir if run_dir is None else run_dir) is None:
        from hydra.core.hydra_config import HydraConfig
        run_dir = HydraConfig.get().runtime.output_dir
    validate_config(cfg)  # every config error at once, before anything is read or built (sdp/validate.py)
    if (done := completed_here(run_dir, cfg)) is not None:  # this config completed here, on this data: nothing to do
        log.info("run %s already completed: returning its metrics.json", run_dir)
        return done
    prepare_run_dir(run_dir)  # a clear error, before anything runs, if it is not writable
    with run_lock(run_dir, enabled=launcher_rank() <= 0):  # as sdp-run's: run.log is attached under it (round 46)
        return train_run(cfg, run_dir)


def train_run(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    """Set up and train a checked run (config valid, folder prepared, not completed: run() or run_job checked it)."""
    (recipe := PruneRecipe(cfg, run_dir)).setup()
    return recipe.train()
