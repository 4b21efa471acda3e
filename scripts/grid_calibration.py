"""The calibration's plan (hook ``calibration`` of scripts/grid.py, grid scripts/grids/calibrate.yaml; issue 10).

Scored on a split carved from train (`validation_from_train`, never the dev split), in three phases:
1. one dense model per seed (the dense stage only: stages=dense), shared by every setting below;
2. MP at each candidate sparsity, to find the knee: the lowest candidate where MP loses >= ``knee_loss`` of the
   dense held-out score (else the highest candidate);
3. every setting of the grid config at the knee, each compared with the MP run of its seed (prune.reference_mask:
   the Jaccard overlap of the final masks lands in metrics.json).
The report (scripts/calibration_report.py) writes TABLE.md: mean, std and n over seeds per setting.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from calibration_report import write_report
from gridrun import Grid, GridOptions, needed, read_completed

DENSE_FILES = ("dense_model/model.safetensors",)  # not committed: a fresh machine trains it again
MASK_FILES = ("mask.safetensors",)  # MP's final masks are committed (bits, ~1.3 MB each): the references


def plan_note(opts: Options, root: Path) -> str | None:
    """What --plan adds under its list: why the settings are missing, while they are (not once they are listed)."""
    if all(read_completed(d) is not None for d, *_ in mp_jobs(opts, root)):
        return None
    return "the settings are listed once every MP run is done: they run at the knee that MP gives"


@dataclass
class Options(GridOptions):
    seeds: list[int] = field(default_factory=list)
    candidate_sparsities: list[float] = field(default_factory=list)  # where MP is run to find the knee
    knee_loss: float = 0.10
    settings: dict[str, list[str]] = field(default_factory=dict)  # name -> its sdp-run overrides, run in this order


def check(opts: Options) -> None:
    if not opts.candidate_sparsities or not opts.seeds:
        raise SystemExit("grid: calibration needs candidate_sparsities and seeds (both are empty)")


def dense_dir(root: Path, seed: int) -> Path:
    return root / "dense" / f"seed{seed}"


def run_dir(root: Path, name: str, sparsity: float, seed: int) -> Path:
    return root / "runs" / f"{name}_s{sparsity}_seed{seed}"


def _common(root: Path, seed: int) -> list[str]:
    return [f"seed={seed}", f"dense.checkpoint={dense_dir(root, seed) / 'dense_model'}"]


def dense_jobs(opts: Options, root: Path) -> list[tuple]:
    """Phase 1. A dense model's weights are needed while a setting of its seed is unfinished at the knee (the last
    candidate here, since the knee is only known after MP has run)."""
    last = float(opts.candidate_sparsities[-1])
    return [(dense_dir(root, s), [f"seed={s}", "stages=dense", "regularizer=none", "prune.monitor_representation=null"],
             needed(DENSE_FILES, *(run_dir(root, name, last, s) for name in opts.settings))) for s in opts.seeds]


def mp_jobs(opts: Options, root: Path) -> list[tuple]:
    """Phase 2: MP at each candidate sparsity."""
    return [(run_dir(root, "mp", float(sp), s), [*_common(root, s), "regularizer=none", f"sparsity={float(sp)}"],
             MASK_FILES) for sp in opts.candidate_sparsities for s in opts.seeds]


def knee(opts: Options, root: Path) -> float:
    """The lowest candidate where MP (its finished runs) loses >= knee_loss of the dense held-out score."""
    for sp in map(float, opts.candidate_sparsities):
        done = [read_completed(run_dir(root, "mp", sp, s)) for s in opts.seeds]
        losses = [1 - m["final"]["main"] / m["dense"]["main"] for m in done if m is not None]
        if losses and statistics.mean(losses) >= opts.knee_loss:
            return sp
    return float(opts.candidate_sparsities[-1])


def knee_line(opts: Options, root: Path, sparsity: float) -> str:
    """The knee as the run says it; where no candidate reached knee_loss, that the last one is no knee ("knee sparsity:
    0.95" was printed where MP lost 0% at both candidates: probe round 28, ck1)."""
    losses = {}
    for sp in map(float, opts.candidate_sparsities):
        done = [m for s in opts.seeds if (m := read_completed(run_dir(root, "mp", sp, s))) is not None]
        losses[sp] = statistics.mean(1 - m["final"]["main"] / m["dense"]["main"] for m in done) if done else None
    if (losses.get(sparsity) or 0.0) >= opts.knee_loss:
        return f"knee sparsity: {sparsity}"
    said = ", ".join(f"{sp:g}: {'—' if v is None else f'{v:.1%}'}" for sp, v in losses.items())
    return (f"knee sparsity: none; no candidate made MP lose >= {opts.knee_loss:.0%} of its dense held-out score (MP's "
            f"mean loss {said}): the settings run at the last candidate, {sparsity}, which is not a knee")


def setting_jobs(opts: Options, root: Path, sparsity: float) -> list[tuple]:
    """Phase 3: every setting at the knee, compared with the MP run of its seed (mask overlap)."""
    return [(run_dir(root, name, sparsity, s), [*_common(root, s), *overrides, f"sparsity={sparsity}",
                                                f"prune.reference_mask={run_dir(root, 'mp', sparsity, s)}"])
            for name, overrides in opts.settings.items() for s in opts.seeds]


def plan(opts: Options, root: Path) -> list[list[tuple]]:
    """The phases as they stand (each job a chain of its own): the settings at the knee once every MP run is done."""
    phases = [dense_jobs(opts, root), mp_jobs(opts, root)]
    if all(read_completed(d) is not None for d, *_ in phases[1]):
        phases.append(setting_jobs(opts, root, knee(opts, root)))
    return [[job] for phase in phases for job in phase]


def run(grid: Grid, opts: Options, root: Path) -> None:
    grid.run_all(dense_jobs(opts, root))
    grid.run_all(mp_jobs(opts, root))
    sparsity = knee(opts, root)
    print(knee_line(opts, root, sparsity), flush=True)
    grid.run_all(setting_jobs(opts, root, sparsity))


def report(opts: Options, root: Path) -> Path:
    """TABLE.md from the finished records (scripts/calibration_report.py)."""
    return write_report(root, {name: list(overrides) for name, overrides in opts.settings.items()})
