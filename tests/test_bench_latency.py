"""scripts/bench/latency.py (issue 28, "Measured speed"): dense against structured shapes at several kept fractions,
batch 1 and 32 at 128 tokens, torch and onnxruntime, as per-round ratios in one process. On a tiny 6-layer BERT
with one round: what is checked is what gets measured and how the ratios are formed, never a time."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: scripts.bench

from scripts.bench import latency  # noqa: E402


def test_the_shapes_cover_the_kept_fractions_and_the_grid_levels():
    shapes = latency.SHAPES.values()
    assert latency.SHAPES["dense"] == (1.0, 1.0, 6) and latency.BATCHES == (1, 32) and latency.SEQ == 128
    assert {ly for *_, ly in shapes} >= {6, 3, 2, 1}  # the grid's levels: 3, 2 and 1 of 6 layers kept
    assert {f for f, *_ in shapes} >= {1.0, 0.5, 0.25, 0.1} and any(h < 1 for _, h, _ in shapes)


def test_every_shape_is_timed_against_dense_in_both_runtimes_at_both_batches(monkeypatch):
    from sdp.pruning.export import missing_export_packages

    if missing_export_packages():
        pytest.skip(f"the export extra is not installed ({missing_export_packages()}): pip install 'sdp[export]'")
    # Three of the shapes (an ONNX export each is most of the cost): dense, 1 layer, and narrower heads and FFN.
    monkeypatch.setattr(latency, "SHAPES", {k: latency.SHAPES[k] for k in ("dense", "layers1", "ffn25_heads50")})
    torch.manual_seed(0)
    base = BertForSequenceClassification(BertConfig(  # MiniLM's 6 layers; vocab above the bench's lowest id
        vocab_size=1100, hidden_size=16, num_hidden_layers=6, num_attention_heads=4, intermediate_size=40)).eval()
    lat = latency.section_latency(argparse.Namespace(threads=1, warmup=1, repeats=2), base=base)
    keys = {f"{rt}_b{bs}" for rt in ("torch", "onnxruntime") for bs in (1, 32)}
    assert lat["seq_len"] == 128 and lat["runtimes"] == ["torch", "onnxruntime"] and lat["missing"] == []
    assert set(lat["speedup"]) == set(lat["seconds"]) == keys
    shapes = lat["shapes"]
    full = shapes["dense"]["encoder_params"]
    assert shapes["layers1"] == {"ffn_kept": 1.0, "heads_kept": 1.0, "layers": 1, "encoder_params": full // 6}
    assert shapes["ffn25_heads50"]["encoder_params"] < full
    for key in keys:
        assert set(lat["speedup"][key]) == set(shapes)
        assert lat["speedup"][key]["dense"]["median"] == 1.0  # each round's dense / dense
        assert all(s["n"] == 2 and s["median"] > 0 for s in lat["speedup"][key].values())
    table = "\n".join(latency.render_latency(lat))
    assert "| layers1 | " in table and "onnxruntime_b32" in table
