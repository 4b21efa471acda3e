"""XGLUE cross-lingual tasks (XNLI, PAWS-X, NC, QADSM, QAM, WPR) and their three data sources.

Zero-shot setting of both papers: train on English, evaluate on the dev (optionally the labelled test) split
of every language. A cross-lingual task is a :class:`TaskSpec` with ``languages`` set, ``train_split="train"``
and one eval split per language, named as on the Hub: ``validation.<lang>`` (and ``test.<lang>``).

Sources
-------
- Hub: ``datasets.load_dataset("microsoft/xglue", <config>)`` (``data_dir`` null). Splits ``train``,
  ``validation.<lang>``, ``test.<lang>``; Hub column names are adapted to the task's (see ``hub_adapter``).
- ``source="xglue"``: a local copy of the official XGLUE download, ``<data_dir>/xglue_full_dataset/<DIR>/``
  (or ``<data_dir>/<DIR>/``), with the file names of the official loader: XNLI ``multinli.train.en.tsv``,
  ``<lang>.dev``, ``<lang>.test``; PAWSX ``en/train.tsv``, ``<lang>/dev_2k.tsv``, ``<lang>/test_2k.tsv``;
  NC/QADSM/WPR/QAM ``xglue.<task>.en.train``, ``xglue.<task>.<lang>.dev``, ``xglue.<task>.<lang>.test``.
  Tab-separated, no quoting; ``*.tsv`` files start with a header line (skipped), the others have none.
- ``source="xtreme"``: the XTREME-format files of ``<data_dir>/xnli/`` and ``<data_dir>/paws-x/``
  (``dev-<lang>.tsv``, ``test-<lang>.labeled.tsv``; CSV-quoted, tab-delimited, CRLF allowed; a header is
  recognised by its last field being ``label``). There is no English training set in that layout, so the
  ``*_small`` tasks build a leakage-free zero-shot setting from the parallel dev files: rows are split by
  index into a train side and an eval side (about half each; rows sharing a sentence stay together, see
  :func:`zero_shot_partition`); ``train`` = the English dev rows of the train side, ``validation.<lang>`` =
  the eval-side rows of every language (translations of examples never trained on), ``test.<lang>`` = the
  whole labelled test file.

PAWS-X rows whose sentence is the upstream placeholder ``NS`` (missing translation) are dropped, from every
source; the readers report how many per split (:class:`~sdp.data.spec.SplitRows`), and
:func:`~sdp.data.loading.load_splits` returns the counts, which the recipe writes to metrics.json
``data.dropped_rows``.

Text fields: QADSM's ad title and description are joined into one ``ad`` field and WPR's page title and
snippet into ``web_page`` (``title + " " + text``), so every task is a single sentence or a sentence pair.
WPR is trained as 5-way classification of the relevance grade (Bad..Perfect = 0..4) and scored with nDCG
over the rows of each query, ranking by the expected grade under the predicted distribution (see
``sdp.crosslingual``).
"""

from __future__ import annotations

import csv
import functools
import logging
from pathlib import Path

import datasets

from sdp.data.glue_local import find_task_dir
from sdp.data.spec import DataError, DataFileNotFoundError, SplitRows, TaskSpec, read_utf8, split_language
from sdp.data.xglue_tasks import (  # noqa: F401  (re-exported: the task specs live in a light module)
    NS_PLACEHOLDER,
    XGLUE_HUB,
    XGLUE_LANGUAGES,
    XTASKS,
    XTREME_PAWSX_LANGUAGES,
    XTREME_XNLI_LANGUAGES,
    CrossLingualInfo,
    _eval_splits,
)

__all__ = [
    "NS_PLACEHOLDER",
    "XGLUE_LANGUAGES",
    "XTASKS",
    "CrossLingualInfo",
    "read_xglue_split",
    "read_xtreme_file",
    "read_xtreme_split",
    "split_language",
    "zero_shot_partition",
]

log = logging.getLogger(__name__)




# ----------------------------------------------------------------------------------- dropped-row counts


