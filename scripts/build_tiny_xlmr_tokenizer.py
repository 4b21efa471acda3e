"""Build the offline tiny multilingual tokenizer of the ``tiny-xlmr`` model preset.

No XLM-R tokenizer files are available offline, so this trains a small SentencePiece-style Unigram model
(``tokenizers`` library, Metaspace pre-tokenizer, NFKC) on the text of the shared XNLI and PAWS-X files (all
languages), with XLM-R's special tokens and ids (``<s>``=0, ``<pad>``=1, ``</s>``=2, ``<unk>``=3, ``<mask>``
last) and XLM-R's pair template ``<s> A </s></s> B </s>``, and saves it as a transformers tokenizer under
``sdp/assets/tiny-xlmr-tokenizer/`` (referenced by the preset as ``asset:tiny-xlmr-tokenizer``).

    python scripts/build_tiny_xlmr_tokenizer.py [--data-dir ../shared/data] [--vocab-size 8000]

Its scores mean nothing: it exists so tests and smoke runs exercise the XLM-R code path offline.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "sdp" / "assets" / "tiny-xlmr-tokenizer"
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def corpus(data_dir: Path):
    files = sorted((data_dir / "xnli").glob("*.tsv")) + sorted((data_dir / "paws-x").glob("*.tsv"))
    if not files:
        sys.exit(f"no XNLI/PAWS-X files under {data_dir}")
    csv.field_size_limit(1 << 24)
    for path in files:
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.reader(f, delimiter="\t"):
                for cell in row:
                    if cell and cell not in ("NS", "id", "label") and not cell.isdigit():
                        yield cell


def build(data_dir: Path, vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, unk_token="<unk>", max_piece_length=12
    )
    tok.train_from_iterator(corpus(data_dir), trainer=trainer)
    tok.add_special_tokens(["<mask>"])
    ids = {t: tok.token_to_id(t) for t in [*SPECIALS, "<mask>"]}
    assert [ids[t] for t in SPECIALS] == [0, 1, 2, 3], ids
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    return tok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = os.environ.get("SDP_DATA_DIR") or str(REPO.parent / "shared" / "data")
    parser.add_argument("--data-dir", default=default)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()

    from transformers import PreTrainedTokenizerFast

    tok = build(Path(args.data_dir), args.vocab_size)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=512,
    )
    wrapped.model_input_names = ["input_ids", "attention_mask"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wrapped.save_pretrained(str(out))
    # Load it back as XLM-R's (fast) tokenizer class, not the generic backend.
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "XLMRobertaTokenizer"
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"saved {len(wrapped)}-token tokenizer to {out} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
