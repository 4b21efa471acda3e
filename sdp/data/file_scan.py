"""Count what a user's data file holds, record by record, before ``datasets`` reads it (issue 26).

The ``datasets`` builders read through pandas/pyarrow, which merge rows silently (a quote left open in a CSV
swallows the lines after it: 80 lines read as 75, labels inside the text) or fail with a traceback that names
neither the file nor the line (an extra field, a stray quote, a JSON column holding both ``1`` and ``"1"``, a
".parquet" that is really CSV). :func:`scan_file` walks the file itself and returns how many rows it holds, so
the reader can check that it got exactly those; each problem is a one-line DataError naming the file and line.
"""

from __future__ import annotations

import csv
import decimal
import io
import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

from sdp.data.dashes import as_hyphens
from sdp.data.look_alike import as_latin, phonetic, script
from sdp.data.tasks import DataError, read_utf8

_BOM = "\ufeff"


# Invisible characters that are no part of a word: soft hyphen, zero-width space, word joiner, BOM, and the direction
# marks, embeddings and isolates a right-to-left page leaves (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069:
# four were listed, and rows and labels with the marks were new ones: probe round 32). The tokenizers drop them. Other
# format characters are kept: the zero-width (non-)joiners change a Persian, Hindi or emoji word, emoji tag characters
# tell one subdivision flag from another, the Arabic number signs are read (review of round 32).
# The variation selectors too (U+FE00-FE0F, U+E0100-E01EF): '❤️' (U+2764 U+FE0F, emoji style) and '❤' (as a keyboard
# without emoji style types it) print alike, and were a class each (probe round 35, vs1). An uncased WordPiece
# tokenizer drops them (as marks); XLM-R's SentencePiece reads one as <unk> (text_key is one key for every tokenizer).
VARIATION_SELECTORS = frozenset(map(chr, [*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]))
INVISIBLE = frozenset("\u00ad\u200b\u2060\ufeff\u061c\u200e\u200f" + "".join(map(chr, range(0x202A, 0x202F)))
                      + "".join(map(chr, range(0x2066, 0x206A)))) | VARIATION_SELECTORS
ACCENTED_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")  # whose combining marks are accents an uncased reader drops
# The format characters that are read (the joiners, emoji tags, the Arabic number signs: review of round 32); every
# other format, control or private-use character and U+FFFD is dropped by the tokenizers' text cleaning, and
# rows with U+2062, U+0001 or U+E000 were new rows, labels with U+007F classes of their own (probe round 33, it1-lc1).
READ_FORMAT = frozenset("\u200c\u200d\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd" + "".join(map(chr, range(0x0600, 0x0606)))
                        + "".join(map(chr, range(0xE0020, 0xE0080))))
_ASCII_UNREAD = {i: None for i in (*range(9), 11, 12, *range(14, 32), 127)}  # controls but tab, line feed, return
_ASCII_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # _ASCII_UNREAD's, found before any is removed
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # where str.splitlines ends a line
# BERT's tokenizers put a space around every CJK ideograph (_tokenize_chinese_chars), so a Chinese text spaced between
# its characters is the unspaced one to them: such a test file was new rows, such labels classes of their own (round 34)
# One pattern: a per-character test of six ranges made text_key 2.4 times slower on non-ASCII text (review, round 34).
_CJK = re.compile("([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df\U0002a700-\U0002ceaf"
                  "\U0002f800-\U0002fa1f])")
# text_key's version: a model's sdp_training_rows.u64 holds keys of one, and keys of another are not compared (a file
# of unspaced CJK keys missed spaced rows: review of round 34). Bump it with any change to what text_key returns.
TEXT_KEY_VERSION = 3  # 3: the variation selectors set aside (probe round 35, vs1)


