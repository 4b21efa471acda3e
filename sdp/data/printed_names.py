"""Class names as a model's outputs are named by them (config.json id2label, task.label_names): sdp-predict prints
one a line, so none may hold a line break or show nothing, and no two may print alike (probe round 44; checked by
sdp/class_names.py and sdp/data/custom.py). The data reader's rule for one label written two ways is
sdp/data/file_scan.py's label_problem; letter case and accents print apart here."""

from __future__ import annotations

import unicodedata

import regex

from sdp.data.file_scan import (
    LINE_BREAKS,
    READ_FORMAT,
    VARIATION_SELECTORS,
    first_twins,
    look_alike_words,
    unread,
)
from sdp.data.look_alike import as_latin

# Letters that print as nothing: Hangul fillers, the blank Braille pattern (class names of them alone printed blank
# lines: probe round 45, hang, braille, hf)
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Unicode's default-ignorable code points draw nothing, assigned or not (Khmer inherent vowels, U+2065, U+E0000 ...):
# two names alike but for one both printed `neg` (round 46, khm, khm5, mfvs; round 47, u2065, ufff0, ue0000, e0080);
# but the joiners, a flag's tags and the Mongolian free variation selectors, where they shape a glyph (below)
IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")
MONGOLIAN_FVS = frozenset("\u180b\u180c\u180d\u180f")  # after a Mongolian letter they choose its glyph (review)
JOINERS, TAGS = "\u200c\u200d", ("\U000e0020", "\U000e007f")
# The subdivision flags a tag sequence draws (Unicode's recommended ones): another sequence shows the black flag alone
# (round 47, flagxx, flagnocancel, flagfar: any tag in a name holding U+1F3F4 was kept as printing)
FLAGS = regex.compile("\U0001f3f4(?:" + "|".join("".join(chr(0xE0000 + ord(c)) for c in code)
                                                  for code in ("gbeng", "gbsct", "gbwls")) + ")\U000e007f")
# Where a joiner shapes what it sits between (round 47, dalzwnj ... zwjacc: a joiner beside a letter of any script
# but Latin, Greek or Cyrillic was kept as printing). In a joining script (Arabic, Syriac, N'Ko, Mongolian ...) what
# prints is each letter's form: joined to the letter before it, to the one after, both or neither. A letter joins
# the next one where it joins forwards (Joining_Type D, L) and the next one backwards (D, R, or the join-causing
# ZWJ and tatweel); marks between (Joining_Type T) are looked through, a ZWNJ (Non_Joining) breaks it. So the
# joiners themselves are left out of a name's print key, and each joining letter's form put in (`ب‍ب` prints as `بب`:
# round 48, arzwjmid; `ب‌‍ب` (ZWNJ ZWJ) as neither: a joiner was judged through the other, round 49, ar_zwnjzwj).
# Elsewhere a joiner prints beside a virama (an Indic half form, `क्‍ष`) and a ZWJ between two emoji (one glyph).
JOINS_NEXT = regex.compile(r"[\p{Joining_Type=Dual_Joining}\p{Joining_Type=Left_Joining}\p{Joining_Type=Join_Causing}]")
JOINS_PREVIOUS = regex.compile(r"[\p{Joining_Type=Dual_Joining}\p{Joining_Type=Right_Joining}"
                               r"\p{Joining_Type=Join_Causing}]")
JOINS_AT_ALL = regex.compile(r"[\p{Joining_Type=Dual_Joining}\p{Joining_Type=Right_Joining}"
                             r"\p{Joining_Type=Left_Joining}]")  # the letters that have forms
TRANSPARENT = regex.compile(r"\p{Joining_Type=Transparent}")
EMOJI = regex.compile(r"\p{Extended_Pictographic}")
_THROUGH = regex.compile(r"[\p{Joining_Type=Transparent}\p{Emoji_Modifier}\ufe0f\u200c\u200d]")
FORM_MARKS = "\U000f0000\U000f0001\U000f0002\U000f0003"  # a joining letter's form in a print key (never printed)


def print_alike(names: list[str]) -> list[str] | None:
    """The first group of ``names`` that print alike (Unicode form, spacing, invisible or look-alike letters; not case
    or accents: `NEG`, `neg` print apart), else None: a model's class names (round 44, gnfd, gcyr, gnbsp; review)."""
    return first_twins(names, (print_key, lambda name: print_key(as_latin(name))))


def print_key(name: str) -> str:
    """A name as it prints: unprinted characters left out, each joining letter's form put in, spacing set aside, NFC
    (not NFKC: 'x²' and 'x2', 'Ⅳ' and 'IV' print apart: review)."""
    name = str(name)
    forms = _joining_forms(name)
    kept = "".join(("" if unprinted(name, i) else c) + forms.get(i, "") for i, c in enumerate(name))
    return " ".join(unicodedata.normalize("NFC", kept).split())


