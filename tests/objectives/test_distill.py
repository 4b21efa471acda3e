"""Distillation terms against reference formulas written out in plain torch (issue 3)."""

from __future__ import annotations

import math

import pytest
import torch

from sdp.objectives.cross_correlation import cross_correlation_loss
from sdp.objectives.distill_terms.cosine import RepresentationCosine
from sdp.objectives.distill_terms.cross_correlation import CrossCorrelation
from sdp.objectives.distill_terms.kd import LogitKD
from sdp.objectives.distill_terms.mse import RepresentationMSE
from sdp.objectives.distill_terms.none import NoDistillation
from sdp.objectives.registry import DISTILL_TERMS

build_distillation = DISTILL_TERMS.build


def _standardise(z: torch.Tensor, eps: float) -> torch.Tensor:
    mean = z.mean(0)
    std = ((z - mean) ** 2).mean(0).sqrt()
    return (z - mean) / (std + eps)


def _cc_loop(z_s: torch.Tensor, z_t: torch.Tensor, lambda_off: float, eps: float = 1e-5) -> float:
    """sum_i (1 - C_ii)^2 + lambda_off * sum_{i != j} C_ij^2, C_ij = sum_b a_bi c_bj / B, by explicit loops."""
    a, c = _standardise(z_s.double(), eps), _standardise(z_t.double(), eps)
    b, d = a.shape
    total = 0.0
    for i in range(d):
        for j in range(d):
            cij = sum(float(a[k, i] * c[k, j]) for k in range(b)) / b
            total += (1.0 - cij) ** 2 if i == j else lambda_off * cij**2
    return total


def test_kd_equals_manual_kl_times_t_squared():
    torch.manual_seed(0)
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    temp = 2.0
    p_t = torch.softmax(t / temp, -1)
    log_p_s = torch.log_softmax(s / temp, -1)
    manual = (p_t * (p_t.log() - log_p_s)).sum(-1).mean() * temp**2
    got = LogitKD(temperature=temp)({"logits": s}, {"logits": t})
    torch.testing.assert_close(got, manual, atol=1e-6, rtol=1e-6)
    assert float(LogitKD(2.0)({"logits": t}, {"logits": t})) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="temperature"):
        LogitKD(temperature=0.0)


def test_kd_hand_value_two_classes():
    # teacher p = (0.5, 0.5), student logits (log 3, 0) -> q = (0.75, 0.25) at T = 1
    s, t = torch.tensor([[math.log(3.0), 0.0]]), torch.zeros(1, 2)
    want = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert float(LogitKD(1.0)({"logits": s}, {"logits": t})) == pytest.approx(want, rel=1e-6)


def test_kd_regression_is_mse_on_the_score():
    s, t = torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [1.0]])
    assert float(LogitKD(2.0)({"logits": s}, {"logits": t})) == pytest.approx((1 + 4) / 2)


def test_mse_and_cosine_on_representations():
    torch.manual_seed(1)
    a, b = torch.randn(5, 7), torch.randn(5, 7)
    mse = RepresentationMSE("cls")({"cls": a}, {"cls": b})
    assert float(mse) == pytest.approx(float(((a - b) ** 2).mean()), rel=1e-6)
    cos = RepresentationCosine("mean")({"mean": a}, {"mean": b})
    manual = sum(1 - float(a[i] @ b[i] / (a[i].norm() * b[i].norm())) for i in range(5)) / 5
    assert float(cos) == pytest.approx(manual, rel=1e-5)
    # hand values: orthogonal unit vectors -> 1, identical -> 0
    x, y = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    assert float(RepresentationCosine()({"cls": x}, {"cls": y})) == pytest.approx(1.0)
    assert float(RepresentationCosine()({"cls": x}, {"cls": x})) == pytest.approx(0.0, abs=1e-7)
    assert float(RepresentationMSE()({"cls": x}, {"cls": y})) == pytest.approx((1 + 4) / 2)


@pytest.mark.parametrize("lambda_off", [0.0, 0.0051, 0.5])
def test_cross_correlation_matches_double_loop(lambda_off):
    torch.manual_seed(2)
    z_s, z_t = torch.randn(6, 4), torch.randn(6, 4)
    raw = cross_correlation_loss(z_s, z_t, lambda_off=lambda_off, normalize=False, off_target="zero")
    assert float(raw) == pytest.approx(_cc_loop(z_s, z_t, lambda_off), rel=1e-5, abs=1e-6)
    normalised = cross_correlation_loss(z_s, z_t, lambda_off=lambda_off, normalize=True, off_target="zero")
    assert float(normalised) == pytest.approx(float(raw) / 4, rel=1e-6)


