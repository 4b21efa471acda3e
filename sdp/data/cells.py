"""The cells of a task=custom file's text and label columns, checked as it is read (sdp/data/custom.py read_checked):
each refusal names the file, the column, its role and the first rows, counted from 1 as the file's data rows."""

from __future__ import annotations

import logging
import math
from typing import Any

import datasets

from sdp.data.file_scan import no_text, text_key
from sdp.data.tasks import DataError


def is_blank(value: Any) -> bool:
    """A cell with nothing in it: a blank CSV/TSV cell and a JSON/Parquet null read as None, pandas' NaN, and a text of
    invisible characters only (a zero-width space: the tokenizer reads nothing, and a row of no text was trained on)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    # stops at the first visible character (text_key of every non-ASCII cell cost ~16 s on a 400k-row file)
    return isinstance(value, str) and no_text(value)  # as text_key drops them


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
    rows = [i + 1 for i, value in enumerate(values) if is_blank(value)]
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
    refused: annotators disagree in honest data too. Returns the rows' keys, for the comparison across files."""
    labels: dict[tuple[str, ...], set[str]] = {}
    keys = [tuple(map(text_key, texts)) for texts in zip(*(ds[f] for f in fields))]
    for row, value in zip(keys, ds[label]):
        labels.setdefault(row, set()).add(str(value))
    rows = [i + 1 for i, row in enumerate(keys) if len(labels[row]) > 1]
    if rows:
        logging.getLogger("sdp").warning(
            "task.%s=%r: %d of %d rows repeat another row of the file under another label (the same %s, compared as "
            "rows across files are; data rows %s, counted from 1): %s; check their labels",
            key, path, len(rows), len(ds), ", ".join(fields), rows[:5],
            # a training file's are trained under both labels (round 36, noticed: it spoke of scoring them)
            "the model is trained on both labels" if key == "train_file" else "no prediction scores both")
    return keys

