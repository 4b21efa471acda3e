"""Letters that print as a Latin one (a second key for class names, beside text_key's; for labels and column names
only: a tokenizer reads them apart). A label typed on another keyboard layout ('pоs', a Cyrillic о) was a class of its
own, and a dev label or column so typed an unknown one that printed as an allowed one (probe round 34, hg1-hg3); so
were Armenian 'pօs', Cherokee 'Ꭺ', Lisu 'PꓳS' and IPA's 'neɡ' (probe round 46, arm, cher, lisu, scg).

Mapped in the case written: 'µg' and 'mg', or Kazakh 'һан' and 'нан', are other words, and 'Нет'/'нет' still one label
told by case. Names that map alike are look-alikes only where their scripts differ (file_scan._mixed_scripts)."""

from __future__ import annotations

import unicodedata

# Cyrillic and Greek letters, pairs from Unicode's confusables data for these scripts (review of round 34)
CYRILLIC_GREEK = ("АВЕКМНОРСТУХЅІЈԚԜӀҮѴԌаеорсухѕіјһԁԛԝӏүѵѡҽΑΒΕΖΗΙΚΜΝΟΡΤΥΧϹͿϜϒονυραιϲϳ",
                  "ABEKMHOPCTYXSIJQWIYVGaeopcyxsijhdqwlyvweABEZHIKMNOPTYXCJFYovupaicj")
# Every other script's letters that Unicode's confusables data lists as one Latin letter (Armenian, Cherokee, Lisu,
# Coptic, Canadian syllabics, Tifinagh, Old Italic ...): printed by scripts/look_alike_table.py from
# confusable_homoglyphs 3.3.1's confusables.json, less the Cyrillic and Greek letters above
OTHER_SCRIPTS = (
    'ЬᏏᑲᖯⲥꮯ𐐽ᏧᑯꓒքցհᏂꙇꭵᎥ𑣃Ⲓⵏᛁꓲ𖼨𐊊𐌉ոռσⲟჿօഠဝ𐓪𑣈𑣗𐐬ⲣգզᴦⲅгꮁꮪ𑣁𐑈ս'
    '𐓶𑣘𑜆ꮩ𑣀ա𑜊𑜎𑜏ꮃᕁᕽγყ𑣜ꮓ𑣄Ꭺᗅꓮ𖽀𐊠Ᏼᗷꓐ𐊂𐊡𐌁ⲤᏟꓚ𐊢𐌂𐐕𐔜ᎠᗞᗪꓓⴹᎬꓰ𑢦𑢮𐊆ᖴꓝ𑣂'
    '𑢢𐊇𐊥𐔥ᏀᏳꓖⲎᎻᕼꓧ𐋏ᎫᒍꓙⲔᏦᛕꓗ𐔘ⳐᏞᒪꓡ𖼖𑢣𑢲𐐛𐔦ϺⲘᎷᗰᛖꓟ𐊰𐌑Ⲛꓠ𐔓ⲞՕⵔዐଠ𐓂ꓳ𑢵'
    '𐊒𐊫𐐄𐔖ⲢᏢᑭꓑ𐊕ⵕᎡᏒ𐒴ᖇꓣ𖼵ՏᏕᏚꓢ𖼺𐊖𐐠ⲦᎢꓔ𖼊𑢼𐊗𐊱𐌕Սሀ𐓎ᑌꓴ𖽂𑢸ⴸᏙᐯꛟꓦ𖼈𑢠𐔝ᎳᏔ'
    'ꓪⲬⵝᚷꓫ𐊐𐊴𐌗𐔧ⲨᎩᎽꓬ𖽃𑢤𐊲Ꮓꓜ𑢩'
), (
    'bbbbcccdddfghhiiiilllllllnnoooooooooopqqrrrrsssu'
    'uuvvvwwwwwxxyyyzzAAAAABBBBBBCCCCCCCDDDDEEEEEEFFF'
    'FFFFGGGHHHHHJJJKKKKKLLLLLLLLLMMMMMMMMNNNOOOOOOOO'
    'OOOOPPPPPQRRRRRRSSSSSSSTTTTTTTTUUUUUUUVVVVVVVVWW'
    'WXXXXXXXXYYYYYYYZZZ'
)
# Latin's own phonetic letters that print as a plain one: IPA's script g, small capitals IPA has no use for,
# blackletter e and o. Not the letters of an alphabet's own (Turkish ı, the African alphabets' ɑ, ɣ, ʋ, ɩ, ɯ; long s)
# nor IPA's own vowels ɪ and ʏ (`kit`, `kɪt` are two transcriptions: review of round 46's fixes): those are words.
LATIN_PHONETIC = ("ɡᶃᴄᴏᴑꜱᴜᴠᴡᴢꬲꬽꭎꭒꭚꭇ", "ggcoosuvwzeouuyr")
LOOK_ALIKE = str.maketrans("".join(f for f, _ in (CYRILLIC_GREEK, OTHER_SCRIPTS, LATIN_PHONETIC)),
                           "".join(t for _, t in (CYRILLIC_GREEK, OTHER_SCRIPTS, LATIN_PHONETIC)))
_PHONETIC = frozenset(LATIN_PHONETIC[0])


def as_latin(name: str) -> str:
    """A name with its look-alike letters as Latin ones (before NFKD too: it makes Ϲ a Σ); not a letter that carries a
    mark of its own script (Myanmar `ဝိ` is no `o` with an accent, which text_key would drop: review of round 46's
    fixes)."""
    name = str(name)
    return "".join(c if i + 1 < len(name) and _own_mark(name[i + 1]) else
                   unicodedata.normalize("NFKD", c.translate(LOOK_ALIKE)).translate(LOOK_ALIKE)
                   for i, c in enumerate(name))


def _own_mark(c: str) -> bool:
    """A script's own mark (a vowel sign), not one of the combining diacritics any letter takes (U+0300-U+036F)."""
    return unicodedata.category(c) in ("Mn", "Mc") and not "\u0300" <= c <= "\u036f"


def script(c: str) -> str:
    """A letter's script by its Unicode name (LATIN, CYRILLIC, ...); Latin's phonetic look-alikes apart, as a script
    of their own ('neɡ' and 'neg' are one script's two names that print alike)."""
    return "LATIN PHONETIC" if c in _PHONETIC else unicodedata.name(c, "?").split(" ")[0]


def phonetic(names: list[str]) -> bool:
    """Whether any of ``names`` holds one of Latin's phonetic look-alikes (the error's words: same script)."""
    return any(c in _PHONETIC for n in names for c in unicodedata.normalize("NFKD", str(n)))

