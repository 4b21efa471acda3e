"""``task=custom``: a user's own CSV/TSV/JSON Lines/Parquet files, described entirely in the config.

    sdp-run task=custom task.train_file=train.tsv task.validation_file=dev.tsv \
        task.text_fields=[review] task.label_column=stars task.metric=accuracy

Files are read with the ``datasets`` csv/json/parquet builders (TSV = csv with a tab delimiter, no quoting,
as GLUE's files). A file may also be a URL that ``datasets`` reads through fsspec: any Hub dataset's files
(``hf://datasets/<owner>/<name>/<path>.parquet``; every Hub dataset has a Parquet copy), ``https://`` or
``s3://`` (with s3fs installed); a ``file://`` URL is a local file, read as its path (sdp/data/locations.py).
Class names are the label column's values as strings: ``task.label_names`` fixes them and their order, else they
are the training labels, sorted (numerically when all are integers).
``metric=pearson_spearman`` makes the task a regression; float labels need it (with another metric they are a
``DataError`` that names it). A blank label or text cell is a ``DataError`` too (file, column, rows): read, it
would be a class ``None`` of its own or the text ``"None"``.

An optional labelled ``task.test_file`` is a second eval split, ``test``: scored with the same metrics and
reported as ``test_<metric>`` in metrics.json (sdp/metrics.py: REPORTED_SPLITS); ``main`` stays the
validation score, so nothing is ever chosen on the test file.
"""

from __future__ import annotations

import contextvars
import csv
import hashlib
import logging
import math
from pathlib import Path
from typing import Any

import datasets

from sdp.data.cells import check_filled, check_scalar, warn_conflicting_labels, warn_shared_rows
from sdp.data.dashes import as_hyphens
from sdp.data.file_scan import (
    delimited_cells,
    label_problem,
    look_alikes,
    row_keys,
    scan_file,
    scores_as_text,
    text_key,
)
from sdp.data.fresh_read import load_afresh
from sdp.data.given_names import given_label_names
from sdp.data.locations import data_location, is_url, local_path
from sdp.data.printed_names import print_alike, printed_names_problem
from sdp.data.rows_kept import scored_positions, trained_positions
from sdp.data.tasks import DataError, DataFileNotFoundError, TaskSpec, check_target, grouping_hint, read_utf8

log = logging.getLogger("sdp")

NAME = "custom"
FORMATS = {  # suffix -> (datasets builder, its options)
    # Only a blank cell is missing: pandas also reads None, NA, null, N/A ... so (a class None is common in intents).
    ".csv": ("csv", {"keep_default_na": False, "na_values": [""]}),
    ".tsv": ("csv", {"delimiter": "\t", "quoting": csv.QUOTE_NONE, "keep_default_na": False, "na_values": [""]}),
    ".jsonl": ("json", {}),
    ".json": ("json", {}),
    ".parquet": ("parquet", {}),
}
METRICS = {"accuracy": ("accuracy",), "f1": ("f1",), "mcc": ("mcc",), "pearson_spearman": ("pearson", "spearman")}
FILE_KEYS = {"train": "train_file", "validation": "validation_file"}  # required
OPTIONAL_FILE_KEYS = {"test": "test_file"}  # a labelled test split, reported but never in main


