"""The recovery summary of a run's pruning steps (metrics.json ``analysis.recovery``), from their records: one
formula for the run that measures them (sdp/training/trace.py) and the tables that read a trace made before an
event that removed nothing stopped counting as a step (sdp/report/trace_read.py). No torch."""

from __future__ import annotations

from typing import Any

import numpy as np


def summarize_recovery(records: list[dict[str, Any]], smoothing: float) -> dict[str, Any]:
    jumps = [r["loss_after"] - r["loss_before"] for r in records
             if r.get("loss_before") is not None and r.get("loss_after") is not None]
    recovered = [r["recovery_steps"] for r in records if r.get("recovery_steps") is not None]
    return {
        "pruning_steps": len(records),
        "mean_loss_jump": _mean(jumps),
        "max_loss_jump": max(jumps) if jumps else None,
        "mean_recovery_steps": _mean(recovered),
        # Share of the prunable L1 mass each step removed, averaged over steps (lower: pruned weights had shrunk).
        "mean_removed_mass": _mean([r["removed_mass"] for r in records if "removed_mass" in r]),
        "unrecovered": len(records) - len(recovered),
        "smoothing": smoothing,
    }


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None
