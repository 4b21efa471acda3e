"""Issue 10: the CC target at student = teacher, the dropout-free D pass, the monitor, and gathered statistics."""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from transformers import BertConfig, BertForSequenceClassification

from sdp.objectives.cross_correlation import cross_correlation_loss, cross_correlation_parts
from sdp.objectives.distill_terms.cross_correlation import CrossCorrelation
from sdp.objectives.monitor import cc_monitor_parts, dropout_disabled
from sdp.objectives.representations import model_outputs


def _rank_deficient(batch=8, dim=32, seed=0):
    """B < d: C has rank < d, the case where Barlow Twins' zero target cannot be met."""
    torch.manual_seed(seed)
    return torch.randn(batch, dim)


def test_teacher_target_is_an_exact_minimum_at_student_equals_teacher():
    z_t = _rank_deficient()
    z_s = z_t.clone().requires_grad_(True)
    loss = cross_correlation_loss(z_s, z_t, lambda_off=1.0, normalize=False, off_target="teacher")
    (grad,) = torch.autograd.grad(loss, z_s)
    assert float(loss.detach()) < 1e-6 and float(grad.norm()) < 1e-5


def test_zero_target_pushes_away_from_the_teacher_when_b_below_d():
    z_t = _rank_deficient()
    z_s = z_t.clone().requires_grad_(True)
    loss = cross_correlation_loss(z_s, z_t, lambda_off=1.0, normalize=False, off_target="zero")
    (grad,) = torch.autograd.grad(loss, z_s)
    # ||C||_F^2 >= (tr C)^2 / rank(C) = d^2 / (B - 1), so the off-diagonal sum is at least d^2/(B-1) - d.
    b, d = z_t.shape
    assert float(loss.detach()) >= d * d / (b - 1) - d - 1e-3
    assert float(grad.norm()) > 1e-2


def test_teacher_target_off_diagonal_matches_an_explicit_loop():
    torch.manual_seed(1)
    z_s, z_t = torch.randn(6, 4).double(), torch.randn(6, 4).double()

    def std(z):
        return (z - z.mean(0)) / (z.std(0, unbiased=False) + 1e-5)

    a, t = std(z_s), std(z_t)
    expected = 0.0
    for i in range(4):
        for j in range(4):
            if i != j:
                c = float((a[:, i] * t[:, j]).mean())
                target = float((t[:, i] * t[:, j]).mean())
                expected += (c - target) ** 2
    parts = cross_correlation_parts(z_s, z_t, off_target="teacher")
    assert float(parts["off"]) == pytest.approx(expected, rel=1e-5)  # float32 statistics


def test_monitor_parts_are_the_loss_parts_per_dimension():
    torch.manual_seed(2)
    z_s, z_t = torch.randn(16, 8), torch.randn(16, 8)
    parts = cc_monitor_parts(z_s, z_t)
    zero = cross_correlation_parts(z_s, z_t, off_target="zero")
    teacher = cross_correlation_parts(z_s, z_t, off_target="teacher")
    assert parts["cc_diag"] == pytest.approx(float(zero["diag"]) / 8)
    assert parts["cc_off"] == pytest.approx(float(zero["off"]) / 8)
    assert parts["cc_off_teacher"] == pytest.approx(float(teacher["off"]) / 8)
    # Recombined with lambda_off they give the normalised loss the objective uses.
    loss = cross_correlation_loss(z_s, z_t, lambda_off=0.3, normalize=True, off_target="teacher")
    assert float(loss) == pytest.approx(parts["cc_diag"] + 0.3 * parts["cc_off_teacher"], rel=1e-5)


def _tiny_bert(dropout=0.3):
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
                     max_position_embeddings=32, num_labels=2)
    return BertForSequenceClassification(cfg)


def _batch(n=8, length=10):
    torch.manual_seed(3)
    return {"input_ids": torch.randint(5, 100, (n, length)), "attention_mask": torch.ones(n, length, dtype=torch.long),
            "labels": torch.randint(0, 2, (n,)), "idx": torch.arange(n)}


def test_dropout_free_distill_pass_equals_an_eval_mode_forward():
    student, teacher = _tiny_bert(), _tiny_bert()
    teacher.eval()
    batch = _batch()
    term = CrossCorrelation(representation="cls", lambda_off=0.0051, off_target="teacher")
    with torch.no_grad():
        t_out = model_outputs(teacher, batch, ("cls",))
    student.train()  # as in the training loop
    with dropout_disabled(student):
        clean = term(model_outputs(student, batch, ("cls",)), t_out)
    assert student.training  # the switch leaves train mode alone
    student.eval()
    reference = term(model_outputs(student, batch, ("cls",)), t_out)
    assert float(clean.detach()) == pytest.approx(float(reference.detach()), abs=1e-6)
    student.train()
    noisy = term(model_outputs(student, batch, ("cls",)), t_out)
    assert abs(float(noisy.detach()) - float(reference.detach())) > 1e-4  # dropout is really back on after the block
    assert all(m.p == 0.3 for m in student.modules() if isinstance(m, torch.nn.Dropout))


def _gather_worker(rank: int, world: int, port: int, z_s_full, z_t_full, out_dir: str, older_torch: bool) -> None:
    if older_torch:  # a torch without all_gather_single_autograd: gather_rows falls back to the old function
        import torch.distributed._functional_collectives as collectives

        del collectives.all_gather_single_autograd
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        rows = z_s_full.shape[0] // world
        z_s = z_s_full[rank * rows:(rank + 1) * rows].clone().requires_grad_(True)
        z_t = z_t_full[rank * rows:(rank + 1) * rows]
        term = CrossCorrelation(representation="cls", lambda_off=0.02, off_target="teacher", gather=True)
        loss = term({"cls": z_s}, {"cls": z_t})
        loss.backward()
        torch.save({"loss": loss.detach(), "grad": z_s.grad}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("older_torch", [False, True], ids=["torch", "older-torch"])
def test_gathered_cc_equals_single_process_cc_on_the_concatenated_batch(tmp_path, older_torch):
    import socket

    torch.manual_seed(4)
    z_s, z_t = torch.randn(12, 6), torch.randn(12, 6)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    world = 2
    mp.spawn(_gather_worker, args=(world, port, z_s, z_t, str(tmp_path), older_torch), nprocs=world, join=True)
    full = z_s.clone().requires_grad_(True)
    single = CrossCorrelation(representation="cls", lambda_off=0.02, off_target="teacher")({"cls": full}, {"cls": z_t})
    single.backward()
    for rank in range(world):
        got = torch.load(tmp_path / f"rank{rank}.pt")  # written by this test's own workers
        assert float(got["loss"]) == pytest.approx(float(single.detach()), rel=1e-6)
        # Every rank holds the same global loss; all_gather's backward sums the ranks' gradients, so each
        # rank's rows get world x dL/dz. DDP then averages parameter gradients over ranks: dL/dW exactly.
        rows = slice(rank * 6, (rank + 1) * 6)
        torch.testing.assert_close(got["grad"], world * full.grad[rows], rtol=1e-5, atol=1e-7)
