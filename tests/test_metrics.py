"""compute_metrics / glue_score against sklearn and scipy on fixed inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from sdp.data.tasks import get_task
from sdp.metrics import DegenerateMetricWarning, compute_metrics, glue_score

RNG = np.random.default_rng(123)
LOGITS2 = RNG.normal(size=(40, 2))
REFS2 = RNG.integers(0, 2, size=40)
PRED2 = LOGITS2.argmax(1)


def _plain(d):
    assert all(type(v) is float for v in d.values())


def test_cola_mcc():
    out = compute_metrics(get_task("cola"), {"validation": (LOGITS2, REFS2)})
    assert set(out) == {"mcc", "main"}
    assert out["mcc"] == pytest.approx(matthews_corrcoef(REFS2, PRED2))
    assert out["main"] == out["mcc"]
    _plain(out)


@pytest.mark.parametrize("name", ["sst2", "qnli", "rte", "wnli"])
def test_accuracy_tasks(name):
    out = compute_metrics(get_task(name), {"validation": (LOGITS2, REFS2)})
    assert out == {
        "accuracy": pytest.approx(accuracy_score(REFS2, PRED2)),
        "main": pytest.approx(accuracy_score(REFS2, PRED2)),
    }
    _plain(out)


@pytest.mark.parametrize("name", ["mrpc", "qqp"])
def test_f1_accuracy_tasks(name):
    out = compute_metrics(get_task(name), {"validation": (LOGITS2, REFS2)})
    f1 = f1_score(REFS2, PRED2)
    acc = accuracy_score(REFS2, PRED2)
    assert set(out) == {"f1", "accuracy", "main"}
    assert out["f1"] == pytest.approx(f1)
    assert out["accuracy"] == pytest.approx(acc)
    assert out["main"] == pytest.approx((f1 + acc) / 2)
    _plain(out)


@pytest.mark.parametrize("shape", ["flat", "column"])
def test_stsb_correlations(shape):
    refs = RNG.uniform(0, 5, size=50)
    preds = refs + RNG.normal(scale=1.0, size=50)
    p = preds if shape == "flat" else preds[:, None]
    out = compute_metrics(get_task("stsb"), {"validation": (p, refs)})
    pear = pearsonr(preds, refs)[0]
    spear = spearmanr(preds, refs)[0]
    assert out["pearson"] == pytest.approx(pear)
    assert out["spearman"] == pytest.approx(spear)
    assert out["main"] == pytest.approx((pear + spear) / 2)
    _plain(out)


def test_mnli_two_splits_and_main():
    lm = RNG.normal(size=(30, 3))
    rm = RNG.integers(0, 3, size=30)
    lmm = RNG.normal(size=(20, 3))
    rmm = RNG.integers(0, 3, size=20)
    out = compute_metrics(
        get_task("mnli"), {"validation_matched": (lm, rm), "validation_mismatched": (lmm, rmm)}
    )
    acc_m = accuracy_score(rm, lm.argmax(1))
    acc_mm = accuracy_score(rmm, lmm.argmax(1))
    assert set(out) == {"accuracy_m", "accuracy_mm", "main"}
    assert out["accuracy_m"] == pytest.approx(acc_m)
    assert out["accuracy_mm"] == pytest.approx(acc_mm)
    assert acc_m != acc_mm
    assert out["main"] == pytest.approx((acc_m + acc_mm) / 2)
    _plain(out)


def test_mnli_missing_split_is_an_error():
    with pytest.raises(ValueError, match="validation_mismatched"):
        compute_metrics(get_task("mnli"), {"validation_matched": (np.zeros((2, 3)), np.zeros(2))})


def test_class_id_predictions_accepted():
    out = compute_metrics(get_task("rte"), {"validation": (PRED2, REFS2)})
    assert out["accuracy"] == pytest.approx(accuracy_score(REFS2, PRED2))


def test_shape_errors():
    with pytest.raises(ValueError, match="3 columns"):
        compute_metrics(get_task("rte"), {"validation": (np.zeros((4, 3)), np.zeros(4))})
    with pytest.raises(ValueError, match="4 predictions but 5 references"):
        compute_metrics(get_task("rte"), {"validation": (np.zeros((4, 2)), np.zeros(5))})


def test_constant_predictions_give_zero_with_warning():
    refs = np.array([0.0, 1.0, 2.0, 3.0])
    with pytest.warns(DegenerateMetricWarning) as record:
        out = compute_metrics(get_task("stsb"), {"validation": (np.full(4, 2.5), refs)})
    messages = " ".join(str(w.message) for w in record)
    assert "pearson" in messages and "spearman" in messages
    assert out["pearson"] == 0.0 and out["spearman"] == 0.0 and out["main"] == 0.0
    assert not any(math.isnan(v) for v in out.values())
    with pytest.warns(DegenerateMetricWarning, match="mcc"):
        out = compute_metrics(
            get_task("cola"), {"validation": (np.ones(4, dtype=int), np.array([0, 1, 0, 1]))}
        )
    assert out["mcc"] == 0.0


def test_no_warning_on_regular_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute_metrics(get_task("cola"), {"validation": (LOGITS2, REFS2)})


def test_glue_score():
    assert glue_score({"rte": 0.6, "mrpc": 0.8, "cola": 0.4}) == pytest.approx(0.6)
    assert type(glue_score({"rte": np.float32(0.5)})) is float
    with pytest.raises(ValueError):
        glue_score({})
