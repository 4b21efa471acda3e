"""Measurements (sdp/training/trace.py): recovery tracking, class separability, weight statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdp.training.trace import RecoveryTracker, class_separability, probe_loss, weight_stats


def test_recovery_counts_updates_until_smoothed_loss_is_back():
    written = []
    tr = RecoveryTracker(written.append, smoothing=0.5)
    for loss in (1.0, 1.0):
        tr.observe(loss)
    tr.start({"event": "prune", "step": 2, "sparsity": 0.5, "loss_before": 0.9, "loss_after": 1.4})
    # ema: 1.0 -> 1.5 (=.5+.5*2) -> 1.25 (loss 1.0) -> 0.875 (loss 0.5): back at <= 1.0 after 3 updates
    for loss in (2.0, 1.0):
        tr.observe(loss)
        assert written == []
    tr.observe(0.5)
    assert written == [{"event": "prune", "step": 2, "sparsity": 0.5, "loss_before": 0.9, "loss_after": 1.4,
                        "train_loss_ref": 1.0, "recovery_steps": 3}]
    # an event that never recovers is written at stage end with null
    tr.start({"event": "prune", "step": 5, "sparsity": 0.7, "loss_before": 1.0, "loss_after": 3.0})
    tr.observe(5.0)
    tr.close()
    assert written[-1]["recovery_steps"] is None and written[-1]["train_loss_ref"] == 0.875
    summary = tr.summary()
    assert summary["pruning_steps"] == 2 and summary["unrecovered"] == 1
    assert summary["mean_recovery_steps"] == 3 and summary["mean_loss_jump"] == pytest.approx((0.5 + 2.0) / 2)


def test_recovery_without_history_is_null():
    written = []
    tr = RecoveryTracker(written.append)
    tr.start({"event": "prune", "step": 0, "sparsity": 0.9, "loss_before": 1.0, "loss_after": 2.0})
    tr.observe(0.1)
    tr.close()
    assert written[0]["recovery_steps"] is None and written[0]["train_loss_ref"] is None


def _fisher_reference(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    mu = x.mean(0)
    sb = np.zeros((x.shape[1], x.shape[1]))
    sw = np.zeros_like(sb)
    for c in np.unique(y):
        xc = x[y == c]
        mc = xc.mean(0)
        sb += len(xc) * np.outer(mc - mu, mc - mu)
        sw += (xc - mc).T @ (xc - mc)
    snr = np.mean(np.diag(sb) / np.diag(sw))
    return np.trace(sb) / np.trace(sw), snr


def test_class_separability_matches_scatter_matrices():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    x = rng.normal(size=(60, 5)) + y[:, None] * np.array([1.0, 0.0, 2.0, 0.5, 0.0])
    got = class_separability(torch.tensor(x, dtype=torch.float32), torch.tensor(y))
    fisher, snr = _fisher_reference(x.astype(np.float32).astype(np.float64), y)
    assert got["fisher_ratio"] == pytest.approx(fisher, rel=1e-6)
    assert got["snr"] == pytest.approx(snr, rel=1e-6)
    assert got["classes"] == 3 and got["examples"] == 60


def test_class_separability_hand_value_and_degenerate_cases():
    # two classes at -1 and +1 with within-class spread +-0.5 on one dimension:
    # between = 4 * 1^2 * 2 = 8 ; within = 8 * 0.25 = 2 -> ratio 4
    x = torch.tensor([[-1.5], [-0.5], [-1.5], [-0.5], [0.5], [1.5], [0.5], [1.5]])
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    got = class_separability(x, y)
    assert got["fisher_ratio"] == pytest.approx(4.0) and got["snr"] == pytest.approx(4.0)
    assert class_separability(x, torch.zeros(8, dtype=torch.long)) is None  # one class
    assert class_separability(torch.ones(4, 2), torch.tensor([0, 0, 1, 1])) is None  # no spread


def test_weight_stats_of_surviving_weights():
    w = {"a": torch.tensor([[0.0, -1.0], [2.0, 0.0]]), "b": torch.tensor([[3.0, -4.0]])}
    got = weight_stats(w, quantiles=(0.5,))
    surv = np.array([-1.0, 2.0, 3.0, -4.0])
    assert got["total"] == 6 and got["surviving"] == 4 and got["density"] == pytest.approx(4 / 6)
    assert got["mean_abs"] == pytest.approx(2.5) and got["max_abs"] == 4.0
    assert got["std"] == pytest.approx(surv.std())
    assert got["abs_quantiles"] == {"q50": pytest.approx(2.5)}
    assert weight_stats({"z": torch.zeros(2, 2)})["surviving"] == 0


def test_probe_loss_is_deterministic_and_restores_train_mode():
    torch.manual_seed(0)

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)
            self.drop = torch.nn.Dropout(0.5)

        def forward(self, input_ids):
            from types import SimpleNamespace

            return SimpleNamespace(logits=self.lin(self.drop(input_ids)))

    model = Tiny().train()
    batch = {"input_ids": torch.randn(8, 3), "labels": torch.randint(0, 2, (8,)), "idx": torch.arange(8)}
    loss_fn = torch.nn.functional.cross_entropy
    a, b = probe_loss(model, batch, loss_fn), probe_loss(model, batch, loss_fn)
    assert a == b and model.training
    with torch.no_grad():
        want = float(loss_fn(model.lin(batch["input_ids"]), batch["labels"]))
    assert a == pytest.approx(want)


def test_tracker_state_round_trips_through_json():
    import json

    a = RecoveryTracker(smoothing=0.5)
    a.observe(1.0)
    a.start({"event": "prune", "step": 1, "sparsity": 0.3, "loss_before": 1.0, "loss_after": 1.2})
    a.observe(3.0)
    b = RecoveryTracker(smoothing=0.5)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    for t in (a, b):
        t.observe(0.0)
        t.observe(0.0)
    assert a.records == b.records and a.records[0]["recovery_steps"] == 2  # ema 1 -> 2 -> 1
