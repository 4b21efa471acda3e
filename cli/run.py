"""sdp-run: fine-tune, then iteratively magnitude-prune with self-distillation.

    sdp-run task=mrpc sparsity=0.9
    sdp-run -m task=rte,mrpc sparsity=0.5,0.9 regularizer=none,cross_correlation
    accelerate launch --multi_gpu --num_processes 2 -m cli.run task=sst2
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

import sdp.config  # noqa: F401  (registers the structured schema before Hydra composes)
from sdp.sweep import run_job
from sdp.training.launch import rank_argv

# Before Hydra reads argv (both as `python -m cli.run` and as the sdp-run script): on ranks > 0 of a
# launch, Hydra's folders go to a throw-away place; every rank uses rank 0's run directory (sdp/sweep.py).
sys.argv[:] = rank_argv(sys.argv)

# An absolute path: a relative one resolves as a Python package when run as the `sdp-run` script.
CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float:
    """Returns the final dev main score, the value Hydra sweepers optimise (NaN for a failed job of a
    multirun: its error is in <run dir>/error.txt and the sweep goes on; see sdp/sweep.py)."""
    metrics = run_job(cfg)
    return float("nan") if metrics is None else metrics["final"]["main"]


if __name__ == "__main__":
    main()
