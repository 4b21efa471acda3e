"""Calibration grid for SDP-CC and KD (issue 10): resumable, two runs at a time, scored on a train-carved split.

    python scripts/calibrate.py [--root results/study/calibration] [--jobs 2] [--seeds 1,2]
    python scripts/calibrate.py --report       # only rewrite TABLE.md from the finished records

Phases (each run is one `sdp-run` into a fixed folder, so a re-launch skips finished runs and resumes
interrupted ones from their last checkpoint):
1. one dense model per seed (experiment=calib_sst2, dense stage only), shared by every setting below;
2. MP at each candidate sparsity, to find the knee: the lowest candidate where MP loses >= 10% of the
   dense held-out score (else the highest candidate);
3. every SDP-CC and KD setting of GRID at the knee, each compared with the MP run of its seed
   (prune.reference_mask: the Jaccard overlap of the final masks lands in metrics.json).
All scores are on `validation_from_train`, never on the dev split. PROGRESS.md says what is done, running
and next; TABLE.md holds the search table (mean, std and n over seeds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from calibration_report import write_report  # noqa: E402  (scripts/ is not a package)
from gridrun import REPO, Grid, needed, offline_environment, read_completed  # noqa: E402

BASE = ["experiment=calib_sst2"]
DENSE_FILES = ("dense_model/model.safetensors",)  # not committed: a fresh machine trains it again
MASK_FILES = ("mask.safetensors",)  # MP's final masks are committed (bits, ~1.3 MB each): the references
CANDIDATE_SPARSITIES = (0.9, 0.95)
KNEE_LOSS = 0.10
# (name, overrides), run in this order. Round 1 moves one factor at a time from `cc` (the new defaults: teacher
# off-diagonal target, lambda_off 0.0051, [CLS], alpha 1, dropout on, 2-epoch linear-decay budget). Round 2 is a
# coordinate step: it moves alpha, lambda_off and the budget from round 1's best setting (`cc_mean`, +10.2 over MP
# with [CLS]'s +3.8), and gives KD its second temperature/alpha. [CLS] with alpha 10, lambda_off 0 or a constant LR was
# planned for round 1 and dropped once mean pooling led by 6 points: the study uses the winner's neighbourhood.
MEAN = ["regularizer=cross_correlation", "regularizer.representation=mean"]
GRID = [
    ("cc", ["regularizer=cross_correlation"]),
    ("kd_t2", ["regularizer=kd", "regularizer.temperature=2.0"]),
    ("cc_bt_zero_target", ["regularizer=cross_correlation", "regularizer.off_target=zero"]),
    ("cc_mean", MEAN),
    ("cc_distill_off", ["regularizer=cross_correlation", "prune.dropout=distill_off"]),
    # round 2
    ("cc_mean_alpha10", [*MEAN, "regularizer.alpha=10"]),
    ("kd_t4_alpha3", ["regularizer=kd", "regularizer.temperature=4.0", "regularizer.alpha=3"]),
    ("cc_mean_lambda0", [*MEAN, "regularizer.lambda_off=0"]),
    ("mp_constant", ["regularizer=none", "budget=constant"]),
    ("cc_mean_constant", [*MEAN, "budget=constant"]),
    ("cc_mean_distill_off", [*MEAN, "prune.dropout=distill_off"]),
    # added after mp_constant beat every linear-decay setting: KD under the constant budget too
    ("kd_t2_constant", ["regularizer=kd", "regularizer.temperature=2.0", "budget=constant"]),
]


def dense_dir(root: Path, seed: int) -> Path:
    return root / "dense" / f"seed{seed}"


def run_dir(root: Path, name: str, sparsity: float, seed: int) -> Path:
    return root / "runs" / f"{name}_s{sparsity}_seed{seed}"


def common(root: Path, seed: int) -> list[str]:
    return [f"seed={seed}", f"dense.checkpoint={dense_dir(root, seed) / 'dense_model'}"]


def knee(grid: Grid, root: Path, seeds: list[int]) -> float:
    """MP at each candidate; the lowest sparsity where MP loses >= KNEE_LOSS of the dense held-out score."""
    grid.run_all([(run_dir(root, "mp", sp, s), [*common(root, s), "regularizer=none", f"sparsity={sp}"], MASK_FILES)
                  for sp in CANDIDATE_SPARSITIES for s in seeds])
    for sp in CANDIDATE_SPARSITIES:
        done = [read_completed(run_dir(root, "mp", sp, s)) for s in seeds]
        losses = [1 - m["final"]["main"] / m["dense"]["main"] for m in done if m is not None]
        if losses and statistics.mean(losses) >= KNEE_LOSS:
            return sp
    return CANDIDATE_SPARSITIES[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=REPO / "results" / "study" / "calibration")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reuse-any-code", action="store_true",
                    help="keep every finished record whatever code made it (flagged code_changed_since); by default "
                         "one made by older code is kept only if nothing that affects training changed since "
                         "(sdp/run/code_policy.py), else it is run again")
    ap.add_argument("--report", action="store_true", help="only rewrite TABLE.md from the finished records")
    args = ap.parse_args()
    offline_environment()
    root = args.root.resolve()
    if not args.report:
        seeds = [int(s) for s in args.seeds.split(",")]
        grid = Grid(root, BASE, args.jobs, title="Calibration", reuse_any_code=args.reuse_any_code)
        # 1. One dense model per seed: the dense stage only (stages=dense; no teacher or CC monitor is built).
        # Its weights are needed while a setting of that seed is unfinished at the knee (the last candidate here,
        # since the knee is only known after MP has run).
        grid.run_all([(dense_dir(root, s), [f"seed={s}", "stages=dense", "regularizer=none",
                                            "prune.monitor_representation=null"],
                       needed(DENSE_FILES, *(run_dir(root, name, CANDIDATE_SPARSITIES[-1], s) for name, _ in GRID)))
                      for s in seeds])
        # 2. The knee, from MP.
        sparsity = knee(grid, root, seeds)
        print(f"knee sparsity: {sparsity}", flush=True)
        # 3. Every setting at the knee, compared with the MP run of its seed (mask overlap).
        grid.run_all([(run_dir(root, name, sparsity, s),
                       [*common(root, s), *overrides, f"sparsity={sparsity}",
                        f"prune.reference_mask={run_dir(root, 'mp', sparsity, s)}"])
                      for name, overrides in GRID for s in seeds])
        grid.write_progress()
    print(write_report(root, dict(GRID)))


if __name__ == "__main__":
    main()
