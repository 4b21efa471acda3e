"""sdp-tables: regenerate the paper's tables, summary and plots from a results directory.

    sdp-tables results_dir=results plots=false

Arguments are ``key=value`` overrides, as for sdp-run, parsed by argparse (``--help`` lists them).
Only the standard library is imported before the arguments are valid: ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

OPTIONS = {  # key -> (default, help); one place for both
    "results_dir": ("results", "folder searched (any depth) for run metrics.json files"),
    "out_dir": (None, "where the tables go (default: <results_dir>/tables)"),
    "baselines": (None, "published rows CSV (default: <results_dir>/baselines/published_glue.csv)"),
    "plots": ("true", "true|false: also write plots/*.png"),
}
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def _override(arg: str) -> tuple[str, str]:
    """``key=value`` (a leading ``+`` is tolerated, as Hydra does) with a known key."""
    key, sep, value = arg.lstrip("+").partition("=")
    if not sep or key not in OPTIONS:
        raise argparse.ArgumentTypeError(f"unknown argument {arg!r}; allowed keys: {', '.join(OPTIONS)}")
    if key == "plots" and value.lower() not in TRUE + FALSE:
        raise argparse.ArgumentTypeError(f"plots={value!r} is not one of true, false")
    return key, value


def build_parser() -> argparse.ArgumentParser:
    shown = {k: f"{k}={'<' + k + '>' if d is None else d}" for k, (d, _) in OPTIONS.items()}
    keys = "\n".join(f"  {shown[k]:<24} {h}" for k, (_, h) in OPTIONS.items())
    return argparse.ArgumentParser(
        prog="sdp-tables",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Collect every run's metrics.json under results_dir and write glue.{md,tex,csv}, "
        "deltas.{md,tex,csv}, xglue.{md,tex,csv} (cross-lingual runs only), claims.md (SDP-CC runs paired "
        "by seed with MP runs: frontier and one verdict per paper claim), summary.md and plots/*.png "
        "into out_dir. Malformed or failed runs are listed in summary.md, never fatal.",
        epilog=f"overrides (key=value, as for sdp-run):\n{keys}\n\nexample:\n  sdp-tables results_dir=results plots=false",
    )


def parse_args(argv: list[str]) -> dict[str, str | None]:
    parser = build_parser()
    parser.add_argument("overrides", nargs="*", type=_override, metavar="key=value")
    opts = {k: d for k, (d, _) in OPTIONS.items()}
    opts.update(dict(parser.parse_args(argv).overrides))
    return opts


def _not_writable(folder: Path) -> str | None:
    """Why the tables cannot be written into ``folder`` (probed in it, or in its nearest existing parent where the
    report would create it), else None: an OSError after every input was read was a traceback."""
    if folder.exists() and not folder.is_dir():
        return None  # said by the check above, in its own words
    existing = next(p for p in [folder, *folder.parents] if p.exists())  # the report creates the rest
    if not existing.is_dir():
        return f"{str(existing)!r} is a file, not a folder"
    try:  # a probe file, removed at once: nothing is left behind by a refusal
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        return err.strerror or str(err)
    return None


def _path_problem(opts: dict[str, str | None]) -> str | None:
    """What is wrong with the paths given, before anything is read or written; None if nothing."""
    results_dir = Path(str(opts["results_dir"]))
    if not results_dir.is_dir():
        what = "is a file, not a folder" if results_dir.exists() else "does not exist"
        return f"results_dir={str(results_dir)!r} {what}; point it at the folder that holds the runs (e.g. results_dir=results)"
    if opts["out_dir"] is not None and Path(opts["out_dir"]).exists() and not Path(opts["out_dir"]).is_dir():
        return f"out_dir={opts['out_dir']!r} is a file, not a folder; give a folder for the tables (it is created if missing)"
    from sdp.run.nesting import run_folder_above

    if run := run_folder_above(Path(opts["out_dir"]) if opts["out_dir"] is not None else results_dir / "tables"):
        # tables/ went into the run's own record folder (round 33, noticed)
        if opts["out_dir"] is None:
            where = "is" if run == results_dir.resolve() else f"is inside {str(run)!r},"  # <run>/model (round 35)
            return (f"results_dir={str(results_dir)!r} {where} one run's folder (its run.json); its tables would be "
                    f"written into the run's record: give out_dir=<a folder outside it>, or results_dir=<the folder "
                    f"above it>")
        return (f"out_dir={opts['out_dir']!r} is inside the run folder {str(run)!r} (its run.json): the tables "
                "would be written into the run's record; give out_dir=<a folder outside it>")
    given = Path(opts["out_dir"]) if opts["out_dir"] is not None else None
    if given is not None and given.resolve() != (results_dir / "tables").resolve():
        from sdp.report.outputs import MARKER, foreign_outputs

        # a folder sdp-tables never wrote: its summary.md was replaced and its plots/*.png deleted without a word
        if foreign := foreign_outputs(given):
            names = ", ".join(str(p.relative_to(given)) for p in foreign[:5]) + (" ..." if len(foreign) > 5 else "")
            return (f"out_dir={opts['out_dir']!r} was not written by sdp-tables (no {MARKER} in it) and holds "
                    f"{len(foreign)} file(s) the tables would replace or delete: {names}; give a new or empty "
                    f"folder, or move those files")
    out_problem = _not_writable(Path(opts["out_dir"]) if opts["out_dir"] is not None else results_dir / "tables")
    if out_problem:
        return f"out_dir={str(opts['out_dir'] or results_dir / 'tables')!r} is not writable ({out_problem}); give a " \
               "folder the tables can be written to (out_dir=...)"
    if opts["baselines"] is not None and not Path(opts["baselines"]).is_file():
        what = "is a folder, not a file" if Path(opts["baselines"]).exists() else "does not exist"
        return (f"baselines={opts['baselines']!r} {what}; give the CSV of published rows, or leave baselines unset "
                f"for <results_dir>/baselines/published_glue.csv (its absence there is only a warning)")
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        from sdp.data.locations import local_argv_or_exit

        # file:// values as their paths (probe round 48, fw_od: out_dir=file:///x wrote ./file:/x unsaid)
        opts = parse_args(local_argv_or_exit(argv, "sdp-tables", frozenset({"results_dir", "out_dir", "baselines"})))
    except SystemExit as exc:  # argparse exits: 0 after --help, 2 after an error it has printed
        return int(exc.code or 0)
    problem = _path_problem(opts)
    if problem:  # a typo must not give empty tables, nor a traceback
        print(f"sdp-tables: error: {problem}", file=sys.stderr)
        return 2
    from sdp.objectives.registry import PluginError, load_plugins

    try:  # the user's components ($SDP_PLUGINS, entry points): the tables name their methods by their labels
        load_plugins()
    except PluginError as err:
        print(f"sdp-tables: error: {err}", file=sys.stderr)
        return 2
    from sdp.io import folder_lock
    from sdp.report.report import build_report

    out = Path(opts["out_dir"] or Path(str(opts["results_dir"])) / "tables")
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out, wait=False) as mine:  # two at once left one folder of both's tables (probe round 30, tx1)
        if not mine:
            print(f"sdp-tables: error: out_dir={str(out)!r} is being written by another sdp-tables now (two at once "
                  "would leave tables of both results folders in it); wait for it, or give another out_dir",
                  file=sys.stderr)
            return 2
        report = build_report(opts["results_dir"], out_dir=opts["out_dir"], baselines=opts["baselines"],
                              plots=str(opts["plots"]).lower() in TRUE)
    coll = report.collection
    print(
        f"sdp-tables: {len(coll.runs)} runs, {len(coll.failed)} failed, "
        + (f"{len(coll.interrupted)} interrupted (resumable), " if len(coll.interrupted) else "")
        + (f"{len(coll.unrecorded)} without a record (running or killed: see summary.md), " if coll.unrecorded else "")
        + f"{len(coll.malformed)} malformed, "
        f"{len(coll.conflicts)} conflicts -> {len(report.files)} files"
    )
    if len(coll.evaluations) or coll.n_launch_errors:
        print(f"  not runs: {len(coll.evaluations)} evaluations (sdp-eval), {coll.n_launch_errors} launch errors "
              "(failed before the run started); see summary.md")
    for path, why in coll.malformed:
        print(f"  malformed: {path}: {why}", file=sys.stderr)
    # the collection's own (a dense model that cannot be checked, a setup split by its data, dense-only runs in no
    # table) were in summary.md alone: a user reading the terminal saw "0 runs" and an empty glue.md, no reason
    for warning in [*coll.warnings, *report.warnings]:
        print(f"  warning: {warning}", file=sys.stderr)
    for path in report.files:
        print(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
