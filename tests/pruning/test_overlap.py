"""Mask overlaps (issue 10): Jaccard of kept weights, and the packed mask files runs compare."""

from __future__ import annotations

import pytest
import torch

from sdp.pruning.overlap import jaccard, load_masks, save_masks


def test_jaccard_of_kept_entries_by_hand():
    a = {"w": torch.tensor([[1, 1, 0, 0]], dtype=torch.bool), "v": torch.tensor([1, 0], dtype=torch.bool)}
    b = {"w": torch.tensor([[1, 0, 1, 0]], dtype=torch.bool), "v": torch.tensor([1, 0], dtype=torch.bool)}
    # kept: a = {w0, w1, v0}, b = {w0, w2, v0}: intersection 2, union 4
    assert jaccard(a, b) == pytest.approx(0.5)
    assert jaccard(a, a) == 1.0


def test_jaccard_refuses_mismatched_masks():
    with pytest.raises(ValueError, match="share no"):
        jaccard({"a": torch.ones(2, dtype=torch.bool)}, {"b": torch.ones(2, dtype=torch.bool)})
    with pytest.raises(ValueError, match="shapes differ"):
        jaccard({"a": torch.ones(2, dtype=torch.bool)}, {"a": torch.ones(3, dtype=torch.bool)})


def test_mask_file_round_trip_with_odd_sizes(tmp_path):
    torch.manual_seed(0)
    masks = {"layer.0.w": torch.rand(7, 5) > 0.5, "layer.1.w": torch.rand(3) > 0.5}
    save_masks(tmp_path / "mask.safetensors", masks)
    back = load_masks(tmp_path)  # a run dir works too
    assert set(back) == set(masks)
    for name, m in masks.items():
        assert torch.equal(back[name], m)
    with pytest.raises(FileNotFoundError, match="mask.safetensors"):
        load_masks(tmp_path / "nowhere")


def test_mask_file_honours_the_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        save_masks(tmp_path / "mask.safetensors", {"w": torch.ones(3, dtype=torch.bool)})
    finally:
        os.umask(old)
    assert (tmp_path / "mask.safetensors").stat().st_mode & 0o777 == 0o644


def test_a_missing_reference_mask_costs_only_that_number(tmp_path):
    from sdp.pruning.overlap import mask_overlap

    masks = {"w": torch.tensor([True, False, True])}
    overlap = mask_overlap(masks, tmp_path, str(tmp_path / "gone"), save=True)
    assert overlap["reference"] is None and overlap["reference_path"] == str(tmp_path / "gone")
    assert torch.equal(load_masks(tmp_path)["w"], masks["w"])  # this run's own mask is still written


@pytest.mark.parametrize("kind", ["foreign", "not_safetensors", "model_weights"])
def test_a_foreign_or_unreadable_reference_mask_costs_only_that_number(tmp_path, kind):
    """Another model's mask (no shared matrix) or a file that is no safetensors: a warning and a null, never a
    failed run at the end of training."""
    from sdp.pruning.overlap import mask_overlap

    ref = tmp_path / "ref.safetensors"
    if kind == "foreign":
        save_masks(ref, {"other.weight": torch.ones(4, dtype=torch.bool)})
    elif kind == "model_weights":  # a run's model/model.safetensors passed by mistake
        from safetensors.torch import save_file

        save_file({"w": torch.zeros(3)}, str(ref))
    else:
        ref.write_bytes(b"this is not a safetensors file")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    overlap = mask_overlap({"w": torch.tensor([True, False, True])}, run_dir, str(ref), save=True)
    assert overlap["reference"] is None
    expected = {"foreign": "share no prunable matrix names", "not_safetensors": "SafetensorError",
                "model_weights": "is not an sdp mask file"}[kind]
    assert expected in overlap["reference_error"]
