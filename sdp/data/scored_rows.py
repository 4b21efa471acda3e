"""sdp-eval: are the rows it scores the training rows of the model scored? A local GLUE folder's train split (probe
round 32, gl4), or a custom model's training file as its run's run.json names it (round 33, tu1, th1, ts1)."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from sdp.data.fingerprint import (
    ROW_KEYS_FILE,
    ROWS_KEY,
    rows_among,
    rows_fingerprint,
    same_rows,
    split_fingerprints,
)
from sdp.data.loading import (
    VALIDATION_FROM_TRAIN,
    add_idx,
    carve_validation,
    in_file,
    rows_to_dataset,
    subsample,
    warn_eval_rows_trained,
)
from sdp.data.rows_kept import as_read
from sdp.data.sources import LOCAL_READERS
from sdp.data.spec import SplitRows
from sdp.data.tasks import DataError, DataFileNotFoundError, TaskSpec
from sdp.errors import warnings_held_back

log = logging.getLogger("sdp")


def warn_model_rows_scored(task: TaskSpec, root: Path | None, evaluated: dict[str, Any], rows: dict,
                           file_rows: dict | None = None, quiet: bool = False) -> bool | None:
    """The eval rows against the model's training rows where the folder holds them (their fingerprint is the model's
    ``rows["train_fingerprint"]``, config.json's sdp_training_rows): a dev file of training rows was scored as
    held-out, unsaid, where sdp-run on the same folder says so (round 31's gl1). A carved model's are the rows its
    carve left for training: its whole training file was scored as held-out, no word (probe round 34, cv1, gc1).
    Returns whether the file was the model's, or None where it could not be read, which is said; ``quiet`` (a
    scored file tried as the training file): its read errors are not said, and False is returned."""
    try:
        train = rebuilt_training_rows(task, root, rows)
    except DataFileNotFoundError:  # a folder of the dev file only: nothing to compare (sdp-eval needs no training file)
        return False
    except DataError as err:  # a file sdp-eval does not score refused the evaluation, unsaid why (round 33, gt1)
        if quiet:
            return False
        log.warning("sdp-eval: the rows scored were not compared with model_dir's training rows, as the training file "
                    "could not be read: %s", err)
        return None
    if train is not None:
        warn_eval_rows_trained(task, {task.train_split: train, **evaluated}, file_rows)
    return train is not None


def rebuilt_training_rows(task: TaskSpec, root: Path | None, rows: dict, classes: list[str] | None = None) -> Any:
    """The rows a model trained on, rebuilt from ``task``'s training file by its record (``rows``: config.json's
    sdp_training_rows: its sample and carve), where their fingerprint is the recorded one; None where it is not (the
    model trained on another file). A carved model's are the rows its carve left (probe round 34, cv1, gc1).
    ``classes``: the model's class names in id order, tried where they are the task's in another order (a model
    fine-tuned with task.label_names=[b, a] has other rows to the fingerprint than [a, b]: session 18, Left)."""
    train = _rebuilt(task, root, rows)
    given = list(task.label_names or ())
    if train is None and classes and given and list(classes) != given and sorted(classes) == sorted(given):
        train = _rebuilt(dataclasses.replace(task, label_names=tuple(classes)), root, rows)
    return train


def _rebuilt(task: TaskSpec, root: Path | None, rows: dict) -> Any:
    with warnings_held_back():  # the training file's own warnings are not this comparison's
        read = LOCAL_READERS[task.source](task, root, task.train_split)  # an XGLUE reader's rows and what it dropped
        train = subsample(rows_to_dataset(task, read.rows if isinstance(read, SplitRows) else read),
                          rows.get("max_train_samples"))
        if rows.get("task.validation_from_train"):
            train = carve_validation(train, float(rows["task.validation_from_train"]),
                                     int(rows.get("task.validation_seed") or 0))[0]
    same = same_rows(rows, split_fingerprints({"train": add_idx(train)})["train"],
                     rows_fingerprint(train) if rows.get(ROWS_KEY) else None)  # in any order
    return train if same else None


def warn_custom_rows_scored(task: TaskSpec, model_dir: Any, evaluated: dict[str, Any], rows: dict,
                            file_rows: dict | None = None) -> None:
    """A custom model's eval rows against its training rows, where its folder holds no row hashes to read: rebuilt
    from a training file at hand, the one given (task.train_file; sdp-eval fills in the scored file) first, then the
    one its run's run.json names. The one given was never read for this, so a model copied away without its hash
    file, as docs/usage.md advises before sharing it, was scored on 60 of 120 training rows unsaid (probe round 38,
    hl1, hl4, hl7), and the damaged-file warning's "compared ..., where a training file is at hand" was false (hl5).
    Where no file at hand is the model's, it is said that nothing was compared."""
    scored = {_resolved(file) for split, file in task.local_split_files if split != task.train_split}
    others, unread = [], False
    for own in custom_training_files(task, model_dir):
        file = dict(own.local_split_files)[own.train_split]
        tried = _resolved(file) in scored  # a scored file, tried as the training file: its errors are not this one's
        if (found := warn_model_rows_scored(own, None, evaluated, rows, file_rows, quiet=tried)) is True:
            return
        unread |= found is None
        if found is False and not tried:
            others.append(file)
    if others:
        said = f"neither {' nor '.join(map(repr, others))} is" if len(others) > 1 else f"{others[0]!r} is not"
        say_not_compared(f"{said} the file it was trained on (their rows are not the ones config.json's "
                         "sdp_training_rows records)")
    elif not unread:
        say_not_compared("no training file of it is at hand; give its training file as task.train_file=<file> to "
                         "compare them")