def _with_dropped(task: TaskSpec, info: CrossLingualInfo, split: str, converted: list[dict | None],
                  where: str) -> list[dict] | SplitRows:
    """The rows ``converted`` kept (None: an NS row), with the count dropped and the kept rows' positions, where the
    task drops NS rows (PAWS-X)."""
    rows = [r for r in converted if r is not None]
    if not info.drop_ns:
        return rows
    count = len(converted) - len(rows)
    _log_dropped(task, split, count, where)
    positions = [i for i, r in enumerate(converted) if r is not None]
    return SplitRows(rows, count, positions, len(converted))


def _log_dropped(task: TaskSpec, split: str, count: int, where: str) -> None:
    if count:
        log.info("%s/%s: dropped %d rows with the %r placeholder (%s)", task.name, split, count,
                 NS_PLACEHOLDER, where)


# ------------------------------------------------------------------------------------- row conversion


def _convert(task: TaskSpec, info: CrossLingualInfo, fields: dict[str, str], where: str) -> dict | None:
    """A loader row (text fields + label name) from named raw fields; None for an NS row."""
    row: dict = {}
    for name in task.text_fields:
        parts = info.joined.get(name, (name,))
        row[name] = " ".join(fields[p].strip() for p in parts if fields[p].strip())
    if info.drop_ns and any(fields[name].strip() == NS_PLACEHOLDER for name in _raw_text_columns(task, info)):
        return None
    raw = fields["label"].strip()
    label = info.label_map.get(raw, raw)
    if label not in task.label_names:
        # The file's own spellings first: "allowed: ['False', 'True']" for a QAM file that writes 0/1 (round 25, qm1)
        raws = [k for k, v in info.label_map.items() if v in task.label_names and k not in task.label_names]
        spelled = f"{', '.join(raws)} (read as {', '.join(info.label_map[k] for k in raws)}), or " if raws else ""
        header = ("; the line looks like a header, which this file's layout does not have" if raw.lower() == "label"
                  else "")  # a header line above a headerless official file (round 25, wph)
        raise DataError(f"{where}: unknown label {raw!r} for task {task.name!r}; allowed: {spelled}"
                        f"{', '.join(task.label_names)}{header}")
    row["label"] = label
    return row


def _raw_text_columns(task: TaskSpec, info: CrossLingualInfo) -> list[str]:
    return [p for name in task.text_fields for p in info.joined.get(name, (name,))]


# --------------------------------------------------------------------------------- official XGLUE layout


def _xglue_dir(task: TaskSpec, data_dir: Path) -> Path:
    return find_task_dir(task, data_dir, container="xglue_full_dataset", what="XGLUE")


def _xglue_file(task: TaskSpec, info: CrossLingualInfo, split: str) -> str:
    kind, lang = split_language(split)
    if split == task.train_split:
        return info.files["train"]
    if kind == "validation" and lang:
        return info.files["dev"].format(lang)
    if kind == "test" and lang:
        return info.files["test"].format(lang)
    raise DataError(f"task {task.name!r} has no split {split!r}; splits are train, validation.<lang>, test.<lang>")


def _require_split_file(task: TaskSpec, split: str, path: Path) -> None:
    if not path.is_file():
        _, lang = split_language(split)
        raise DataFileNotFoundError(
            f"task {task.name!r}: no file for split {split!r}"
            + (f" (language {lang!r})" if lang else "")
            + f": {str(path)!r} does not exist"
        )


