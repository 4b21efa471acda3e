"""One run per config and seed: identical copies collapse, differing ones are conflicts (summary.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sdp.report.clock import utc_key

KEY_FIELDS = ("task", "model", "method", "schedule", "teacher", "target_sparsity", "config_hash")


@dataclass
class Conflict:
    """Two or more runs with the same config and seed but different final scores, or dense models known to differ."""

    key: dict[str, Any]
    seed: int
    paths: list[str]
    values: list[float]
    kept: str
    dense: list[tuple[bool, str]] = field(default_factory=list)  # each path's (own dense stage, fingerprint)


def dense_words(conflict: Conflict) -> str:
    """Where the conflicting runs' dense models differ, what each was: the reporting key leaves the dense model
    out (a per-seed input), so a seed's run with its own dense stage and one given dense.checkpoint were listed
    as "same config and seed" with no word of why they differ (probe round 26, dk2). Said only where it is known:
    one trained its own and one was given one, or both recorded the model by content and the contents differ (a
    record from before dense_model_fingerprint, or a dense.checkpoint recorded by path, is not known)."""
    if not _dense_differ(conflict.dense):
        return ""
    words = [("trained its own" if own else "was given dense.checkpoint") + (f" ({p})" if p else "")
             for own, p in conflict.dense]
    return " (their dense models differ: " + "; ".join(f"`{p}` {w}" for p, w in zip(conflict.paths, words)) + ")"


def _dense_differ(dense: list[tuple[bool, str]]) -> bool:
    """Whether runs' dense models differ (_dense_of each): by content where every one is recorded so (a run given
    another's dense_model/ pruned that very model: probe round 53's dd_eq, seed 1), else where one trained its own and
    one was given one."""
    known = [print_ for _, print_ in dense if print_]
    return len(set(known)) > 1 if len(known) == len(dense) else len({own for own, _ in dense}) > 1


def _given_apart(dense: list[tuple[bool, str]]) -> bool:
    """Copies of one score that are no copies (dedupe): a run given dense.checkpoint among them, and every dense model
    known by content, the contents differing (dd_eq). Not where one is not known (a record by path, or from before
    fingerprints: a run given its partner's own dense_model/ was called a conflict whose dense models differ), nor
    reruns of one config with their own dense stages (other threads, other bits: copies, as before; review)."""
    known = [print_ for _, print_ in dense if print_]
    return not all(own for own, _ in dense) and len(known) == len(dense) and len(set(known)) > 1


def _dense_of(run: pd.Series) -> tuple[bool, str]:
    """(trained its own dense stage, its dense model's content fingerprint or "" where not recorded by content)."""
    own = bool(run.get("own_dense_stage", True))
    model = str(run.get("dense_model") or "")
    return own, model if len(model) == 16 and all(c in "0123456789abcdef" for c in model) else ""


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
        # copies of one score that pruned other dense models (one its own, one given another's) are no copies: they
        # were collapsed as identical, unsaid, and the kept one's Dense row and costs lost the other (probe round 53,
        # dd_eq); a conflict names both and what each pruned
        same = len(set(values)) == 1 and not _given_apart([_dense_of(grp.iloc[i]) for i in range(len(grp))])
        whole = grp.index[grp["whole_launch"].eq(True)]  # identical copies: the newest unbroken one (costs.md
        # left a resumed newest copy out of its mean, hiding the unbroken copy: "— (n=0), left out 1")
        keep_idx.append(whole[-1] if same and len(whole) else grp.index[-1])
        if same:  # one run, or identical copies
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
