"""Issue 10: CC pooled over the accumulation window (GradCache) gives the one-batch gradient."""

from __future__ import annotations

import copy

import pytest
import torch
from accelerate import Accelerator
from transformers import BertConfig, BertForSequenceClassification

from sdp.objectives.distill_terms.cross_correlation import CrossCorrelation
from sdp.objectives.representations import model_outputs
from sdp.objectives.task_loss import task_loss
from sdp.training.pooled_window import PooledWindow

ALPHA = 1.0


def _tiny_bert(dropout: float, seed: int) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
                     max_position_embeddings=32, num_labels=2)
    return BertForSequenceClassification(cfg)


class _Teacher:
    """A frozen network's ``cls`` outputs, counting the calls (pass 1 asks once per micro-batch)."""

    def __init__(self) -> None:
        self.model, self.calls = _tiny_bert(0.0, seed=1).eval(), 0

    @torch.no_grad()
    def outputs(self, batch):
        self.calls += 1
        return {"cls": model_outputs(self.model, batch, ("cls",))["cls"]}


def _batch(n=8, length=10):
    torch.manual_seed(3)
    return {"input_ids": torch.randint(5, 100, (n, length)), "attention_mask": torch.ones(n, length, dtype=torch.long),
            "labels": torch.randint(0, 2, (n,)), "idx": torch.arange(n)}


def _halves(batch):
    return [{k: v[:4] for k, v in batch.items()}, {k: v[4:] for k, v in batch.items()}]


def _term():
    return CrossCorrelation(representation="cls", lambda_off=0.02, off_target="teacher", gather=True)


def _loss(model, batch, z_t):
    out = model_outputs(model, batch, ("cls",))
    return task_loss(out["logits"], batch["labels"], False) + ALPHA * _term()(out, {"cls": z_t})


def _pooled_step(model, teacher, halves, acc):
    """The recipe's pass 2 (update, Objective) on the window, after pass 1."""
    pool = PooledWindow(acc, _term(), clean=False)
    ends = [pool.add(h) for h in halves]
    assert ends == [False, True]  # the window ends at its k-th micro-batch
    values = []
    for b, mb in pool.first_pass(model, teacher):
        with mb.step(acc, model):
            out = model_outputs(model, b, ("cls",))
            distill = mb.distill(out)
            values.append(float(distill.detach()))
            acc.backward(task_loss(out["logits"], b["labels"], False) + ALPHA * distill)
        assert acc.sync_gradients == mb.last
    return values


def _grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.fixture()
def acc():
    # accelerate's GradientState is one per process: a loader another test in this worker left at its end
    # (end_of_dataloader) ended the window at its first micro-batch. A fresh state, as a run's own loader gives it.
    from accelerate.state import GradientState

    GradientState._reset_state()
    return Accelerator(gradient_accumulation_steps=2, cpu=True)


def test_pooled_k2_gives_the_one_batch_gradient_and_update(acc):
    batch, teacher = _batch(), _Teacher()
    z_t = teacher.outputs(batch)["cls"]
    reference = _tiny_bert(0.0, seed=0).train()
    pooled, unpooled = copy.deepcopy(reference), copy.deepcopy(reference)

    _loss(reference, batch, z_t).backward()  # k=1, batch B
    values = _pooled_step(pooled, teacher, _halves(batch), acc)  # k=2, B/2, CC pooled
    for h in _halves(batch):  # k=2, B/2, CC per micro-batch: what accumulation gave before
        acc.backward(_loss(unpooled, h, teacher.outputs(h)["cls"]))

    ref, got, old = _grads(reference), _grads(pooled), _grads(unpooled)
    assert ref.keys() == got.keys() and len(ref) > 10
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], rtol=1e-4, atol=1e-6)
    diff = max(float((old[n] - ref[n]).abs().max()) for n in ref)
    assert diff > 1e-3  # without pooling the gradient is not the global batch's
    # The logged D is the pooled CC value, the same on both micro-batches.
    with torch.no_grad():
        full = float(_term()(model_outputs(reference, batch, ("cls",)), {"cls": z_t}))
    assert values == pytest.approx([full, full], rel=1e-5)

    for model in (reference, pooled):
        torch.optim.SGD(model.parameters(), lr=0.5).step()
    for (name, a), b in zip(reference.named_parameters(), pooled.parameters()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=name)


def test_dropout_is_replayed_so_pass_two_differentiates_pass_one(acc):
    """With dropout on, the pooled gradient is that of CC on the concatenation of the very passes whose
    representations it used: pass 2 replays pass 1's dropout masks."""
    batch, teacher = _batch(), _Teacher()
    model = _tiny_bert(0.3, seed=0).train()
    reference = copy.deepcopy(model)
    torch.manual_seed(7)
    start = torch.get_rng_state()
    _pooled_step(model, teacher, _halves(batch), acc)

    torch.set_rng_state(start)  # the same two dropout draws pass 1 made, in one graph
    outs = [model_outputs(reference, h, ("cls",)) for h in _halves(batch)]
    task = sum(task_loss(o["logits"], h["labels"], False) for o, h in zip(outs, _halves(batch))) / 2
    z_t = torch.cat([teacher.outputs(h)["cls"] for h in _halves(batch)])
    (task + ALPHA * _term()({"cls": torch.cat([o["cls"] for o in outs])}, {"cls": z_t})).backward()
    ref, got = _grads(reference), _grads(model)
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], rtol=1e-4, atol=1e-6)

    # Dropout is really on: a fresh draw gives another representation.
    again = model_outputs(reference, _halves(batch)[0], ("cls",))["cls"]
    assert float((again - outs[0]["cls"]).abs().max().detach()) > 1e-3


def test_teacher_is_asked_once_per_micro_batch(acc):
    teacher = _Teacher()
    _pooled_step(_tiny_bert(0.0, seed=0).train(), teacher, _halves(_batch()), acc)
    assert teacher.calls == 2


def test_a_window_cut_short_by_the_loader_keeps_cc_weighted_like_the_task_loss(acc):
    """The loader ended after 1 of k=2 micro-batches: accelerate still divides the task loss by 2, so D's
    surrogate is scaled by the window's 1 micro-batch, not by k (which would double CC's weight there)."""
    pool = PooledWindow(acc, _term(), clean=False)
    pool.pending = [_halves(_batch())[0]]
    [(_, mb)] = pool.first_pass(_tiny_bert(0.0, seed=0).train(), _Teacher())
    assert mb.scale == 1.0 and mb.last


def test_pooled_distill_value_is_the_window_cc_exactly():
    """D's value is L itself, bit for bit, whatever the surrogate's scale: L + s - s.detach() rounded L at |s|
    (0.00155528 logged as 51 * 2**-15 in the 2-process DDP test of issue 25)."""
    from sdp.training.pooled_window import MicroBatch

    value = torch.tensor(0.00155528, dtype=torch.float32)
    z = torch.full((8, 32), 3.0, requires_grad=True)
    grad = torch.full((8, 32), 0.25)  # <z, dL/dz> * m = 384: L is 5 orders of magnitude below it
    micro = MicroBatch(rng=(torch.get_rng_state(), None), teacher_out={}, grad=grad, value=value,
                       representation="cls", scale=2.0, last=True)
    d = micro.distill({"cls": z})
    assert d.item() == value.item()
    d.backward()
    assert torch.equal(z.grad, 2.0 * grad)  # the gradient is still m * dL/dz