# Blank: Python's spaces (str.isspace) but the information separators U+001C-U+001F, which XLM-R's tokenizer reads as
# a token (WordPiece and SentencePiece drop the other 25; a byte-level BPE reads a space, but a text of spaces alone is
# refused for every model, as it was). What else a model reads as nothing is its tokenizer's to say
# (sdp/data/read_nothing.py: probe round 49, ev_me, xl_acc: a lone U+20DD or U+0301 was refused, though read).
_READ_SPACES = "\x1c\x1d\x1e\x1f"


def blank_text(value: str) -> bool:
    """Whether a text field is blank: empty, or spaces only (see _READ_SPACES)."""
    return not value.strip() and not any(c in _READ_SPACES for c in value)


def no_text(value: str) -> bool:
    """Whether a label holds nothing that prints: empty, spaces, or invisible characters only (a zero-width space),
    or marks on no letter (a lone U+0301: probe round 48, pacc). A label's rule (cells.is_blank); a text field's is
    blank_text, then the model's tokenizer (sdp/data/read_nothing.py: one list for every tokenizer was wrong both
    ways, probe round 49, ev_zwj, ev_me)."""
    return all(c.isspace() or unread(c) or unicodedata.category(c) in ("Mn", "Me") for c in value)


def unread(c: str) -> bool:
    """Whether the tokenizers drop ``c`` (BERT's text cleaning: every "other" character but tab and line breaks)."""
    kind = unicodedata.category(c)
    return c in INVISIBLE or c == "\ufffd" or (kind == "Cf" and c not in READ_FORMAT) or (
        kind in ("Cc", "Co", "Cs") and c not in "\t\n\r")  # not unassigned ones: a newer emoji than this Python's


def text_key(value: object) -> str:
    """A text as its reader sees it, with its Unicode form (NFKC), runs of spaces and letter case set aside: an uncased
    tokenizer reads 'GOOD  film' as 'good film', and 'très' composed (NFC) or decomposed (NFD) prints alike; exact
    comparison missed both (a test file of the dev rows upper-cased, labels in two forms: probe round 30). Accents on
    Latin, Greek and Cyrillic letters and the INVISIBLE characters are set aside too: such rows were read as new rows,
    such labels as classes of their own (probe round 31). A mark on a letter of another script (a Devanagari vowel
    sign, a Thai tone mark, a kana voicing mark) is part of the letter, and kept: dropping them made `कम` and `कुम` one."""
    text = str(value)
    if text.isascii():  # most rows: the same key, without the per-character walk (nor a translate of each)
        return " ".join((text.translate(_ASCII_UNREAD) if _ASCII_CONTROL.search(text) else text).split()).casefold()
    kept, base = [], ""
    for c in unicodedata.normalize("NFKD", text):
        if unread(c) or (unicodedata.category(c) == "Mn" and base.startswith(ACCENTED_SCRIPTS)):
            continue
        if unicodedata.category(c) != "Mn":
            base = unicodedata.name(c, "")
        kept.append(c)
    text = unicodedata.normalize("NFKC", "".join(kept))
    return " ".join(_CJK.sub(r" \1 ", text).split()).casefold()


def row_keys(rows: object, fields: list[str]) -> set[tuple[str, ...]]:
    """The text_key of each row's texts (``fields``): made once for a training split compared with several others."""
    return {tuple(map(text_key, texts)) for texts in zip(*(rows[f] for f in fields))}


def _look_key(name: str) -> str:
    """text_key of a name with its look-alike letters (sdp/data/look_alike.py, in the case written) as Latin ones."""
    return text_key(as_latin(name))


def _scripts(name: str) -> tuple[str, ...]:
    """The script of each of a name's letters in turn (LATIN, CYRILLIC, ...), by their Unicode names; a mathematical
    letter's as one of its own ('𝚗𝚎𝚐' in monospace prints as 'neg' in a terminal: round 47, noticed)."""
    return tuple("MATHEMATICAL" if unicodedata.name(c, "").startswith("MATHEMATICAL") else script(base)
                 for c in str(name) for base in unicodedata.normalize("NFKD", c) if base.isalpha())


