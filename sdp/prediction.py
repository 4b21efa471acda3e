"""sdp-predict's work: read texts (a CSV/TSV/JSONL file with named text columns, or lines of stdin) and label them
with a saved model: one output line per input row, the class name (id2label of config.json) or, for a
regression model, its score."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sdp.data.read_nothing import unread_rows
from sdp.data.tasks import DataError, DataFileNotFoundError, read_utf8
from sdp.metrics import check_outputs_finite
from sdp.models.inspect import length_error

FORMATS = (".csv", ".tsv", ".jsonl", ".json")


def _no_blank_row(path: str | Path, records: Iterable[tuple[int, list[str]]]) -> None:
    """A blank line between rows of a file is refused, as on stdin: it was skipped, so the labels after it sat one
    line above their rows when pasted beside the file's lines (one output line per row, not per line)."""
    blank = None
    for n, record in records:  # (line number, fields); csv.reader gives [] for a blank line outside quotes
        if not record:
            blank = blank or n
        elif blank is not None:
            raise DataError(f"input={str(path)!r} line {blank} is blank, and rows follow it: each row gets one output "
                            "line, so the labels would not line up with the file's lines; remove blank lines")


def _lines(text: str) -> list[str]:
    """The lines of a file, split at line ends only (\\n, \\r\\n, \\r), as a run's readers split them: str.splitlines
    also splits at U+2028, U+0085, \\x0b, \\x0c and \\x1c-\\x1e, which a text may hold, and 3 rows gave 4 labels, each
    after the split on another row's text (probe round 27, ls1). Each keeps its \\n, so a quoted CSV cell keeps its line
    ends."""
    return list(io.StringIO(text, newline=None))


