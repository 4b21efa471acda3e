"""Masks: global vs layer-wise thresholds, exact counts under ties, zeros kept through training."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sdp.pruning.masks import (
    MaskState,
    assert_sparsity,
    magnitude_masks,
    select_prunable,
    sparsity_report,
)


def test_global_threshold_prunes_smallest_across_matrices():
    # a holds the 4 smallest magnitudes overall, b the largest: a global 50% cut empties a only.
    weights = {"a": torch.tensor([[0.1, -0.2], [0.3, -0.4]]), "b": torch.tensor([[5.0, -6.0], [7.0, 8.0]])}
    masks = magnitude_masks(weights, 0.5, "global")
    assert masks["a"].sum() == 0
    assert masks["b"].all()


def test_layerwise_threshold_prunes_each_matrix_equally():
    weights = {"a": torch.tensor([[0.1, -0.2], [0.3, -0.4]]), "b": torch.tensor([[5.0, -6.0], [7.0, 8.0]])}
    masks = magnitude_masks(weights, 0.5, "layerwise")
    assert masks["a"].tolist() == [[False, False], [True, True]]
    assert masks["b"].tolist() == [[False, False], [True, True]]


def test_exact_count_when_ties_sit_at_threshold():
    # Ten equal magnitudes: 30% must remove exactly 3, the first three by position.
    w = {"w": torch.full((2, 5), 0.5) * torch.tensor([1, -1, 1, -1, 1, -1, 1, -1, 1, -1]).view(2, 5)}
    keep = magnitude_masks(w, 0.3, "global")["w"].flatten()
    assert int((~keep).sum()) == 3
    assert keep.tolist() == [False] * 3 + [True] * 7


def test_ties_mixed_with_smaller_values():
    w = {"w": torch.tensor([0.5, 0.1, 0.5, 0.5, 0.9, 0.5])}
    keep = magnitude_masks(w, 0.5, "global")["w"]
    # 3 to prune: 0.1 first, then the two earliest 0.5s.
    assert keep.tolist() == [False, False, False, True, True, True]


@pytest.mark.parametrize("sparsity", [0.0, 0.25, 0.9, 0.999])
def test_counts_match_round_of_target(sparsity):
    torch.manual_seed(0)
    weights = {f"m{i}": torch.randn(37, 53) for i in range(3)}
    total = sum(w.numel() for w in weights.values())
    masks = magnitude_masks(weights, sparsity, "global")
    assert sum(int((~m).sum()) for m in masks.values()) == round(sparsity * total)
    lw = magnitude_masks(weights, sparsity, "layerwise")
    for name, m in lw.items():
        assert int((~m).sum()) == round(sparsity * weights[name].numel())


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_sparsity_outside_range_is_rejected(bad):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        magnitude_masks({"w": torch.randn(3, 3)}, bad)


def test_unknown_scope_is_rejected():
    with pytest.raises(ValueError, match="allowed"):
        magnitude_masks({"w": torch.randn(3, 3)}, 0.5, "per-row")


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList([nn.Linear(8, 8), nn.Linear(8, 8)])
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        for layer in self.encoder.layer:
            x = torch.relu(layer(x))
        return self.head(x)


def test_select_prunable_default_and_patterns():
    net = _Net()
    assert sorted(select_prunable(net)) == ["encoder.layer.0.weight", "encoder.layer.1.weight"]
    assert sorted(select_prunable(net, exclude=[r"layer\.1"])) == ["encoder.layer.0.weight"]
    assert "head.weight" in select_prunable(net, include=["head"])
    with pytest.raises(ValueError, match="no prunable weights"):
        select_prunable(net, include=["nothing-matches"])


def test_masked_entries_stay_zero_through_optimizer_steps():
    torch.manual_seed(0)
    net = _Net()
    params = select_prunable(net)
    masks = MaskState(params, "global")
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=0.01)
    x, y = torch.randn(16, 8), torch.randint(0, 2, (16,))
    # Train dense first so AdamW moments are non-zero everywhere, then prune and keep training.
    for step in range(12):
        if step in (3, 6, 9):
            masks.update({3: 0.3, 6: 0.6, 9: 0.8}[step], opt)
            for name, p in params.items():
                state = opt.state[p]
                assert (state["exp_avg"][~masks.masks[name]] == 0).all()
                assert (state["exp_avg_sq"][~masks.masks[name]] == 0).all()
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        masks.mask_grads()
        for name, p in params.items():
            assert (p.grad[~masks.masks[name]] == 0).all()
        opt.step()
        # Masked weights must already be zero after the step, before any re-application.
        for name, p in params.items():
            assert (p[~masks.masks[name]] == 0).all(), f"step {step}: {name} drifted"
        masks.apply()
    total = sum(p.numel() for p in params.values())
    assert sum(int((p == 0).sum()) for p in params.values()) == round(0.8 * total)
    assert_sparsity(params, 0.8, "global")
    report = sparsity_report(net, params)
    assert report["achieved_sparsity"]["prunable"] == pytest.approx(round(0.8 * total) / total)


def test_masks_are_nested_as_sparsity_grows():
    torch.manual_seed(1)
    params = {"w": nn.Parameter(torch.randn(20, 20))}
    masks = MaskState(params)
    masks.update(0.3)
    first = masks.masks["w"].clone()
    masks.update(0.6)
    assert not (masks.masks["w"] & ~first).any(), "a pruned weight came back"


def test_assert_sparsity_detects_a_shortfall():
    params = {"w": torch.ones(10, 10)}
    with pytest.raises(AssertionError):
        assert_sparsity(params, 0.5, "global")
    with pytest.raises(AssertionError):
        assert_sparsity(params, 0.5, "layerwise")


def test_digest_changes_with_masks():
    params = {"w": nn.Parameter(torch.randn(6, 6))}
    masks = MaskState(params)
    before = masks.digest()
    masks.update(0.5)
    assert masks.digest() != before
    assert masks.mask_bytes() == 36  # one byte per prunable weight


def test_update_reports_what_it_removed_before_zeroing():
    """removed / removed_mean_abs / removed_mass are of the weights each update newly masks, as they were."""
    w = torch.tensor([[0.1, -0.2, 0.3, 0.4], [-0.5, 0.6, 0.7, -0.8]])
    masks = MaskState({"a": nn.Parameter(w[0].clone()), "b": nn.Parameter(w[1].clone())})
    total = float(w.abs().sum())  # 3.6
    first = masks.update(0.25)  # drops 0.1, 0.2
    assert first["removed"] == 2
    assert first["removed_mean_abs"] == pytest.approx(0.15) and first["removed_mass"] == pytest.approx(0.3 / total)
    second = masks.update(0.5)  # drops 0.3, 0.4 only: the zeros already masked are not counted again
    assert second["removed"] == 2 and second["removed_mass"] == pytest.approx(0.7 / (total - 0.3))
    assert masks.update(0.5) == {"removed": 0, "removed_mean_abs": 0.0, "removed_mass": 0.0}


def test_removed_mass_is_global_under_layerwise_scope():
    masks = MaskState({"a": nn.Parameter(torch.tensor([0.1, 0.2, 0.3, 0.4])),
                       "b": nn.Parameter(torch.tensor([1.0, 2.0, 3.0, 4.0]))}, scope="layerwise")
    out = masks.update(0.5)  # 0.1, 0.2 from a and 1.0, 2.0 from b
    assert out["removed"] == 4 and out["removed_mass"] == pytest.approx(3.3 / 11.0)
    assert out["removed_mean_abs"] == pytest.approx(3.3 / 4)
