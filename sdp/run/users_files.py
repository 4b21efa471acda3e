"""Whether an output_dir holds files of no sdp run: a run writes among them, and resume=false or a restart after a
dead run moves them into previous-<time>/ with the run's (round 27, noticed). Checked before a run takes the folder
(sdp/sweep.py), and before a launch's error is recorded there (sdp/run/failure.py: a typo's record among the user's
files made it a run's folder, and the next launch moved them away; review of round 42's fixes)."""

from __future__ import annotations

import re
from pathlib import Path

from sdp.run.lock import LOCK_NAME
from sdp.run.nesting import holds_others_metrics, is_run_folder
from sdp.run.rank_notes import NOTE_NAME
from sdp.run.rundir import PREVIOUS, RUN_RECORD, RunHoldsDataError

# What only a folder sdp ran in holds (Hydra writes nothing there: output_subdir null); its records are checked to be
# sdp's (_has_sdps_marks); run.log is none alone: sdp attaches it under its lock (round 46, u7)
SDP_MARKS = frozenset({RUN_RECORD, "metrics.json", LOCK_NAME})
_MOVED_ASIDE = re.compile(re.escape(PREVIOUS) + r"\d{8}-\d{6}(-\d+)?")  # rundir.move_aside's names
# A file browser's, file system's or notebook's leavings are no one's work, nor sdp's write probes (prepare_run_dir's
# or sdp-eval's, another rank's or a killed one's: review of round 43's fixes); other hidden names are the user's (a
# .git/, an .env of secrets were moved aside as a run's: probe round 43, a6), a `.backup.20261207.tmp` too: sdp's
# atomic writes come after its lock, a mark (it was no one's, then deleted as a dead temporary: round 45, u1, u2)
_NO_ONES = re.compile(r"\.DS_Store|\._.+|\.localized|\.directory|\.ipynb_checkpoints|Thumbs\.db|desktop\.ini|"
                      r"\.nfs.+|\.Trash-.+|\.fuse_hidden.+|\.Spotlight-V100|\.fseventsd|\.TemporaryItems|"
                      r"\.write-probe\..+|\.sdp-eval-probe\..+", re.IGNORECASE)
HYDRA_FILES = frozenset({"config.yaml", "hydra.yaml", "overrides.yaml"})  # hydra.output_subdir=.hydra's, written first


def check_no_users_files(run_dir: Path) -> None:
    """A run folder that is not one yet holds none of the user's files: output_dir=<a folder of their data or
    notes> wrote the run among them, and resume=false or a restart after a dead run then moved them into
    previous-<time>/ with the run's (round 27, noticed). A folder is a run's by sdp's own marks (its run.json or
    metrics.json, its lock, a rank's note, a previous-<time>/): a model/ or a metrics.json of another tool beside the user's
    files made it one, and they were moved aside as a dead run's (probe round 42, oth1-oth3, oth5)."""
    try:
        names = [p.name for p in run_dir.iterdir()]
    except OSError:  # not there yet, or not a folder: prepare_run_dir says so
        return
    if RUN_RECORD in names and not is_run_folder(run_dir):  # another tool's record (probe round 39, ot1): refused
        # here, before the lock, run.log and a dead run's or resume=false's moving aside of its files (review)
        raise RunHoldsDataError(f"output_dir {str(run_dir)!r} holds a run.json that is not sdp's (no config with its "
                                "config_hash: another tool's record?); a run would write among its files and move them "
                                "aside: give a new or empty folder as output_dir")
    if RUN_RECORD not in names and holds_others_metrics(run_dir):  # another tool's results and model/ were moved aside
        # as a dead run's, and the folder became the run's (noticed in session 20)
        raise RunHoldsDataError(f"output_dir {str(run_dir)!r} holds a metrics.json that is not sdp's (no record of a run "
                                "in it: another tool's results?) and no run.json; a run would move it aside with the "
                                "folder's files: give a new or empty folder as output_dir")
    if _has_sdps_marks(run_dir, names):
        return
    if theirs := sorted(n for n in names if not _NO_ONES.fullmatch(n) and not _hydras(run_dir, n)):
        raise RunHoldsDataError(f"output_dir {str(run_dir)!r} holds {len(theirs)} file(s) of no sdp run "
                                f"({', '.join(theirs[:4])}{', ...' if len(theirs) > 4 else ''}): a run folder's files "
                                "are moved aside as a whole (resume=false, a restart), these with them; give a new "
                                "or empty folder as output_dir")


def _has_sdps_marks(run_dir: Path, names: list[str]) -> bool:
    """Whether the folder holds a file only sdp writes: its records, lock, a moved-aside previous-<time>/, a rank's
    note (sdp/run/rank_notes.py): another tool's run.log (review of round 42's fixes), a user's empty one (round 45)
    or copy of sdp's (round 46) beside the user's notes made the folder a run's."""
    if any(n in SDP_MARKS or NOTE_NAME.fullmatch(n) for n in names):
        return True
    # a folder resume=false made (previous-<date>-<time>[-n]/), not the user's previous-notes.txt (probe round 43, a9)
    # not run.log alone: sdp attaches it under its lock (a mark), and a record older than run.json is beside its
    # metrics.json (a mark); a user's copy of one beside their notes made the folder a run's (round 46, u7)
    return any(_MOVED_ASIDE.fullmatch(n) and (run_dir / n).is_dir() for n in names)


def _hydras(run_dir: Path, name: str) -> bool:
    """Whether ``name`` is the .hydra/ Hydra writes into the job's folder before sdp runs (hydra.output_subdir=.hydra,
    output_dir unset: every fresh run was refused, review of round 43's fixes), holding its files only."""
    try:
        return name == ".hydra" and {p.name for p in (run_dir / name).iterdir()} <= HYDRA_FILES
    except OSError:
        return False
