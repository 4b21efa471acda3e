"""A list of named runs pruned from one given dense model (hook ``runs`` of scripts/grid.py; grid sweeps).

Each entry of ``runs`` is a folder name under the grid's root and its sdp-run overrides; every run gets
``dense.checkpoint=<dense>``, the dense model they all prune (e.g. the dense_model/ folder of a `make demo` run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gridrun import GridOptions
from omegaconf import OmegaConf


@dataclass
class Options(GridOptions):
    dense: str = "???"  # the dense model every run prunes
    runs: dict[str, list[str]] = field(default_factory=dict)  # folder name -> its overrides


def check(opts: Options) -> None:
    if OmegaConf.is_missing(opts, "dense"):
        raise SystemExit("grid: dense=<folder> is required: the dense model every run prunes (e.g. the dense_model/ "
                         "folder of a make demo run)")
    if not Path(opts.dense).is_dir():
        raise SystemExit(f"grid: dense={opts.dense!r} is not a folder (the dense model every run prunes)")


def plan(opts: Options, root: Path) -> list[list[tuple]]:
    dense = Path(opts.dense).resolve()
    return [[(root / name, [f"dense.checkpoint={dense}", *overrides])] for name, overrides in opts.runs.items()]
