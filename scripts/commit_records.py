"""Commit the records of a grid's finished runs (metrics.json, trace, config, logs; never weights).

    python scripts/commit_records.py results/study [-m "message"]

Stages every run folder under the root whose metrics.json says ``completed`` and was never committed, plus the
root's PROGRESS.md, README.md and TABLE.md; .gitignore keeps model weights, checkpoints, masks, locks, driver
logs and the ``previous-<time>/`` folders of restarted runs out. Unfinished runs are left alone, so a sweep can
keep running while its finished runs are committed. A record is committed once: a run redone later for its
weights (gridrun) keeps its committed record, and one whose scores differ from it is named (MISMATCH), never
committed over it. Commits only when something changed, and refuses when anything else is staged already (a
records commit never carries code or another folder's files).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from sdp.run.rundir import is_moved_aside

sys.path.insert(0, str(Path(__file__).parent))
from gridrun import REPO, committed_record, mismatch, read_completed  # noqa: E402  (scripts/ is not a package)


def finished_runs(root: Path) -> list[Path]:
    """Completed runs whose record is not committed yet (a mismatching redo is reported and left out)."""
    out = []
    for path in sorted(root.glob("**/metrics.json")):
        result = read_completed(path.parent)
        if result is None or is_moved_aside(path, root):
            continue
        committed = committed_record(path.parent)
        if mismatch(result, committed):
            print(f"MISMATCH, not committed: {path.parent.relative_to(REPO)} differs from its committed record")
        elif committed is None:
            out.append(path.parent)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("-m", "--message", default=None)
    ap.add_argument("--dry-run", action="store_true", help="list what would be committed; stage and commit nothing")
    args = ap.parse_args(argv)
    root = args.root.resolve()
    if not root.is_dir():
        sys.exit(f"commit_records: no folder {str(args.root)!r}")
    if not args.dry_run and not root.is_relative_to(REPO):  # git commits only what lies in the repository (was a
        # ValueError traceback), so said before any run's record is read
        sys.exit(f"commit_records: {str(args.root)!r} is outside the repository {str(REPO)!r}: only records under it "
                 "can be committed; copy the runs under results/ first")
    runs = finished_runs(root)
    if args.dry_run:
        print(f"would commit {len(runs)} finished runs under {args.root}:")
        for run in runs:
            print(f"  {run}")
        return
    paths = [str(p.relative_to(REPO)) for p in runs]
    for extra in ("PROGRESS.md", "README.md", "TABLE.md"):
        if (root / extra).is_file():
            paths.append(str((root / extra).relative_to(REPO)))
    others = [f for f in subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=REPO, check=True,
                                        capture_output=True, text=True).stdout.splitlines()
              if not any(f == q or f.startswith(q + "/") for q in paths)]
    if others:
        sys.exit(f"commit_records: other files are staged ({', '.join(others[:5])}); commit or unstage them first")
    for i in range(0, len(paths), 200):
        subprocess.run(["git", "add", "--", *paths[i:i + 200]], cwd=REPO, check=True)
    staged = subprocess.run(["git", "diff", "--cached", "--quiet"], cwd=REPO).returncode != 0
    if not staged:
        print(f"nothing new under {args.root}")
        return
    message = args.message or f"{args.root}: records of {len(runs)} finished runs"
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=REPO, check=True)
    print(f"committed: {message}")


if __name__ == "__main__":
    main()
