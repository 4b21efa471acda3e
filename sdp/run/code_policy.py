"""Which completed records a grid that spans sessions and commits (scripts/gridrun.py: the study, the
calibration) keeps when the code has changed since they were made.

* A record made by this code (the same ``code.id``, sdp/run/code.py) is kept.
* A record made by older code is kept when ``git diff <its commit>`` (to the working tree, uncommitted changes
  and untracked files included) touches no file of TRAINING_PATHS, the files that decide what a run computes
  and how it is scored. It is then flagged: its metrics.json gets ``code_changed_since`` (the commit it was
  made at, the code it was accepted for, the files changed since), which sdp-tables counts in summary.md.
* A completed record made before runs recorded their code identity (no ``code`` block; its commit in
  ``versions.sdp``, that commit an ancestor of HEAD) is kept as made, whatever changed since, and flagged
  ``"code_identity": "unrecorded"`` with the count of training files changed since (and ``uncommitted_changes``
  when its tree had some: the study has one such record). Such records are the
  results of grids run under the rule of their time (completion matched on the config alone; the committed
  study's 186 records were made at 81 commits): running them again would make another grid, not
  resume this one. The clause cannot grow: every run since records its identity, and falls under the rule above.
* Otherwise (a training file changed since a record with a code identity, or the record's code cannot be
  known: no commit, a commit this checkout lacks or does not descend from, a tree with uncommitted changes) the
  grid runs it again, unless the grid is told to keep records made by any code (``reuse_any_code=true``, a grid option of scripts/grid.py); then the
  flag lists the training files that changed, or says they are unknown.

The same rules decide whether an unfinished run made by older code may resume (then with ``reuse=any_code``),
but for the clause on unrecorded code: a half-run is never continued by code that cannot be compared with it.
A flag is written once, when the record is first kept, and says what was known then.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from sdp.run import code

# What a run computes and how it is scored: the package, its configs and the run entry point. Left out: the
# reporting code (it reads finished records), the help text, the launchers (where a job runs, not what it
# computes) and sdp-tables' entry point.
TRAINING_PATHS = ("sdp", "conf", "cli/run.py")
NOT_TRAINING = ("sdp/report", "conf/hydra/help", "conf/hydra/launcher")
FLAG = "code_changed_since"


def _pathspecs(paths: tuple[str, ...]) -> list[str]:
    return [*paths, *(f":(exclude){p}" for p in NOT_TRAINING)]


def made_at(record: dict) -> tuple[str | None, bool]:
    """(commit, had uncommitted changes) of a run.json or metrics.json; (None, False) when not recorded."""
    recorded = code.recorded_code(record)
    if recorded is not None:
        return recorded.get("commit"), bool(recorded.get("diff"))
    versions = record.get("versions") if isinstance(record.get("versions"), dict) else {}
    commit = versions.get("sdp")
    return (commit if commit and commit != "unknown" else None), bool(versions.get("sdp_dirty"))


def changed_since(commit: str, root: Path = code.REPO_ROOT) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(package files changed since ``commit``, those of them that affect training), or None when the
    checkout cannot tell (not a checkout, or the commit is not in it). Not cached: the working tree may change
    while a grid runs."""
    def names(*args: str) -> set[str]:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout
        return {line for line in out.splitlines() if line}

    try:
        every = names("diff", "--name-only", commit, "--", *code.PACKAGE_DIRS) | names(
            "ls-files", "--others", "--exclude-standard", "--", *code.PACKAGE_DIRS)
        training = names("diff", "--name-only", commit, "--", *_pathspecs(TRAINING_PATHS)) | names(
            "ls-files", "--others", "--exclude-standard", "--", *_pathspecs(TRAINING_PATHS))
    except (OSError, subprocess.CalledProcessError):
        return None
    return tuple(sorted(every)), tuple(sorted(training))


def _descends_from(commit: str, root: Path) -> bool:
    """Is HEAD at ``root`` a descendant of ``commit`` (this checkout's own history, not another branch's)?"""
    return subprocess.run(["git", "merge-base", "--is-ancestor", commit, "HEAD"], cwd=root,
                          capture_output=True).returncode == 0


LISTED = 10  # training files named in a flag (all are counted): a record stays readable


def judge(record: dict, any_code: bool = False, root: Path = code.REPO_ROOT,
          completed: bool = True) -> tuple[bool, dict | None, str]:
    """(keep it, the flag to record or None, why) for a completed record or (``completed=False``) an unfinished
    run's run.json."""
    if code.same_code(record):
        return True, None, "made by this code"
    commit, dirty = made_at(record)
    unrecorded = code.recorded_code(record) is None  # made before runs recorded their code identity
    comparable = commit and (not dirty or unrecorded) and code.is_checkout(root)
    changes = changed_since(commit, root) if comparable else None
    training = None if changes is None else list(changes[1])
    flag = {"commit": commit, "code": code.code_identity()["id"], "files_changed": None if changes is None else
            len(changes[0]), "training_files_changed": "unknown" if training is None else training[:LISTED],
            "n_training_files_changed": None if training is None else len(training)}
    if completed and unrecorded and training is not None and _descends_from(commit, root):
        return True, {**flag, "code_identity": "unrecorded", **({"uncommitted_changes": True} if dirty else {})}, (
            f"made at {str(commit)[:10]}{' with uncommitted changes' if dirty else ''}, before runs recorded their "
            f"code identity: kept as made, flagged ({len(training)} file(s) that affect training changed since)")
    if training == [] and not dirty:
        return True, flag, f"made at {str(commit)[:10]}; nothing that affects training changed since"
    why = (f"{len(training)} file(s) that affect training changed since {str(commit)[:10]} ({', '.join(training[:3])}"
           f"{', ...' if len(training) > 3 else ''})" if training else
           f"its code cannot be compared with this one ({code.describe(record)}"
           f"{', uncommitted changes' if dirty else ''})")
    return any_code, flag if any_code else None, why


def with_flag(record: dict[str, Any], flag: dict | None) -> dict[str, Any] | None:
    """``record`` with ``flag`` as its code_changed_since, or None when it has one already (nothing to write: a
    flag says when the record was first kept, and a committed record is not rewritten at every commit)."""
    if flag is None or isinstance(record.get(FLAG), dict):
        return None
    return {**record, FLAG: flag}
