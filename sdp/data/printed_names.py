"""Class names as a model's outputs are named by them (config.json id2label, task.label_names): sdp-predict prints
one a line, so none may hold a line break or show nothing, and no two may print alike (probe round 44; checked by
sdp/class_names.py and sdp/data/custom.py). The data reader's rule for one label written two ways is
sdp/data/file_scan.py's label_problem; letter case and accents print apart here."""

from __future__ import annotations

import unicodedata

from sdp.data.file_scan import LINE_BREAKS, READ_FORMAT, first_twins, look_alike_words, unread
from sdp.data.look_alike import as_latin

# Letters that print as nothing: Hangul fillers, the blank Braille pattern (class names of them alone printed blank
# lines: probe round 45, hang, braille, hf)
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Unicode's default-ignorable marks that draw nothing (Khmer inherent vowels, musical beams' controls), and Mongolian
# free variation selectors but after a Mongolian letter (they choose its glyph: review): two names alike but for one
# both printed `neg` (round 46, khm, khm5, mfvs)
IGNORABLE = frozenset(map(chr, [0x17B4, 0x17B5, *range(0x1BCA0, 0x1BCA4), *range(0x1D173, 0x1D17B)]))
MONGOLIAN_FVS = frozenset("\u180b\u180c\u180d\u180f")
JOINERS, TAGS, FLAG = "\u200c\u200d", ("\U000e0020", "\U000e007f"), "\U0001f3f4"


def print_alike(names: list[str]) -> list[str] | None:
    """The first group of ``names`` that print alike (Unicode form, spacing, invisible or look-alike letters; not case
    or accents: `NEG`, `neg` print apart), else None: a model's class names (round 44, gnfd, gcyr, gnbsp; review)."""
    return first_twins(names, (print_key, lambda name: print_key(as_latin(name))))


def print_key(name: str) -> str:
    """A name as it prints: unprinted characters left out, spacing set aside, NFC (not NFKC: 'x²' and 'x2', 'Ⅳ' and 'IV'
    print apart: review)."""
    name = str(name)
    kept = "".join(c for i, c in enumerate(name) if not unprinted(name, i))
    return " ".join(unicodedata.normalize("NFC", kept).split())


def unprinted(name: str, i: int) -> bool:
    """Whether ``name[i]`` prints as nothing there: what the tokenizers drop, a blank letter, the combining grapheme
    joiner; a joiner beside Latin, Greek or Cyrillic letters, digits or nothing (it shapes Arabic, Indic and emoji
    sequences: review), a tag character outside a flag's tag sequence (round 45, tag, zwnj, zwj, cgj)."""
    c = name[i]
    if unread(c) or c in BLANK_LETTERS or c in IGNORABLE or c == "\u034f":
        return True
    if c in JOINERS:
        return all(not 0 <= j < len(name) or _plain(name[j]) for j in (i - 1, i + 1))
    if c in MONGOLIAN_FVS:
        return i == 0 or not unicodedata.name(name[i - 1], "").startswith("MONGOLIAN")
    return TAGS[0] <= c <= TAGS[1] and FLAG not in name


def _plain(c: str) -> bool:
    return c.isascii() or unicodedata.name(c, "").startswith(("LATIN", "GREEK", "CYRILLIC"))


def printed_names_problem(names: list[str]) -> str | None:
    """Why class names cannot name a model's outputs, in words after "names" (a model's id2label, task.label_names),
    or None: a line break in one (sdp-predict writes one label a line), one that shows nothing, two that print alike."""
    if broken := [n for n in names if any(c in LINE_BREAKS for c in n)]:  # 4 lines for 3 inputs (round 44, gnl, gls)
        return (f"the class {broken[0]!r} with a line break in it: sdp-predict writes one label a line, and this one "
                "would take two")
    if blank := [n for n in names if shows_nothing(n)]:  # an invisible label (round 44, gzw; round 45, hang)
        return f"a class that shows nothing ({ascii(blank[0])}: empty, spaces or invisible characters only)"
    if alike := print_alike(names):
        return (f"classes that differ only in {_print_difference(alike)} ({', '.join(map(ascii, alike))}): two "
                "classes whose names print alike cannot be told apart")
    return None


def _print_difference(twins: list[str]) -> str:
    """What names one print_key holds differ in, in words (twins_differ_in's are the data reader's: letter case and
    accents, which print apart here)."""
    if len({print_key(t) for t in twins}) > 1:
        return look_alike_words(twins)
    if len({"".join(c for i, c in enumerate(t) if not unprinted(t, i)) for t in twins}) < len(set(twins)):
        return "invisible characters"
    return "spacing" if len({"".join(t.split()) for t in twins}) == 1 else "Unicode form (NFC/NFD)"


def shows_nothing(name: str) -> bool:
    """Whether a name prints as nothing: spaces, unprinted characters, format characters (but the signs that print:
    READ_FORMAT's Arabic number signs) and combining marks alone (a lone U+0301)."""
    return all(c.isspace() or unprinted(name, i) or unicodedata.category(c) in ("Mn", "Me")
               or (unicodedata.category(c) == "Cf" and (c not in READ_FORMAT or c in JOINERS or TAGS[0] <= c <= TAGS[1]))
               for i, c in enumerate(name))
