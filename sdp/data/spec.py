"""What a task is: :class:`TaskSpec`, the data errors, what a reader returns and the helpers readers share.

Kept apart from the registry (``sdp.data.tasks``) so that the modules declaring built-in tasks
(``sdp.data.xglue_tasks``) import the spec without importing the registry that lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


@dataclass
class SplitRows:
    """A reader's rows of one split, with the count of rows it dropped (a source that drops rows, such as
    PAWS-X's ``NS`` placeholders, returns this instead of a bare list so the count reaches metrics.json)."""

    rows: list[dict]
    dropped: int
    # Each kept row's position among the split's rows before the drop, and their count: a language's rows are row
    # by row the English ones, so a sample drawn over positions holds the same examples in every language (a sample
    # of the kept rows drew each language's own: probe round 29, noticed). None where the rows are not parallel.
    positions: list[int] | None = None
    size: int | None = None


class DataError(ValueError):
    """Invalid task name, data location, file content or sampling option."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data directory or file that should exist does not."""


def read_utf8(path) -> str:
    """A data file's text; invalid UTF-8 is a DataError naming the file and the line."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
        # CR-only line ends (old Mac, some exports): a GLUE TSV read as one header line of the whole file, a JSON
        # Lines file as one line (probe round 30); the custom CSV reader and datasets read such files as lines
        return text.replace("\r", "\n") if "\r" in text and "\n" not in text else text
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(
            f"data file {str(path)!r} line {line}: not valid UTF-8 (byte {raw[err.start]:#04x} at offset "
            f"{err.start}); re-save the file as UTF-8"
        ) from None


@dataclass(frozen=True)
class TaskSpec:
    """Static description of one task.

    ``label_names`` follows the Hugging Face Hub ClassLabel order (class id = position); ``None`` means
    regression. The ``local_*`` fields describe the official download layout read by ``glue_local``:
    ``local_text_columns`` are header names (or 0-based column numbers when ``local_header`` is False),
    one per entry of ``text_fields``; ``local_label_format`` is ``"name"`` (labels are written as names),
    ``"index"`` (written as class ids, mapped through ``label_names``) or ``"float"`` (regression).
    """

    name: str
    text_fields: tuple[str, ...]
    label_names: tuple[str, ...] | None
    metric_names: tuple[str, ...]
    train_split: str = "train"
    eval_splits: tuple[str, ...] = ("validation",)
    hub_path: str = "nyu-mll/glue"
    hub_name: str = ""
    local_subdir: str = ""
    source: str = "glue"
    languages: tuple[str, ...] = ()
    local_header: bool = True
    local_text_columns: tuple[str | int, ...] = ()
    local_label_column: str | int = "label"
    local_label_format: str = "name"
    local_num_columns: int | None = None  # expected column count for header-less files
    local_split_files: tuple[tuple[str, str], ...] = (("train", "train.tsv"), ("validation", "dev.tsv"))
    target_range: tuple[float, float] | None = None  # regression: the scores the task defines (STS-B: 0..5)

    def __post_init__(self) -> None:
        if not self.text_fields:
            raise DataError(f"task {self.name!r}: text_fields must not be empty")
        if self.local_text_columns and len(self.local_text_columns) != len(self.text_fields):
            raise DataError(
                f"task {self.name!r}: local_text_columns {self.local_text_columns} must match "
                f"text_fields {self.text_fields} one to one"
            )
        if self.local_label_format not in ("name", "index", "float"):
            raise DataError(
                f"task {self.name!r}: local_label_format {self.local_label_format!r} is not one of "
                "'name', 'index', 'float'"
            )
        if (self.label_names is None) != (self.local_label_format == "float"):
            raise DataError(
                f"task {self.name!r}: regression tasks (label_names=None) need local_label_format='float' "
                "and classification tasks need 'name' or 'index'"
            )

    @property
    def is_regression(self) -> bool:
        return self.label_names is None

    @property
    def num_labels(self) -> int:
        return 1 if self.label_names is None else len(self.label_names)

    def scored_splits(self) -> str:
        """The eval splits one score line covers, for a log line: a cross-lingual task's scores hold every language,
        and were logged under the first split's name alone (``pruned validation.en: {...}``, probe round 10)."""
        s = self.eval_splits
        return s[0] if len(s) == 1 else f"{len(s)} eval splits ({s[0]} ... {s[-1]})"

    @property
    def local_columns(self) -> tuple[str | int, ...]:
        """Columns holding the text fields in the local files (defaults to the field names)."""
        return self.local_text_columns or self.text_fields

    def local_file(self, split: str) -> str:
        """File name of ``split`` in the local layout; DataError for a split this task does not have."""
        files = dict(self.local_split_files)
        if split not in files:
            raise DataError(
                f"task {self.name!r} has no local file for split {split!r}; known splits: {sorted(files)}"
            )
        return files[split]


