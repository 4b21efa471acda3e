"""Measurements behind the papers' analysis claims, written to ``trace.jsonl`` and ``metrics.json``.

Three measurements (docs/metrics_schema.md, key ``analysis``):

* **Recovery after each pruning step.** A fixed *probe batch* (the first ``probe_size`` training
  examples, in index order) is scored with the task loss in eval mode (dropout off, no gradients)
  just before and just after every mask update: ``loss_before`` / ``loss_after``. The steps to
  recover are the optimizer updates after the step until the *smoothed training task loss* (an
  exponential moving average, ``ema = 0.9 ema + 0.1 loss``, over every update of both stages) is
  back at or below its value just before the step; ``null`` if that never happens within the
  stage (or if no training loss precedes the step, e.g. a step at update 0 after ``dense.checkpoint``). The task loss (CE, or MSE for STS-B) is used, not the total loss, so methods with and
  without a distillation term are comparable. One record per pruning step is appended to
  ``trace.jsonl`` once its recovery is known (or at stage end), so records can come out of step
  order.

* **Class separability** of the final-layer [CLS] states on the first dev split, for the dense model
  (after the dense stage) and the pruned one; classification tasks only (``null`` for regression).
  With class means mu_c, overall mean mu, class sizes n_c and per-dimension scatters

      between_d = sum_c n_c (mu_c,d - mu_d)^2,     within_d = sum_i (x_i,d - mu_c(i),d)^2,

  ``fisher_ratio = sum_d between_d / sum_d within_d`` (= tr S_B / tr S_W) and
  ``snr = mean_d between_d / within_d`` (the per-dimension between-class over within-class variance,
  averaged over dimensions). Both are scale-free; higher means better separated classes.

* **Weight magnitudes** of the prunable set when the pruning stage starts (dense) and at the end
  (pruned): over the *surviving* (non-zero) weights, their count and share, mean |w|, the std of w,
  max |w| and quantiles of |w|.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from sdp.data.batch import model_inputs
from sdp.models.autocast import without_autocast
from sdp.training.recovery_summary import summarize_recovery

log = logging.getLogger("sdp")

SMOOTHING = 0.9  # EMA factor of the smoothed training loss that recovery is measured on
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


# ------------------------------------------------------------------------------------ recovery
class RecoveryTracker:
    """Pruning-step records with the steps the smoothed training loss takes to come back.

    ``observe(loss)`` is called once per optimizer update (dense and pruning stage);
    ``start(record)`` at a pruning step, after its mask update; ``close()`` at the end of the stage.
    Finished records go to ``write`` (one call per pruning step) and to :attr:`records`.
    """

    def __init__(self, write: Callable[[dict[str, Any]], None] | None = None, smoothing: float = SMOOTHING):
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = smoothing
        self.write = write
        self.ema: float | None = None
        self.pending: list[tuple[dict[str, Any], float | None, int]] = []  # (record, reference, updates)
        self.records: list[dict[str, Any]] = []

    def observe(self, loss: float) -> None:
        if not math.isfinite(loss):
            return
        self.ema = loss if self.ema is None else self.smoothing * self.ema + (1.0 - self.smoothing) * loss
        still = []
        for record, ref, n in self.pending:
            n += 1
            if ref is not None and self.ema <= ref:
                self._emit(record, n)
            else:
                still.append((record, ref, n))
        self.pending = still

    def start(self, record: dict[str, Any]) -> None:
        """A pruning step happened (its update has not run yet); the reference is the smoothed loss now."""
        record = {**record, "train_loss_ref": self.ema}
        self.pending.append((record, self.ema, 0))

    def close(self) -> None:
        """End of stage: steps that never recovered get ``recovery_steps: null``."""
        for record, _, _ in self.pending:
            self._emit(record, None)
        self.pending = []

    def _emit(self, record: dict[str, Any], steps: int | None) -> None:
        record = {**record, "recovery_steps": steps}
        self.records.append(record)
        if self.write is not None:
            self.write(record)

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state, for checkpoints: a resumed run keeps its pending steps and history."""
        return {"ema": self.ema, "pending": [[r, ref, n] for r, ref, n in self.pending], "records": self.records}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.ema = state["ema"]
        self.pending = [(dict(r), ref, int(n)) for r, ref, n in state["pending"]]
        self.records = [dict(r) for r in state["records"]]

    def summary(self) -> dict[str, Any]:
        return summarize_recovery(self.records, self.smoothing)


