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


class CriterionScoresError(ValueError):
    """A criterion's ``scores`` that the mask state cannot rank as documented (a plug-in's: a missing weight, a
    wrong shape, a NaN); a user error by its name (sdp/errors.py USER_ERRORS: pruning/ imports no sdp module). Torch ranked them anyway: a NaN counted as pruned beside the k lowest (50% asked, 75%
    masked), a score of one per row was broadcast over the row's weights, a list one entry short left neurons
    out of the ranking; or a KeyError or IndexError traceback (probe round 9)."""


class CriterionScheduleError(ValueError):
    """A criterion that ranks by the updates before an event (:class:`RunningScores`) given a schedule whose first
    event already prunes before any update; a user error by its name (sdp/errors.py USER_ERRORS)."""


def check_first_event(criterion: Any, schedule: Any) -> None:
    """Before any training: such an event ranks by |w| (l2) under the criterion's name, and masks are nested, so
    what it prunes stays pruned (probe rounds 17 and 19). sdp/validate.py refuses the configs that say so; this
    is the stage as built, with its real length: a fractional ``schedule.start`` or ``end`` of a short stage that
    rounds to update 0 got through there."""
    steps = schedule.pruning_steps()
    if isinstance(criterion, RunningScores) and steps and steps[0] == 0 and schedule.sparsity_at(0) > 0:
        raise CriterionScheduleError(
            f"prune.criterion ({type(criterion).__name__}) ranks by the updates before a pruning event, and this run's first event "
            f"prunes to {schedule.sparsity_at(0):.0%} at update 0, before any: it would rank by |w| (l2) under its "
            "name; start the schedule later (schedule.start, in updates or a fraction of the stage), or use "
            "prune.criterion=magnitude (l2 for structured)")


def _describe(name: str, what: str) -> str:
    return f"prune.criterion={name!r}: scores(state) {what}"


def check_unstructured_scores(name: str, scores: Any, params: Any) -> None:
    """``scores``: one finite tensor of each prunable weight's own shape, by the weight's name."""
    import torch

    if not isinstance(scores, dict):
        raise CriterionScoresError(_describe(name, f"returned a {type(scores).__name__}; it must return a dict "
                                                   "{weight name: a tensor of that weight's shape}"))
    for n, p in params.items():
        s = scores.get(n)
        if not torch.is_tensor(s):
            raise CriterionScoresError(_describe(name, f"has {'no' if s is None else 'a ' + type(s).__name__} score "
                                                       f"for {n!r}; it must give every prunable weight a tensor of "
                                                       f"its shape {list(p.shape)} ({len(params)} weights)"))
        if tuple(s.shape) != tuple(p.shape):
            raise CriterionScoresError(_describe(name, f"gave {n!r} scores of shape {list(s.shape)}; its weight has "
                                                       f"shape {list(p.shape)}: one score per weight (a broadcast "
                                                       "shape is not taken)"))
        _check_finite(name, n, s)


def check_structured_scores(name: str, scores: Any, blocks: Any, structures: Any) -> None:
    """``scores``: for each structure in ``structures``, a list of one tensor per layer with one finite score per
    head, FFN neuron or the layer."""
    import torch

    if not isinstance(scores, dict):
        raise CriterionScoresError(_describe(name, f"returned a {type(scores).__name__}; a structured criterion "
                                                   'returns {"heads" | "ffn" | "layers": [a tensor per layer]}'))
    for kind in structures:
        per_layer = scores.get(kind)
        if not isinstance(per_layer, (list, tuple)) or len(per_layer) != len(blocks):
            got = "nothing" if per_layer is None else (f"{len(per_layer)} entries" if isinstance(per_layer, (list, tuple))
                                                       else f"a {type(per_layer).__name__}")
            raise CriterionScoresError(_describe(name, f"gave {got} for {kind!r}; it must give a list of "
                                                       f"{len(blocks)} tensors, one per layer"))
        for b, s in zip(blocks, per_layer):
            want = {"heads": b.heads, "ffn": b.width, "layers": 1}[kind]
            if not torch.is_tensor(s) or s.numel() != want:
                got = f"{s.numel()} scores" if torch.is_tensor(s) else f"a {type(s).__name__}"
                what = {"heads": "attention heads", "ffn": "FFN neurons", "layers": "layer (one score)"}[kind]
                raise CriterionScoresError(_describe(name, f"gave layer {b.index} {got} for {kind!r}; it has {want} "
                                                           f"{what}: one score each"))
            _check_finite(name, f"{kind} of layer {b.index}", s)


def _check_finite(name: str, where: str, s: Any) -> None:
    import torch

    bad = int((~torch.isfinite(s.detach().float())).sum())
    if bad:
        raise CriterionScoresError(_describe(name, f"gave {bad} of {s.numel()} scores of {where} that are not "
                                                   "finite (NaN or inf): they cannot be ranked; fix the criterion"))


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
