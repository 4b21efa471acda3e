"""Compatibility shim: the study's old command line, kept because results/structured/README.md (a grid running from
a pinned checkout) and scripts/device/run_slice.py name it. New commands: `python scripts/grid.py study ...`.

    python scripts/study.py [--root R] [--tasks a,b] [--sparsities 0.9,0.8] [--seeds 1,2] [--jobs N]
        [--add TASK:SPARSITY ...] [--experiment study|study_full|structured_grid|...] [--override O ...]
        [--reuse-any-code] [--plan]

is `python scripts/grid.py study experiment=<preset> root=R tasks=[a,b] ...`: the study's grid (its defaults were
this script's), with the preset named by --experiment, titled as before ("Study (<preset>)" for another preset).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import grid  # noqa: E402  (scripts/ is not a package)


def translate(argv: list[str] | None = None) -> list[str]:
    """scripts/grid.py's arguments for the old ones."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path)
    ap.add_argument("--tasks")
    ap.add_argument("--sparsities")
    ap.add_argument("--seeds")
    ap.add_argument("--jobs", type=int)
    ap.add_argument("--add", action="append", default=[], metavar="TASK:SPARSITY")
    ap.add_argument("--experiment", default="study")
    ap.add_argument("--override", action="append", default=[])
    ap.add_argument("--reuse-any-code", action="store_true")
    ap.add_argument("--plan", action="store_true")
    args = ap.parse_args(argv)
    out = ["study"] if args.experiment == "study" else [
        "study", f"experiment={args.experiment}", f"title='Study ({args.experiment})'"]
    out += [f"root={args.root.resolve()}"] if args.root else []
    out += [f"{key}=[{value}]" for key, value in (("tasks", args.tasks), ("sparsities", args.sparsities),
                                                   ("seeds", args.seeds)) if value]
    out += [f"jobs={args.jobs}"] if args.jobs else []
    out += ["add=[" + ",".join(f"'{item}'" for item in args.add) + "]"] if args.add else []
    out += ["overrides=[" + ",".join(f"'{o}'" for o in args.override) + "]"] if args.override else []
    out += ["reuse_any_code=true"] if args.reuse_any_code else []
    return [*out, *(["--plan"] if args.plan else [])]


if __name__ == "__main__":
    grid.main(translate())
