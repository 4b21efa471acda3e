"""Class names as a model's outputs are named by them (config.json id2label, task.label_names): sdp-predict prints
one a line, so none may hold a line break or show nothing, and no two may print alike (probe round 44; checked by
sdp/class_names.py and sdp/data/custom.py). The data reader's rule for one label written two ways is
sdp/data/file_scan.py's label_problem; letter case and accents print apart here."""

from __future__ import annotations

import unicodedata

from sdp.data.file_scan import LINE_BREAKS, print_alike, print_key, unprinted


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
        return "look-alike letters of another script"
    if len({"".join(c for c in t if not unprinted(c)) for t in twins}) < len(set(twins)):
        return "invisible characters"
    return "spacing" if len({"".join(t.split()) for t in twins}) == 1 else "Unicode form (NFC/NFD)"


def shows_nothing(name: str) -> bool:
    """Whether a name prints as nothing: spaces, unprinted characters and combining marks alone (a lone U+0301)."""
    return all(c.isspace() or unprinted(c) or unicodedata.category(c) in ("Mn", "Me") for c in name)