def probe_batch(dataset, collator, size: int, device: torch.device | str) -> dict[str, torch.Tensor]:
    """The first ``size`` examples of ``dataset`` (index order), collated and moved to ``device``."""
    size = min(size, len(dataset))
    if size < 1:
        raise ValueError("the probe batch needs at least one training example")
    batch = collator([dataset[i] for i in range(size)])
    return {k: v.to(device) for k, v in batch.items()}


@torch.no_grad()
def probe_loss(
    model: nn.Module, batch: dict[str, torch.Tensor], loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
) -> float:
    """The task loss of ``batch`` in eval mode (deterministic); the model's train/eval mode is restored."""
    was_training = model.training
    model.eval()
    try:
        inputs = model_inputs(batch)
        with without_autocast(model):  # as the scores are (sdp/models/autocast.py)
            return float(loss_fn(model(**inputs).logits.float(), batch["labels"]))
    finally:
        model.train(was_training)


# -------------------------------------------------------------------------------- separability
def class_separability(features: torch.Tensor, labels: torch.Tensor, eps: float = 1e-12) -> dict[str, Any] | None:
    """Fisher ratio and SNR of ``features`` (N x d) under integer ``labels`` (N); see the module doc.
    None when fewer than two classes are present or the features do not vary within classes."""
    x = features.detach().double().cpu()
    y = labels.detach().long().cpu()
    classes = torch.unique(y)
    if x.dim() != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"features must be N x d with one label each, got {tuple(x.shape)} and {tuple(y.shape)}")
    if len(classes) < 2:
        return None
    mu = x.mean(0)
    between = torch.zeros(x.shape[1], dtype=torch.float64)
    within = torch.zeros(x.shape[1], dtype=torch.float64)
    for c in classes:
        xc = x[y == c]
        mc = xc.mean(0)
        between += xc.shape[0] * (mc - mu).pow(2)
        within += (xc - mc).pow(2).sum(0)
    if float(within.sum()) <= 0:
        return None
    return {
        "fisher_ratio": float(between.sum() / within.sum()),
        "snr": float((between / within.clamp_min(eps)).mean()),
        "examples": int(x.shape[0]),
        "classes": len(classes),
    }


@torch.no_grad()
def final_cls_states(accelerator, model: nn.Module, loader) -> tuple[torch.Tensor, torch.Tensor]:
    """Final-layer [CLS] hidden states and labels over ``loader`` (eval mode, gathered across processes)."""
    from sdp.training.loop import full_precision

    was_training = model.training
    model.eval()
    forward = full_precision(accelerator, model)  # as the scores are (bf16 rounded the states)
    feats, labels = [], []
    try:
        for batch in loader:
            inputs = model_inputs(batch)
            hidden = forward(**inputs, output_hidden_states=True).hidden_states[-1][:, 0].float()
            hidden, y = accelerator.gather_for_metrics((hidden, batch["labels"]))
            feats.append(hidden.cpu())
            labels.append(y.cpu())
    finally:
        model.train(was_training)
    return torch.cat(feats), torch.cat(labels)


