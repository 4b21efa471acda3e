"""Calibration grid for SDP-CC and KD (issue 10): resumable, two runs at a time, scored on a train-carved split.

    python scripts/calibrate.py [--root results/study/calibration] [--jobs 2] [--seeds 1,2]
    python scripts/calibrate.py --report       # only rewrite README.md's table from the finished records

Phases (each run is one `sdp-run` into a fixed folder, so a re-launch skips finished runs and resumes
interrupted ones from their last checkpoint):
1. one dense model per seed (experiment=calib_sst2, dense stage only), shared by every setting below;
2. MP at each candidate sparsity, to find the knee: the lowest candidate where MP loses >= 10% of the
   dense held-out score (else the highest candidate);
3. every SDP-CC and KD setting of GRID at the knee, each compared with the MP run of its seed
   (prune.reference_mask: the Jaccard overlap of the final masks lands in metrics.json).
All scores are on `validation_from_train`, never on the dev split. PROGRESS.md says what is done, running
and next; README.md holds the search table (mean, std and n over seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE = ["experiment=calib_sst2"]
CANDIDATE_SPARSITIES = (0.9, 0.95)
KNEE_LOSS = 0.10
# (name, overrides): the SDP-CC search moves one factor at a time from `cc` (the new defaults: teacher
# off-diagonal target, lambda_off 0.0051, [CLS], alpha 1, dropout on, 2-epoch linear-decay budget).
GRID = [
    ("cc", ["regularizer=cross_correlation"]),
    ("kd_t2", ["regularizer=kd", "regularizer.temperature=2.0"]),
    ("cc_bt_zero_target", ["regularizer=cross_correlation", "regularizer.off_target=zero"]),
    ("cc_mean", ["regularizer=cross_correlation", "regularizer.representation=mean"]),
    ("cc_distill_off", ["regularizer=cross_correlation", "prune.dropout=distill_off"]),
    ("cc_alpha10", ["regularizer=cross_correlation", "regularizer.alpha=10"]),
    ("cc_lambda0", ["regularizer=cross_correlation", "regularizer.lambda_off=0"]),
    ("cc_dropout_off", ["regularizer=cross_correlation", "prune.dropout=off"]),
    ("kd_t4_alpha3", ["regularizer=kd", "regularizer.temperature=4.0", "regularizer.alpha=3"]),
    ("mp_constant", ["regularizer=none", "budget=constant"]),
    ("cc_constant", ["regularizer=cross_correlation", "budget=constant"]),
    ("cc_mean_alpha10", ["regularizer=cross_correlation", "regularizer.representation=mean", "regularizer.alpha=10"]),
]


def sdp_run_command() -> list[str]:
    """`sdp-run` of the checkout this script belongs to (its cli/ and conf/), with the venv's Python."""
    return [sys.executable, "-m", "cli.run"]


def read_metrics(run_dir: Path) -> dict | None:
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return metrics if metrics.get("status") == "completed" else None


class Grid:
    def __init__(self, root: Path, seeds: list[int], jobs: int) -> None:
        self.root, self.seeds, self.jobs = root, seeds, jobs
        self.running: set[str] = set()
        self.plan: list[str] = []

    def dense_dir(self, seed: int) -> Path:
        return self.root / "dense" / f"seed{seed}"

    def run_dir(self, name: str, sparsity: float, seed: int) -> Path:
        return self.root / "runs" / f"{name}_s{sparsity}_seed{seed}"

    def launch(self, run_dir: Path, overrides: list[str]) -> dict | None:
        done = read_metrics(run_dir)
        if done is not None:
            return done
        run_dir.mkdir(parents=True, exist_ok=True)
        label = str(run_dir.relative_to(self.root))
        self.running.add(label)
        self.write_progress()
        cmd = ["nice", "-n", "10", *sdp_run_command(), *BASE, *overrides, f"hydra.run.dir={run_dir}",
               f"output_dir={run_dir}"]
        with open(run_dir / "driver.log", "a") as log:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            code = subprocess.call(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        self.running.discard(label)
        self.write_progress()
        if code != 0:
            print(f"FAILED ({code}): {label}; see {run_dir / 'driver.log'}", flush=True)
            return None
        print(f"done: {label}", flush=True)
        return read_metrics(run_dir)

    def parallel(self, jobs: list[tuple[Path, list[str]]]) -> list[dict | None]:
        with ThreadPoolExecutor(self.jobs) as pool:
            return list(pool.map(lambda job: self.launch(*job), jobs))

    def dense(self) -> None:
        # Dense stage only: 0% sparsity, one pruning-stage update, no teacher.
        self.parallel([(self.dense_dir(s), [f"seed={s}", "regularizer=none", "sparsity=0.0", "prune.max_steps=1",
                                            "prune.monitor_representation=null"]) for s in self.seeds])

    def common(self, seed: int) -> list[str]:
        return [f"seed={seed}", f"dense.checkpoint={self.dense_dir(seed) / 'dense_model'}"]

    def knee(self) -> float:
        jobs = [(self.run_dir("mp", sp, s), [*self.common(s), "regularizer=none", f"sparsity={sp}"])
                for sp in CANDIDATE_SPARSITIES for s in self.seeds]
        self.parallel(jobs)
        for sp in CANDIDATE_SPARSITIES:
            losses = []
            for s in self.seeds:
                m = read_metrics(self.run_dir("mp", sp, s))
                if m is not None:
                    losses.append(1 - m["final"]["main"] / m["dense"]["main"])
            if losses and statistics.mean(losses) >= KNEE_LOSS:
                return sp
        return CANDIDATE_SPARSITIES[-1]

    def search(self, sparsity: float) -> None:
        jobs = []
        for name, overrides in GRID:
            for s in self.seeds:
                ref = self.run_dir("mp", sparsity, s)
                jobs.append((self.run_dir(name, sparsity, s),
                             [*self.common(s), *overrides, f"sparsity={sparsity}", f"prune.reference_mask={ref}"]))
        self.plan = [str(d.relative_to(self.root)) for d, _ in jobs if read_metrics(d) is None]
        self.parallel(jobs)

    def write_progress(self) -> None:
        done = sorted(str(p.parent.relative_to(self.root)) for p in self.root.glob("**/metrics.json")
                      if read_metrics(p.parent) is not None)
        todo = [p for p in self.plan if p not in done and p not in self.running]
        lines = ["# Calibration progress (written by scripts/calibrate.py)", "",
                 f"Updated {time.strftime('%Y-%m-%d %H:%M:%S %Z')}.", "",
                 f"- done ({len(done)}): " + (", ".join(done) or "none"),
                 f"- running ({len(self.running)}): " + (", ".join(sorted(self.running)) or "none"),
                 f"- next ({len(todo)}): " + (", ".join(todo) or "see the phases in scripts/calibrate.py"), "",
                 "Resume: `python scripts/calibrate.py` (finished runs are skipped, interrupted ones resume).", ""]
        (self.root / "PROGRESS.md").write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=REPO / "results" / "study" / "calibration")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--report", action="store_true", help="only rewrite README.md from the finished records")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("SDP_DATA_DIR", str((REPO.parent / "shared" / "data").resolve()))
    root = args.root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    if not args.report:
        grid = Grid(root, [int(s) for s in args.seeds.split(",")], args.jobs)
        grid.dense()
        knee = grid.knee()
        print(f"knee sparsity: {knee}", flush=True)
        grid.search(knee)
        grid.write_progress()
    from calibration_report import write_report  # scripts/calibration_report.py

    write_report(root)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
