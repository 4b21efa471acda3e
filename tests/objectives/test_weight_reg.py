"""AWR weight regularizers against loop formulas (issue 3)."""

from __future__ import annotations

import math

import pytest
import torch

from sdp.objectives.registry import WEIGHT_TERMS
from sdp.objectives.weight_terms.cosine import CosineAlignment
from sdp.objectives.weight_terms.frobenius import FrobeniusAlignment

build_weight_regularizer = WEIGHT_TERMS.build


def _mats(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"a.weight": torch.randn(3, 4, generator=g), "b.weight": torch.randn(5, 2, generator=g)}


def _cos_loop(student, teacher) -> float:
    total = 0.0
    for name, ws in student.items():
        wt = teacher[name]
        rows = []
        for u in range(ws.shape[0]):
            dot = sum(float(ws[u, k] * wt[u, k]) for k in range(ws.shape[1]))
            ns = math.sqrt(sum(float(x) ** 2 for x in ws[u]))
            nt = math.sqrt(sum(float(x) ** 2 for x in wt[u]))
            rows.append(1.0 - dot / (ns * nt))
        total += sum(rows) / len(rows)
    return total


def _fro_loop(student, teacher) -> float:
    total = 0.0
    for name, ws in student.items():
        wt = teacher[name]
        num = sum(float(ws[i, j] - wt[i, j]) ** 2 for i in range(ws.shape[0]) for j in range(ws.shape[1]))
        den = sum(float(wt[i, j]) ** 2 for i in range(wt.shape[0]) for j in range(wt.shape[1]))
        total += num / den
    return total


def test_cosine_matches_loop_and_is_zero_at_teacher():
    s, t = _mats(0), _mats(1)
    assert float(CosineAlignment()(s, t)) == pytest.approx(_cos_loop(s, t), rel=1e-5)
    assert float(CosineAlignment()(t, t)) == pytest.approx(0.0, abs=1e-6)
    # per output unit (rows), not per matrix: scaling one row does not change it
    scaled = {n: w.clone() for n, w in t.items()}
    scaled["a.weight"][0] *= 3.0
    assert float(CosineAlignment()(scaled, t)) == pytest.approx(0.0, abs=1e-6)


def test_frobenius_matches_loop_and_is_zero_at_teacher():
    s, t = _mats(2), _mats(3)
    assert float(FrobeniusAlignment()(s, t)) == pytest.approx(_fro_loop(s, t), rel=1e-5)
    assert float(FrobeniusAlignment()(t, t)) == 0.0


def test_hand_values_for_a_pruned_matrix():
    t = {"w": torch.tensor([[3.0, 4.0], [1.0, 0.0]])}
    s = {"w": torch.tensor([[3.0, 0.0], [1.0, 0.0]])}  # pruned the 4
    # frobenius: 4^2 / (9 + 16 + 1) ; cosine: row0 cos = 9/(3*5) = 0.6, row1 cos = 1 -> mean (0.4 + 0) / 2
    assert float(FrobeniusAlignment()(s, t)) == pytest.approx(16 / 26)
    assert float(CosineAlignment()(s, t)) == pytest.approx(0.2)


def test_gradient_reaches_student_weights_only():
    t = _mats(4)
    s = {n: (w + 0.1).requires_grad_(True) for n, w in t.items()}
    for reg in (CosineAlignment(), FrobeniusAlignment()):
        loss = reg(s, t)
        loss.backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in s.values())
        assert all(not w.requires_grad for w in t.values())
        for p in s.values():
            p.grad = None


def test_registry():
    assert isinstance(build_weight_regularizer("cosine"), CosineAlignment)
    assert isinstance(build_weight_regularizer("frobenius"), FrobeniusAlignment)
    assert float(build_weight_regularizer("none")(_mats(0), _mats(1))) == 0.0
    with pytest.raises(ValueError, match="unknown weight_reg"):
        build_weight_regularizer("l2")
