"""``regularizer=cross_correlation``: SDP-CC, the main objective (the loss is sdp/objectives/cross_correlation.py).

Why each default is what it is (the measured gradients behind ``off_target=teacher``, Barlow Twins'
``lambda_off``, ``normalize`` for any width, ``gather``): conf/regularizer/cross_correlation.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdp.objectives.distill_terms.representation import RepresentationOptions, RepresentationTerm


@dataclass
class CrossCorrelationOptions(RepresentationOptions):
    lambda_off: float = 0.0051
    normalize: bool = True
    eps: float = 1e-5  # added to each dimension's batch std (a constant dimension gives 0, not NaN)
    off_target: str = "teacher"  # "zero" is the Barlow Twins form
    gather: bool = False


# sdp.objectives.cross_correlation's, repeated here because that module loads torch and check() runs during
# validation, before torch may load (tests/test_validate.py checks that the copies agree).
OFF_TARGETS = ("zero", "teacher")


class CrossCorrelation(RepresentationTerm):
    Options = CrossCorrelationOptions
    min_batch = 2  # standardises over the batch

    def check(self) -> None:
        super().check()
        if self.lambda_off < 0:
            raise ValueError(f"lambda_off must be >= 0, got {self.lambda_off}")
        if self.off_target not in OFF_TARGETS:
            raise ValueError(f"off_target={self.off_target!r} is not one of {list(OFF_TARGETS)}")

    def pair_loss(self, z_s, z_t):
        from sdp.objectives.cross_correlation import cross_correlation_loss, gather_rows

        if self.gather:  # Barlow Twins statistics over the global batch of all processes
            z_s, z_t = gather_rows(z_s), gather_rows(z_t)
        return cross_correlation_loss(z_s, z_t, self.lambda_off, self.normalize, self.eps, self.off_target)