def _mixed_scripts(group: list[str]) -> bool:
    """Names one _look_key holds are look-alikes only where a letter of one is written in another script than the
    other's letter there: Kazakh 'Нан' and 'һан', Mongolian 'ус' and 'үс', Armenian 'hy:գառ' and 'hy:զառ' are one
    script's other words (their letters map to one Latin letter: second review; review of round 46's fixes), and
    'pоs' (a Cyrillic о) and 'рos' (a Cyrillic р) two classes that print alike (probe round 36, lk1)."""
    return len({_scripts(n) for n in group}) > 1


def _label_key(name: str) -> str:
    """text_key, and a number as its value: labels 1 and 01 (a spreadsheet's text cell) made a class each (round 33).
    The value is read from the key, so `1` + U+200B is `1`'s twin too, and exactly (Decimal): as floats, two 20-digit
    labels were one value, and 0 and -0 two (review of round 33)."""
    # U+2212 MINUS SIGN: '−1' and '-1' were two classes (round 36, noticed); an en dash's '–1' too, as a word processor
    # writes it (session 18, Left), and U+02D7's '˗1' (dashes.py: probe round 50, lab_mm). A text label's dashes as
    # well: `pre‐op` (U+2010) and `pre-op` were two classes that print alike, unsaid (probe round 50, lab_t2)
    key = signed = as_hyphens(text_key(name))
    if "_" in signed:  # `2_1` is 21 to Decimal, and no number to the regression reader (probe round 48, lab_und)
        return key
    try:  # 1,0 is 1.0 as a European spreadsheet writes it: a class of its own beside 1, unsaid (probe round 36, dz1)
        # '1,000' too: a thousand to some, 1.000 to others; refused beside '1' (task.label_names keeps both: review)
        number = decimal.Decimal(signed.replace(",", ".") if _DECIMAL_COMMA.fullmatch(signed) else signed)
    except decimal.InvalidOperation:
        return key
    if number.is_snan():  # `snan` is no number to float() (the regression reader)
        return key
    if not number.is_finite():  # `inf` and `Infinity` were two classes while `1e1` and `10` were one (round 49, noticed)
        return f"number {number.copy_abs() if number.is_nan() else number}"  # (`-nan` is NaN, as `nan` is)
    return f"number {number.normalize() if number else decimal.Decimal(0)}"


def label_problem(names: list[str], listable: Callable[[list[str]], bool] = lambda twins: True) -> str | None:
    """Why these class names (sorted, distinct) cannot stand as they are, in words after "task.label_column=...": a
    line break in one (sdp-predict writes a label a line: 5 inputs got 8 lines, probe round 33, pn1), or two written
    one way (a class each: 'positive ' beside 'positive', round 8's d08; 'pos' + U+200E, round 32; 1 and 01, round 33).
    ``listable``: whether twins may be listed in task.label_names (names that print alike may not: printed_names.py)."""
    if broken := [n for n in names if any(c in LINE_BREAKS for c in n)]:
        return (f"holds the label {broken[0]!r} with a line break in it: sdp-predict writes one label a line, and "
                "this one would take two; remove the line break from the file's labels")
    twins = written_alike(names)
    return None if twins is None else (f"holds labels that differ only in {twins_differ_in(twins)}, {twins}: they "
                                       "would be separate classes; write each label one way" + (
                                           " (or list the classes in task.label_names)" if listable(twins) else ""))


def written_alike(names: list[str]) -> list[str] | None:
    """The first group of ``names`` that are one label written two ways, else in look-alike letters of another
    script; None if there is none."""
    return first_twins(names, (_label_key, _look_key))


def first_twins(names: list[str], keys: tuple) -> list[str] | None:  # the second key's across scripts only
    twins = None
    for key in keys:
        alike: dict[str, list[str]] = {}
        for name in names:
            alike.setdefault(key(name), []).append(name)
        twins = twins or next((group for group in alike.values()
                               if len(group) > 1 and (key is keys[0] or _mixed_scripts(group))), None)
    return twins


