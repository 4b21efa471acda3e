"""Errors for people: a user error is one clean line (key, bad value, allowed values) and exit code 2.

A traceback is shown only with ``HYDRA_FULL_ERROR=1`` or ``verbose=true``; bugs keep their traceback.
Classes are matched by name so that this module imports nothing heavy (some live next to torch code).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

USER_ERROR_EXIT = 2


class ConfigError(ValueError):
    """One or more invalid config values (raised by sdp/validate.py and the checks of the modules it covers)."""


class NonFiniteOutputError(ValueError):
    """A model's outputs that are not finite (NaN or inf) on rows it scores, labels or teaches: argmax reads a NaN as
    the first class, so a score of them means nothing (probe round 41, nf1-nf5; the teacher: its review)."""


class CheckpointRefusedError(RuntimeError):
    """A sound checkpoint this launch must not resume (another config's, another number of processes'): a refusal,
    which records nothing (sdp/sweep.py REFUSALS): as a CheckpointError it replaced the interrupted record with a failed
    one, and sdp-tables listed a resumable run as failed (probe round 42, d_ws)."""


class SearchError(RuntimeError):
    """A hyperparameter search (hparams_search=optuna) that ended without a result (cli/run.py)."""


USER_ERRORS = frozenset({
    "ConfigError",  # above; raised by sdp/validate.py
    "SearchError",  # above; cli/run.py (every trial of a search failed)
    "ModelLoadError",  # sdp/models/inspect.py
    "DataError",  # sdp/data/tasks.py (DataFileNotFoundError, DataChangedError derive from it or ValueError)
    "DataChangedError",  # sdp/data/fingerprint.py
    "RunDirError",  # sdp/run/rundir.py (ResumeRefusedError)
    "RunLockedError",  # sdp/run/lock.py
    "CheckpointError",  # sdp/training/state_io.py
    "CheckpointRefusedError",  # above; sdp/training/checkpoint.py (another config's, another process count's)
    "ShardedWeightsError",  # sdp/training/distributed.py
    "HubUnreachableError",  # sdp/data/loading.py
    "RepresentationError",  # sdp/objectives/representations.py
    "LauncherError",  # sdp/run/launch.py (the launcher and the run disagree)
    "PrunableSetError",  # sdp/pruning/patterns.py (prune.include/exclude match nothing in this model)
    "SparsityOutOfReachError",  # sdp/pruning/structures.py (sparsity beyond what prune.structures can remove)
    "StructureError",  # sdp/pruning/structures.py (structured pruning of a narrowed prunable set, or no blocks)
    "DiskFullError",  # sdp/io.py (no space left writing a named file)
    "FolderRemovedError",  # sdp/io.py (the run folder removed while the run wrote into it)
    "CodeChangedError",  # sdp/run/code.py (the code edited while a sweep ran)
    "CriterionScoresError",  # sdp/pruning/criteria/base.py (a criterion's scores that cannot be ranked)
    "CriterionScheduleError",  # sdp/pruning/criteria/base.py (a gradient criterion's event before any update)
    "TermValueError",  # sdp/objectives/objective.py (a loss term's value that is not a scalar of the student)
    "NonFiniteOutputError",  # above; sdp/metrics.py, sdp/objectives/teacher.py (outputs that are not finite)
})


USER_WARNINGS = frozenset({"DegenerateMetricWarning"})  # sdp/metrics.py


def is_user_error(exc: BaseException) -> bool:
    return any(cls.__name__ in USER_ERRORS for cls in type(exc).__mro__)


def one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: " + " ".join(str(exc).split())


@contextlib.contextmanager
def user_errors(verbose: bool = False, prog: str = "sdp-run") -> Iterator[None]:
    """Turn a user error raised in the block into one line on stderr (``<prog>: error: ...``) and exit code 2; sdp's own
    warnings about the user's results (a metric undefined on these outputs) print as ``<prog>: warning: ...``, not as
    Python's ``<source path>:<line>: DegenerateMetricWarning: ...`` (probe round 40, noticed)."""
    import warnings

    python_format = warnings.formatwarning

    def formatwarning(message, category, filename, lineno, line=None):
        if category.__name__ in USER_WARNINGS:
            return f"{prog}: warning: {' '.join(str(message).split())}\n"
        return python_format(message, category, filename, lineno, line)

    warnings.formatwarning = formatwarning
    try:
        yield
    except Exception as exc:
        if not is_user_error(exc) or verbose or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        raise SystemExit(USER_ERROR_EXIT) from None
    finally:
        warnings.formatwarning = python_format


@contextlib.contextmanager
def warnings_held_back() -> Iterator[None]:
    """sdp's warnings held back (errors still raise): a data load made only to fingerprint or compare rows says what
    the load that uses the data says (a relaunched sweep said it again for each finished job; sdp-eval's read of a
    GLUE folder's training file put that file's warnings into the evaluation's record)."""
    import logging

    log = logging.getLogger("sdp")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)
