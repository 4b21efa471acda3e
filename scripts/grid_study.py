"""The study's plan (hook ``study`` of scripts/grid.py): the sparsity frontier of MP, KD and SDP-CC, per (task, seed).

Every run is `sdp-run experiment=<preset> task=<t> method=<m> sparsity=<s> seed=<k>`; the method presets
(conf/method/) hold the settings frozen by the calibration (results/study/calibration/). Per (task, seed) one dense
model is trained once (dense/<task>_seed<k>, the dense stage only: stages=dense) and shared by every method and
sparsity through dense.checkpoint; per (task, seed, sparsity) MP runs first and the other methods then record the
Jaccard overlap of their final mask with MP's. Order: the first seed whole (one complete frontier), then the
headline cells (>= ``headline``) of the other seeds, then their lower sparsities, so that the claim "SDP-CC beats
MP and KD at 80% and above" gets its three seeds first. The grids study, study_full and structured use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gridrun import REPO, GridOptions, needed


@dataclass
class Options(GridOptions):
    tasks: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=lambda: ["mp", "kd", "sdp_cc"])  # MP first: the reference masks
    sparsities: list[float] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    headline: float = 0.8  # the claim "beats MP and KD at 80% and above": these cells of the later seeds go first
    add: list[str] = field(default_factory=list)  # a task's extra sparsity each, TASK:SPARSITY, e.g. sst2:0.95


def check(opts: Options) -> None:
    """One line naming the bad value, before any run starts."""
    if not opts.methods or opts.methods[0] != "mp":
        raise SystemExit(f"grid: methods={list(opts.methods)} must start with mp (the other methods compare their "
                         "masks with MP's)")
    missing = [m for m in opts.methods if not (REPO / "conf" / "method" / f"{m}.yaml").is_file()]
    if missing:
        raise SystemExit(f"grid: conf/method/{{{','.join(missing)}}}.yaml missing: freeze the calibrated settings "
                         "first (results/study/calibration/README.md; python scripts/grid.py calibrate)")
    # A task or sparsity that sdp-run refuses was listed by --plan as "to run", and each of its runs then failed at
    # start-up: a whole chain lost to a typo only the run logs named.
    unknown = [t for t in opts.tasks if not (REPO / "conf" / "task" / f"{t}.yaml").is_file()]
    if unknown:
        tasks = sorted(p.stem for p in (REPO / "conf" / "task").glob("*.yaml"))
        raise SystemExit(f"grid: tasks={list(opts.tasks)}: unknown task(s) {unknown}; allowed: {', '.join(tasks)}")
    bad = [s for s in [*opts.sparsities, *(x for xs in extra(opts).values() for x in xs)] if not 0 <= s < 1]
    if bad:
        raise SystemExit(f"grid: sparsity {bad[0]} is not in [0, 1) (sdp-run's sparsity: the final target)")


def extra(opts: Options) -> dict[str, list[float]]:
    """``add`` as task -> its extra sparsities, in the order given."""
    out: dict[str, list[float]] = {}
    for item in opts.add:
        task, _, sp = item.partition(":")
        try:
            out.setdefault(task, []).append(float(sp))
        except ValueError:
            raise SystemExit(f"grid: add item {item!r} must be TASK:SPARSITY, e.g. sst2:0.95") from None
        if task not in opts.tasks:
            raise SystemExit(f"grid: add item {item!r} names task {task!r}, which is not in tasks={list(opts.tasks)}")
    return out


def plan(opts: Options, root: Path) -> list[list[tuple]]:
    """Chains of runs, in the order above. A chain is one (task, seed) and a set of sparsities: the dense model
    (the dense stage only), then per sparsity MP and the methods that compare their masks with MP's. Each job is
    (run dir, overrides[, files of the finished run that later runs read]). Two chains of one (task, seed) share
    its dense job (gridrun runs it once). Weights are not committed, so a finished chain never needs its dense
    model again; only an unfinished one retrains it on a fresh machine."""
    methods, tasks, seeds = list(opts.methods), list(opts.tasks), list(opts.seeds)
    sparsities = [float(sp) for sp in opts.sparsities]
    more = extra(opts)

    def dense(task: str, seed: int) -> Path:
        return root / "dense" / f"{task}_seed{seed}"

    def run(task: str, method: str, sparsity: float, seed: int) -> Path:
        return root / "runs" / task / f"{method}_s{sparsity}_seed{seed}"

    others = [m for m in methods if m != "mp"]

    def chain(t: str, s: int, sps: list[float]) -> list[tuple]:
        runs = [run(t, m, sp, s) for sp in sps for m in methods]
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

    def of(task: str) -> list[float]:  # the grid's sparsities, then the task's own extra ones (add)
        return [*sparsities, *(sp for sp in more.get(task, []) if sp not in sparsities)]

    chains = [chain(t, s, of(t)) for s in seeds[:1] for t in tasks]
    for high in (True, False):  # the headline cells of the other seeds first, then their lower ones
        for s in seeds[1:]:
            chains += [chain(t, s, part) for t in tasks
                       if (part := [sp for sp in of(t) if (sp >= opts.headline) == high])]
    return chains