def twins_differ_in(twins: list[str]) -> str:
    """What labels with one _label_key (or _look_key) differ in, in words (for the error that refuses them)."""
    if len({_label_key(t) for t in twins}) > 1:
        more = " and in letter case or spacing" if len({" ".join(as_latin(t).split()) for t in twins}) > 1 else ""
        return f"{look_alike_words(twins)}{more} ({', '.join(map(ascii, twins))})"
    if len({text_key(t) for t in twins}) > 1:  # one value written two ways (1 and 01)
        if not _label_key(twins[0]).startswith("number "):  # `−1_0`, `-1_0`: no number (round 49, lab_um); `pre‐op`
            more = " and in letter case, spacing or accents" if len(  # (lab_t2)
                {as_hyphens(unicodedata.normalize("NFKC", t)) for t in twins}) > 1 else ""
            return f"a minus sign or dash{more} ({', '.join(map(ascii, twins))})"
        return f"the way a number is written ({', '.join(map(repr, twins))})"
    if len({"".join(t.split()) for t in twins}) == 1:  # 'pos ' and 'pos'; CJK '好 评' and '好评'
        return "spaces"
    if len({unicodedata.normalize("NFKC", "".join(t.split())) for t in twins}) == 1:  # 'ﬁne', the Kelvin sign: not
        return f"Unicode form ({', '.join(map(ascii, twins))})"  # "letter case", as casefold() had it (round 45, lig)
    if len({"".join(t.split()).casefold() for t in twins}) == 1:
        return "spaces or letter case"
    form = "Unicode form" if len({unicodedata.normalize("NFKC", t).casefold() for t in twins}) == 1 else \
        "accents or invisible characters"
    return f"{form} ({', '.join(map(ascii, twins))})"


def look_alike_words(twins: list[str]) -> str:
    """How names that print alike by look-alike letters differ, in words (Latin's phonetic ones are Latin's own)."""
    if any(unicodedata.name(c, "").startswith("MATHEMATICAL") for t in twins for c in str(t)):
        return "look-alike letters (mathematical ones, or another script's)"
    return "look-alike letters (Latin's phonetic ones, or another script's)" if phonetic(twins) else \
        "look-alike letters of another script"


def look_alikes(given: list[str], known: list[str]) -> str:
    """' (...)' naming each of ``given`` that is one of ``known`` written otherwise, in code points; else ''."""
    keys = [(key, {key(k): k for k in known}) for key in (_label_key, _look_key)]  # each key against its own
    pairs = [(g, match) for g in given
             if (match := next((of[key(g)] for key, of in keys if key(g) in of
                                and (key is _label_key or _mixed_scripts([g, of[key(g)]]))), None)) is not None]
    return (" (" + "; ".join(f"{ascii(g)} is {ascii(k)} written otherwise: in another letter case, spacing, accents, "
                             "invisible characters or Unicode form (NFC/NFD), in a minus sign or dash, in the way a "
                             "number is written, or in "  # the dash: probe round 50, lab_t2
                             "look-alike letters (another script's, Latin's phonetic or mathematical ones)"
                             for g, k in pairs) + ")") if pairs else ""


_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


