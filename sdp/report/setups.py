"""A run's setup, by hash of its config: the runs of one experiment (one Dense row, one pool of seeds), the pairs
claims.md and the deltas compare, and the dense stage runs share (sdp/report/collect.py records them per run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdp.run.env import PER_SEED_INPUTS, config_hash

# Runs that agree on these and on pair_setup (pair_hash) differ only by the method: claims.md and the deltas pair them.
PAIR_KEYS = ("task", "model", "schedule", "teacher", "target_sparsity", "seed")


def setup_hash(config: dict[str, Any] | None, results_dir: Path | None = None) -> str | None:
    """A run's *setup*: its config (run.json) less the method's terms (the regularizer and weight_reg groups), the
    target sparsity and the per-seed inputs (the study's dense.checkpoint, one per seed), hashed as config_hash
    hashes (seed and output paths left out). The runs of one setup and task are one experiment: their dense
    scores are one Dense row, their seeds pool, and a frontier never mixes two setups. None: no config."""
    return _hash_without_method(config, results_dir, per_seed_inputs=False)


def row_setup_hash(config: dict[str, Any] | None) -> str | None:
    """The setup less the task group: one experiment run on several tasks (one budget) shares it, so a table row
    (one method and sparsity, a column per task) is labelled by it where it mixes experiments."""
    return setup_hash({k: v for k, v in config.items() if k != "task"}) if config else None


# The groups only the pruning stage reads: runs whose configs differ in nothing else train one dense model (glue.md's
# one Dense row, aggregate.one_dense_row, where their dense scores agree too).
PRUNING_STAGE_GROUPS = ("prune", "schedule")


def dense_setup_hash(config: dict[str, Any] | None) -> str | None:
    """The setup less PRUNING_STAGE_GROUPS: what the dense stage and its evaluation read."""
    return setup_hash({k: v for k, v in config.items() if k not in PRUNING_STAGE_GROUPS}) if config else None


def pair_hash(config: dict[str, Any] | None, results_dir: Path | None = None) -> str | None:
    """The setup with its per-seed inputs: runs of one task, seed and pair_hash share their dense model and
    data, so their difference is the method's (claims.md, the deltas). A per-seed input inside ``results_dir``
    counts by its path relative to it, so a checkout moved elsewhere pairs the same way."""
    return _hash_without_method(config, results_dir, per_seed_inputs=True)


def _hash_without_method(config: dict[str, Any] | None, results_dir: Path | None, per_seed_inputs: bool
                         ) -> str | None:
    if not config:
        return None
    config = {k: v for k, v in config.items() if k != "sparsity"}
    if per_seed_inputs and results_dir is not None:
        root = str(Path(results_dir).resolve())
        for group, keys in PER_SEED_INPUTS.items():
            node = dict(config.get(group) or {})
            for key in keys:
                value = node.get(key)
                if isinstance(value, str) and (value == root or value.startswith(root + "/")):
                    node[key] = Path(value).relative_to(root).as_posix()
            config[group] = node
    drop = {g: tuple(config[g]) for g in ("regularizer", "weight_reg") if isinstance(config.get(g), dict)}
    if not per_seed_inputs:
        for group, keys in PER_SEED_INPUTS.items():
            drop[group] = (*drop.get(group, ()), *keys)
    return config_hash(config, drop=drop)