def say_not_compared(why: str) -> None:
    """sdp-eval: the rows scored were compared with nothing, ``why`` (a model without readable row hashes)."""
    log.warning("sdp-eval: the rows scored were not compared with the rows model_dir was trained on: it holds no "
                "readable %s, and %s", ROW_KEYS_FILE, why)


def custom_training_files(task: TaskSpec, model_dir: Any) -> list[TaskSpec]:
    """``task`` reading each training file at hand: the one given (task.train_file), each scored file (a test file of
    training rows: review of round 38's fixes), then the training file of the run ``model_dir`` sits in (its
    run.json), where that file is here: sdp-eval of part of it (half its rows, a sample, the rows upper-cased) missed
    the whole file's fingerprint and was scored as held-out, unsaid (probe round 33). The fingerprint check decides
    whether the rows are the model's."""
    files = dict(task.local_split_files)  # the training file given (or the scored one sdp-eval fills in), the others
    given = [f for s, f in sorted(files.items(), key=lambda kv: kv[0] != task.train_split) if f]
    try:
        config = json.loads((Path(str(model_dir)).expanduser().parent / "run.json").read_text(encoding="utf-8"))
        path = Path(str(config["config"]["task"]["train_file"])).expanduser()
    except (OSError, ValueError, KeyError, TypeError):
        path = None
    if path is not None and path.is_file():
        given.append(str(path.resolve()))
    unique: dict[str, str] = {}  # one task a file (the first named), in the order above
    for file in given:
        unique.setdefault(_resolved(file), file)
    return [dataclasses.replace(task, local_split_files=tuple({**files, task.train_split: g}.items()))
            for g in unique.values()]


def _resolved(file: str) -> str:
    return str(Path(file).expanduser().resolve())


def warn_rows_among(task: TaskSpec, evaluated: dict[str, Any], hashes: Any, file_rows: dict | None = None,
                    but: Any = None) -> None:
    """The eval rows that are rows the model trained on, by the hashes its folder holds (ROW_KEYS_FILE, written by
    the run that made it): said wherever the folder is and whatever training file is here, without reading one
    (it was read whole, 21.6 s for 400k rows, and only while the model sat in its run folder: round 33, Left).
    ``but``: a carve's training rows, whose repeats among its held-out rows the carve says (not twice: review)."""
    for split, rows in evaluated.items():
        if found := in_file(rows_among(rows, task.text_fields, hashes, but), split, file_rows):  # file rows (rn2)
            log.warning("sdp-eval: split %s: %d of %d rows repeat a row model_dir was trained on (its %s; the same %s, "
                        "up to letter case, spacing, accents, invisible characters and Unicode form; rows %s%s, "
                        "counted from 1): their score is partly a training score; score rows the model never read",
                        split, len(found), len(rows), ROW_KEYS_FILE, ", ".join(task.text_fields), found[:5],
                        as_read(split, file_rows, split == VALIDATION_FROM_TRAIN))