def _joining_forms(name: str) -> dict[int, str]:
    """Each joining letter's form (FORM_MARKS: joined to neither side, the next, the previous, both), keyed by the
    last place of the letter and its marks (after them: a mark put after a form mark would not compose in NFC)."""
    forms = {}
    for i, c in enumerate(name):
        if JOINS_AT_ALL.match(c) is None:
            continue
        before, after = _beside(name, i, -1), _beside(name, i, 1)
        joins_before = JOINS_PREVIOUS.match(c) is not None and before is not None and JOINS_NEXT.match(before)
        joins_after = JOINS_NEXT.match(c) is not None and after is not None and JOINS_PREVIOUS.match(after)
        end = i
        while end + 1 < len(name) and TRANSPARENT.match(name[end + 1]):
            end += 1
        forms[end] = forms.get(end, "") + FORM_MARKS[2 * bool(joins_before) + bool(joins_after)]
    return forms


def _beside(name: str, i: int, step: int) -> str | None:
    """The first character from ``name[i]`` in direction ``step`` that is no mark (Joining_Type T); None if none."""
    j = i + step
    while 0 <= j < len(name) and TRANSPARENT.match(name[j]):
        j += step
    return name[j] if 0 <= j < len(name) else None


def unprinted(name: str, i: int) -> bool:
    """Whether ``name[i]`` prints as nothing there: what the tokenizers drop, a blank letter, the combining grapheme
    joiner; a joiner beside Latin, Greek or Cyrillic letters, digits or nothing (it shapes Arabic, Indic and emoji
    sequences: review), a tag character outside a flag's tag sequence (round 45, tag, zwnj, zwj, cgj)."""
    c = name[i]
    if c in JOINERS:
        return not _joins(name, i)
    if c in MONGOLIAN_FVS:  # after a Mongolian letter only (not another selector, a digit: review of round 46's fixes)
        return i == 0 or not (unicodedata.name(name[i - 1], "").startswith("MONGOLIAN LETTER"))
    if TAGS[0] <= c <= TAGS[1]:
        return not any(m.start() < i < m.end() for m in FLAGS.finditer(name))
    return unread(c) or c in BLANK_LETTERS or c == "\u034f" or IGNORABLE.match(c) is not None


def _joins(name: str, i: int) -> bool:
    """Whether the joiner ``name[i]`` prints where no letter's form shows it (print_key puts the forms in): beside a
    virama, or a ZWJ between two emoji."""
    if any(unicodedata.combining(name[j]) == 9 for j in (i - 1, i + 1) if 0 <= j < len(name)):  # a virama beside it
        return True
    before, after = _neighbour(name, i, -1), _neighbour(name, i, 1)
    return (name[i] == "\u200d" and before is not None and after is not None and EMOJI.match(before) is not None
            and EMOJI.match(after) is not None)


def _neighbour(name: str, i: int, step: int) -> str | None:
    """The first character from ``name[i]`` in direction ``step`` that is no mark, modifier or joiner; None if none."""
    j = i + step
    while 0 <= j < len(name) and _THROUGH.match(name[j]):
        j += step
    return name[j] if 0 <= j < len(name) else None


def printed_names_problem(names: list[str]) -> str | None:
    """Why class names cannot name a model's outputs, in words after "names" (a model's id2label, task.label_names),
    or None: a line break in one (sdp-predict writes one label a line), one that shows nothing, two that print alike."""
    if broken := [n for n in names if any(c in LINE_BREAKS for c in n)]:  # 4 lines for 3 inputs (round 44, gnl, gls)
        return (f"the class {broken[0]!r} with a line break in it: sdp-predict writes one label a line, and this one "
                "would take two")
    # `pos\b\b\bneg` showed `neg` beside `neg` in a terminal, as a colour escape did (round 47, bs, ansi, lab_bs)
    if control := [n for n in names if any(unicodedata.category(c) == "Cc" and c != "\t" for c in n)]:
        return (f"the class {ascii(control[0])} with a control character in it: sdp-predict writes it as it is, and a "
                "terminal acts on it (a backspace, a colour escape); remove it")
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
        selectors = len({"".join(c for c in t if c not in VARIATION_SELECTORS) for t in twins}) == 1
        # `❤` and `❤️` differ in their emoji style, which a terminal may draw alike or not (review of round 47's fixes)
        return "a variation selector (text or emoji style)" if selectors else "invisible characters"
    return "spacing" if len({"".join(t.split()) for t in twins}) == 1 else "Unicode form (NFC/NFD)"


def shows_nothing(name: str) -> bool:
    """Whether a name prints as nothing: spaces, unprinted characters, format characters (but the signs that print:
    READ_FORMAT's Arabic number signs) and combining marks alone (a lone U+0301)."""
    return all(c.isspace() or unprinted(name, i) or unicodedata.category(c) in ("Mn", "Me")
               or (unicodedata.category(c) == "Cf" and (c not in READ_FORMAT or c in JOINERS or TAGS[0] <= c <= TAGS[1]))
               for i, c in enumerate(name))