def read_table(path: str | Path, key: str) -> datasets.Dataset:
    """The rows of one data file (or URL), or a DataError naming ``task.<key>`` and what is wrong with it."""
    path = local_path(path, f"task.{key}")  # file:// is a local file: scanned, read afresh (probe round 47, fu2, q2)
    suffix = Path(str(path).split("?")[0]).suffix.lower()
    if not is_url(path) and Path(str(path)).expanduser().is_dir():  # was "unknown format ''": say what it is
        raise DataError(f"task.{key}={str(path)!r} is a folder, not a file; give the data file itself "
                        f"({', '.join(sorted(FORMATS))})")
    if suffix not in FORMATS:
        raise DataError(f"task.{key}={str(path)!r}: unknown format {suffix!r}; allowed: {sorted(FORMATS)}")
    if not is_url(path):
        p = Path(str(path)).expanduser()
        if not p.is_file():
            raise DataFileNotFoundError(f"task.{key}={str(path)!r} does not exist (or is not a file)")
        if p.stat().st_size == 0:
            raise DataError(f"task.{key}={str(path)!r} is empty")
    builder, options = FORMATS[suffix]
    no_rows = f"task.{key}={str(path)!r} has {'a header but ' if builder == 'csv' else ''}no rows"
    # What the file holds, record by record (a malformed one refused, naming its line; datasets fails on 0 rows).
    expected = None if is_url(path) else scan_file(p, suffix, key)
    if expected == 0:
        raise DataError(no_rows)
    try:  # a local file afresh, one process at a time (sdp/data/fresh_read.py: round 27's cf1, round 45's t3b)
        ds = (datasets.load_dataset(builder, data_files=data_location(path), split="train", **options) if is_url(path)
              else load_afresh(builder, data_location(path), options))
    except (OSError, ConnectionError) as exc:  # a URL that cannot be reached (offline, no such file, no access)
        if not is_url(path):
            raise
        raise DataFileNotFoundError(f"task.{key}={str(path)!r} could not be read: {type(exc).__name__}: "
                                    f"{' '.join(str(exc).split())[:300]}") from exc
    except ValueError as exc:  # datasets refuses a split of 0 rows with these words, before len() could
        if "corresponds to no data" not in str(exc):
            raise
        raise DataError(no_rows) from exc
    if len(ds) == 0:
        raise DataError(no_rows)
    if expected is not None and len(ds) != expected:  # rows merged or dropped on the way: never train on that
        raise DataError(f"task.{key}={str(path)!r} holds {expected} rows, but {len(ds)} were read from it")
    return ds


def read_checked(path: str | Path, key: str, fields: list[str], label_col: str) -> datasets.Dataset:
    """The rows of one data file, each with its text fields and label filled in, or a DataError."""
    path = local_path(path, f"task.{key}")  # its cells read again from the path (_as_written): probe round 47, fu2
    ds = read_table(path, key)
    _check_columns(ds, [*fields, label_col], key, str(path))
    for column in [label_col, *fields]:
        role = "the label column" if column == label_col else "a text field"
        check_scalar(ds, column, role, key, str(path))
        check_filled(ds, column, role, key, str(path))
    return _as_written(ds, path, fields, label_col)


def _as_written(ds: datasets.Dataset, path: str | Path, fields: list[str], label_col: str) -> datasets.Dataset:
    """A CSV/TSV's (local or by URL) text fields, and a label column of whole numbers or booleans, as the file spells them:
    pandas reads a column of numbers as numbers, so labels 01/02/10 were classes 1/2/10 (sdp-predict printed 2 for
    02) and a text 0042 was trained on as '42.0' while sdp-predict read '0042' (probe round 23, d01/d02). Labels
    written as plain whole numbers (0, 1, 10) stay numbers, in numeric order; float labels stay a regression's."""
    suffix = Path(str(path).split("?")[0]).suffix.lower()
    if suffix not in (".csv", ".tsv"):
        return ds
    kinds = {c: str(getattr(ds.features[c], "dtype", "")) for c in [*fields, label_col]}
    typed = [c for c in fields if kinds[c] not in ("string", "large_string")]
    if kinds[label_col] == "bool" or kinds[label_col].startswith(("int", "uint")):
        typed.append(label_col)
    if not typed:
        return ds
    cells = delimited_cells(_text(path), suffix == ".tsv", typed)
    if any(len(cells.get(c, ())) != len(ds) for c in typed):  # read twice (a URL): never zip rows of two versions
        raise DataError(f"{str(path)!r} changed while it was read ({len(ds)} rows, then another count); read it again")
    for column in typed:
        if column == label_col and all(str(v) == c for v, c in zip(ds[column], cells[column])):
            continue  # 0, 1, 10 as written: numbers, sorted as numbers
        ds = ds.remove_columns(column).add_column(column, cells[column])
    return ds


