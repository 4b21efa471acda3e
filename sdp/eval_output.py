"""sdp-eval's output folder, checked before any weights or data are read: it never takes the place of a training
run's record, another model's files, sdp-tables' tables, or another model's or task's evaluation record."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from sdp.errors import ConfigError
from sdp.run.nesting import is_run_folder, is_sdp_metrics, run_folder_above

EVAL_KIND = "eval"  # metrics.json "kind" of an evaluation-only record (a training run's has none, or "run")

log = logging.getLogger("sdp")


def record_bytes(out_dir: Path) -> bytes | None:
    """The evaluation record in ``out_dir`` as it is now (None: none): another sdp-eval's, written meanwhile, differs."""
    record = out_dir / "metrics.json"
    return record.read_bytes() if record.is_file() else None


def others_files(out_dir: Path, model_dir: Path | None) -> str | None:
    """What makes ``out_dir`` a folder of something else, in words, or None: another model's weights (the record was
    tabled as theirs), a training run's files (its resume was then refused), sdp-tables' tables (a folder sdp-tables
    sets aside: the record was never tabled) (probe round 31, eo1, ue2, et1)."""
    if (out_dir / "config.json").is_file() and any(out_dir.glob("*.safetensors")) and (
            model_dir is None or out_dir.resolve() != Path(model_dir).resolve()):
        return "another model's weights (config.json, *.safetensors): the record would be read as that model's"
    if is_run_folder(out_dir) or (out_dir / "checkpoints").is_dir():
        return "a training run's files (run.json, checkpoints/): the run could not resume there"
    if (out_dir / "summary.md").is_file() and (out_dir / "glue.md").is_file():
        return "sdp-tables' tables (summary.md, glue.md): sdp-tables sets that folder aside, and never lists the record"
    return None


def check_out_dir(out_dir: Path, model_dir: Path | None = None, task: str | None = None) -> None:
    """An output folder never takes the place of a training run's record, nor of another model's or task's
    evaluation record (``model_dir``, ``task``: this evaluation's)."""
    from sdp.run.rundir import read_metrics

    # A file in the way, or a folder not writable, was an OSError traceback once the model had been scored.
    blocker = next((p for p in [out_dir, *out_dir.parents] if p.exists() or p.is_symlink()), None)
    if blocker is not None and not blocker.is_dir():
        where = "is a file" if blocker == out_dir else f"is under {str(blocker)!r}, which is a file"
        raise ConfigError(f"output_dir={str(out_dir)!r} {where}, not a folder; give a folder for the evaluation "
                          "record (metrics.json goes into it)")
    if blocker is not None:
        try:  # a folder made and removed where output_dir would be made (permission bits, a read-only file system)
            os.rmdir(tempfile.mkdtemp(prefix=".sdp-eval-probe.", dir=blocker))
        except OSError as err:
            raise ConfigError(f"output_dir={str(out_dir)!r} cannot be written: {str(blocker)!r} does not take a new "
                              f"folder ({err.strerror or err}); give a writable folder for the evaluation record"
                              ) from None
    existing = read_metrics(out_dir) if out_dir.is_dir() else None
    ours = isinstance(existing, dict) and is_sdp_metrics(existing, out_dir)
    if isinstance(existing, dict) and existing and not (ours and existing.get("kind") == EVAL_KIND):
        # another tool's record with sdp's keys was named a training run's, or an evaluation of model_dir=None (round 43)
        whose = "a training run's" if ours else "another tool's (no record of sdp's)"  # (round 42)
        raise ConfigError(f"output_dir={str(out_dir)!r} holds {whose} metrics.json; give another folder for the "
                          "evaluation record")
    if not isinstance(existing, dict) and (out_dir / "metrics.json").exists():  # not a record sdp wrote: it was replaced unread
        raise ConfigError(f"output_dir={str(out_dir)!r} holds a metrics.json that is not an evaluation record (not "
                          "readable as one); it would be replaced: give another folder for the evaluation record")
    beside = model_dir is not None and out_dir.resolve() == Path(model_dir).resolve()  # its own weights' (eo2)
    if (run := run_folder_above(out_dir, itself=False)) is not None and not beside:  # (round 36's noticed)
        raise ConfigError(f"output_dir={str(out_dir)!r} is inside the training run folder {str(run)!r} (its run.json): "
                          "the evaluation record would go into the run's record; give a folder outside it, or leave "
                          "output_dir unset for a folder per evaluation")
    if out_dir.is_dir() and (held := others_files(out_dir, model_dir)):
        raise ConfigError(f"output_dir={str(out_dir)!r} holds {held}; give another folder for the evaluation record, "
                          "or leave output_dir unset for a folder per evaluation")
    if isinstance(existing, dict) and existing and model_dir is not None:
        # One folder scored model A, then B: A's record was replaced with no word (round 27's ev2). The same model
        # and task scored again replaces it, said; another model or task is refused.
        before = (existing.get("model_dir"), existing.get("task"))
        if before != (str(Path(model_dir).resolve()), task):
            raise ConfigError(f"output_dir={str(out_dir)!r} holds the evaluation record of model_dir={before[0]!r} on "
                              f"task {before[1]!r} (not this model_dir and task); it would be replaced: give another "
                              "folder, or leave output_dir unset for a folder per evaluation")
        log.warning("sdp-eval: output_dir=%r: this evaluation replaces the record of the same model and task "
                    "finished at %s", str(out_dir), existing.get("finished_at"))
