"""Measuring a model outside accelerate's mixed-precision autocast (train.mixed_precision=bf16|fp16).

``Accelerator.prepare`` wraps a model's forward in autocast and keeps the original as ``_original_forward``. Scores
run without it (sdp/training/loop.py ``full_precision``); so do the run's analysis measurements, the probe loss around
each pruning step and the held-out CC(student, teacher): under bf16 the student's side was rounded while the teacher
(never prepared) ran in fp32, so the recorded CC compared two precisions (probe round 26, bf2's leftover).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from torch import nn


def original_forward(model: nn.Module) -> Callable[..., Any] | None:
    """The forward accelerate wrapped in autocast (of ``model``, or of the module a DistributedDataParallel wraps),
    or None where accelerate never prepared it: the one place that knows accelerate's attribute."""
    return getattr(model, "module", model).__dict__.get("_original_forward")


@contextlib.contextmanager
def without_autocast(model: nn.Module) -> Iterator[nn.Module]:
    """Inside, ``model`` (or the module a DistributedDataParallel wraps) runs its original forward, in the
    parameters' own dtype; a model accelerate never prepared is left as it is."""
    inner = getattr(model, "module", model)
    original = original_forward(model)
    if original is None:
        yield model
        return
    wrapped = inner.__dict__["forward"]
    inner.forward = original
    try:
        yield model
    finally:
        inner.forward = wrapped
