"""Which tokenizer a saved model was trained with, by what it does.

A model's token ids mean the words of the tokenizer it was trained with. Another tokenizer with ids in range (a
vocabulary of the same size in another order, lower-casing turned off in place) runs without a word and scores
otherwise. sdp-run records :func:`tokenizer_digest` in every folder it saves (config.json ``sdp_tokenizer_digest``),
and every load compares it with the tokenizer it is handed (``check_vocab`` in sdp/models/presets.py).

The digest is of behaviour, not of files: the vocabulary (token -> id) and the ids of a fixed set of probe texts,
special tokens included. It does not change when the same tokenizer is saved elsewhere (its files' paths) or
serialized by another ``tokenizers`` version, and does change with the vocabulary, the normalizer (case, accents),
the pre-tokenizer, the special tokens and the truncation side.

A digest names its version (``v2-...``): what it covers grew once (v1, written unprefixed, left out the truncation
side), and a record is compared with the given tokenizer's digest of the record's own version, so a folder saved
before a change is still checked and not refused as "another tokenizer".
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer

CONFIG_KEY = "sdp_tokenizer_digest"
VERSION = 2
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "spiece.model", "vocab.json")

# Texts that tell normalizers apart: case, accents, digits, punctuation, whitespace runs, non-Latin scripts, and a
# text pair (the separator and the pair's special tokens).
PROBES: tuple[tuple[str, str | None], ...] = (
    ("The Quick brown FOX, didn't jump: 1,234.5 times!", None),
    ("Café naïve Zürich straße ÉCOLE  résumé", "Москва Αθήνα 東京 서울 القاهرة मुंबई"),
    ("hello world", "Hello World"),
)


def tokenizer_digest(tokenizer: Any, version: int = VERSION) -> str:
    if version not in (1, 2):
        raise ValueError(f"tokenizer digest version {version} is not known (1 or 2)")
    h = hashlib.sha256()
    h.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    for text, pair in PROBES:
        h.update(json.dumps(tokenizer(text, pair)["input_ids"]).encode())
    h.update(json.dumps([tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.mask_token_id]).encode())
    # Which end a long text loses: the probes are too short to show it (padding is always on the right: the collator)
    if version >= 2:
        h.update(str(getattr(tokenizer, "truncation_side", "right")).encode())
        return f"v{version}-{h.hexdigest()[:16]}"
    return h.hexdigest()[:16]


def digest_version(digest: str) -> int | None:
    """The version a recorded digest was made with: ``vN-`` names it; a bare 16-hex digest is v1; anything else
    (a version this sdp does not know, a hand-edited value) None."""
    head, sep, _ = digest.partition("-")
    if not sep:
        return 1 if len(digest) == 16 and all(c in "0123456789abcdef" for c in digest) else None
    version = int(head[1:]) if head[:1] == "v" and head[1:].isdigit() else None
    # v1 is written bare, never "v1-": such a record was compared with the bare v1 digest and refused as "another
    # tokenizer" for the folder's own one (probe round 22, m05); it is a record this sdp cannot read
    return version if version in (2,) else None


def recorded_digest(model: Any, folder: Any = None, given: Any = None) -> str | None:
    """The digest of the tokenizer ``model`` was trained with: the one its config.json records, else that of the
    tokenizer files in its local ``folder`` (a folder sdp did not write), unless ``given`` (the tokenizer in use)
    was loaded from that very folder; None when nothing tells."""
    recorded = getattr(model.config, CONFIG_KEY, None)
    if isinstance(recorded, str) or folder is None:
        return recorded if isinstance(recorded, str) else None
    path = Path(str(folder))
    same = given is not None and Path(str(getattr(given, "name_or_path", ""))).resolve() == path.resolve()
    if same or not path.is_dir() or not any((path / f).is_file() for f in TOKENIZER_FILES):
        return None
    return tokenizer_digest(AutoTokenizer.from_pretrained(str(path), trust_remote_code=False))
