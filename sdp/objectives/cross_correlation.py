"""The Barlow-Twins cross-correlation between student and teacher representations, in parts.

With z_s, z_t (B x d) standardised per dimension over the batch, C = z_s^T z_t / B and

    L = sum_i (1 - C_ii)^2 + lambda_off * sum_{i!=j} (C_ij - T_ij)^2        (divided by d when normalize)

``off_target`` chooses T:
- ``zero``: T = 0, Barlow Twins' redundancy reduction. With B <= d, C has rank <= B - 1, so its
  off-diagonal mass cannot reach zero even when student = teacher: the term then pushes the student
  *away* from the teacher (measured in conf/regularizer/cross_correlation.yaml).
- ``teacher``: T = z_t^T z_t / B, the teacher's own correlation matrix on the same batch. The off-diagonal
  term then asks the student to keep the teacher's correlation structure, and student = teacher is an
  exact minimum (zero loss, zero gradient) at any batch size.

``gather=True`` concatenates z over all processes first (gradients flow back to each process's own rows),
so the statistics are those of the global batch, as a single process on the concatenated batch would see.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

OFF_TARGETS = ("zero", "teacher")


def standardize(z: torch.Tensor, eps: float) -> torch.Tensor:
    """Per-dimension zero mean and unit (population) std over the batch, in float32."""
    z = z.float()
    return (z - z.mean(0)) / (z.std(0, unbiased=False) + eps)


def gather_rows(z: torch.Tensor) -> torch.Tensor:
    """z of every process, concatenated along the batch (rank order); differentiable; a no-op in one process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return z
    if z.requires_grad:
        # Autograd-aware: the backward reduce-scatters, so each rank gets the summed gradient of its rows.
        try:  # the autograd twin of all_gather_single, which torch's deprecation of the old function names
            from torch.distributed._functional_collectives import all_gather_single_autograd
        except ImportError:  # an older torch (pyproject allows >= 2.4): the old function, not deprecated there
            from torch.distributed.nn.functional import all_gather

            return torch.cat(all_gather(z.contiguous()))
        return all_gather_single_autograd(z.contiguous(), 0, dist.group.WORLD)
    parts = [torch.empty_like(z) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, z.contiguous())
    return torch.cat(parts)


def cross_correlation_parts(
    z_s: torch.Tensor, z_t: torch.Tensor, eps: float = 1e-5, off_target: str = "teacher"
) -> dict[str, torch.Tensor]:
    """``diag`` = sum_i (1 - C_ii)^2 and ``off`` = sum_{i!=j} (C_ij - T_ij)^2, raw sums (not / d)."""
    if z_s.shape != z_t.shape or z_s.dim() != 2:
        raise ValueError(f"cross-correlation needs two B x d tensors of one shape, got {tuple(z_s.shape)} "
                         f"and {tuple(z_t.shape)}")
    if off_target not in OFF_TARGETS:
        raise ValueError(f"off_target={off_target!r} is not one of {list(OFF_TARGETS)}")
    batch = z_s.shape[0]
    if batch < 2:
        raise ValueError(
            "cross-correlation standardises over the batch and needs a batch of at least 2 examples, got 1"
        )
    s, t = standardize(z_s, eps), standardize(z_t.detach(), eps)
    c = s.T @ t / batch
    diag = torch.diagonal(c)
    on_diag = (1.0 - diag).pow(2).sum()
    if off_target == "zero":
        off_diag = c.pow(2).sum() - diag.pow(2).sum()
    else:
        target = t.T @ t / batch
        off_diag = (c - target).pow(2).sum() - (diag - torch.diagonal(target)).pow(2).sum()
    return {"diag": on_diag, "off": off_diag}


def cross_correlation_loss(
    z_s: torch.Tensor,
    z_t: torch.Tensor,
    lambda_off: float = 0.0051,
    normalize: bool = True,
    eps: float = 1e-5,
    off_target: str = "teacher",  # as conf/regularizer/cross_correlation.yaml: "zero" is the Barlow Twins form
) -> torch.Tensor:
    """L = diag + lambda_off * off (see the module docstring), divided by d when ``normalize``."""
    parts = cross_correlation_parts(z_s, z_t, eps, off_target)
    loss = parts["diag"] + lambda_off * parts["off"]
    return loss / z_s.shape[1] if normalize else loss