def read_xglue_split(task: TaskSpec, data_dir: str | Path, split: str) -> list[dict]:
    """Rows of ``split`` from the official XGLUE layout (tab-split, no quoting, ``*.tsv`` has a header)."""
    info = XTASKS[task.name]
    path = _xglue_dir(task, Path(data_dir)) / _xglue_file(task, info, split)
    kind, _ = split_language(split)
    _require_split_file(task, split, path)
    text = read_utf8(path).removeprefix("\ufeff")
    lines = text.split("\n")
    start = 1 if path.name.endswith(".tsv") and _first_line_is_header(task, info, lines[0], path) else 0
    ncol = len(info.columns)
    rows, unlabelled = [], 0  # None for a dropped NS row: its position counts
    for lineno, line in enumerate(lines[start:], start=start + 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        cells = line.split("\t")
        if kind == "test" and len(cells) == ncol - 1:
            unlabelled += 1
            continue
        if len(cells) != ncol:
            raise DataError(
                f"{path}:{lineno}: expected {ncol} tab-separated columns {list(info.columns)}, found {len(cells)}"
            )
        rows.append(_convert(task, info, dict(zip(info.columns, cells)), f"{path}:{lineno}"))
    if unlabelled:
        raise DataError(f"{path}: test split {split!r} is unlabelled ({unlabelled} rows without a label); "
                        "set task.eval_test=false")
    if not any(r is not None for r in rows):
        raise DataError(f"data file {str(path)!r} has no rows")
    return _with_dropped(task, info, split, rows, str(path))


def _first_line_is_header(task: TaskSpec, info: CrossLingualInfo, first: str, path: Path) -> bool:
    """A ``*.tsv`` starts with a header, but one saved without it lost its first data row, unsaid (probe round 25,
    xo2: 119 of 120 rows trained): a first line whose label is one of the task's is read as data, with a warning."""
    cells = first.removesuffix("\r").split("\t")
    if len(cells) != len(info.columns):
        return True
    raw = dict(zip(info.columns, cells))["label"].strip()
    if info.label_map.get(raw, raw) not in task.label_names:
        return True
    log.warning("%s has no header line (its first line's label %r is one of the task's): it is read as data", path, raw)
    return False


# ------------------------------------------------------------------------------------------ XTREME files


def read_xtreme_file(
    path: str | Path, text_columns: tuple[str, ...], *, drop_ns: bool = False
) -> tuple[list[dict], int]:
    """Read one XTREME-format file: tab-delimited CSV (quotes honoured, CRLF allowed), optional header (its
    last field is ``label``; then columns are taken by name, e.g. ``id sentence1 sentence2 label``), else
    columns ``text_columns + (label,)`` by position.

    Returns (rows, number of dropped rows): each row is ``{<text column>: str, "label": str, "index": i}``
    where ``i`` is the 0-based data-row position in the file (before any dropping). With ``drop_ns``, rows
    whose text is the ``NS`` placeholder are dropped and counted. A row with the wrong number of columns is
    a DataError naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileNotFoundError(f"data file {str(path)!r} does not exist")
    read_utf8(path)  # invalid UTF-8: an error naming the file and line, not a bare UnicodeDecodeError
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        records = [(reader.line_num, r) for r in reader]
    records = [(n, r) for n, r in records if any(c.strip() for c in r)]
    if not records:
        raise DataError(f"data file {str(path)!r} is empty")
    names = [*text_columns, "label"]
    first = [c.strip() for c in records[0][1]]
    if first and first[-1] == "label":
        missing = [c for c in names if c not in first]
        if missing:
            raise DataError(f"{path}: header {first} lacks columns {missing}")
        positions = [first.index(c) for c in names]
        ncol = len(first)
        records = records[1:]
    else:
        positions = list(range(len(names)))
        ncol = len(names)
    rows, dropped = [], 0
    for index, (lineno, cells) in enumerate(records):
        if len(cells) != ncol:
            raise DataError(f"{path}:{lineno}: expected {ncol} tab-separated columns, found {len(cells)}")
        row = {name: cells[pos] for name, pos in zip(names, positions)}
        if drop_ns and any(row[c].strip() == NS_PLACEHOLDER for c in text_columns):
            dropped += 1
            continue
        row["index"] = index
        rows.append(row)
    return rows, dropped


def _xtreme_file(task: TaskSpec, split: str) -> str:
    kind, lang = split_language(split)
    if split == task.train_split:
        return "dev-en.tsv"
    if kind == "validation" and lang:
        return f"dev-{lang}.tsv"
    if kind == "test" and lang:
        return f"test-{lang}.labeled.tsv"
    raise DataError(f"task {task.name!r} has no split {split!r}; splits are train, validation.<lang>, test.<lang>")


def zero_shot_partition(task: TaskSpec, data_dir: str | Path) -> tuple[frozenset[int], frozenset[int]]:
    """(train row indices, eval row indices) of a ``*_small`` task's parallel dev files.

    Rows of the English dev file that share any text (XNLI: the three hypotheses of one premise; PAWS-X:
    pairs built from the same sentence) form one group, and a group is never split: groups, ordered by
    their first row, fill the train side up to half the rows, the rest is the eval side. Because the files
    are parallel, the same row indices split every language, so no evaluated sentence, in any language, is
    a translation of a trained one.
    """
    info = XTASKS[task.name]
    path = Path(data_dir) / task.local_subdir / "dev-en.tsv"
    if not path.is_file():
        raise DataFileNotFoundError(f"task {task.name!r}: English dev file {str(path)!r} does not exist")
    text_columns = tuple(info.columns[: len(task.text_fields)])
    return _partition(str(path), path.stat().st_mtime_ns, text_columns)


@functools.lru_cache(maxsize=8)
def _partition(path: str, _mtime: int, text_columns: tuple[str, ...]) -> tuple[frozenset[int], frozenset[int]]:
    rows, _ = read_xtreme_file(path, text_columns)
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_row: dict[str, int] = {}
    for r in rows:
        for c in text_columns:
            text = r[c].strip()
            if not text or text == NS_PLACEHOLDER:
                continue
            if text in first_row:
                a, b = find(first_row[text]), find(r["index"])
                parent[max(a, b)] = min(a, b)
            else:
                first_row[text] = r["index"]
    groups: dict[int, list[int]] = {}
    for r in rows:
        groups.setdefault(find(r["index"]), []).append(r["index"])
    train: list[int] = []
    half = len(rows) // 2
    for root in sorted(groups):
        if len(train) >= half:
            break
        train.extend(groups[root])
    train_set = frozenset(train)
    return train_set, frozenset(r["index"] for r in rows) - train_set


def read_xtreme_split(task: TaskSpec, data_dir: str | Path, split: str) -> list[dict]:
    """Rows of ``split`` of a ``*_small`` task from ``<data_dir>/<local_subdir>/`` (XTREME format):
    train = the English dev rows of the train side of :func:`zero_shot_partition`, ``validation.<lang>`` =
    the ``<lang>`` dev rows of its eval side, ``test.<lang>`` = the labelled test file."""
    info = XTASKS[task.name]
    folder = Path(data_dir) / task.local_subdir
    if not folder.is_dir():
        raise DataFileNotFoundError(f"no XTREME folder for task {task.name!r}: {str(folder)!r} does not exist")
    path = folder / _xtreme_file(task, split)
    kind, _ = split_language(split)
    _require_split_file(task, split, path)
    text_columns = tuple(info.columns[: len(task.text_fields)])
    raw, _ = read_xtreme_file(path, text_columns)
    if split == task.train_split or kind == "validation":
        train_rows, eval_rows = zero_shot_partition(task, data_dir)
        keep = train_rows if split == task.train_split else eval_rows
        if len(raw) != len(train_rows) + len(eval_rows):
            raise DataError(f"{path}: {len(raw)} rows, but the English dev file has "
                            f"{len(train_rows) + len(eval_rows)}; the dev files must be parallel")
        raw = [r for r in raw if r["index"] in keep]
    rows = [_convert(task, info, r, f"{path}:row {r['index']}") for r in raw]
    dropped = sum(r is None for r in rows)
    if kind == "validation":
        _check_parallel(task, info, data_dir, split, path, raw, rows)
        if dropped and dropped == len(rows):
            # An eval split with no row left would reach the loader as a dataset without columns (a ValueError
            # deep in datasets), and no score of that language could be computed.
            raise DataError(f"{path}: every one of the {dropped} rows of {split} is the {NS_PLACEHOLDER!r} "
                            f"placeholder, so language {split_language(split)[1]!r} has no row to score; leave it "
                            f"out with task.languages=[...] (allowed: {', '.join(task.languages)})")
    return _with_dropped(task, info, split, rows, str(path))


def _check_parallel(task: TaskSpec, info: CrossLingualInfo, data_dir: str | Path, split: str, path: Path,
                    raw: list[dict], rows: list[dict | None]) -> None:
    """The zero-shot split is by row index, so it is leakage-free only if row i is the same example in every
    language (docs/usage.md). A file with the English row count but another order (sorted, shuffled, another
    release) would put translations of trained rows into the eval side, and be scored as zero-shot. The
    labels of a parallel file are the English ones row by row (the shared XNLI and PAWS-X files agree on every
    row that is not an NS placeholder), so a row whose label differs from its English row's is refused."""
    _, lang = split_language(split)
    if lang == "en":
        return
    english = Path(data_dir) / task.local_subdir / "dev-en.tsv"
    text_columns = tuple(info.columns[: len(task.text_fields)])
    en_rows, _ = read_xtreme_file(english, text_columns)
    by_index = {r["index"]: r for r in en_rows}
    pairs = [(by_index[r["index"]], r) for r, row in zip(raw, rows)
             if row is not None and r["index"] in by_index
             and _convert(task, info, by_index[r["index"]], str(english)) is not None]

    def label(r: dict) -> str:
        return info.label_map.get(r["label"].strip(), r["label"].strip())

    differing = [r["index"] for en, r in pairs if label(r) != label(en)]
    if differing:
        raise DataError(f"{path}: {len(differing)} of its {len(raw)} eval-side rows have another label than the "
                        f"same row of {str(english)!r} (data rows {differing[:5]}): the dev files are not parallel, "
                        "so the row-index split would not keep translations of the trained rows out of evaluation")
    # Labels alone miss a file reordered within each label. A translation's length follows its source's: row by
    # row, the shared XNLI and PAWS-X files have a Spearman correlation of 0.70 (PAWS-X zh) to 0.96 with English;
    # the same files shuffled, -0.02 to 0.02. Too few rows, or lengths all alike, tell nothing.
    if len(pairs) >= PARALLEL_MIN_ROWS:
        from scipy.stats import spearmanr

        chars = [[sum(len(r[c]) for c in text_columns) for r in side] for side in zip(*pairs)]
        if len(set(chars[0])) > 1 and len(set(chars[1])) > 1:
            rho = float(spearmanr(chars[0], chars[1]).statistic)
            if rho < PARALLEL_MIN_RHO:
                raise DataError(
                    f"{path}: the lengths of its {len(pairs)} eval-side rows do not follow those of the same rows of "
                    f"{str(english)!r} (Spearman {rho:.2f}; a translation of the file has 0.70 or more): its rows "
                    "are in another order, so the row-index split would not keep translations of the trained rows "
                    "out of evaluation; give the dev file in the English file's row order")


PARALLEL_MIN_ROWS = 30  # below this a shuffled file's correlation strays past PARALLEL_MIN_RHO too often (sd 1/sqrt(n))
PARALLEL_MIN_RHO = 0.3


# ----------------------------------------------------------------------------------------------- Hub


def hub_adapter(task: TaskSpec, split: str, ds: datasets.Dataset) -> tuple[datasets.Dataset, int | None]:
    """Hub columns -> the task's: rename the label column, join split text fields, drop NS rows (counted), and
    refuse an unlabelled test split."""
    info = XTASKS.get(task.name)
    if info is None:
        return ds, None
    dropped = None
    if info.hub_label != "label" and info.hub_label in ds.column_names:
        ds = ds.rename_column(info.hub_label, "label")
    kind, _ = split_language(split)
    if kind == "test" and "label" in ds.column_names and len(ds) and max(ds["label"]) < 0:
        raise DataError(f"task {task.name!r}: Hub split {split!r} is unlabelled; set task.eval_test=false")
    if info.drop_ns:
        cols = _raw_text_columns(task, info)
        before = len(ds)
        ds = ds.filter(lambda r: all(str(r[c]).strip() != NS_PLACEHOLDER for c in cols))
        dropped = before - len(ds)
        _log_dropped(task, split, dropped, f"{task.hub_path}/{task.hub_name}")
    for name, parts in info.joined.items():
        if name not in ds.column_names:
            ds = ds.map(lambda r, name=name, parts=parts: {name: " ".join(str(r[p]).strip() for p in parts if str(r[p]).strip())})
    return ds, dropped