def test_cross_correlation_zero_for_identical_inputs_without_off_diagonal():
    torch.manual_seed(3)
    z = torch.randn(16, 8) * 3 + 1
    assert float(cross_correlation_loss(z, z.clone(), lambda_off=0.0, normalize=False)) < 1e-6
    # also invariant to a per-dimension affine change of one side (standardisation)
    assert float(cross_correlation_loss(z, 2 * z + 5, lambda_off=0.0, normalize=False)) < 1e-6
    # Barlow Twins' zero target: positive once off-diagonal terms count (C of a batch has off-diagonal mass)...
    assert float(cross_correlation_loss(z, z, lambda_off=1.0, normalize=False, off_target="zero")) > 0
    # ...while the default teacher target makes student = teacher an exact minimum
    assert float(cross_correlation_loss(z, z, lambda_off=1.0, normalize=False)) < 1e-6


def test_cross_correlation_gradient_reaches_student_only():
    torch.manual_seed(4)
    z_s = torch.randn(8, 5, requires_grad=True)
    with torch.no_grad():
        z_t = torch.randn(8, 5)
    term = CrossCorrelation("cls", lambda_off=0.0051, normalize=True)
    loss = term({"cls": z_s}, {"cls": z_t})
    loss.backward()
    assert z_s.grad is not None and torch.isfinite(z_s.grad).all() and z_s.grad.abs().sum() > 0
    assert not z_t.requires_grad and z_t.grad is None


def test_cross_correlation_batch_of_one_is_a_clear_error():
    z = torch.randn(1, 4)
    with pytest.raises(ValueError, match="batch of at least 2"):
        cross_correlation_loss(z, z)
    with pytest.raises(ValueError, match="B x d"):
        cross_correlation_loss(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError, match="lambda_off"):
        CrossCorrelation(lambda_off=-1.0)


def test_constant_dimension_gives_no_nan():
    z = torch.randn(4, 3)
    z[:, 1] = 7.0  # zero variance: standardised to 0, not NaN
    loss = cross_correlation_loss(z, z)
    assert torch.isfinite(loss)


@pytest.mark.parametrize("cls", [RepresentationMSE, RepresentationCosine, CrossCorrelation])
def test_all_layers_is_mean_over_layers(cls):
    torch.manual_seed(5)
    zs, zt = torch.randn(3, 6, 4), torch.randn(3, 6, 4)  # L x B x d
    term = cls("all_layers")
    single = cls("cls")
    per_layer = [float(single({"cls": zs[i]}, {"cls": zt[i]})) for i in range(3)]
    assert float(term({"all_layers": zs}, {"all_layers": zt})) == pytest.approx(sum(per_layer) / 3, rel=1e-6)


def test_build_distillation_registry_and_needs():
    assert build_distillation("none").needs == ()
    assert float(NoDistillation()({"logits": torch.zeros(2, 2)}, {})) == 0.0
    assert build_distillation("kd", temperature=3.0).temperature == 3.0
    with pytest.raises(ValueError, match=r"regularizer=kd does not take regularizer\.representation.*\['temperature'\]"):
        build_distillation("kd", temperature=3.0, representation="cls")  # once silently dropped
    cc = build_distillation("cross_correlation", representation="mean", lambda_off=0.1, normalize=False)
    assert cc.needs == ("mean",) and cc.lambda_off == 0.1 and cc.normalize is False
    assert cc.off_target == "teacher"  # the Python default agrees with conf/regularizer/cross_correlation.yaml
    assert build_distillation("mse", representation="pooled").needs == ("pooled",)
    with pytest.raises(ValueError, match="unknown regularizer"):
        build_distillation("barlow")
    with pytest.raises(ValueError, match=r"regularizer.representation='cls2' is not one of"):
        build_distillation("cosine", representation="cls2")


@pytest.mark.parametrize("group", ["regularizer", "weight_reg"])
def test_every_term_default_is_declared_once_in_its_options(group):
    """One value per default: the composed node of ``<group>=<name>`` holds exactly the component's options with
    their dataclass defaults (conf/<group>/<name>.yaml includes the node and sets no option itself)."""
    import dataclasses
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401  (registers the schema)
    from sdp.objectives.registry import REGISTRIES

    registry = REGISTRIES[group]
    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        for name in registry:
            entry = registry.entry(name)
            node = compose("config", overrides=[f"{group}={name}"])[group]
            defaults = {f.name: f.default for f in dataclasses.fields(entry.cls.Options)}
            assert dict(node) == {"name": name, registry.weight_key: entry.weight, **defaults}, (group, name)
            text = (conf / group / f"{name}.yaml").read_text()
            assert f"/component/{group}/{name}@_here_" in text
            assert not [line for line in text.splitlines() if line and not line.startswith(("#", " ", "defaults:"))]
