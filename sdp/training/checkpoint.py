"""Checkpoint and resume: a killed or preempted run continues where it stopped, bit for bit on CPU.

The checkpointer only knows a directory: it writes and reads back a JSON state and named groups of
tensors that the recipe hands it (``PruneRecipe.save_checkpoint`` lists what they are). Layout::

    checkpoints/latest.json          -> {"name": "prune-0000012", "stage": "prune", "step": 12}
    checkpoints/prune-0000012/
        state.json                   the recipe's JSON state, plus format, config identity, world size
        rng.json                     python / numpy / torch (CPU + CUDA) RNG states of every rank, as lists
        <group>.safetensors          one file per tensor group (model, optimizer, masks, teacher, ...)
    dense_model/                     save_pretrained of the fine-tuned dense model, written once at the
                                     end of the dense stage (also usable as another run's dense.checkpoint)

Tensors are only ever written with ``safetensors`` and read with ``safetensors.torch.load_file``;
everything else is JSON. Nothing is pickled and nothing is ``torch.load``-ed.

Atomicity: a checkpoint is written into a temporary folder that is renamed into place when complete,
then ``latest.json`` is replaced atomically (temp file + rename); the two newest checkpoints are kept,
plus the pruning stage's start.
state.json lists every file's size and sha256, checked at load: a corrupt checkpoint falls back to the one
before it, saying so (:func:`load_newest_verified`).
When the two newest are both corrupt in the pruning stage, the kept stage start ``prune-0000000`` (JSON only)
restarts the stage from ``dense_model/``, recorded as a ``checkpoint_fallback`` trace event.
A kill at any moment leaves ``latest.json`` naming a complete checkpoint (or no checkpoint at all).
Each checkpoint stores trace.jsonl's length; a resume cuts the trace back to it, so the updates redone
after a kill leave one record each. SIGTERM/SIGINT/SIGUSR2/SIGHUP/SIGQUIT are handled in sdp/run/preemption.py.

A resume happens in one place, the last step of ``PruneRecipe.setup``:
1. :meth:`Checkpointer.load_latest` reads ``latest.json`` and returns the newest checkpoint that passes its
   checks (:func:`load_newest_verified`); its identity must match, and trace.jsonl is cut back to the length
   it had then (``resume=false``: :meth:`Checkpointer.clear` removes the checkpoints instead).
2. ``PruneRecipe.restore``: the dense scores and measurements; in the pruning stage, the dense weights
   (``dense_model/``) and the stage's start from them (the dense stage is then skipped); the step, then
   ``stage_state.load_stage_state`` (weights, optimizer, LR schedule, scaler, masks, teacher cache, data
   position), and last every RNG.

Exactness: the train sampler is reseeded per epoch (``(seed, epoch)``), so a resume sets the epoch
and skips the batches already consumed in it (``accelerator.skip_first_batches``); dropout continues
from the restored RNG. On one process a resumed run equals an uninterrupted one exactly. In a
multi-process run the non-main ranks rebuild their teacher caches lazily after a resume (only the
main process's cache is saved), which can change teacher outputs by float rounding (an example
re-batched with others is padded differently).
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from sdp.errors import CheckpointRefusedError
from sdp.io import append_jsonl, write_json
from sdp.run.logs import trace_size, truncate_trace
from sdp.run.preemption import RunInterrupted, StopSignals  # noqa: F401  (RunInterrupted re-exported)
from sdp.run.rundir import atomic_dir
from sdp.training.state_io import (
    CheckpointError,
    check_dense_model,
    dense_digest,
    file_manifest,
    read_verified_state,
    rng_state,
    set_rng_state,
)

log = logging.getLogger("sdp")

FORMAT_VERSION = 1
LIBRARIES = ("torch", "transformers", "accelerate", "datasets", "python", "cuda")  # a resume under others: said


class Checkpointer:
    """Writes and reads the checkpoints in ``root``; saves on request and notes SIGTERM/SIGINT.

    ``identity`` (the config's resume identity) is stored with every checkpoint and must match to
    resume; ``trace_path`` receives one ``checkpoint`` event per save.
    """

    def __init__(self, root: Path, accelerator, identity: dict[str, Any], trace_path: Path,
                 versions: dict[str, Any] | None = None) -> None:
        self.root = Path(root)
        self.accelerator = accelerator
        self.identity = identity
        self.trace_path = trace_path
        self.versions = versions if versions is not None else {}  # the run's (metrics.json): a resume adds to it
        self.signals = StopSignals()  # SIGTERM/SIGINT/SIGUSR2/SIGHUP/SIGQUIT -> checkpoint, then stop or requeue

    def clear(self) -> None:
        """resume=false: no checkpoint of an earlier run in ``root`` is resumed, or kept. Returns None (no state)."""
        if self.accelerator.is_main_process and self.root.exists():
            shutil.rmtree(self.root)
        self.accelerator.wait_for_everyone()

    # ------------------------------------------------------------------------------ locate/load
    def load_latest(self) -> dict[str, Any] | None:
        """The state.json to resume from (with its "path"), or None: no checkpoint."""
        if not self.root.is_dir():
            return None
        path, state = load_newest_verified(self.root)  # a corrupt newest one falls back to the one before
        if path is None:
            return None
        if state.get("format") != FORMAT_VERSION:
            raise CheckpointError(f"checkpoint {str(path)!r} has format {state.get('format')}, expected {FORMAT_VERSION}")
        if state["identity"] != self.identity:
            raise CheckpointRefusedError(
                f"checkpoint {str(path)!r} belongs to another config or seed (identity {state['identity']}, "
                f"this run {self.identity}); use another output_dir, or resume=false to start over"
            )
        if state["world_size"] != self.accelerator.num_processes:
            # It was a warning, and the run went on: its metrics.json then said world_size 1 for a run whose dense
            # stage and first updates were made with twice the global batch (probe round 9). A completed run is
            # never reused across process counts (sdp/run/rundir.py); a half-made one is not mixed across them.
            raise CheckpointRefusedError(
                f"checkpoint {str(path)!r} was written by a launch of {state['world_size']} process(es); this launch "
                f"has {self.accelerator.num_processes}: train.batch_size is per process, so the global batch, the "
                "data order and the result would change mid-run, and the record would name only this launch. "
                f"Resume it on {state['world_size']} process(es), or resume=false to start over")
        state["path"] = str(path)
        self._threads_of_earlier_launches(state.get("num_threads") or [])
        self._libraries_of_earlier_launches(state.get("libraries") or [])
        if state["stage"] == "prune":  # a prune-stage resume starts from the dense weights
            check_dense_model(state.get("dense_model"), state.get("dense_sha256"))
        if self.accelerator.is_main_process:  # records written after this checkpoint are redone now
            truncate_trace(self.trace_path, state.get("trace_bytes"))
            if state.get("fell_back_from"):  # said in the trace too: the redone updates are not a mystery
                append_jsonl(self.trace_path, {"event": "checkpoint_fallback", "stage": state["stage"],
                                               "step": state["step"], "checkpoint": path.name,
                                               "corrupt": state["fell_back_from"]})
        return state

    def _threads_of_earlier_launches(self, earlier: list[int]) -> None:
        """Torch sums in another order at another thread count, so a run resumed at another train.num_threads is
        bit-identical to no unbroken run; it recorded only the last launch's count, as an unbroken run at that count
        records it (probe round 23, k03; the README promises a bit-exact resume). Said, and kept in metrics.json's
        ``versions.num_threads_before_resume`` (the counts of the launches before this one)."""
        now = self.versions.get("num_threads")
        if now is None or all(n == now for n in earlier):
            return
        self.versions["num_threads_before_resume"] = list(earlier)
        log.warning("resumed at train.num_threads=%s, but the launches before ran at %s: the weights will not be "
                    "bit-identical to an unbroken run at either count (recorded as versions.num_threads_before_resume"
                    "); resume at %s to keep them", now, earlier, earlier[-1])

    def _libraries(self) -> dict[str, Any]:
        return {k: self.versions.get(k) for k in LIBRARIES}

    def _libraries_of_earlier_launches(self, earlier: list[dict[str, Any]]) -> None:
        """A run resumed under another torch, transformers, accelerate, datasets, Python or CUDA version computes
        its remaining updates otherwise and is bit-identical to no unbroken run; its record named only the last
        launch's versions. Said, and kept in metrics.json's ``versions.libraries_before_resume``."""
        now = self._libraries()
        if all(e == now for e in earlier):
            return
        self.versions["libraries_before_resume"] = list(earlier)
        other = next(e for e in earlier if e != now)
        changed = [k for k in LIBRARIES if other.get(k) != now.get(k)]
        log.warning("resumed with %s, but a launch before ran with %s: the weights will not be bit-identical to an "
                    "unbroken run under either (recorded as versions.libraries_before_resume)",
                    ", ".join(f"{k} {now.get(k)}" for k in changed), ", ".join(f"{k} {other.get(k)}" for k in changed))

    @staticmethod
    def tensors(state: dict[str, Any], group: str) -> dict[str, torch.Tensor] | None:
        """The tensor group ``group`` saved with ``state`` (None if that checkpoint has none)."""
        path = Path(state["path"]) / f"{group}.safetensors"
        return load_file(str(path)) if path.is_file() else None

    def restore_rng(self, state: dict[str, Any]) -> None:
        """This rank's RNG states as saved with ``state`` (rank 0's if the checkpoint had fewer ranks)."""
        rngs = json.loads((Path(state["path"]) / "rng.json").read_text())["ranks"]
        rank = self.accelerator.process_index
        set_rng_state(rngs[rank] if rank < len(rngs) else rngs[0])

    # ----------------------------------------------------------------------------------- save
    def save(self, stage: str, step: int, state: dict[str, Any], tensors: dict[str, dict[str, torch.Tensor]]) -> None:
        """Collective: every rank calls it (RNG states are gathered); the main process writes."""
        acc = self.accelerator
        rngs = [rng_state()]
        if acc.num_processes > 1:
            from accelerate.utils import gather_object

            rngs = list(gather_object(rngs))
        if acc.is_main_process:
            name = f"{stage}-{step:07d}"
            append_jsonl(self.trace_path, {"event": "checkpoint", "stage": stage, "step": step})
            header = {"format": FORMAT_VERSION, "identity": self.identity, "stage": stage, "step": step,
                      "world_size": acc.num_processes,
                      "trace_bytes": trace_size(self.trace_path),  # a resume cuts the trace back here
                      # every launch's thread count so far (_threads_of_earlier_launches)
                      "num_threads": [*self.versions.get("num_threads_before_resume", []),
                                      *([self.versions["num_threads"]] if "num_threads" in self.versions else [])],
                      # every launch's library versions so far (_libraries_of_earlier_launches)
                      "libraries": [*self.versions.get("libraries_before_resume", []), self._libraries()]}
            if stage == "prune":  # the dense weights a resume starts from: checked against this when it loads them
                header["dense_sha256"] = dense_digest(state.get("dense_model"))
            with atomic_dir(self.root / name) as tmp:
                (tmp / "rng.json").write_text(json.dumps({"ranks": rngs}))
                for group, files in tensors.items():
                    save_file(files, str(tmp / f"{group}.safetensors"))
                header["files"] = file_manifest(tmp)  # sizes + sha256, verified when loading
                (tmp / "state.json").write_text(json.dumps({**header, **state}, indent=1, default=float))
            write_json(self.root / "latest.json", {"name": name, "stage": stage, "step": step})
            prune_checkpoints(self.root, keep=name)  # the last two: a corrupt one has a fallback
        acc.wait_for_everyone()

    # --------------------------------------------------------------------------------- signals
    def watch_signals(self):
        """While inside: the stop signals (preemption.py) only set a flag (:meth:`stop_requested`); a second Ctrl-C
        stops (sdp/run/preemption.py)."""
        return self.signals.installed()

    def stop_requested(self) -> bool:
        if self.accelerator.num_processes > 1:  # all ranks must stop at the same update, and say the same signal: a
            # rank that got none recorded rank 1's SIGHUP as "interrupted by SIGTERM" and exited 143 (probe round 42)
            t = torch.tensor([float(self.signals.received or 0)], device=self.accelerator.device)
            got = int(self.accelerator.gather(t).max().item())
            if got and self.signals.received is None:
                self.signals.received = got
        return self.signals.received is not None

    def interrupted(self, stage: str, step: int, metrics_path: Path) -> RunInterrupted:
        """Record the interruption in ``metrics_path``; requeue through submitit when it launched the job
        (it exits there), else the caller raises the returned exception (exit code 128 + signal)."""
        signum = self.signals.received or signal.SIGTERM
        msg = f"interrupted by {signal.Signals(signum).name} in the {stage} stage at optimizer step {step}; checkpoint saved"
        if self.accelerator.is_main_process:
            write_json(metrics_path, {"status": "interrupted", "error": msg, "stage": stage, "step": step})
            (metrics_path.parent / "error.txt").unlink(missing_ok=True)  # an earlier launch's failure (round 42, er2)
        return self.signals.hand_over(msg)

    # --------------------------------------------------------------------------------- cleanup
    def cleanup(self) -> None:
        """After metrics.json is written the training checkpoints are redundant: remove them."""
        if self.accelerator.is_main_process:
            shutil.rmtree(self.root, ignore_errors=True)


# ------------------------------------------------------------------ the checkpoint folders
STAGE_ORDER = {"dense": 0, "prune": 1}


def checkpoint_dirs(root: str | Path) -> list[Path]:
    """Complete-looking checkpoint folders, newest first (latest.json's choice leads)."""
    root = Path(root)
    found = []
    for d in root.glob("*-*"):
        stage, _, step = d.name.partition("-")
        if stage in STAGE_ORDER and step.isdigit() and d.is_dir() and not d.name.startswith("."):
            found.append((STAGE_ORDER[stage], int(step), d))
    ordered = [d for *_, d in sorted(found, reverse=True)]
    try:
        latest = root / json.loads((root / "latest.json").read_text())["name"]
    except (OSError, ValueError, KeyError, TypeError):
        latest = None
    if latest in ordered:
        ordered.remove(latest)
        ordered.insert(0, latest)
    return ordered


STAGE_START = "prune-0000000"  # the pruning stage's start: JSON only (no tensors), it points at dense_model/


def load_newest_verified(root: str | Path) -> tuple[Path | None, dict | None]:
    """The newest checkpoint that passes its checks; a corrupt one falls back to the one before it,
    saying so. When every pruning-stage checkpoint after the stage's start is corrupt, that leaves
    ``prune-0000000``: the pruning stage restarts from the dense weights (dense_model/), which the
    returned state's ``fell_back_from`` (the corrupt files) lets the caller record in the trace.
    All corrupt: a CheckpointError naming the file and the way out."""
    errors: list[CheckpointError] = []
    for path in checkpoint_dirs(root):
        try:
            state = read_verified_state(path)
        except CheckpointError as err:
            errors.append(err)
            log.warning("%s; falling back to the checkpoint before it", err)
            continue
        if errors:
            state["fell_back_from"] = [str(e) for e in errors]
            if path.name == STAGE_START:
                log.warning("no intact checkpoint after the pruning stage's start: restarting the pruning stage "
                            "from the dense model (%s) with %s", state.get("dense_model"), path)
            else:
                log.warning("resuming from the older checkpoint %s", path)
        return path, state
    if errors:
        raise CheckpointError(f"{errors[0]}, and no earlier checkpoint is intact; resume=false starts the "
                              "run over (the old files are moved to previous-<time>/)")
    return None, None


def prune_checkpoints(root: str | Path, keep: str) -> None:
    """Keep ``keep`` (just written), the newest other checkpoint and the pruning stage's start (a few
    KB of JSON, the fallback to dense_model/ when both newer ones are corrupt); remove the rest."""
    others = [d for d in checkpoint_dirs(root) if d.name not in (keep, STAGE_START)]
    for old in others[1:]:
        shutil.rmtree(old, ignore_errors=True)
