"""The cells of a task=custom file's text and label columns, checked as it is read (sdp/data/custom.py read_checked):
each refusal names the file, the column, its role and the first rows, counted from 1 as the file's data rows."""

from __future__ import annotations

import logging
import math
from typing import Any

import datasets

from sdp.data.file_scan import blank_text, no_text, text_key
from sdp.data.rows_kept import TRAINED_ROWS, scored_positions, trained_positions
from sdp.data.tasks import DataError


def is_blank(value: Any, text: bool = False) -> bool:
    """A cell with nothing in it: a blank CSV/TSV cell and a JSON/Parquet null read as None, pandas' NaN, and a label
    of invisible characters only (a zero-width space: a class that prints as nothing). A text field's (``text``) is
    one empty for every tokenizer (file_scan.blank_text); what else a model reads as nothing, its tokenizer says when
    the run tokenizes (sdp/data/read_nothing.py): a lone U+0301 was refused here though tiny-xlmr's reads a token
    (probe round 49, xl_acc), a lone ZWJ scored though tiny-bert's reads none (ev_zwj)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    # stops at the first visible character (text_key of every non-ASCII cell cost ~16 s on a 400k-row file)
    return isinstance(value, str) and (blank_text(value) if text else no_text(value))  # as text_key drops them


def check_scalar(ds: datasets.Dataset, column: str, role: str, key: str, path: str) -> None:
    """A JSON (or Parquet) cell holding a list or an object is no text and no label: a text field's was a TypeError
    traceback (unhashable type: 'list'), a label's an AttributeError (probe round 23, js1/js2)."""
    values = list(ds[column])
    rows = [i + 1 for i, value in enumerate(values) if isinstance(value, (list, dict))]
    if rows:
        kind = "an object" if isinstance(values[rows[0] - 1], dict) else "a list"
        raise DataError(f"task.{key}={path!r}: column {column!r} ({role}) holds {kind} in {len(rows)} of {len(ds)} "
                        f"rows (first: {rows[:5]}; data rows counted from 1); give one string (or number) per row")


def check_filled(ds: datasets.Dataset, column: str, role: str, key: str, path: str) -> None:
    """Blank cells are refused, not read: a blank label would be a class 'None' of its own (or, in an integer
    column, turn it into floats: a regression), a blank text the literal text 'None'."""
    values = ds[column]
    rows = [i + 1 for i, value in enumerate(values) if is_blank(value, text=role == "a text field")]
    if rows:
        unseen = [n for n in rows if isinstance(values[n - 1], str) and values[n - 1].strip()]
        said = f" ({len(unseen)} of invisible characters only, such as a zero-width space: first {unseen[:5]})" \
            if unseen else ""
        raise DataError(f"task.{key}={path!r}: column {column!r} ({role}) is empty in {len(rows)} of {len(ds)} "
                        f"rows (first: {rows[:5]}; data rows counted from 1){said}; fill them in or drop those rows")


