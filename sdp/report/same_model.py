"""Runs of different configs (or seeds) that saved one model: their rows look like two results and are one.

MP's prune.teacher=frozen and =refresh give the same model (MP has no distillation term; only the CC monitor reads
the teacher), and a KD temperature on a regression is never read: the tables showed such rows, or a seed std, as
independent results with no word (probe round 29, noticed). model_sha256 (metrics.json: model/'s weights by
content) tells; a record without it is not compared.
"""

from __future__ import annotations

import pandas as pd


def same_model_lines(runs: pd.DataFrame) -> list[str]:
    """One line per model that runs of more than one (config, seed) saved, for summary.md."""
    if runs.empty or "model_sha" not in runs:
        return []
    lines = []
    for _, group in runs[runs["model_sha"] != ""].groupby("model_sha", sort=False):
        if len(set(zip(group["config_hash"], group["seed"]))) < 2:
            continue  # one config and seed (identical copies collapse before this)
        who = "; ".join(f"`{r.path}` ({r.method}, teacher {r.teacher}, seed {r.seed}, config [{r.config_hash[:8]}])"
                        for r in group.sort_values("path").itertuples(index=False))
        lines.append(f"one model (the same model_sha256) from runs of different configs or seeds: {who}: their rows "
                     "or seeds are one result, not independent ones (a setting that does not reach the model, such as "
                     "the teacher of MP, which has no distillation term)")
    return lines