# ------------------------------------------------------------------------------------ weights
@torch.no_grad()
def weight_stats(weights: Mapping[str, torch.Tensor], quantiles=QUANTILES) -> dict[str, Any]:
    """Magnitude statistics of the surviving (non-zero) entries of ``weights``, all matrices together."""
    total = 0
    count, s1, s2 = 0, 0.0, 0.0
    mags = []
    for w in weights.values():
        flat = w.detach().flatten()
        total += flat.numel()
        kept = flat[flat != 0].double()
        count += kept.numel()
        s1 += float(kept.sum())
        s2 += float(kept.pow(2).sum())
        mags.append(kept.abs().float().cpu().numpy())
    if count == 0:
        return {"total": total, "surviving": 0, "density": 0.0}
    mag = np.concatenate(mags)
    mean = s1 / count
    qs = np.quantile(mag, quantiles)
    return {
        "total": total,
        "surviving": count,
        "density": count / total,
        "mean_abs": float(mag.mean(dtype=np.float64)),
        "std": math.sqrt(max(s2 / count - mean**2, 0.0)),
        "max_abs": float(mag.max()),
        "abs_quantiles": {f"q{round(100 * q)}": float(v) for q, v in zip(quantiles, qs)},
    }


# ---------------------------------------------------------------------------------- one place
class Measurements:
    """What the recipe calls: one object per run collecting the ``analysis`` block of metrics.json."""

    def __init__(
        self,
        probe: dict[str, torch.Tensor],
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        is_regression: bool,
        write: Callable[[dict[str, Any]], None] | None = None,
        smoothing: float = SMOOTHING,
    ) -> None:
        self.probe = probe
        self.loss_fn = loss_fn
        self.is_regression = is_regression
        self.recovery = RecoveryTracker(write, smoothing)
        self.separability: dict[str, Any] = {}
        self.weights: dict[str, Any] = {}

    def observe(self, parts: Mapping[str, float]) -> None:
        """One optimizer update's logged parts: the recovery measure follows the task loss (both stages log it)."""
        loss = parts.get("task_loss")
        if loss is not None:
            self.recovery.observe(float(loss))

    def probe_loss(self, model: nn.Module) -> float:
        """The task loss of the probe batch (eval mode, no gradients)."""
        return probe_loss(model, self.probe, self.loss_fn)

    def pruned(self, step: int, target: float, achieved: float, before: float, after: float,
               removed: Mapping[str, float] | None = None) -> dict[str, Any]:
        """A mask update at optimizer ``step``: ``before``/``after`` are :meth:`probe_loss` around it;
        ``removed`` what the update took away (MaskState.update)."""
        record = {"event": "prune", "step": step, "sparsity": target, "achieved_sparsity": achieved,
                  "loss_before": before, "loss_after": after, **(removed or {})}
        self.recovery.start(record)
        return record

    def end_prune_stage(self) -> None:
        self.recovery.close()

    def measure_separability(self, which: str, accelerator, model: nn.Module, split: str, loader) -> None:
        """Separability of ``model``'s final [CLS] states on one dev split (``which``: dense | final)."""
        if self.is_regression:
            return
        feats, labels = final_cls_states(accelerator, model, loader)
        self.separability["split"] = split
        self.separability[which] = class_separability(feats, labels)

    def measure_weights(self, which: str, weights: Mapping[str, torch.Tensor]) -> None:
        self.weights[which] = weight_stats(weights)

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (part of ``PruneRecipe.state_dict``), so that a run resumed in the
        pruning stage still reports every pruning step and the dense-side measurements."""
        return {"recovery": self.recovery.state_dict(), "separability": self.separability, "weights": self.weights}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.recovery.load_state_dict(state["recovery"])
        self.separability = dict(state["separability"])
        # The stage-start checkpoint is saved before the pruning stage measures the dense weights: restoring it
        # must not forget that measurement (analysis.weights.dense), so the checkpoint's values are added to it.
        self.weights = {**self.weights, **state["weights"]}

    def summary(self) -> dict[str, Any]:
        return {
            "recovery": {**self.recovery.summary(), "probe_size": int(self.probe["labels"].shape[0]),
                         "loss": "task"},
            "separability": None if self.is_regression else {
                "representation": "cls", "dense": None, "final": None, **self.separability},
            "weights": self.weights,
        }