def warn_conflicting_labels(ds: datasets.Dataset, fields: list[str], label: str, key: str,
                            path: str) -> list[tuple[str, ...]]:
    """Rows of one file whose texts are another row's (text_key) under another label: no model scores both, and a dev
    file holding 40 rows twice, once with each label, was scored with no word (probe round 33, noticed). Said, not
    refused: annotators disagree in honest data too. A training file's are said among the rows the run trains on
    (rows_kept.trained_positions): "the model is trained on both labels" was said of rows its sample or carve left
    out (probe round 37, ct1, ct2), as of a GLUE file's (round 36, gt1). Returns every row's keys, for the
    comparison across files."""
    keys = [tuple(map(text_key, texts)) for texts in zip(*(ds[f] for f in fields))]
    # an eval file's among the rows scored: said of a whole dev file whose scored sample held none (review)
    kept, how = trained_positions(len(ds)) if key == "train_file" else scored_positions(len(ds))
    among = range(len(keys)) if kept is None else kept
    values, labels = ds[label], {}
    for i in among:
        labels.setdefault(keys[i], set()).add(str(values[i]))
    rows = [i + 1 for i in among if len(labels[keys[i]]) > 1]
    if rows:
        logging.getLogger("sdp").warning(
            "task.%s=%r: %d of %s repeat another row of the file under another label (the same %s, compared as "
            "rows across files are; data rows %s, counted from 1): %s; check their labels", key, path, len(rows),
            f"the {len(kept)} rows {'this run trains on' if key == 'train_file' else 'scored'} ({how})" if how
            else f"{len(ds)} rows", ", ".join(fields),
            rows[:5],
            # a training file's are trained under both labels (round 36, noticed: it spoke of scoring them); a dev
            # file a carve is scored in place of is not scored (review of round 38's fixes, as vd)
            "the model is trained on both labels" if key == "train_file" else "this file is not scored here "
            "(task.validation_from_train scores the carve), and scored, no prediction would score both"
            if key in ("validation_file", "test_file") and (TRAINED_ROWS.get() or (None, None))[1] else
            "no prediction scores both")
    return keys


def warn_shared_rows(task_cfg: Any, files: dict[str, str], tables: dict[str, Any], fields: list[str],
                     keys: dict[str, list], scoring_only: bool) -> None:
    """An eval row whose texts are a training row's is scored as held-out while the model trained on it: 10 of 30
    dev rows copied from train raised the dev score with no word (an equal file is refused before); a test row that
    is a dev row reports the dev score again as the test score (round 29: the dev file shuffled, or as JSON Lines).
    Said in a warning (stderr and run.log) naming how many and the first rows; not refused, as short texts can repeat
    in honest splits. Only scoring a saved model (``scoring_only``, sdp-eval): its dev and test files alone are
    compared. Among the rows the run trains on and scores (rows_kept: its samples and carve): 60 of 120 dev rows were
    said to be partly a training score where the 100-row sample trained on 11 of them, or the 50 rows scored held
    25 (probe round 37, cs2, fr1). ``keys``: the rows' text keys by split, where made already."""
    pairs = [] if scoring_only else [("train", s) for s in files if s != "train"]
    pairs += [("validation", "test")] * ({"validation", "test"} <= set(files) and not task_cfg.get("validation_from_train"))
    for base, split in pairs:
        kept, how = (trained_positions if base == "train" else scored_positions)(len(tables[base]))
        scored, sample = scored_positions(len(tables[split]))
        base_keys, split_keys = (keys.get(s) or [tuple(map(text_key, texts)) for texts in zip(*(tables[s][f] for f in
                                 fields))] for s in (base, split))
        seen = set(base_keys) if kept is None else {base_keys[i] for i in kept}
        # a dev file a carve scores in its place was told "their score is partly a training score" (round 38, vd)
        unscored = split in ("validation", "test") and task_cfg.get("validation_from_train")
        if rows := [i + 1 for i in (range(len(split_keys)) if scored is None else scored) if split_keys[i] in seen]:
            logging.getLogger("sdp").warning(
                "task.%s=%r: %d of %s repeat a row of task.%s=%r%s (the same %s; data rows %s, counted from 1): %s "
                "partly a %s score (rows compared up to letter case, spacing, accents, invisible characters and "
                "Unicode form); drop them from one of the files", files[split], str(task_cfg[files[split]]),
                len(rows), f"the {len(scored)} rows scored ({sample})" if sample else f"{len(tables[split])} rows",
                files[base], str(task_cfg[files[base]]),
                f" among the {len(kept)} rows this run {'trains on' if base == 'train' else 'scores'} ({how})"
                if how else "", ", ".join(fields), rows[:5], "this file is not scored here (task.validation_from_train "
                "scores the carve), and scored, their score would be" if unscored else "their score is",
                "training" if base == "train" else "dev")