def scores_as_text(names: list[str]) -> str | None:
    """Why class names that are numbers, not all whole, are no classes, in words after "task.label_column=...": a JSON
    file's scores written as strings ("4.5") were a 6-class classifier scored by accuracy, unsaid, where the same
    numbers in a CSV are refused as a regression's (probe round 34, rs3); None where they may be classes."""
    # a decimal comma too: "4,5" from a European spreadsheet was a 6-class classifier, unsaid (probe round 35, rh1)
    signed = [as_hyphens(n) for n in names]  # '–4,5': a dash for the minus too (review; dashes.py)
    comma = [n for n in signed if _DECIMAL_COMMA.fullmatch(n)]  # '1,500' too: refused, with task.label_names to keep
    try:  # them as classes ('5,000', '3,800': STS scores with three decimals, a 3-class classifier unsaid: review)
        values = [decimal.Decimal(n.replace(",", ".") if n in comma else n) for n in signed]
    except decimal.InvalidOperation:
        return None
    fractions = [n for n, v in zip(names, values) if v.is_finite() and v != v.to_integral_value()]
    if not fractions or not all(v.is_finite() for v in values):
        return None
    shown = ", ".join(map(repr, fractions[:3])) + (", ..." if len(fractions) > 3 else "")
    way = " (with a decimal comma: write them with a decimal point, as 4.5)" if comma else ""
    return (f"holds numbers written as text, not all whole ({shown}){way}: a regression's "
            f"scores, which would be read as {len(names)} classes; use task.metric=pearson_spearman (if they are "
            "classes, name them in task.label_names)")


def scan_file(path: Path, suffix: str, key: str) -> int | None:
    """The number of data rows in local file ``path`` (None where the format is not counted here)."""
    where = f"task.{key}={str(path)!r}"
    if suffix in (".csv", ".tsv"):
        return _scan_delimited(path, suffix == ".tsv", where)
    if suffix == ".jsonl":
        return _scan_json_lines(path, where)
    if suffix == ".json":  # a JSON array naming a key twice was read with its last value, unsaid (probe round 32, js3)
        text = read_utf8(path).removeprefix(_BOM)
        try:
            data = json.loads(text, object_pairs_hook=_no_twice)
        except json.JSONDecodeError as exc:  # JSON Lines named .json (the json builder reads both); not an array
            if (why := json_array_error(text, exc)) is not None:
                raise DataError(f"{where} {why}") from None
            return _scan_json_lines(path, where)
        except _KeyTwice as exc:
            raise DataError(f"{where}: an object names key(s) {exc.args[0]} more than once (only the last value would "
                            "be read); give each key once") from None
        return len(data) if isinstance(data, list) else None
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_metadata(path).num_rows
        except Exception as exc:  # pyarrow's ArrowInvalid (not an OSError): "Parquet magic bytes not found ..."
            raise DataError(f"{where} is not a Parquet file ({' '.join(str(exc).split())[:200]}); save it as "
                            "Parquet or give it the suffix of its real format (.csv, .tsv, .jsonl)") from None
    return None


def _scan_delimited(path: Path, tab: bool, where: str) -> int:
    """Records of a CSV (quoted fields as pandas reads them) or a TSV (no quoting, as GLUE's files); blank lines
    are skipped, as pandas skips them."""
    text = read_utf8(path).removeprefix(_BOM)
    options = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if tab else {"delimiter": ","}
    # csv's default field limit (131072 characters) refused a long text as "a quote that is not closed", though
    # pandas reads it whole; no field can be longer than the file, so that is the limit while this scan runs.
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        return _count_records(text, options, tab, where)
    finally:
        csv.field_size_limit(limit)


def delimited_cells(text: str, tab: bool, columns: list[str]) -> dict[str, list[str]]:
    """The cells of ``columns`` of a CSV/TSV's ``text`` as the file spells them, row by row (blank lines skipped, as
    pandas and :func:`scan_file` skip them): pandas reads a column of numbers or booleans as such, so ``01`` became
    ``1``, ``0042`` became ``42.0`` and ``true`` became ``True`` (probe round 23, d01/d02)."""
    text = text.removeprefix(_BOM)
    options = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if tab else {"delimiter": ","}
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        records = [r for r in csv.reader(io.StringIO(text, newline=""), **options)
                   if r and not (len(r) == 1 and not r[0].strip())]
    finally:
        csv.field_size_limit(limit)
    header = records[0] if records else []
    return {c: [r[header.index(c)] for r in records[1:]] for c in columns if c in header}


