"""The base of the terms on a representation kind (mse, cosine, cross_correlation): not a component itself.

``representation`` is final-layer [CLS] by default (cls | pooled | mean | all_layers); ``all_layers``
averages the per-layer losses.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdp.objectives.component import DistillationTerm

# sdp.objectives.representations's names, repeated because that module loads torch and check() runs during
# validation, before torch may load (tests/test_validate.py checks that the copies agree).
REPRESENTATIONS = ("all_layers", "cls", "mean", "pooled")


@dataclass
class RepresentationOptions:
    representation: str = "cls"


class RepresentationTerm(DistillationTerm):
    Options = RepresentationOptions

    def check(self) -> None:
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"regularizer.representation={self.representation!r} is not one of {sorted(REPRESENTATIONS)}")
        self.needs = (self.representation,)

    def pair_loss(self, z_s, z_t):  # pragma: no cover
        raise NotImplementedError

    def forward(self, student, teacher):
        import torch

        z_s, z_t = student[self.representation], teacher[self.representation]
        if self.representation == "all_layers":  # L x B x d
            return torch.stack([self.pair_loss(a, b) for a, b in zip(z_s, z_t)]).mean()
        return self.pair_loss(z_s, z_t)
