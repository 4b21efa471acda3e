"""What a pruning criterion is: a class with typed ``Options`` (the convention of sdp/objectives/component.py)
that says which granularities it ranks and scores them.

A mask state (sdp/pruning/masks.py, scored.py, structures.py) calls its criterion at three points:

- ``observe(state)`` once per optimizer update, after backward and before masking, clipping and the step (the
  update's whole gradient, accumulation window included: ``MaskState.after_backward``);
- ``scores(state)`` at a pruning event: higher keeps. Unstructured: ``{weight name: tensor of its shape}``;
  structured: ``{"heads" | "ffn" | "layers": [per layer, a score per head | neuron | the layer]}``, per
  prunable weight (sdp/pruning/structures.py). Already pruned entries are pruned again whatever their score,
  so masks are nested across events;
- ``reset()`` right after the event.

``state_tensors()`` / ``load_state_tensors()`` put its running scores into the checkpoint, so a resumed run
ranks at its next event exactly as the uninterrupted one would. Import torch inside methods, not at the top:
the registry is read before torch loads.
"""

from __future__ import annotations

import logging
from typing import Any

from sdp.options import WithOptions

log = logging.getLogger("sdp")

GRANULARITIES = ("unstructured", "structured")
# The criterion used when prune.criterion is null (null keeps older runs' config hashes).
DEFAULT_CRITERION = {"unstructured": "magnitude", "structured": "l2"}


class Criterion(WithOptions):
    """Base of a pruning criterion. ``Options`` is its options dataclass (``prune.criterion_options``); the class
    is built with those options and exposes each as an attribute. ``granularities``: those it ranks."""

    granularities: tuple[str, ...] = ()
    # True only for magnitude: MaskState's own |w| selection ranks (streamed on CPU, sdp/pruning/stream.py)
    # and ``scores`` is not called.
    streamed_magnitude: bool = False

    def observe(self, state: Any) -> None:
        """Once per update, after backward (a criterion that reads no gradients ignores it)."""

    def scores(self, state: Any) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def reset(self) -> None:
        """After each pruning event."""

    def state_tensors(self) -> dict[str, Any]:
        return {}

    def load_state_tensors(self, tensors: dict[str, Any]) -> None:
        pass


def is_structured(state: Any) -> bool:
    """A structured mask state (it has the encoder's blocks)."""
    return getattr(state, "blocks", None) is not None


class RunningScores(Criterion):
    """A criterion that sums a per-update contribution (``contributions(state)``: name -> tensor) over updates.
    ``reset_at_event``: start again after each pruning event (an average since the last event) or keep summing
    over the whole stage (movement). An update whose contribution is not finite (an fp16 loss-scaler overflow,
    which the optimizer skips too) is left out, so one overflow cannot poison the scores for good."""

    reset_at_event = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acc: dict[str, Any] | None = None
        self.updates = 0

    def contributions(self, state: Any) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def observe(self, state: Any) -> None:
        import torch

        with torch.no_grad():
            parts = self.contributions(state)
            finite = torch.stack([torch.isfinite(v).all() for v in parts.values()]).all() if parts else True
            if not bool(finite):
                log.warning("prune.criterion: an update's gradients are not finite; its scores are left out")
                return
            if self.acc is None:
                self.acc = parts
            else:
                for name, part in parts.items():
                    acc = self.acc[name]
                    if acc.device != part.device:  # loaded from a checkpoint on the CPU
                        acc = self.acc[name] = acc.to(part.device)
                    acc.add_(part)
            self.updates += 1

    def mean(self) -> dict[str, Any] | None:
        """The running sums over the updates they hold; None before any update."""
        if self.acc is None or not self.updates:
            return None
        return {name: acc / self.updates for name, acc in self.acc.items()}

    def reset(self) -> None:
        if self.reset_at_event:
            self.acc, self.updates = None, 0

    def state_tensors(self) -> dict[str, Any]:
        """The running sums by name, and ``updates`` (nothing before the first update)."""
        import torch

        if self.acc is None:
            return {}
        return {**self.acc, "updates": torch.tensor([self.updates])}

    def load_state_tensors(self, tensors: dict[str, Any]) -> None:
        self.acc, self.updates = None, 0
        if tensors:
            self.acc = {k: v.float().clone() for k, v in tensors.items() if k != "updates"}
            self.updates = int(tensors["updates"][0])