def split_language(split: str) -> tuple[str, str]:
    """``"validation.de"`` -> ("validation", "de"); ``"train"`` -> ("train", "")."""
    kind, _, lang = split.partition(".")
    return kind, lang


# Its square 1e30: a batch of 10^8 such errors still sums within float32 (3.4e38). 1e18 held for 340 rows only, and a
# batch of 512 such targets failed at its first update (probe round 42, tb3)
TRAINED_TARGET_LIMIT = 1e15


def check_target(task: TaskSpec, score: float, where: str, trained: bool = False) -> None:
    """A regression target outside the task's declared range (a score of -3 or 500 for STS-B) is a DataError; so is
    one past float32's range, in which targets are stored: `1e39` became inf there, and pearson 0.00 (probe round 40,
    bg1); and a ``trained`` one whose squared error (the loss) would pass it: above ~1.8e19 the run failed at its first
    update with a non-finite loss that named no row (round 40, noticed)."""
    with np.errstate(over="ignore"):  # the cast's own warning: said below, in one line
        to_inf = bool(np.isinf(np.float32(score)))
    if to_inf:  # not float32's largest value: 3.40282356e38 reads as it (probe round 41, tg1)
        raise DataError(f"{where}: target {shown(score)} is past the float32 range targets are stored in "
                        "(its largest value is 3.4028235e38): it would be read as inf")
    if trained and abs(score) > TRAINED_TARGET_LIMIT:
        raise DataError(f"{where}: target {shown(score)} is too large to train on (|x| <= {TRAINED_TARGET_LIMIT:g}): its "
                        "squared error, summed over a batch for the loss, passes float32's range; rescale the targets "
                        "(Pearson and Spearman do not change with their scale)")
    if task.target_range is not None and not task.target_range[0] <= score <= task.target_range[1]:
        low, high = task.target_range
        raise DataError(f"{where}: target {shown(score)} is outside task {task.name!r}'s range [{low:g}, {high:g}]")


def shown(score: float) -> str:
    """A target as written, to the digit that matters: `:g` printed 5.0000001 as `5`, "outside [0, 5]" (probe round
    41, tg2); 500.0 is `500`."""
    text = repr(float(score))
    return text[:-2] if text.endswith(".0") else text


def grouping_hint(value: object) -> str:
    """' (digits are not grouped with '_')' for a number written with '_' ('4_2', Python's 42: no number in a data
    file, probe round 39, rh), else ''; 'N_A' is no number either way (review). '1,08' (a decimal comma) is said too
    (probe round 43, noticed)."""
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,3}(,\d{3})+\s*", value):  # 1,000 is 1 or 1000 (review)
        return (" (digits are not grouped with ',', and the decimal mark is '.': write the number as meant, e.g. "
                f"{value.strip().replace(',', '')} or {value.strip().replace(',', '.', 1)})"
                if value.count(",") == 1 else " (digits are not grouped with ',')")
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+,\d+\s*", value):
        return " (the decimal mark is '.', not ',')"
    if not isinstance(value, str) or not re.search(r"\d_\d", value):  # not 'n_an' or '1_e5' (review)
        return ""
    try:
        float(value.replace("_", ""))
    except ValueError:
        return ""
    return " (digits are not grouped with '_')"
