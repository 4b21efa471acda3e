"""`sdp-tables key=value ...`: regenerate the paper's tables, summary and plots from a results directory."""

from __future__ import annotations

import sys
from pathlib import Path

USAGE = """usage: sdp-tables [results_dir=results] [out_dir=<results_dir>/tables]
                  [baselines=<results_dir>/baselines/published_glue.csv] [plots=true|false]

Collects every run's metrics.json under results_dir and writes glue.{md,tex,csv},
deltas.{md,tex,csv}, xglue.{md,tex,csv} (cross-lingual runs only), summary.md and plots/*.png
into out_dir. Malformed or failed runs are listed in summary.md, never fatal.
"""

DEFAULTS = {"results_dir": "results", "out_dir": None, "baselines": None, "plots": "true"}


def parse_args(argv: list[str]) -> dict[str, str | None]:
    """Hydra-style `key=value` overrides (a leading `+` or `--` is tolerated); unknown keys are errors."""
    opts = dict(DEFAULTS)
    for arg in argv:
        key, sep, value = arg.lstrip("+-").partition("=")
        if not sep or key not in DEFAULTS:
            raise ValueError(f"unknown argument {arg!r}")
        opts[key] = value
    return opts


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help", "help") for a in argv):
        print(USAGE)
        return 0
    try:
        opts = parse_args(argv)
    except ValueError as exc:
        print(f"sdp-tables: {exc}\n\n{USAGE}", file=sys.stderr)
        return 2
    results_dir = Path(str(opts["results_dir"]))
    if not results_dir.is_dir():  # a typo must not give empty tables, nor a traceback
        what = "is a file, not a folder" if results_dir.exists() else "does not exist"
        print(f"sdp-tables: error: results_dir={str(results_dir)!r} {what}; point it at the folder that holds "
              "the runs (e.g. results_dir=results)", file=sys.stderr)
        return 2
    from sdp.report.report import build_report

    report = build_report(
        opts["results_dir"],
        out_dir=opts["out_dir"],
        baselines=opts["baselines"],
        plots=str(opts["plots"]).lower() in ("1", "true", "yes", "on"),
    )
    coll = report.collection
    print(
        f"sdp-tables: {len(coll.runs)} runs, {len(coll.failed)} failed, {len(coll.malformed)} malformed, "
        f"{len(coll.conflicts)} conflicts -> {len(report.files)} files"
    )
    for path, why in coll.malformed:
        print(f"  malformed: {path}: {why}", file=sys.stderr)
    for path in report.files:
        print(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
