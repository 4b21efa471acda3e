"""Checkpoint and resume: a killed or preempted run continues where it stopped, bit for bit on CPU.

Layout inside the run directory::

    checkpoints/latest.json          -> {"name": "prune-0000012", "stage": "prune", "step": 12}
    checkpoints/prune-0000012/
        state.json                   stage, optimizer step, data position, schedule position (current
                                     sparsity), dense metrics, accelerator step, LR scheduler, optimizer
                                     hyper-parameters, grad scaler, teacher reference, config identity
        rng.json                     python / numpy / torch (CPU + CUDA) RNG states of every rank, as lists
        model.safetensors            the student's weights (masked entries are zero)
        masks.safetensors            the bool keep-masks (prune stage)
        optimizer.safetensors        AdamW moments and step counts
        teacher.safetensors          the teacher's weights (teacher=refresh only; a frozen teacher is the
                                     dense model, referenced by path: dense_model/ or dense.checkpoint)
        teacher_cache.safetensors    the main process's teacher-output cache (filled flags + outputs)
    dense_model/                     save_pretrained of the fine-tuned dense model, written once at the
                                     end of the dense stage (also usable as another run's dense.checkpoint)

Tensors are only ever written with ``safetensors`` and read with ``safetensors.torch.load_file``;
everything else is JSON. Nothing is pickled and nothing is ``torch.load``-ed.

Atomicity: a checkpoint is written into a temporary folder that is renamed into place when complete,
then ``latest.json`` is replaced atomically (temp file + rename); the two newest checkpoints are kept.
state.json lists every file's size and sha256, checked at load: a corrupt checkpoint falls back to the one
before it, saying so (sdp/training/rundir.py: load_newest_verified).
A kill at any moment leaves ``latest.json`` naming a complete checkpoint (or no checkpoint at all).

When: every ``train.checkpoint_every`` optimizer updates, at the end of the dense stage (the prune
stage's step 0) and on SIGTERM/SIGINT (after the update in progress; all ranks agree on the step).
A NaN/inf loss raises before its update is applied or checkpointed, so the last checkpoint is good.

Exactness: the train sampler is reseeded per epoch (``(seed, epoch)``), so a resume sets the epoch
and skips the batches already consumed in it (``accelerator.skip_first_batches``); dropout continues
from the restored RNG. On one process a resumed run equals an uninterrupted one exactly. In a
multi-process run the non-main ranks rebuild their teacher caches lazily after a resume (only the
main process's cache is saved), which can change teacher outputs by float rounding (an example
re-batched with others is padded differently).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from sdp.training.io import append_jsonl, write_json
from sdp.training.loop import DataPosition, StageHooks
from sdp.training.rundir import (  # noqa: F401  (re-exported: the recipe and sweeps import them from here)
    STAGE_ORDER,
    RunDirError,
    atomic_dir,
    checkpoint_dirs,
    completed_metrics,
    load_newest_verified,
    prepare_run_dir,
    prune_checkpoints,
    read_metrics,
    resume_identity,
    run_identity,
)
from sdp.training.state_io import (  # noqa: F401
    CheckpointError,
    _cpu_state,
    file_manifest,
    load_weights,
    optimizer_from_files,
    optimizer_to_files,
    rng_state,
    set_rng_state,
)

log = logging.getLogger("sdp")

FORMAT_VERSION = 1
CKPT_DIR = "checkpoints"
DENSE_DIR = "dense_model"


class RunInterrupted(SystemExit):
    """SIGTERM/SIGINT: the run checkpointed and stops; re-run with the same run directory to resume."""


# ---------------------------------------------------------------------------------- checkpointer
@dataclass
class Resume:
    """What a stage starts from: the optimizer step, the data position, and the hooks to run."""

    step: int = 0
    position: DataPosition = field(default_factory=DataPosition)
    hooks: StageHooks | None = None


class Checkpointer:
    """Saves and restores one run's training state. ``recipe`` is the :class:`PruneRecipe` it serves
    (read for accelerator, cfg, run_dir, model, tokenizer and, in the prune stage, masks/teacher)."""

    def __init__(self, recipe: Any) -> None:
        self.recipe = recipe
        self.accelerator = recipe.accelerator
        self.cfg = recipe.cfg
        self.root = Path(recipe.run_dir) / CKPT_DIR
        self.every = int(self.cfg.train.checkpoint_every or 0)
        self.identity = resume_identity(self.cfg)
        self._signal: int | None = None
        self.state: dict[str, Any] | None = None
        if not self.cfg.resume:
            if self.accelerator.is_main_process and self.root.exists():
                shutil.rmtree(self.root)
            self.accelerator.wait_for_everyone()
        else:
            self.state = self.load_latest()

    # ------------------------------------------------------------------------------ locate/load
    def latest_dir(self) -> Path | None:
        found = checkpoint_dirs(self.root)
        return found[0] if found else None

    def load_latest(self) -> dict[str, Any] | None:
        if not self.root.is_dir():
            return None
        path, state = load_newest_verified(self.root)
        if path is None:
            return None
        if state.get("format") != FORMAT_VERSION:
            raise CheckpointError(f"checkpoint {str(path)!r} has format {state.get('format')}, expected {FORMAT_VERSION}")
        if state["identity"] != self.identity:
            raise CheckpointError(
                f"checkpoint {str(path)!r} belongs to another config or seed (identity {state['identity']}, "
                f"this run {self.identity}); use another output_dir, or resume=false to start over"
            )
        if state["world_size"] != self.accelerator.num_processes:
            log.warning("resuming a %d-process checkpoint with %d processes: data order per rank changes",
                        state["world_size"], self.accelerator.num_processes)
        state["path"] = str(path)
        return state

    # ----------------------------------------------------------------------------------- save
    def save(self, stage: str, step: int, optimizer=None, lr_scheduler=None,
             position: DataPosition | None = None, extra: dict[str, Any] | None = None) -> None:
        """Collective: every rank calls it (RNG states are gathered); the main process writes."""
        acc = self.accelerator
        rngs = [rng_state()]
        if acc.num_processes > 1:
            from accelerate.utils import gather_object

            rngs = list(gather_object(rngs))
        if acc.is_main_process:
            name = f"{stage}-{step:07d}"
            with atomic_dir(self.root / name) as tmp:
                self._write(tmp, stage, step, optimizer, lr_scheduler, position, rngs, extra or {})
            write_json(self.root / "latest.json", {"name": name, "stage": stage, "step": step})
            prune_checkpoints(self.root, keep=name)  # the last two: a corrupt one has a fallback
            append_jsonl(Path(self.recipe.run_dir) / "trace.jsonl", {"event": "checkpoint", "stage": stage, "step": step})
        acc.wait_for_everyone()

    def _write(self, tmp: Path, stage, step, optimizer, lr_scheduler, position, rngs, extra) -> None:
        r = self.recipe
        state: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "identity": self.identity,
            "stage": stage,
            "step": step,
            "world_size": self.accelerator.num_processes,
            "dense_metrics": getattr(r, "dense_metrics", None),
            "dense_model": self.dense_model_dir(),
            "measurements": measurements_state(getattr(r, "measure", None)),
            **extra,
        }
        (tmp / "rng.json").write_text(json.dumps({"ranks": rngs}))
        if step > 0:
            state["position"] = {"epoch": position.epoch, "batches": position.batches}
            state["accelerator_step"] = int(getattr(self.accelerator, "step", 0))
            state["lr_scheduler"] = lr_scheduler.state_dict()
            scaler = getattr(self.accelerator, "scaler", None)
            state["scaler"] = scaler.state_dict() if scaler is not None else None
            save_file(_cpu_state(self.accelerator.unwrap_model(r.model)), str(tmp / "model.safetensors"))
            tensors, meta = optimizer_to_files(optimizer)
            save_file(tensors, str(tmp / "optimizer.safetensors"))
            state["optimizer"] = meta
            if stage == "prune":
                masks = r.masks
                save_file({n: m.cpu().contiguous() for n, m in masks.masks.items()}, str(tmp / "masks.safetensors"))
                state["sparsity"] = masks.current_sparsity
                state["mask_digest"] = masks.digest()
                teacher = getattr(r, "teacher", None)
                if teacher is not None:
                    state["teacher"] = {"mode": teacher.mode}
                    if teacher.mode == "refresh":
                        save_file(_cpu_state(teacher.model), str(tmp / "teacher.safetensors"))
                        state["teacher"]["weights"] = "teacher.safetensors"
                    elif teacher.mode == "frozen":
                        state["teacher"]["weights"] = self.dense_model_dir()
                    else:
                        state["teacher"]["weights"] = self.cfg.prune.teacher_checkpoint
                    cache = teacher.cache
                    # A prefilled cache is rebuilt exactly at resume (same teacher, same batches), so
                    # saving it would only copy up to gigabytes into every checkpoint.
                    rebuilt = self.cfg.prune.teacher_prefill and teacher.mode != "refresh"
                    if cache is not None and not rebuilt:
                        files = {"filled": cache.filled.clone()}
                        files.update({f"store.{k}": v.clone() for k, v in cache.store.items()})
                        save_file(files, str(tmp / "teacher_cache.safetensors"))
                        state["teacher"]["cache_version"] = cache.version
        state["files"] = file_manifest(tmp)  # sizes + sha256, verified when loading
        (tmp / "state.json").write_text(json.dumps(state, indent=1, default=float))

    # ------------------------------------------------------------------------------ dense model
    def dense_model_dir(self) -> str:
        return str(self.cfg.dense.checkpoint or Path(self.recipe.run_dir) / DENSE_DIR)

    def dense_done(self, metrics: dict[str, float]) -> None:
        """End of the dense stage: save the dense model once, and a step-0 prune checkpoint."""
        r = self.recipe
        r.dense_metrics = metrics
        if self.accelerator.is_main_process and not self.cfg.dense.checkpoint:
            student = self.accelerator.unwrap_model(r.model)
            with atomic_dir(Path(r.run_dir) / DENSE_DIR) as tmp:
                student.save_pretrained(tmp, safe_serialization=True)
                r.tokenizer.save_pretrained(tmp)
        self.save("prune", 0)

    def resume_dense(self) -> dict[str, float] | None:
        """If the dense stage already finished: load the dense weights, return its metrics."""
        if self.state is None or self.state["stage"] != "prune":
            return None
        r = self.recipe
        if not self.cfg.dense.checkpoint:  # a given dense.checkpoint was already loaded at setup
            path = Path(self.state["dense_model"]) / "model.safetensors"
            if not path.is_file():
                raise CheckpointError(f"resuming the prune stage needs the dense model {str(path)!r}; it is missing")
            load_weights(self.accelerator.unwrap_model(r.model), path)
        r.dense_metrics = self.state["dense_metrics"]
        load_measurements_state(getattr(r, "measure", None), self.state.get("measurements"))
        log.info("dense stage already done (checkpoint %s): dense dev %s", self.state["path"], r.dense_metrics)
        return r.dense_metrics

    # ----------------------------------------------------------------------------------- stage
    @contextlib.contextmanager
    def stage(self, name: str, optimizer, lr_scheduler, hooks: StageHooks, num_updates: int) -> Iterator[Resume]:
        """Restore this stage's state if the checkpoint is in it; save periodically and on signals."""
        resume = Resume()
        resume.hooks = self._wrap(name, hooks, optimizer, lr_scheduler, num_updates, resume)
        state = self.state
        if state is not None and state["stage"] == name:
            self._restore(state, optimizer, lr_scheduler, resume)
            self.state = None
        previous = self._install_signals()
        try:
            yield resume
        finally:
            self._restore_signals(previous)

    def _restore(self, state: dict, optimizer, lr_scheduler, resume: Resume) -> None:
        r, acc = self.recipe, self.accelerator
        path = Path(state["path"])
        step = int(state["step"])
        if step > 0:
            load_weights(acc.unwrap_model(r.model), path / "model.safetensors")
            optimizer_from_files(optimizer, load_file(str(path / "optimizer.safetensors")), state["optimizer"])
            lr_scheduler.load_state_dict(state["lr_scheduler"])
            if state.get("scaler") and getattr(acc, "scaler", None) is not None:
                acc.scaler.load_state_dict(state["scaler"])
            acc.step = int(state.get("accelerator_step", 0))
            resume.position = DataPosition(**state["position"])
            if state["stage"] == "prune":
                r.masks.load_masks(load_file(str(path / "masks.safetensors")))
                r.masks.current_sparsity = float(state["sparsity"])
                r.masks.apply()
                teacher_state = state.get("teacher") or {}
                teacher = getattr(r, "teacher", None)
                if teacher is not None and teacher.mode == "refresh":
                    load_weights(teacher.model, path / "teacher.safetensors")
                cache_file = path / "teacher_cache.safetensors"
                if teacher is not None and teacher.cache is not None and cache_file.is_file() and acc.is_main_process:
                    _restore_cache(teacher.cache, load_file(str(cache_file)), teacher_state.get("cache_version", 0))
        resume.step = step
        load_measurements_state(getattr(r, "measure", None), state.get("measurements"))
        rngs = json.loads((path / "rng.json").read_text())["ranks"]
        set_rng_state(rngs[acc.process_index] if acc.process_index < len(rngs) else rngs[0])
        log.info("resumed %s stage at optimizer step %d (epoch %d, batch %d) from %s",
                 state["stage"], step, resume.position.epoch, resume.position.batches, path)
        if acc.is_main_process:
            append_jsonl(Path(r.run_dir) / "trace.jsonl", {"event": "resume", "stage": state["stage"], "step": step})

    def _wrap(self, stage, hooks: StageHooks, optimizer, lr_scheduler, num_updates, resume: Resume) -> StageHooks:
        inner = hooks.after_update

        def after_update(step: int, parts: dict[str, float]) -> None:
            if inner is not None:
                inner(step, parts)
            stop = self._stop_requested()
            periodic = self.every > 0 and step % self.every == 0 and step < num_updates
            # The stage's last update too: a signal during the evaluation that follows loses no training.
            periodic = periodic or step == num_updates
            if stop or periodic:
                self.save(stage, step, optimizer, lr_scheduler, resume.position)
            if stop:
                self._interrupted(stage, step)

        return StageHooks(hooks.loss_step, hooks.before_update, hooks.after_backward, after_update)

    # --------------------------------------------------------------------------------- signals
    def _install_signals(self) -> dict:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}

        def handler(signum, frame):
            if self._signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt  # a second Ctrl-C stops at once
            self._signal = signum
            log.warning("received %s: checkpointing after this optimizer update, then stopping",
                        signal.Signals(signum).name)

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2):
            previous[sig] = signal.signal(sig, handler)
        return previous

    @staticmethod
    def _restore_signals(previous: dict) -> None:
        for sig, h in previous.items():
            signal.signal(sig, h)

    def _stop_requested(self) -> bool:
        flag = self._signal is not None
        if self.accelerator.num_processes > 1:  # all ranks must stop at the same update
            t = torch.tensor([1.0 if flag else 0.0], device=self.accelerator.device)
            flag = bool(self.accelerator.reduce(t, reduction="sum").item() > 0)
        return flag

    def _interrupted(self, stage: str, step: int) -> None:
        signum = self._signal or signal.SIGTERM
        name = signal.Signals(signum).name
        msg = f"interrupted by {name} in the {stage} stage at optimizer step {step}; checkpoint saved"
        log.warning("%s: re-run with the same run directory to resume", msg)
        if self.accelerator.is_main_process:
            write_json(Path(self.recipe.run_dir) / "metrics.json",
                       {"status": "interrupted", "error": msg, "stage": stage, "step": step})
        raise RunInterrupted(128 + int(signum))

    # --------------------------------------------------------------------------------- cleanup
    def cleanup(self) -> None:
        """After metrics.json is written the training checkpoints are redundant: remove them."""
        if self.accelerator.is_main_process:
            shutil.rmtree(self.root, ignore_errors=True)