def _text(path: str | Path) -> str:
    """A local file's or a URL's text (a URL's CSV labels 01/02 were classes 1/2: as_written skipped URLs)."""
    if not is_url(path):
        return read_utf8(Path(str(path)).expanduser())
    import fsspec  # datasets' own reader of URLs

    with fsspec.open(str(path), "r", encoding="utf-8") as f:
        return f.read()


def _check_columns(ds: datasets.Dataset, columns: list[str], key: str, path: str) -> None:
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise DataError(f"task.{key}={path!r} has no column {missing}; its columns: {ds.column_names}"
                        + look_alikes(missing, ds.column_names))


def _content_hash(path: str) -> str | None:
    if is_url(path):
        return None
    path = str(local_path(path))  # a file:// URL's content is its file's (probe round 47, fr2)
    h = hashlib.sha256()
    with open(Path(path).expanduser(), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digests(task_cfg: Any) -> dict[str, str]:
    """{task key: 16 hex digits of the file's content} of a custom task's local files (a URL's is not taken): run.json
    records them, and claims.md tells two datasets apart by them (sdp/report/claim_pairs.py)."""
    out = {}
    for key in (*FILE_KEYS.values(), *OPTIONAL_FILE_KEYS.values()):
        path = local_path(task_cfg.get(key) or "", f"task.{key}")  # file:// too (probe round 47, fr2)
        if path and not is_url(str(path)) and Path(str(path)).expanduser().is_file():
            out[key] = str(_content_hash(str(path)))[:16]
    return out


# sdp-eval trains nothing: its train_file is the scored file, as the split the pipeline reads first (evaluation.py).
SCORING_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("sdp_scoring_only", default=False)


def _check_distinct_files(task_cfg: Any, files: dict[str, str]) -> None:
    """An eval file with the training file's content (a copy, or the same path) scores training rows and reports
    them as dev: refused, whatever its name (not when only scoring a saved model: SCORING_ONLY). A test file with
    the dev file's content is refused too: its test score would be the dev score again, reported as a second,
    independent one."""
    if SCORING_ONLY.get():
        return
    seen: dict[str, str] = {}
    for key in files.values():  # train first: the other files are compared with it, then with each other
        digest = _content_hash(str(task_cfg[key]))
        if digest is None:
            continue
        if (first := seen.get(digest)) is not None:
            what = ("a training score reported as held-out" if first == files["train"]
                    else f"the task.{first} score reported again as a second, independent one")
            raise DataError(f"task.{key}={str(task_cfg[key])!r} has the same content as "
                            f"task.{first}={str(task_cfg[first])!r} (sha256 {digest[:12]}): its score would be "
                            f"{what}; give a file of other rows")
        seen[digest] = key


def repeated_rows(train: Any, other: Any, fields: list[str], seen: set | None = None,
                  keys: list | None = None) -> list[int]:
    """The rows of ``other`` (counted from 1) whose texts are a row of ``train``'s (``seen``: its row_keys), up to
    letter case, spacing and Unicode form (text_key: the dev rows upper-cased were new rows, unsaid; round 30);
    ``keys``: ``other``'s rows' keys, where made already."""
    seen = row_keys(train, fields) if seen is None else seen
    keys = (tuple(map(text_key, texts)) for texts in zip(*(other[f] for f in fields))) if keys is None else keys
    return [i + 1 for i, key in enumerate(keys) if key in seen]


def _target_range(task_cfg: Any, regression: bool) -> tuple[float, float] | None:
    """task.target_range=[low, high]: the scores a custom regression allows (none unless given)."""
    given = task_cfg.get("target_range")
    if given is None:
        return None
    values = list(given)
    if not regression:
        raise DataError(f"task.target_range={values} is for a regression (task.metric=pearson_spearman) only")
    if len(values) != 2 or not all(isinstance(v, (int, float)) for v in values) or not values[0] < values[1]:
        raise DataError(f"task.target_range={values} must be two numbers [low, high] with low < high")
    return float(values[0]), float(values[1])


def _label_names(values: list[Any], label_col: str) -> tuple[str, ...]:
    distinct = set(values)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in distinct):
        return tuple(str(v) for v in sorted(distinct))
    names = tuple(sorted(str(v) for v in distinct))
    # 'positive' and 'positive ' were two classes (round 8, d08); so were 'Entailment'/'entailment', NFC/NFD, 1 and 01;
    # "4.5" (round 34, rs3); names its model's outputs could not be named by, which sdp-eval refused (round 45)
    listable = lambda twins: print_alike(twins) is None  # noqa: E731 - no model may be named by names that print alike
    if why := scores_as_text(list(names)) or label_problem(list(names), listable) or printed_names_problem(list(names)):
        raise DataError(f"task.label_column={label_col!r} {why if why.startswith('holds ') else 'names ' + why}")
    return names


