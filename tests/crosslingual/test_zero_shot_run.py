"""End-to-end zero-shot runs of tiny-xlmr on the small XNLI / PAWS-X settings, checked per language
against an independent evaluation of the saved pruned checkpoint."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import sdp.config  # noqa: F401  (registers the structured config schema)
import sdp.recipe
from sdp.data.tasks import get_task
from sdp.data.xglue import zero_shot_partition

CONF = Path(__file__).resolve().parents[2] / "conf"
XNLI_LANGS = "en ar bg de el es fr hi ru sw th tr ur vi zh".split()
PAWSX_LANGS = "en de es fr ja ko zh".split()
MAX_EVAL = 24


def _eval_half(path: Path, labels: dict[str, int], held: frozenset[int]) -> list[tuple[str, str, int] | None]:
    """The eval-side rows of an XTREME dev file, None for an NS row, read here with the csv module."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    out = []
    for i, (a, b, y) in enumerate(rows):
        if i in held:
            out.append(None if "NS" in (a.strip(), b.strip()) else (a, b, labels[y]))
    return out


def _subsample(rows: list, k: int) -> list:
    """The documented subsampling rule: permutation with seed 0 of the rows before the NS rows are dropped, first
    k, the NS rows among them dropped (every language sampled at the same examples)."""
    order = range(len(rows)) if k >= len(rows) else np.random.default_rng(0).permutation(len(rows))[:k]
    return [rows[i] for i in order if rows[i] is not None]


def _accuracy(model, tokenizer, rows) -> float:
    enc = tokenizer([r[0] for r in rows], [r[1] for r in rows], truncation=True, max_length=32,
                    padding=True, return_tensors="pt")
    with torch.no_grad():
        pred = model(**enc).logits.argmax(-1).numpy()
    return float(np.mean(pred == np.array([r[2] for r in rows])))


@pytest.mark.parametrize(
    "task, folder, langs, labels",
    [
        ("xnli_small", "xnli", XNLI_LANGS, {"entailment": 0, "neutral": 1, "contradiction": 2}),
        ("pawsx_small", "paws-x", PAWSX_LANGS, {"0": 0, "1": 1}),
    ],
)
def test_tiny_xlmr_zero_shot_run(task, folder, langs, labels, data_dir, tmp_path):
    overrides = [
        "debug=smoke", "model=tiny-xlmr", f"task={task}", f"data_dir={data_dir}",
        "cache_dir=null", "max_train_samples=64", f"max_eval_samples={MAX_EVAL}",
        "train.batch_size=16", "train.eval_batch_size=64", "dense.epochs=2", "dense.lr=3e-3",
        "prune.epochs=1", "prune.lr=1e-3", "regularizer=none", "prune.teacher_cache=off",
    ]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    result = sdp.recipe.run(cfg, run_dir=tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["final"] == pytest.approx(result["final"])

    final, dense, per = metrics["final"], metrics["dense"], metrics["per_language"]
    assert sorted(per) == sorted(langs)
    assert {f"accuracy/{lang}" for lang in langs} <= set(final)

    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "run" / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "run" / "model")
    _, held = zero_shot_partition(get_task(task), data_dir)
    mine = {}
    for lang in langs:
        rows = _subsample(_eval_half(data_dir / folder / f"dev-{lang}.tsv", labels, held), MAX_EVAL)
        mine[lang] = _accuracy(model, tokenizer, rows)
        assert final[f"accuracy/{lang}"] == pytest.approx(mine[lang], abs=1e-9), lang
        assert per[lang]["final"] == final[f"accuracy/{lang}"]
        assert per[lang]["dense"] == dense[f"accuracy/{lang}"]
        assert per[lang]["drop"] == pytest.approx(dense[f"accuracy/{lang}"] - final[f"accuracy/{lang}"])
    assert final["accuracy"] == pytest.approx(np.mean(list(mine.values())))
    assert final["accuracy_non_en"] == pytest.approx(np.mean([v for k, v in mine.items() if k != "en"]))
    assert final["main"] == final["accuracy"]
    # The log's score lines name every language they hold, not the first one's split (probe round 10, x01).
    log_text = (tmp_path / "run" / "run.log").read_text()
    assert f"pruned {len(langs)} eval splits (validation.en ... " in log_text and "pruned validation.en:" not in log_text
    if task == "pawsx_small":
        dropped = metrics["data"]["dropped_rows"]
        assert dropped["train"] == 0 and dropped["validation.de"] > 0