def _keys_once(path: str | Path, n: int | None, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (json keeps the last of two; a run refuses the line). ``n``: its
    line (JSON Lines), None in a .json array."""
    keys = [k for k, _ in pairs]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        where = f" line {n}" if n is not None else ""
        raise DataError(f"input={str(path)!r}{where}: the object names key(s) {twice} more than once (only the last "
                        "value would be read); give each key once")
    return dict(pairs)


def read_rows(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of a CSV/TSV (with a header), JSON Lines or .json file, and its column names."""
    p = Path(str(path)).expanduser()
    suffix = p.suffix.lower()
    if p.is_dir():  # was "unknown format ''"
        raise DataError(f"input={str(path)!r} is a folder, not a file; give the file itself ({', '.join(FORMATS)})")
    if suffix not in FORMATS:
        raise DataError(f"input={str(path)!r}: unknown format {suffix!r}; allowed: {list(FORMATS)} (or - for stdin)")
    if not p.is_file():
        raise DataFileNotFoundError(f"input={str(path)!r} does not exist (or is not a file)")
    # A UTF-8 BOM (Excel's "CSV UTF-8") is stripped, as sdp-run and sdp-eval strip it (data/file_scan.py): kept, it
    # became part of the first column's name, and the file a run trained on was refused here (no column 'sentence').
    text = read_utf8(p).removeprefix("\ufeff")
    # \r\r\n (a CRLF file converted twice) is one line end, as a run's readers take it (pandas skips the empty line
    # between): it read as a blank line after every row, and the file a run trained on was refused (round 32, Left)
    lines = _lines(text.replace("\r\r\n", "\n"))
    if suffix == ".json":  # a JSON array of objects; JSON Lines named .json are read as such, as a run reads both
        rows = _json_array(path, "".join(lines))
        if rows is not None:
            return _columns_of(path, rows)
        suffix = ".jsonl"
    if suffix == ".jsonl":
        rows = []
        _no_blank_row(path, ((n, [line] if line.strip() else []) for n, line in enumerate(lines, 1)))
        for n, line in enumerate(lines, 1):
            if line.strip():
                try:
                    row = json.loads(line, object_pairs_hook=lambda pairs, n=n: _keys_once(path, n, pairs))
                except json.JSONDecodeError as err:
                    raise DataError(f"input={str(path)!r} line {n}: not JSON ({err.msg})") from None
                if not isinstance(row, dict):
                    raise DataError(f"input={str(path)!r} line {n}: not a JSON object")
                rows.append(row)
        return _columns_of(path, rows)
    else:  # TSV as GLUE writes it (no quoting); CSV with the csv module's quoting
        options = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if suffix == ".tsv" else {}
        records = csv.reader(lines, **options)
        _no_blank_row(path, ((records.line_num, record) for record in records))
        reader = csv.DictReader(lines, **options)
        columns = list(reader.fieldnames or [])
        # A run refuses what follows (data/file_scan.py); here the second of two columns of one name was labelled, and
        # a row with more fields than the header by its first fields (csv.DictReader keeps the rest under None).
        twice = sorted({c for c in columns if columns.count(c) > 1})
        if twice:
            raise DataError(f"input={str(path)!r} line 1: the header names column(s) {twice} more than once; give "
                            "each column its own name")
        rows = []
        for row in reader:
            if None in row:
                raise DataError(f"input={str(path)!r} line {reader.line_num}: expected {len(columns)} "
                                f"{'tab' if suffix == '.tsv' else 'comma'}-separated fields (as the header), got "
                                f"{len(columns) + len(row[None])}; a run refuses the file too")
            rows.append(row)
    if not rows:
        raise DataError(f"input={str(path)!r} has no rows")
    return rows, columns


def rows_over_lines(path: str | Path) -> str | None:
    """A warning naming the rows of a CSV that run over several lines (a quoted field holding line breaks), or None.
    Such a row is one text and gets one label, as csv reads it; but a quote left open merged 5 lines into one row, and
    116 labels for 120 lines sat off their lines from there, unsaid (probe round 35, oq1; a run refuses the file)."""
    p = Path(str(path)).expanduser()
    if p.suffix.lower() != ".csv":  # a TSV is read without quoting, JSON without line breaks in a row
        return None
    records = csv.reader(_lines(read_utf8(p).removeprefix("\ufeff").replace("\r\r\n", "\n")))
    spans, first = [], 1
    for n, _ in enumerate(records):
        if records.line_num > first:
            spans.append((n, first, records.line_num))  # n: the data row (the header is record 0)
        first = records.line_num + 1
    if not spans:
        return None
    shown = ", ".join(f"row {n} (lines {a}-{b})" for n, a, b in spans[:5]) + (" ..." if len(spans) > 5 else "")
    return (f"input={str(path)!r}: {len(spans)} row(s) run over several lines (a quoted field holding line breaks): "
            f"{shown}; each row gets one label, so from row {spans[0][0]} on the labels do not line up with the "
            "file's lines (a quote left open? close it, or put each row on one line)")


def _columns_of(path: str | Path, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """JSON rows and the keys any of them has, in order of appearance."""
    if not rows:
        raise DataError(f"input={str(path)!r} has no rows")
    return rows, list(dict.fromkeys(k for r in rows for k in r))


def _json_array(path: str | Path, text: str) -> list[dict[str, Any]] | None:
    """The objects of a .json file holding one JSON array, or None where it is no one JSON value or one object (JSON
    Lines: a run's json reader takes a .json file of either kind)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        from sdp.data.file_scan import json_array_error

        if (why := json_array_error(text, exc)) is not None:  # not JSON Lines' line 1 (round 35, tj2)
            raise DataError(f"input={str(path)!r} {why}") from None
        return None
    if isinstance(data, dict):
        return None  # read as JSON Lines: a key named twice is then said with its line
    if isinstance(data, list):
        data = json.loads(text, object_pairs_hook=lambda pairs: _keys_once(path, None, pairs))
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(f"input={str(path)!r}: a .json file is one array of objects (or JSON Lines); give one object "
                        "per row")
    return data


def file_texts(path: str | Path, text_fields: list[str]) -> list[tuple[str, ...]]:
    """One tuple of texts per row of the file, from the columns ``text_fields`` (one, or two for a pair)."""
    rows, columns = read_rows(path)
    if not text_fields or len(text_fields) > 2:
        raise DataError(f"text_fields={','.join(text_fields)!r} must name one or two of the columns of "
                        f"{str(path)!r}: {columns}")
    if len(set(text_fields)) < len(text_fields):  # a,a labelled a pair of one text, without a word (as task.text_fields)
        raise DataError(f"text_fields={','.join(text_fields)!r} names {text_fields[0]!r} twice: a pair is two "
                        f"different columns of {str(path)!r}: {columns}")
    missing = [f for f in text_fields if f not in columns]
    if missing:  # with the hint sdp-run and sdp-eval give: 'tеxt' (a Cyrillic е) printed as 'text' (round 35, pk1)
        from sdp.data.file_scan import look_alikes

        raise DataError(f"input={str(path)!r} has no column {missing}; its columns: {columns}"
                        + look_alikes(missing, list(columns)))
    for n, r in enumerate(rows, 1):
        # A text that is absent (a JSON key missing or null, a CSV/TSV line short of fields) was labelled as an empty
        # text, one plausible label for a row that has none; a run refuses such a row, and so does this.
        absent = [f for f in text_fields if r.get(f) is None]
        if absent:
            raise DataError(f"input={str(path)!r} row {n} (after the header, if any) has no value for {absent} (a JSON "
                            "key missing or null, or a line with fewer fields than the header); give every row its text")
        nested = [f for f in text_fields if isinstance(r[f], (list, dict))]  # its Python repr was labelled (round 23)
        if nested:
            raise DataError(f"input={str(path)!r} row {n}: column {nested[0]!r} holds "
                            f"{'an object' if isinstance(r[nested[0]], dict) else 'a list'}, not a text; give one text "
                            "per row")
    return [tuple(str(r[f]) for f in text_fields) for r in rows]


def no_text_rows(texts: list[tuple[str, ...]], where: str, tokenizer: Any) -> str | None:
    """A warning where rows hold a text the model's ``tokenizer`` reads as nothing: each is labelled as an empty text
    (as given: round 15, p04), which a run refuses; a zero-width space alone was labelled with no word (round 47, pz1,
    pz2). By the model's own tokenizer (sdp/data/read_nothing.py): one list for every tokenizer let a lone ZWJ go
    unsaid for tiny-bert's, which reads none (probe round 49, pzwj), and said a lone U+0301 was "labelled as an empty
    text" for tiny-xlmr's, which reads a token (xl_pacc). ``where``: "stdin line" or "input row"."""
    unread = set()
    for field in range(len(texts[0]) if texts else 0):
        unread.update(unread_rows([t[field] for t in texts], tokenizer))
    rows = sorted(n + 1 for n in unread)
    return (f"{len(rows)} of {len(texts)} rows hold a text this model's tokenizer reads nothing in (empty, or "
            f"characters it drops; first: {where} {rows[0]}), so each is labelled as an empty text, which a run would "
            "refuse" if rows else None)  # (not "a zero-width space": tiny-xlmr's reads one, review of part T)


def label_field_problem(config: dict[str, Any], fields: list[str], texts: list[tuple[str, ...]]) -> tuple[str, bool]:
    """(why, refused) where a text field is the label column: ``text_fields=label`` labelled the label column's own
    words, unsaid (session 18, noticed). Refused where it is a column the model's answers were read from (config.json
    ``sdp_label_columns``); warned where the column holds nothing but the model's class names or ids (an older folder
    records none). ('', False) otherwise."""
    recorded = config.get("sdp_label_columns")
    if label := next((f for f in fields if isinstance(recorded, list) and f in recorded), None):
        return (f"text_fields={','.join(fields)!r} names {label!r}, the column the model's answers were read from in "
                "training (config.json sdp_label_columns): it would label its own labels; name the text column(s)"), True
    from sdp.data.file_scan import text_key

    id2label = config.get("id2label") or {}
    names = {text_key(str(n)) for n in id2label.values()} | {text_key(str(k)) for k in id2label}  # names or ids
    for i, field in enumerate(fields):
        values = {text_key(t[i]) for t in texts}
        if len(texts) > 1 and names and values <= names:
            return (f"text_fields={','.join(fields)!r}: every row of column {field!r} is one of the model's class names "
                    f"or ids {sorted(names)} (config.json id2label): a label column, not a text? name the text "
                    "column(s)"), False
    return "", False


def _utf8_line(line: str, n: int) -> str:
    """A line of stdin, checked: bytes that are not UTF-8 (read with surrogate escapes, as Python reads stdin under a
    C locale) are a DataError naming the line; they reached the tokenizer, a TypeError traceback."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as err:
        code = ord(line[err.start])
        bad = f"byte {code - 0xDC00:#04x}" if 0xDC80 <= code <= 0xDCFF else f"character {line[err.start]!r}"
        raise DataError(f"stdin line {n}: not valid UTF-8 ({bad} at character {err.start + 1} of the line); give "
                        "UTF-8 text (e.g. through iconv -f latin1 -t utf-8)") from None
    return line


def line_texts(lines: Iterable[str]) -> list[tuple[str, ...]]:
    """One text per line, or a tab-separated pair; every line alike."""
    out: list[tuple[str, ...]] = []
    blank = None  # the first blank line: fine at the end; before a text, the labels would no longer line up
    for n, line in enumerate(lines, 1):
        line = _utf8_line(line, n).removesuffix("\n").rstrip("\r")  # \r\n, and \r\r\n as a file's readers take it
        if "\r" in line:  # a line end to Python's universal newlines (3 labels for 2 lines: probe round 44, cr1)
            raise DataError(f"stdin line {n} holds a carriage return (\\r) inside it: a line end to some readers and not "
                            "to others, so the labels would not line up with the lines you count; remove it (e.g. tr "
                            "'\\r' ' ')")
        if not line.strip():
            blank = blank or n
            continue
        if blank is not None:
            raise DataError(f"stdin line {blank} is blank, and texts follow it: each line is one row and gets one "
                            "output line, so the labels after it would not line up with their lines; remove blank "
                            "lines (or put text on them)")
        fields = tuple(line.split("\t"))
        if len(fields) > 2:
            raise DataError(f"stdin line {n} has {len(fields)} tab-separated fields; give one text, or a pair "
                            "separated by one tab, per line")
        if out and len(fields) != len(out[0]):
            raise DataError(f"stdin line {n} has {len(fields)} text(s), the first line {len(out[0])}; every line "
                            "must be a single text, or every line a pair")
        out.append(fields)
    if not out:
        raise DataError("stdin holds no text: give one text, or a tab-separated pair, per line")
    return out


STREAM_NAMES = ("/dev/stdout", "/dev/stderr", "/dev/fd/1", "/dev/fd/2")  # streams by name, even when closed


def std_stream(output: str) -> int | None:
    """1 or 2 where ``output`` is "-" (1) or names this process's standard output or error by any path (/dev/stdout,
    /dev/fd/2, /proc/self/fd/1, //dev/./stdout, or the file the shell redirected it to): compared as the open file
    itself (device and inode), not by spelling. Opened anew, a `>> f` file was emptied; only the spellings
    /dev/stdout, /dev/fd/1 and their stderr twins were known (round 31's leftover)."""
    if output == "-":
        return 1
    try:
        st = Path(output).expanduser().stat()
    except (OSError, ValueError):
        return None
    for fd in (1, 2):
        try:
            std = os.fstat(fd)
        except OSError:  # closed
            continue
        if (st.st_dev, st.st_ino) == (std.st_dev, std.st_ino):
            return fd
    return None


def is_stream(output: str) -> bool:
    """An output that is no regular file (a device such as /dev/null, a pipe, a socket) or is a standard stream
    (std_stream): written into as a shell's > does. Written aside and renamed, /dev/stdout was a traceback, and
    /dev/null, as root with overwrite=true, was renamed over by a regular file (probe round 31, ds1, dn2)."""
    path = Path(output).expanduser()
    return output != "-" and (std_stream(output) is not None or str(path) in STREAM_NAMES or (  # the names: fd closed
        path.exists() and not path.is_file() and not path.is_dir()))


def check_output(output: str, inputs: Iterable[str] = (), overwrite: bool = False) -> None:
    """The labels' file can be written: not a folder, nor under a file (both were tracebacks after the labelling),
    nor one of ``inputs`` (the input file, the model's files): output=input replaced the texts with their labels.
    Any other existing file only with ``overwrite`` (it was replaced without a word: probe round 14's leftover)."""
    if output == "-" or is_stream(output):
        return
    path = Path(output).expanduser()
    for given in inputs:
        if path.exists() and Path(given).expanduser().exists() and path.resolve() == Path(given).expanduser().resolve():
            raise DataError(f"output={output!r} is {given!r}, which sdp-predict reads: the labels would replace it; "
                            "give another file for the labels")
    if path.is_file() and not overwrite:
        raise DataError(f"output={output!r} exists; sdp-predict does not replace a file unless told: give a new "
                        "file, or add overwrite=true")
    blocker = next((p for p in [path, *path.parents] if p.exists()), None)
    if blocker == path and path.is_dir():
        raise DataError(f"output={output!r} is a folder; give a file name for the labels (e.g. {output}/labels.txt)")
    if blocker is not None and blocker != path and not blocker.is_dir():
        raise DataError(f"output={output!r} is under {str(blocker)!r}, which is a file, not a folder")


def check_length(model_dir: str, config: dict[str, Any], max_length: int) -> None:
    """max_seq_length within the model's position table: longer texts were a RuntimeError from the embeddings."""
    if (error := length_error("max_seq_length", max_length, config, f"model_dir {model_dir!r}")) is not None:
        raise DataError(error)


def check_arity(model_dir: str, config: dict[str, Any], texts: list[tuple[str, ...]], where: str) -> None:
    """One text per row for a model trained on one, a pair for a model trained on pairs (config.json
    ``sdp_text_fields``, written by sdp-run; a folder without it is not checked). A single text fed to a pair model
    was labelled without a word, from an input it was never trained on."""
    fields = config.get("sdp_text_fields")
    if not fields or not texts or len(texts[0]) == len(fields):
        return
    pair = len(fields) == 2
    trained = f"a pair ({', '.join(fields)})" if pair else f"one text ({fields[0]})"
    given = "a pair" if len(texts[0]) == 2 else "one text"
    way = "a tab-separated pair per line (or two text_fields)" if pair else "one text per line (or one text_field)"
    raise DataError(f"model_dir {model_dir!r} was trained on {trained} per row, and {where} gives {given} per row; "
                    f"give {way}")


def predict_labels(saved: Any, texts: list[tuple[str, ...]], batch_size: int, max_length: int,
                   reached: list[int] | None = None) -> Iterator[str]:
    """The class name (or the regression score) of each text or pair, in order; ``reached`` (where given) gets the
    number of rows that reach ``max_length`` tokens (cut to it, or exactly that long) appended, once all are labelled."""
    import torch

    names = saved.label_names
    # sdp-run and sdp-eval refuse a length that leaves no token of text (sdp/data/tokenize.py check_room_for_text):
    # here max_seq_length=2 labelled every row from [CLS] [SEP] alone, one class for all (probe round 28, ml3).
    fields = len(texts[0]) if texts else 1
    special = saved.tokenizer.num_special_tokens_to_add(pair=fields == 2)
    if max_length < special + fields:
        raise DataError(f"max_seq_length={max_length} must be >= {special + fields} for this tokenizer "
                        f"({type(saved.tokenizer).__name__}): it adds {special} special tokens to "
                        f"{'a text pair' if fields == 2 else 'one text'}, and each text needs a token; shorter, every "
                        "row would be labelled from the special tokens alone")
    at_length = 0
    for start in range(0, len(texts), batch_size):
        chunk = texts[start:start + batch_size]
        columns = list(zip(*chunk))
        # padded on the right, as the runs' collator pads: a tokenizer saved with padding_side=left shifted positions
        enc = saved.tokenizer(*columns, truncation=True, max_length=max_length, padding=True, return_tensors="pt",
                              padding_side="right")
        at_length += int((enc["attention_mask"].sum(dim=1) >= max_length).sum())
        with torch.no_grad():
            logits = saved.model(**{k: v.to(saved.device) for k, v in enc.items()}).logits.float().cpu()
        check_outputs_finite(logits.numpy(), "model_dir", f"the batch of the input's rows {start + 1}-"
                             f"{start + len(chunk)} (no later row was run)")
        if saved.is_regression:
            yield from (f"{float(v):.6g}" for v in logits[:, 0])
        else:
            yield from (names[int(i)] for i in logits.argmax(dim=-1))
    if reached is not None:
        reached.append(at_length)