def custom_task(task_cfg: Any) -> TaskSpec:
    """The TaskSpec of a ``task=custom`` config; reads the files to check columns and infer labels."""
    errors = []
    carved = task_cfg.get("validation_from_train")  # it alone is scored: no dev file needed (round 21, d04)
    for key in FILE_KEYS.values():
        if not task_cfg.get(key) and not (carved and key == FILE_KEYS["validation"]):
            errors.append(f"task.{key} is required for task=custom"
                          + (" (or task.validation_from_train=<fraction>)" if key == FILE_KEYS["validation"] else ""))
    fields = list(task_cfg.get("text_fields") or [])
    if len(fields) not in (1, 2):
        errors.append(f"task.text_fields={fields} must name one or two text columns")
    elif len(set(fields)) < len(fields):  # [sentence1,sentence1] trained on a pair of one text, without a word
        errors.append(f"task.text_fields={fields} names {fields[0]!r} twice: a pair is two different columns")
    if not task_cfg.get("label_column"):
        errors.append("task.label_column is required for task=custom")
    elif task_cfg.label_column in fields:  # the answer as the input: a tokenizer traceback (probe round 23, lk1)
        errors.append(f"task.text_fields={fields} names the label column {task_cfg.label_column!r} as a text field: "
                      "the model would read its answer; name the text columns")
    elif own := sorted({"label", "idx"} & set(fields)):  # sdp's own columns replaced the text: a traceback (round 33)
        errors.append(f"task.text_fields={fields} names a column {own[0]!r}, a name sdp keeps for its own (the class "
                      "ids, the row numbers); rename that column in the files and in task.text_fields")
    metric = task_cfg.get("metric")
    if metric not in METRICS:
        errors.append(f"task.metric={metric!r} is not one of {sorted(METRICS)}")
    if errors:
        raise DataError("task=custom:\n  - " + "\n  - ".join(errors))
    given_names = given_label_names(task_cfg, metric)  # refused before any file is read
    label_col = task_cfg.label_column
    files = {s: k for s, k in {**FILE_KEYS, **OPTIONAL_FILE_KEYS}.items() if task_cfg.get(k)}
    for split in ("validation", "test") if carved else ():  # read and checked (a later run scores them), but not
        if split in files:  # scored here: said (a test file too: review of round 38's fixes)
            log.warning("task.%s=%r is checked but not scored: task.validation_from_train=%s scores the rows carved "
                        "from task.train_file; drop task.validation_from_train to score the file", files[split],
                        str(task_cfg[files[split]]), carved)
    tables = {}
    for split, key in files.items():
        tables[split] = read_checked(task_cfg[key], key, fields, label_col)
    _check_distinct_files(task_cfg, files)
    train_labels = tables["train"][label_col]
    regression = metric == "pearson_spearman" or tables["train"].features[label_col].dtype.startswith("float")
    names, keys = None, {}
    if not regression:
        names = tuple(given_names) if given_names else _label_names(train_labels, label_col)
        for split, key in files.items():
            if split == "train" and SCORING_ONLY.get():
                continue  # sdp-eval: "train" is the scored file under another key; its error names the key given
            unknown = sorted({str(v) for v in tables[split][label_col]} - set(names))
            if unknown:
                raise DataError(f"task.{key}={str(task_cfg[key])!r}: unknown label(s) {unknown[:5]} in column "
                                f"{label_col!r}; allowed: {list(names)}" + look_alikes(unknown[:5], list(names)))
        if len(names) < 2:
            raise DataError(f"task.label_column={label_col!r} has a single class {list(names)}: nothing to learn")
        _warn_untrained_classes(task_cfg, files, tables, names, label_col)
        for split, key in files.items():  # (sdp-eval's "train" is the scored file again)
            if not (split == "train" and SCORING_ONLY.get()):
                keys[split] = warn_conflicting_labels(tables[split], fields, label_col, key, str(task_cfg[key]))
        if metric == "f1" and len(names) != 2:
            raise DataError(f"task.metric=f1 is binary F1 and needs 2 classes; the labels are {list(names)}")
        if metric == "f1" and not given_names and list(names) != ["0", "1"]:
            # F1 is the second class's, chosen by sorting (round 11: not_equivalent's F1, unsaid); 0/1 need no word.
            log.warning("task.metric=f1 is the F1 of class %r, the positive class: the second of the sorted labels "
                        "%s; to score the other, list them as task.label_names=[<negative>,<positive>]",
                        names[1], list(names))
    elif metric != "pearson_spearman":
        whole = all(float(v).is_integer() for v in train_labels)  # 0/1 with one row written 1.0 reads as floats
        hint = (" (every value is a whole number: if they are classes, one row written like 1.0 made the column "
                "floats; write every label as a whole number)" if whole else "")
        raise DataError(f"task.label_column={label_col!r} holds float labels (a regression): use "
                        f"task.metric=pearson_spearman, not {metric!r}{hint}")
    spec = TaskSpec(
        name=NAME,
        text_fields=tuple(fields),
        label_names=names,
        metric_names=METRICS[metric],
        hub_path="",
        source=NAME,
        local_label_column=label_col,
        local_label_format="float" if regression else "name",
        target_range=_target_range(task_cfg, regression),
        eval_splits=tuple(s for s in files if s != "train"),  # validation first: it is the one main scores
        local_split_files=tuple((split, data_location(task_cfg[key])) for split, key in files.items()),
    )
    if regression:  # every file's targets, before anything runs; the rows trained on also within the loss's range
        for split, key in files.items():
            trained: set[int] = set()
            if split == "train" and not SCORING_ONLY.get():  # its rows the run trains on (sample, carve: rows_kept)
                kept, _ = trained_positions(len(tables[split]))
                trained = set(range(len(tables[split]))) if kept is None else set(kept)
            for i, score in enumerate(tables[split][label_col]):
                target(spec, score, f"task.{key}={str(task_cfg[key])!r} data row {i + 1}", trained=i in trained)
    warn_shared_rows(task_cfg, files, tables, fields, keys, SCORING_ONLY.get())  # last: each file's own errors are named first
    return spec


