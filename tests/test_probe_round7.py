"""What probe round 7 found silently wrong (issue 26; docs/probe_round7.md): each now a one-line error, or a change
that the run's identity sees. Small files and folders only: no training here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _weights(path: Path, matrices: dict[str, np.ndarray]) -> Path:
    from safetensors.numpy import save_file

    path.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in matrices.items()},
              str(path / "model.safetensors"))
    return path


def test_zero_rows_past_the_first_entries_count_as_pruned(tmp_path):
    """b_rows/b_tail: a hidden-384 model whose removed heads and neurons were zeroed as rows past each matrix's first
    65,536 entries (29% of its encoder weights; or 50%, all in the second half of every matrix) read as 0.0% zeros
    and ran as a dense.checkpoint: a pruned model's score reported as the dense one."""
    from sdp.models.inspect import SAMPLE, encoder_zero_fraction

    rng = np.random.default_rng(0)
    query = rng.normal(size=(512, 512))  # 262,144 entries: more than SAMPLE
    query[256:] = 0.0  # rows: what zeroing whole heads or FFN neurons leaves
    ffn_out = rng.normal(size=(512, 1024))
    ffn_out[:, 512:] = 0.0  # columns
    small = rng.normal(size=(64, 64))  # smaller than SAMPLE: read whole
    assert query.size > SAMPLE
    folder = _weights(tmp_path / "m", {"bert.encoder.layer.0.attention.self.query.weight": query,
                                       "bert.encoder.layer.0.output.dense.weight": ffn_out,
                                       "bert.encoder.layer.1.attention.output.dense.weight": small,
                                       "bert.embeddings.word_embeddings.weight": np.zeros((100, 512))})
    true_share = (256 * 512 + 512 * 512) / (query.size + ffn_out.size + small.size)
    assert encoder_zero_fraction(folder) == pytest.approx(true_share, abs=0.01)
    dense = _weights(tmp_path / "d", {"bert.encoder.layer.0.attention.self.query.weight": rng.normal(size=(512, 512))})
    assert encoder_zero_fraction(dense) == 0.0
