"""scripts/bench/prune.py: its workers run in fresh interpreters, so every setting the parent measures at must
reach them. One real worker, at a sparsity other than the default, on one BERT-base layer's linears."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: scripts.bench

from scripts.bench import prune  # noqa: E402


def test_a_worker_prunes_at_the_sparsity_it_was_given():
    args = argparse.Namespace(prune_layers=1, sparsity=0.3)
    assert "--sparsity" in prune.worker_command("sdp_masks_only", args, None)
    res = prune.run_worker("sdp_masks_only", args, None)
    assert res["expected_pruned"] == round(0.3 * res["weights"])
    # Exact count, as the bench's `exact_count` asks; at the default 0.9 this would be three times as many.
    assert res["pruned"] == res["expected_pruned"]
