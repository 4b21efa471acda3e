"""``regularizer=kd``: logit KD, KL(teacher/T || student/T) * T^2 (Hinton et al.); MSE on the score for
regression tasks. T=2 and alpha=1 are the common choices (Sanh et al. 2020 use T=2)."""

from __future__ import annotations

from dataclasses import dataclass

from sdp.objectives.component import DistillationTerm


@dataclass
class KDOptions:
    temperature: float = 2.0


class LogitKD(DistillationTerm):
    Options = KDOptions
    needs = ("logits",)

    def check(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"kd temperature must be > 0, got {self.temperature}")

    def forward(self, student, teacher):
        import torch.nn.functional as F  # here, not at import: the registry is read before torch loads

        s, t = student["logits"].float(), teacher["logits"].float()
        if s.shape[-1] == 1:
            return F.mse_loss(s, t)
        temp = self.temperature
        return F.kl_div(
            F.log_softmax(s / temp, -1), F.log_softmax(t / temp, -1), log_target=True, reduction="batchmean"
        ) * temp**2
