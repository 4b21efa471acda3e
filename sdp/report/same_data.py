"""Runs of one setup trained or scored on other data are other experiments (probe round 24, rp1).

The config names the data by path (task.train_file, data_dir is no part of it), so a seed run on a GLUE folder whose
dev labels were edited, or on a custom file edited in place between seeds, shared its cell with the others: one
mean, n counted over both data, and a same-seed pair on two data collapsed as an "identical duplicate" or kept as
the newest of a "conflict". Each record's ``data_fingerprint`` (its rows, per split: sdp/data/fingerprint.py) tells
them apart; where the runs of one task and setup hold several, each data's runs become a setup of their own.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from sdp.data.fingerprint import INPUT_PREFIX


def data_digest(fingerprint: Any) -> str:
    """One short hash of a record's split fingerprints (not its model inputs: a study's dense model is per seed),
    or "" for a record without them (made before they were recorded: never split off)."""
    if not isinstance(fingerprint, dict):
        return ""
    splits = sorted((str(k), str(v)) for k, v in fingerprint.items() if not str(k).startswith(INPUT_PREFIX))
    return hashlib.sha256(repr(splits).encode()).hexdigest()[:16] if splits else ""


def split_by_data(runs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``runs`` with the setup, pair setup and config key of each data's runs made their own, where the runs of one
    task and setup (else config) hold several data; and a warning for each such group."""
    if runs.empty:
        return runs, []
    runs, warnings = runs.copy(), []
    group = runs["setup"].where(runs["setup"] != "", runs["config_hash"])
    for (task, _), grp in runs.groupby([runs["task"], group], sort=True):
        datas = sorted({d for d in grp["data"] if d})
        if len(datas) < 2:
            continue
        for i in grp.index:
            if runs.at[i, "data"]:
                for col in ("setup", "pair_setup", "config_hash"):
                    key = f"{runs.at[i, col]}|data:{runs.at[i, 'data']}"
                    runs.at[i, col] = hashlib.sha256(key.encode()).hexdigest()[:16]
        paths = ", ".join(f"`{p}`" for p in sorted(grp["path"])[:4]) + (", ..." if len(grp) > 4 else "")
        warnings.append(f"{task}: runs of one setup were trained or scored on {len(datas)} different data (their "
                        f"data_fingerprint; {paths}): kept apart as setups of their own, never pooled or paired")
    return runs, warnings
