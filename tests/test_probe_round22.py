"""What probe round 22 found (issue 26; docs/probe_round22.md): a tuning model (task.validation_from_train) scored
by sdp-eval, or taken as a tuning run's dense.checkpoint, on a training file holding its rows in another order (the
"held-out" rows were 10 of 16 trained on), sdp-eval carving the dev file in place of the training file, a carve whose
held-out rows repeat training rows unsaid, and a "v1-" tokenizer digest refused as another tokenizer. Each test
fails on the commit the probe ran (acb92cb) and passes after its fix. Tiny models, offline."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]
CONF = str(REPO / "conf")
WORDS = {"pos": "a lovely warm bright film", "neg": "a dull cold grim mess"}
TASK = ["task=custom", "task.text_fields=[body]", "task.label_column=verdict"]
CARVE = ["task.validation_from_train=0.25", "max_train_samples=64"]  # the smoke run's max_train_samples


def _compose(overrides: list[str]):
    import sdp.config  # noqa: F401  (the structured schema)

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(["review_id\tbody\tverdict", *rows]) + "\n")
    return path


def _reviews(n: int) -> list[str]:
    labels = ("pos", "neg")
    return [f"{i}\t{WORDS[labels[i % 2]]} number {i}\t{labels[i % 2]}" for i in range(n)]


def test_a_carve_whose_held_out_rows_repeat_training_rows_is_said(tmp_path, caplog):
    """d12: a training file holding each row twice, carved by task.validation_from_train=0.25: 10 of the 16
    held-out rows had their twin among the training rows, scored as held-out with no word (a dev file's repeats are
    said: `... rows repeat a row of task.train_file`)."""
    from sdp.crosslingual import resolve_task
    from sdp.data.loading import load_splits

    rows = _reviews(40)
    train = _write(tmp_path / "dup.tsv", rows + rows)
    cfg = _compose([*TASK, f"task.train_file={train}", "task.validation_from_train=0.25"])
    with caplog.at_level("WARNING", logger="sdp"):
        loaded = load_splits(resolve_task(cfg.task), None, validation_from_train=0.25)
    held, kept = loaded.datasets["validation_from_train"], loaded.datasets["train"]
    repeats = sum(text in set(kept["body"]) for text in held["body"])
    assert repeats > 0
    assert f"{repeats} of {len(held)} held-out rows repeat a row left for training" in caplog.text


def test_a_v1_digest_written_with_a_prefix_is_not_called_another_tokenizer():
    """m05: config.json `sdp_tokenizer_digest: "v1-03dcb994aa927706"` (the folder's own tokenizer's v1 digest, with
    a prefix no sdp writes) was refused as `trained with another tokenizer than the one given (tokenizer digest
    v1-03dcb994aa927706 ...; 03dcb994aa927706 given)`: it is a record this sdp cannot read, and said so."""
    from sdp.models.tokenizer_digest import digest_version

    assert digest_version("03dcb994aa927706") == 1
    assert digest_version("v2-75855abd27a1ba59") == 2
    assert digest_version("v1-03dcb994aa927706") is None
    assert digest_version("v3-03dcb994aa927706") is None