def measurements_state(measure: Any) -> dict[str, Any] | None:
    """The JSON state of the recipe's analysis measurements (sdp/training/trace.py), so that a resumed
    run's ``analysis`` block equals an uninterrupted run's."""
    if measure is None:
        return None
    if hasattr(measure, "state_dict"):
        return measure.state_dict()
    rec = getattr(measure, "recovery", None)
    return {
        "separability": getattr(measure, "separability", None),
        "weights": getattr(measure, "weights", None),
        "recovery": None if rec is None else {
            "ema": rec.ema, "pending": [list(p) for p in rec.pending], "records": rec.records},
    }


def load_measurements_state(measure: Any, state: dict[str, Any] | None) -> None:
    if measure is None or state is None:
        return
    if hasattr(measure, "load_state_dict"):
        measure.load_state_dict(state)
        return
    for key in ("separability", "weights"):
        if state.get(key) is not None:
            setattr(measure, key, state[key])
    rec = getattr(measure, "recovery", None)
    if rec is not None and state.get("recovery") is not None:
        rec.ema = state["recovery"]["ema"]
        rec.pending = [tuple(p) for p in state["recovery"]["pending"]]
        rec.records = list(state["recovery"]["records"])


def _restore_cache(cache, files: dict[str, torch.Tensor], version: int) -> None:
    for key, value in files.items():
        if key.startswith("store."):
            name = key.removeprefix("store.")
            if name not in cache.store:
                cache.store[name] = cache._allocate(name, tuple(value.shape[1:]))
            cache.store[name].copy_(value)
    cache.filled.copy_(files["filled"])
    cache.version = version
