"""Commit the records of a grid's finished runs (metrics.json, trace, config, logs; never weights).

    python scripts/commit_records.py results/study [-m "message"]

Stages every run folder under the root whose metrics.json says ``completed`` plus the root's PROGRESS.md,
README.md and TABLE.md; .gitignore keeps model weights, checkpoints, masks, locks, driver logs and the
``previous-<time>/`` folders of restarted runs out. Unfinished runs are left alone, so a sweep can keep running
while its finished runs are committed. Commits only when something changed, and refuses when anything outside
these paths is staged already (a records commit never carries code).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from sdp.training.rundir import is_moved_aside

sys.path.insert(0, str(Path(__file__).parent))
from gridrun import REPO, read_completed  # noqa: E402  (scripts/ is not a package)


def finished_runs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("**/metrics.json")
                  if read_completed(p.parent) is not None and not is_moved_aside(p, root))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("-m", "--message", default=None)
    args = ap.parse_args()
    root = args.root.resolve()
    if not root.is_dir():
        sys.exit(f"commit_records: no folder {str(args.root)!r}")
    runs = finished_runs(root)
    paths = [str(p.relative_to(REPO)) for p in runs]
    for extra in ("PROGRESS.md", "README.md", "TABLE.md"):
        if (root / extra).is_file():
            paths.append(str((root / extra).relative_to(REPO)))
    others = [f for f in subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=REPO, check=True,
                                        capture_output=True, text=True).stdout.splitlines()
              if not f.startswith(str(root.relative_to(REPO)) + "/")]
    if others:
        sys.exit(f"commit_records: other files are staged ({', '.join(others[:5])}); commit or unstage them first")
    for i in range(0, len(paths), 200):
        subprocess.run(["git", "add", "--", *paths[i:i + 200]], cwd=REPO, check=True)
    staged = subprocess.run(["git", "diff", "--cached", "--quiet"], cwd=REPO).returncode != 0
    if not staged:
        print(f"nothing new under {args.root} ({len(runs)} finished runs already committed)")
        return
    message = args.message or f"{args.root}: records of finished runs ({len(runs)} in all)"
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=REPO, check=True)
    print(f"committed: {message}")


if __name__ == "__main__":
    main()
