"""A user's own pruning criterion, as a plug-in: this one file, joined through SDP_PLUGINS=toy_criterion (its folder
on PYTHONPATH). Nothing in sdp is edited for it (tests/plugins/test_toy_criterion.py runs it end to end)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sdp.objectives.registry import CRITERIA
from sdp.pruning.criteria.base import Criterion


@dataclass
class ToyOptions:
    seed: int = 0


class RandomScores(Criterion):
    """Random scores, drawn anew at every pruning event from ``seed`` and the event's number."""

    Options = ToyOptions
    granularities = ("unstructured",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.events = 0

    def check(self) -> None:
        if self.seed < 0:
            raise ValueError(f"seed={self.seed} must be >= 0")

    def scores(self, state):
        g = torch.Generator().manual_seed(self.seed + self.events)
        return {name: torch.rand(p.shape, generator=g) for name, p in state.params.items()}

    def reset(self) -> None:
        self.events += 1


CRITERIA.register("toy_random", RandomScores, label="RAND")
