"""One run per config and seed: identical copies collapse, differing ones are conflicts (summary.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sdp.report.clock import utc_key

KEY_FIELDS = ("task", "model", "method", "schedule", "teacher", "target_sparsity", "config_hash")


@dataclass
class Conflict:
    """Two or more runs with the same config and seed but different final scores."""

    key: dict[str, Any]
    seed: int
    paths: list[str]
    values: list[float]
    kept: str
    dense: list[str] = field(default_factory=list)  # each path's dense model, in words (``dense_words``)


def dense_words(conflict: Conflict) -> str:
    """Where the conflicting runs' dense models differ, what each was: the reporting key leaves the dense model
    out (a per-seed input), so a seed's run with its own dense stage and one given dense.checkpoint were listed
    as "same config and seed" with no word of why they differ (probe round 26, dk2)."""
    if len(set(conflict.dense)) < 2:
        return ""
    return " (their dense models differ: " + "; ".join(f"`{p}` {d}" for p, d in zip(conflict.paths, conflict.dense)) + ")"


def _dense_of(run: pd.Series) -> str:
    model = str(run.get("dense_model") or "")
    if run.get("own_dense_stage", True):
        return "trained its own" + (f" ({model})" if model else "")
    return f"was given dense.checkpoint {model}"


def dedupe(runs: pd.DataFrame) -> tuple[pd.DataFrame, list[Conflict], int]:
    """One run per (config key, seed): the latest recorded ``finished_at`` wins, then the last path (never the
    file time, which a checkout resets); differing scores are conflicts."""
    if runs.empty:
        return runs, [], 0
    keys = [*KEY_FIELDS, "seed"]
    runs = runs.assign(_when=runs["finished_at"].map(utc_key))  # the instant, not the text (sdp/report/clock.py)
    runs = runs.sort_values([*keys, "_when", "path"], kind="mergesort").drop(columns="_when")
    keep_idx, conflicts, identical = [], [], 0
    for key, grp in runs.groupby(keys, sort=True, dropna=False):
        values = [round(float(v), 12) for v in grp["final_main"]]
        whole = grp.index[grp["whole_launch"].eq(True)]  # identical copies: the newest unbroken one (costs.md
        # left a resumed newest copy out of its mean, hiding the unbroken copy: "— (n=0), left out 1")
        keep_idx.append(whole[-1] if len(set(values)) == 1 and len(whole) else grp.index[-1])
        if len(set(values)) == 1:  # one run, or identical copies
            identical += len(grp) - 1
            continue
        order = sorted(range(len(grp)), key=lambda i: grp["path"].iloc[i])
        conflicts.append(
            Conflict(
                key=dict(zip(KEY_FIELDS, key[:-1])),
                seed=int(key[-1]),
                paths=[grp["path"].iloc[i] for i in order],
                values=[float(grp["final_main"].iloc[i]) for i in order],
                kept=grp["path"].iloc[-1],
                dense=[_dense_of(grp.iloc[i]) for i in order],
            )
        )
    kept = runs.loc[keep_idx].sort_values(keys + ["path"], kind="mergesort").reset_index(drop=True)
    return kept, conflicts, identical
