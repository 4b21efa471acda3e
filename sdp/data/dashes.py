"""The characters that print as a hyphen-minus ('-'): a number's minus sign is written with them (a word processor's
en dash, U+2212), and a label or plug-in label so written printed as the one with '-' (session 18, Left; probe rounds
36, 49). Taken from Unicode, not picked by hand: a list of ten missed U+02D7 and U+2043 (probe round 50, pl_modminus,
pl_hybullet, lab_mm).

The source is Unicode's Dash=Yes property (``regex``'s ``\\p{Dash}``, in the Unicode of the installed ``regex``), of
no script's own (Script=Common): a script's own hyphen is drawn in its script's style, unlike '-' in most fonts
(U+058A ARMENIAN HYPHEN, left uncounted by probe round 50; U+05BE HEBREW MAQAF, at the top of the line; U+1400
CANADIAN SYLLABICS HYPHEN, a double stroke; U+1806 MONGOLIAN TODO SOFT HYPHEN, drawn for vertical text; U+10EAD
YEZIDI HYPHENATION MARK). Added: the two signs Unicode's confusables data maps to '-' that are not Dash=Yes, U+02D7
MODIFIER LETTER MINUS SIGN and U+2043 HYPHEN BULLET (its other '-' entries are no dash: U+06D4 ARABIC FULL STOP,
U+2796 HEAVY MINUS SIGN, an emoji, U+2CBA a Coptic letter). U+2027 HYPHENATION POINT is a dot, not Dash=Yes.
"""

from __future__ import annotations

import regex

# The Dash=Yes characters of Script=Common that do not print as a hyphen-minus, each with its reason (probe round 50):
NOT_LIKE_A_HYPHEN = {
    "\u2053": "SWUNG DASH: a tilde",
    "\u207b": "SUPERSCRIPT MINUS: raised and small, as x\u00b2 prints apart from x2 (printed_names.print_key; a data "
              "label's text_key reads it as U+2212 by NFKC all the same)",
    "\u208b": "SUBSCRIPT MINUS: lowered and small (as U+207B)",
    "\u2e17": "DOUBLE OBLIQUE HYPHEN: two slanted strokes, like '='",
    "\u2e1a": "HYPHEN WITH DIAERESIS: a hyphen with two dots over it",
    "\u2e3a": "TWO-EM DASH: a rule two em dashes long, for an omitted word; four times a hyphen and more",
    "\u2e3b": "THREE-EM DASH: three em dashes long (as U+2E3A)",
    "\u2e40": "DOUBLE HYPHEN: two strokes, like '='",
    "\u2e5d": "OBLIQUE HYPHEN: a slanted stroke, like '/'",
    "\u301c": "WAVE DASH: a wave, like '~'",
    "\u3030": "WAVY DASH: a wave",
    "\u30a0": "KATAKANA-HIRAGANA DOUBLE HYPHEN: two strokes, like '='",
    "\ufe31": "PRESENTATION FORM FOR VERTICAL EM DASH: a vertical stroke in horizontal text",
    "\ufe32": "PRESENTATION FORM FOR VERTICAL EN DASH: a vertical stroke in horizontal text",
}
CONFUSABLE_MINUS = "\u02d7\u2043"  # Unicode's confusables data: '-' (not Dash=Yes)
HYPHEN_LIKE = regex.compile(r"(?V1)[[[\p{Dash}&&\p{Script=Common}]" + CONFUSABLE_MINUS + "]--["
                            + "".join(NOT_LIKE_A_HYPHEN) + r"\-]]")


def as_hyphens(text: str) -> str:
    """``text`` with every character that prints as a hyphen-minus written '-' (an ASCII text as it is)."""
    return text if text.isascii() else HYPHEN_LIKE.sub("-", text)