def _count_records(text: str, options: dict, tab: bool, where: str) -> int:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, **options)
    what = "tab-separated" if tab else "comma-separated"
    header: list[str] | None = None
    rows_header: list[str] | None = None
    rows = 0
    line = 1  # the physical line the next record starts on
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DataError(f"{where} line {line}: {exc} (a quote that is not closed or not doubled?)") from None
        first, line = line, reader.line_num + 1
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        if reader.line_num > first:  # one record over several physical lines: a quoted field holds line breaks
            raise DataError(f"{where} line {first}: a quoted field runs on to line {reader.line_num}, merging "
                            f"{reader.line_num - first + 1} lines into one row (a quote left open?); close the "
                            "quote, or replace the line breaks inside the field with spaces")
        if header is None:
            header = record
            rows_header = [record[0].removeprefix(_BOM), *record[1:]]
            twice = sorted({name for name in header if header.count(name) > 1})
            if twice:  # pandas renames the second 'label' to 'label.1', and the run read the first without a word
                raise DataError(f"{where} line {first}: the header names column(s) {twice} more than once; give "
                                "each column its own name")
            continue
        if [record[0].removeprefix(_BOM), *record[1:]] == rows_header:  # `cat a.csv b.csv`: a class 'label' (round 33)
            raise DataError(f"{where} line {first} repeats the header ({', '.join(header)}): two files joined into one? "
                            "remove the line (a header is the first line only)")
        if len(record) != len(header):
            raise DataError(f"{where} line {first}: expected {len(header)} {what} fields (as the header), got "
                            f"{len(record)}")
        rows += 1
    return rows


def _kind(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list or object"


def json_array_error(text: str, exc: json.JSONDecodeError) -> str | None:
    """Where and why a .json file that opens an array ('[') is no JSON, in words after the file's name; None for any
    other text (JSON Lines named .json). The JSON Lines reading that followed named line 1 (its '[') for an array
    with a comma before its ']' on line 482 (probe round 35, tj1/tj2). "Extra data" after a first value that is all
    of line 1: JSON Lines whose first line is an array, for the JSON Lines reading to say (not a pretty-printed
    array with more after it: review)."""
    if not text.lstrip().startswith("[") or (exc.msg == "Extra data" and "\n" not in text[:exc.pos].strip()):
        return None
    before = text[:exc.pos].rstrip()
    hint = (" (a comma before the closing bracket: JSON allows none there; remove it)"
            if before.endswith(",") and text[exc.pos:exc.pos + 1] in ("]", "}") else "")
    return (f"line {exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno}){hint}; a .json file is one array "
            "of objects (or JSON Lines)")


class _KeyTwice(ValueError):
    pass


def _no_twice(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object whose key appears twice (json keeps the last value without a word)."""
    keys = [k for k, _ in pairs]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise _KeyTwice(twice)
    return dict(pairs)


def _scan_json_lines(path: Path, where: str) -> int:
    """Objects of a JSON Lines file; a column must hold one kind of value (pyarrow cannot mix 1 and "1")."""
    rows = 0
    seen: dict[str, tuple[str, int, object]] = {}  # column -> (kind, first line, value)
    for lineno, line in enumerate(read_utf8(path).removeprefix(_BOM).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=_no_twice)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where} line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        except _KeyTwice as exc:
            raise DataError(f"{where} line {lineno}: the object names key(s) {exc.args[0]} more than once (only "
                            "the last value would be read); give each key once") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where} line {lineno}: expected a JSON object per line, got {type(obj).__name__}")
        for column, value in obj.items():
            kind = _kind(value)
            if kind is None:
                continue
            if column not in seen:
                seen[column] = (kind, lineno, value)
            elif seen[column][0] != kind:
                first_kind, first_line, first_value = seen[column]
                raise DataError(f"{where} line {lineno}: column {column!r} holds {json.dumps(value)} ({kind}), but "
                                f"{json.dumps(first_value)} ({first_kind}) on line {first_line}; write every value "
                                "of a column the same way")
        rows += 1
    return rows