def _warn_untrained_classes(task_cfg: Any, files: dict[str, str], tables: dict, names: tuple[str, ...],
                            label_col: str) -> None:
    """A class of task.label_names with no training row is never learnt: the model ran with it and the dev score
    counted its rows as misses, without a word (probe round 8, d05/d06). Said in a warning (stderr and run.log)
    naming the classes and their eval rows; not refused, since a listed class may be absent on purpose (a shared
    label set over several files). Not when only scoring a saved model (SCORING_ONLY): nothing is trained."""
    if SCORING_ONLY.get():
        return
    trained = {str(v) for v in tables["train"][label_col]}
    unseen = [n for n in names if n not in trained]
    if not unseen:
        return
    counts = "; ".join(_unseen_rows(tables[split][label_col], unseen, key) for split, key in files.items()
                       if split != "train")
    carved = task_cfg.get("validation_from_train")  # the eval files are checked, not scored (review of round 38's)
    log.warning("task.label_names lists %s with no row in task.train_file=%r: the model is never trained on %s, and "
                "the eval rows of %s (%s) %s%s", unseen, str(task_cfg.train_file),
                "it" if len(unseen) == 1 else "them", "it" if len(unseen) == 1 else "them", counts or "no eval file",
                "are not scored here (task.validation_from_train scores the carve; scored, they would be scored as "
                "they are)" if carved and counts else "are scored as they are",
                look_alikes(unseen, sorted(trained)))  # 'pоs' (a Cyrillic о) printed as the trained 'pos' (round 35, ln2)


