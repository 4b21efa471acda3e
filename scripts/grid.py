"""One runner for every grid of `sdp-run` calls: resumable, a few runs side by side, with a PROGRESS.md.

    python scripts/grid.py study                      # make study: start or resume the MiniLM study
    python scripts/grid.py study --plan               # list its runs and what a launch would do; starts nothing
    python scripts/grid.py study 'tasks=[sst2]' 'seeds=[1]' 'sparsities=[0.9]' root=/tmp/s   # a slice, elsewhere
    python scripts/grid.py calibrate                  # make calibrate; --report only rewrites its TABLE.md
    python scripts/grid.py structured                 # the structured grid (scripts/structured_grid.sh start)
    python scripts/grid.py sweeps dense=<dense_model dir>   # MP, KD, SDP-CC from one given dense model

A grid is a config, scripts/grids/<name>.yaml, composed by Hydra: its options (tasks, methods, sparsities, seeds,
jobs, root, the experiment preset, extra sdp-run `overrides`, `reuse_any_code`) live there and are overridden
on the command line in Hydra's syntax. Its ``hook`` names the module that lays out its runs (HOOKS below):
``plan(options, root)`` gives chains of (run dir, overrides[, files later runs read]); an optional ``run`` drives
phases that depend on earlier results (the calibration's knee) and ``report`` writes a table from the records.
Skipping, resuming, the code policy for older records (sdp/run/code_policy.py), the pid file for
`make stop-grids` and PROGRESS.md are scripts/gridrun.py's. The grid configs live outside conf/ on purpose: conf/
is part of a run's code identity (sdp/run/code.py), and which runs a grid makes is not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import grid_calibration  # noqa: E402  (scripts/ is not a package)
import grid_runs  # noqa: E402
import grid_study  # noqa: E402
from grid_config import config_change  # noqa: E402
from gridrun import REPO, Grid, offline_environment, read_completed  # noqa: E402

from sdp.run.rundir import read_run_record  # noqa: E402

GRIDS = Path(__file__).resolve().parent / "grids"
HOOKS = {"study": grid_study, "calibration": grid_calibration, "runs": grid_runs}


def names() -> list[str]:
    return sorted(p.stem for p in GRIDS.glob("*.yaml"))


def compose_grid(name: str, overrides: list[str] = ()):
    """The grid's options: scripts/grids/<name>.yaml with ``overrides``, typed by its hook's Options (a wrong key,
    type or hook is one line naming it)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if name not in names():
        raise SystemExit(f"grid: {name!r} is not a grid; the grids are {', '.join(names())} (scripts/grids/)")
    replaced = {}  # key=<a mapping>: the mapping given, not merged into the file's (Hydra merges a dict value)
    for override in overrides:
        try:
            parsed = OverridesParser.create().parse_override(override)
        except HydraException as err:
            raise SystemExit(f"grid {name}: {override!r} is not an override in Hydra's syntax ({str(err).splitlines()[0]}"
                             "); e.g. 'tasks=[sst2,mrpc]' 'overrides=[\"prune.max_steps=2\"]'") from None
        if isinstance(parsed.value(), dict) and not parsed.is_delete():
            # 'settings={cc: [...]}' kept the file's twelve settings beside the one given, and ran all twelve
            # (probe round 28, noticed)
            replaced[parsed.key_or_group] = parsed.value()
    try:
        with initialize_config_dir(config_dir=str(GRIDS), version_base="1.3"):
            cfg = compose(name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as err:
        raise SystemExit(f"grid {name}: {str(err).splitlines()[0]} (its options: scripts/grids/{name}.yaml)") from None
    for key, value in replaced.items():
        OmegaConf.update(cfg, key, value, merge=False)
    hook = cfg.get("hook")
    if hook not in HOOKS:
        raise SystemExit(f"grid {name}: hook={hook!r} is not one of {', '.join(HOOKS)}")
    try:
        opts = OmegaConf.merge(OmegaConf.structured(HOOKS[hook].Options), cfg)
    except OmegaConfBaseException as err:
        raise SystemExit(f"grid {name}: {str(err).splitlines()[0]}") from None
    HOOKS[hook].check(opts)
    missing = sorted(k for k in opts if OmegaConf.is_missing(opts, k))
    if missing:
        raise SystemExit(f"grid {name}: {', '.join(missing)} not set (scripts/grids/{name}.yaml)")
    if not (REPO / "conf" / "experiment" / f"{opts.experiment}.yaml").is_file():
        raise SystemExit(f"grid {name}: experiment={opts.experiment!r} is not a preset in conf/experiment/")
    return opts


def grid_root(opts) -> Path:
    root = Path(opts.root)
    return (root if root.is_absolute() else REPO / root).resolve()


def make_grid(opts) -> Grid:
    return Grid(grid_root(opts), [f"experiment={opts.experiment}", *opts.overrides], opts.jobs, title=opts.title,
                reuse_any_code=opts.reuse_any_code)


def jobs_of(opts) -> list[tuple]:
    """The grid's jobs in launch order, each once (two chains may share one), as (run dir, overrides, required)."""
    jobs: dict[Path, tuple] = {}
    for chain in HOOKS[opts.hook].plan(opts, grid_root(opts)):
        for run_dir, overrides, *requires in chain:
            jobs.setdefault(run_dir, (run_dir, list(overrides), tuple(requires[0]) if requires else ()))
    return list(jobs.values())


def status(grid: Grid, run_dir: Path, requires: tuple[str, ...], overrides: list[str] = ()) -> str:
    """What a launch would do with ``run_dir``, read-only (gridrun.Grid._launch decides the same way, and writes)."""
    from sdp.run.code_policy import judge

    done = read_completed(run_dir)
    if done is not None:
        keep, _, why = judge(done, grid.reuse_any_code)
        if not keep:
            return f"re-run ({why})"
        if changed := config_change([*grid.base, *overrides], read_run_record(run_dir), done):
            return f"re-run (made with another config: {changed})"
        missing = [f for f in requires if not (run_dir / f).exists()]
        if missing:
            return f"redo ({', '.join(missing)} missing)"
        return "done" if why == "made by this code" else f"kept ({why})"
    record = read_run_record(run_dir)
    if record is None or "config" not in record:
        return "to run"
    keep, _, why = judge(record, grid.reuse_any_code, completed=False)
    return "resume" if keep else f"restart ({why})"


def show_plan(opts) -> None:
    grid, counts = make_grid(opts), {}
    jobs = jobs_of(opts)
    lines = []
    for run_dir, overrides, requires in jobs:
        state = status(grid, run_dir, requires, overrides)
        kind = state.split(" (")[0]  # done, kept, redo, re-run, resume, restart, to run
        counts[kind] = counts.get(kind, 0) + 1
        lines.append(f"{grid.label(run_dir)}\t{state}\t{' '.join(overrides)}")
    print(f"# {opts.title}: {len(jobs)} runs under {grid.root} (sdp-run {' '.join(grid.base)} ...): "
          + ", ".join(f"{n} {k}" for k, n in counts.items()))
    print("\n".join(lines))
    plan_note = getattr(HOOKS[opts.hook], "plan_note", None)
    if plan_note and (note := plan_note(opts, grid.root)):
        print(f"# {note}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("grid", help=f"a grid config of scripts/grids/: {', '.join(names())}")
    ap.add_argument("overrides", nargs="*", help="the grid's options in Hydra's syntax, e.g. 'seeds=[1,2]' jobs=1")
    what = ap.add_mutually_exclusive_group()
    what.add_argument("--plan", action="store_true", help="list the runs and what a launch would do; start nothing")
    what.add_argument("--report", action="store_true", help="only the grid's report from its finished records")
    # Intermixed: `grid.py study --plan tasks=[sst2]` (a flag before the overrides) was "unrecognized arguments".
    args = ap.parse_intermixed_args(argv)
    opts = compose_grid(args.grid, args.overrides)
    hook = HOOKS[opts.hook]
    if args.plan:
        show_plan(opts)
        return
    if args.report:
        if not hasattr(hook, "report"):
            raise SystemExit(f"grid {args.grid}: no report (hook {opts.hook}); its tables: sdp-tables "
                             f"results_dir={opts.root}")
        print(hook.report(opts, grid_root(opts)))
        return
    offline_environment()
    grid = make_grid(opts)
    if hasattr(hook, "run"):
        hook.run(grid, opts, grid.root)
    else:
        grid.run_chains(hook.plan(opts, grid.root))
    grid.write_progress()
    if hasattr(hook, "report"):
        print(hook.report(opts, grid.root))
    if grid.failed:  # a launch with failed runs exited 0, so `make study` or a script took it for a success
        raise SystemExit(f"grid {args.grid}: {len(grid.failed)} run(s) failed this launch ({', '.join(grid.failed[:5])}"
                         f"); their logs are under {grid.root / 'logs'}, and the same command retries them")


if __name__ == "__main__":
    main()
