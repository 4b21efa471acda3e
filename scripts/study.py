"""The MiniLM study (issue 11): the sparsity frontier of MP, KD and SDP-CC, resumable across sessions.

    python scripts/study.py                    # make study: start or resume the whole grid
    python scripts/study.py --tasks sst2 --sparsities 0.9 --seeds 1   # a slice of it
    sdp-tables results_dir=results/study       # results/study/tables: claims.md (frontier, verdicts), plots

Every run is `sdp-run experiment=study task=<t> method=<m> sparsity=<s> seed=<k>`; the method presets
(conf/method/) hold the settings frozen by the calibration (results/study/calibration/). Per (task,
seed) one dense model is trained once (results/study/dense/) and shared by every method and sparsity
through dense.checkpoint; per (task, seed, sparsity) MP runs first and the other methods then record the
Jaccard overlap of their final mask with MP's. Order: the first seed whole (one complete frontier), then
the headline cells (>= 80%) of the other seeds, then their lower sparsities, so that the claim "SDP-CC beats MP
and KD at 80% and above" gets its three seeds first. PROGRESS.md says what is done, running and next.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gridrun import REPO, Grid, needed, offline_environment  # noqa: E402  (scripts/ is not a package)

TASKS = ("cola", "sst2", "mrpc", "stsb")
SPARSITIES = (0.9, 0.8, 0.7, 0.5)
SEEDS = (1, 2, 3)
HEADLINE = 0.8  # the claim "beats MP and KD at 80% and above"
METHODS = ("mp", "kd", "sdp_cc")  # MP first: the others compare their masks with its
METHOD_DIR = REPO / "conf" / "method"


def check_frozen_presets() -> None:
    missing = [m for m in METHODS if not (METHOD_DIR / f"{m}.yaml").is_file()]
    if missing:
        sys.exit(f"study: conf/method/{{{','.join(missing)}}}.yaml missing: freeze the calibrated settings first "
                 "(results/study/calibration/README.md; scripts/calibrate.py)")


def build_chains(root: Path, tasks: list[str], sparsities: list[float], seeds: list[int],
                 extra: dict[str, list[float]] | None = None) -> list[list[tuple]]:
    """Chains of runs, in the order above. A chain is one (task, seed) and a set of sparsities: the dense model
    (the dense stage only), then per sparsity MP and the methods that compare their masks with MP's. Each job is
    (run dir, overrides[, files of the finished run that later runs read]). Two chains of one (task, seed) share
    its dense job (gridrun runs it once). Weights are not committed, so a finished chain never needs its dense
    model again; only an unfinished one retrains it on a fresh machine."""
    def dense(task: str, seed: int) -> Path:
        return root / "dense" / f"{task}_seed{seed}"

    def run(task: str, method: str, sparsity: float, seed: int) -> Path:
        return root / "runs" / task / f"{method}_s{sparsity}_seed{seed}"

    others = [m for m in METHODS if m != "mp"]

    def chain(t: str, s: int, sps: list[float]) -> list[tuple]:
        runs = [run(t, m, sp, s) for sp in sps for m in METHODS]
        jobs = [(dense(t, s), [f"task={t}", f"seed={s}", "method=mp", "stages=dense",
                               "prune.monitor_representation=null"],
                 needed(("dense_model/model.safetensors",), *runs))]
        for sp in sps:
            shared = [f"task={t}", f"seed={s}", f"sparsity={sp}", f"dense.checkpoint={dense(t, s) / 'dense_model'}"]
            jobs.append((run(t, "mp", sp, s), [*shared, "method=mp"],  # the reference mask
                         needed(("mask.safetensors",), *(run(t, m, sp, s) for m in others))))
            jobs += [(run(t, m, sp, s), [*shared, f"method={m}", f"prune.reference_mask={run(t, 'mp', sp, s)}"])
                     for m in others]
        return jobs

    def of(task: str) -> list[float]:  # the grid's sparsities, then the task's own extra ones (--add)
        return [*sparsities, *(sp for sp in (extra or {}).get(task, []) if sp not in sparsities)]

    chains = [chain(t, s, of(t)) for s in seeds[:1] for t in tasks]
    for high in (True, False):  # the headline cells (>= 80%) of the other seeds first, then their lower ones
        for s in seeds[1:]:
            chains += [chain(t, s, part) for t in tasks
                       if (part := [sp for sp in of(t) if (sp >= HEADLINE) == high])]
    return chains


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=REPO / "results" / "study")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--sparsities", default=",".join(map(str, SPARSITIES)))
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--jobs", type=int, default=2, help="runs side by side (chains in parallel)")
    ap.add_argument("--add", action="append", default=[], metavar="TASK:SPARSITY",
                    help="an extra sparsity for one task (repeatable), e.g. sst2:0.95")
    ap.add_argument("--experiment", default="study", help="the experiment preset: study (4,000 rows) or study_full")
    ap.add_argument("--override", action="append", default=[],
                    help="an extra sdp-run override for every run (repeatable; e.g. a tiny budget for a test)")
    ap.add_argument("--reuse-any-code", action="store_true",
                    help="keep every finished record whatever code made it (flagged code_changed_since); by default "
                         "one made by older code is kept only if nothing that affects training changed since "
                         "(sdp/run/code_policy.py), else it is run again")
    args = ap.parse_args(argv)
    check_frozen_presets()
    offline_environment()
    root = args.root.resolve()
    tasks, seeds = args.tasks.split(","), [int(s) for s in args.seeds.split(",")]
    sparsities = [float(s) for s in args.sparsities.split(",")]
    if not (REPO / "conf" / "experiment" / f"{args.experiment}.yaml").is_file():
        sys.exit(f"study: --experiment {args.experiment!r} is not a preset in conf/experiment/")
    title = "Study" if args.experiment == "study" else f"Study ({args.experiment})"
    grid = Grid(root, [f"experiment={args.experiment}", *args.override], args.jobs, title=title,
                reuse_any_code=args.reuse_any_code)
    extra: dict[str, list[float]] = {}
    for item in args.add:
        task, _, sp = item.partition(":")
        try:
            extra.setdefault(task, []).append(float(sp))
        except ValueError:
            sys.exit(f"study: --add {item!r} must be TASK:SPARSITY, e.g. sst2:0.95")
        if task not in tasks:
            sys.exit(f"study: --add {item!r} names task {task!r}, which is not in --tasks {','.join(tasks)}")
    chains = build_chains(root, tasks, sparsities, seeds, extra)
    grid.run_chains(chains)
    grid.write_progress()


if __name__ == "__main__":
    main()
