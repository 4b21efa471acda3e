"""Whether a completed run's stored metrics were computed on this run's data: a skip returns them only then.

Here, in run/ and not in data/fingerprint.py: it resolves the run's task (sdp/crosslingual.py), which reads data/,
so data/ importing it would import back up into a module that imports data/ again.
"""

from __future__ import annotations

from typing import Any

from sdp.data.fingerprint import check_same_data, split_fingerprints


def fingerprints_for(cfg: Any) -> dict[str, str]:
    """Load the run's splits (no tokenising, no model) and fingerprint them: for a skip decision."""
    from sdp.crosslingual import resolve_task
    from sdp.data.loading import load_run_splits

    return split_fingerprints(load_run_splits(cfg, resolve_task(cfg.task)).datasets)


def verify_completed_data(metrics: dict, cfg: Any, what: str) -> None:
    """A skip returns stored metrics: only if they were computed on the same data as this run's."""
    if metrics.get("data_fingerprint"):
        check_same_data(metrics["data_fingerprint"], fingerprints_for(cfg), what)
