"""What a collated batch holds besides the model's inputs."""

from __future__ import annotations

import torch

# The collator adds the label and the example's row index (the teacher cache's key); the model takes neither.
NOT_MODEL_INPUTS = ("labels", "idx")


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The keyword arguments the model's forward takes: the batch without labels and row indices."""
    return {k: v for k, v in batch.items() if k not in NOT_MODEL_INPUTS}
