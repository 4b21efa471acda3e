"""What tells apart the rows a table labels by setup hash (``MP [3668ec8f]``, ``MP [918c9154]``): the config keys
whose values differ between the setups, read from the runs' run.json, for summary.md. The hashes alone sent a
reader to the records to learn that one row ran in bf16 (probe round 25, noticed: mx1, me1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sdp.run.env import NON_IDENTITY_GROUP_KEYS, NON_IDENTITY_KEYS, PER_SEED_INPUTS
from sdp.run.rundir import read_run_record

SHOWN = 6  # keys named per row pair; more are counted

# Not the setup (collect.setup_hash leaves them out): the task, the method's terms, the sparsity, the seed, where
# things go, and the per-seed inputs.
_NOT_SETUP = ({"task", "regularizer", "weight_reg", "sparsity", "hydra", *NON_IDENTITY_KEYS}
              | {f"{g}.{k}" for groups in (NON_IDENTITY_GROUP_KEYS, PER_SEED_INPUTS) for g, ks in groups.items()
                 for k in ks})


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(node, dict):
        return {prefix.rstrip("."): node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}{key}"
        if path in _NOT_SETUP or path.split(".", 1)[0] in _NOT_SETUP:
            continue
        out.update(_flat(value, f"{path}.") if isinstance(value, dict) else {path: value})
    return out


def setup_differences(runs: pd.DataFrame, results_dir: Path) -> list[str]:
    """One line per (model, method) whose rows mix setups: the keys that differ, with each setup's values."""
    lines: list[str] = []
    if runs.empty:
        return lines
    for (model, method), grp in runs.groupby(["model", "method"], sort=True):
        setups: dict[str, dict[str, Any]] = {}
        for run in grp.itertuples(index=False):
            if run.row_setup not in setups:
                setups[run.row_setup] = _flat((read_run_record(Path(results_dir) / run.path) or {}).get("config") or {})
        unrecorded = [s[:8] or "no-setup" for s, flat in setups.items() if not flat]
        setups = {s: flat for s, flat in setups.items() if flat}
        if len(setups) < 2:
            continue
        keys = sorted({k for flat in setups.values() for k in flat})
        differ = [k for k in keys if len({repr(flat.get(k)) for flat in setups.values()}) > 1]
        if not differ:
            continue
        more = f" (and {len(differ) - SHOWN} more)" if len(differ) > SHOWN else ""
        values = "; ".join(f"[{setup[:8] or 'no-setup'}] " + ", ".join(f"{k}={flat.get(k)!r}" for k in differ[:SHOWN])
                           for setup, flat in sorted(setups.items()))
        without = f"; rows {unrecorded} hold runs that record no config" if unrecorded else ""
        lines.append(f"`{model} / {method}` rows of other setups differ in {', '.join(differ[:SHOWN])}{more}: "
                     f"{values}{without}")
    return lines