def _unseen_rows(labels: Any, unseen: list[str], key: str) -> str:
    """How many of a file's rows scored (its max_eval_samples sample: a whole file's count was said of a sample
    holding none of them, review of round 38's fixes) are of the ``unseen`` classes."""
    scored, how = scored_positions(len(labels))
    values = [str(v) for v in labels]
    found = sum(values[i] in unseen for i in (range(len(values)) if scored is None else scored))
    return f"task.{key}: {found} rows" + (f" of the {len(scored)} scored ({how})" if how else "")


def target(spec: TaskSpec, value: Any, where: str, trained: bool = False) -> float:
    """A regression target as a float, or a DataError naming the row: a class name in a dev file (float() raised a
    ValueError traceback), a NaN/inf cell (it passed every range check, and scored as NaN), a range break. A minus
    written U+2212 or with a dash is a minus, as in labels: '−1.5' was "not a finite number" (probe round 37, d6)."""
    try:  # '–0.5', '−0.5': a minus sign written with a dash (dashes.py; '˗0.5', U+02D7: probe round 50, lab_mm); '4_2'
        # is Python's 42 (digit grouping), no number in a data file: it trained as 42.0 without a word (round 39, rh)
        score = None if isinstance(value, str) and "_" in value else \
            float(as_hyphens(value) if isinstance(value, str) else value)
    except (TypeError, ValueError):
        score = None
    if score is None or isinstance(value, bool) or not math.isfinite(score):
        raise DataError(f"{where}: target {value!r} is not a finite number; a regression "
                        "(task.metric=pearson_spearman) needs a number in every row of the label column"
                        + grouping_hint(value) + (" (a number past float64's range, |x| > 1.8e308, is read as inf: a "
                        "JSON one too)" if isinstance(value, float) and math.isinf(value) else ""))
    check_target(spec, score, where, trained)
    return score


def read_custom_split(task: TaskSpec, root: Path | None, split: str) -> list[dict]:
    """Rows ``{text field: str, "label": class name or float}`` of one split (``root`` unused: the paths are absolute)."""
    path = task.local_file(split)
    key = {**FILE_KEYS, **OPTIONAL_FILE_KEYS}.get(split, split)
    ds = read_checked(path, key, list(task.text_fields), task.local_label_column)
    rows = []
    for i, r in enumerate(ds):
        label = r[task.local_label_column]
        if task.is_regression:
            label = target(task, label, f"task.{key}={str(path)!r} data row {i + 1}")  # trained ones: custom_task
        rows.append({**{f: str(r[f]) for f in task.text_fields},
                     "label": label if task.is_regression else str(label)})
    return rows


# task=custom has no spec in TASKS (custom_task() builds it from the user's files: a placeholder was taken for a
# 1-label task); its reader is listed in sdp.data.sources (needs no data_dir: the task names its files).
