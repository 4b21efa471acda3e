"""Put a slice's records (scripts/device/run_slice.py's records.tar.gz) in place in this repository.

    python scripts/device/unpack.py /work/.device/<call>/records.tar.gz
    python scripts/commit_records.py results/study_full --dry-run     # then without --dry-run

Every member must be a regular file under ``results/``. A file that is not here yet is written; one that is
here with the same bytes is left alone; one that is here with other bytes is never overwritten: it is named
(CONFLICT) and the exit status is 1, so a record already committed is not lost or silently replaced. A run
folder whose ``metrics.json`` here says ``completed`` is left whole (the slice may hold an older, unfinished
copy of it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[2]


def completed_here(run_dir: Path) -> bool:
    try:
        return json.loads((run_dir / "metrics.json").read_text()).get("status") == "completed"
    except (OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("archive", type=Path)
    ap.add_argument("--repo", type=Path, default=REPO, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    repo = args.repo.resolve()
    written, same, conflicts, kept = 0, 0, [], set()
    with tarfile.open(args.archive) as tar:
        for member in tar.getmembers():
            name = PurePosixPath(member.name)
            if not member.isfile() or name.is_absolute() or ".." in name.parts or name.parts[:1] != ("results",):
                sys.exit(f"unpack: refusing member {member.name!r}: only regular files under results/ are records")
            target = repo / Path(*name.parts)
            run_dir = target.parent
            if target.name != "metrics.json" and completed_here(run_dir) and not target.exists():
                kept.add(str(run_dir.relative_to(repo)))  # a completed run here: the slice adds nothing to it
                continue
            data = tar.extractfile(member).read()
            if target.exists():
                if target.read_bytes() == data:
                    same += 1
                elif target.name == "PROGRESS.md" or not completed_here(run_dir):
                    target.write_bytes(data)  # an unfinished run's files (or the progress file) move on
                    written += 1
                else:
                    conflicts.append(str(target.relative_to(repo)))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written += 1
    print(f"unpack: {written} files written, {same} already identical, {len(kept)} completed runs kept as they were, "
          f"{len(conflicts)} conflicts")
    for c in conflicts:
        print(f"CONFLICT (kept the local file): {c}")
    return 1 if conflicts else 0


if __name__ == "__main__":
    sys.exit(main())
