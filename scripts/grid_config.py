"""Was a finished run made with the config a grid gives it now? (probe round 24, g02)

A grid's runs live in fixed folders, so a re-launch skips the finished ones; it judged them by their code alone
(sdp/run/code_policy.py). The same grid re-launched with other ``overrides`` (prune.max_steps=20 -> 25) printed
nothing, exited 0 and kept every record of the old config as done, in PROGRESS.md and the tables. A record made by
this code is now compared, key by key, with the config sdp-run would compose from the grid's command; one made by
older code is left to the code policy (its schema may differ: the study's dense models were made as sparsity=0
prune.max_steps=1 before stages=dense existed).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sdp.run.env import NON_IDENTITY_GROUP_KEYS, NON_IDENTITY_KEYS

REPO = Path(__file__).resolve().parents[1]
# Where things go and how often they are written (sdp/run/env.py's non-identity keys), and the paths a grid gives
# per root (a checkout moved elsewhere keeps its records).
# The seed is compared: a record of another seed in a job's folder is not that job's run.
SKIP = ({k for k in NON_IDENTITY_KEYS if k != "seed"} | {"hydra", "dense.checkpoint", "prune.teacher_checkpoint"}
        | {f"{group}.{key}" for group, keys in NON_IDENTITY_GROUP_KEYS.items() for key in keys})
_LOCK = threading.Lock()  # Hydra's global state: one composition at a time (a grid launches from several threads)


def config_change(overrides: list[str], record: dict | None, metrics: dict | None) -> str | None:
    """How ``record`` (a run.json) differs from the config ``overrides`` compose, e.g. "prune.max_steps: 20 -> 25";
    None when they agree, or when it is not judged here (no config recorded, older code, a config this process
    cannot compose, such as a plug-in it does not import)."""
    from sdp.run.code import same_code

    recorded = (record or {}).get("config")
    if not isinstance(recorded, dict) or not same_code(metrics or {}):
        return None
    try:
        now = _composed(overrides)
    except Exception:  # noqa: BLE001 - not judged; sdp-run itself refuses what does not compose
        return None
    diffs: list[str] = []
    _compare(recorded, now, "", diffs)
    return "; ".join(diffs[:3]) + (f"; and {len(diffs) - 3} more" if len(diffs) > 3 else "") if diffs else None


def _composed(overrides: list[str]) -> dict[str, Any]:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import sdp.config  # noqa: F401  (the structured schema)
    from sdp.run.launch import resolve_precision

    with _LOCK, initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = OmegaConf.to_container(compose(config_name="config", overrides=list(overrides)), resolve=True)
    cfg["train"]["mixed_precision"] = resolve_precision(cfg["train"]["mixed_precision"])  # as sdp-run records it
    return cfg


def _compare(old: dict, new: dict, prefix: str, out: list[str]) -> None:
    for key in sorted(set(old) & set(new)):  # a key only one side has: another schema, not another config
        path, a, b = f"{prefix}{key}", old[key], new[key]
        if path in SKIP:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            _compare(a, b, f"{path}.", out)
        elif a != b:
            out.append(f"{path}: {a!r} -> {b!r}")
