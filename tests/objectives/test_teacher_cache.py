"""The teacher and its per-example output cache: cached == uncached, invalidation on refresh (issue 3)."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from sdp.objectives.registry import DISTILL_TERMS
from sdp.objectives.representations import REPRESENTATIONS, model_outputs
from sdp.objectives.teacher import Teacher, TeacherCache

N = 10
NEEDS = ("logits", *REPRESENTATIONS)  # logits, cls, pooled, mean, all_layers


def _model(seed: int = 0) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=64, num_labels=3)
    return BertForSequenceClassification(cfg).eval()


@pytest.fixture(scope="module")
def examples() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randint(5, 50, (int(n),), generator=g) for n in torch.randint(3, 12, (N,), generator=g)]


def _batch(examples, ids: list[int]) -> dict[str, torch.Tensor]:
    """Dynamic padding to the longest example of the batch, as the collator does."""
    length = max(len(examples[i]) for i in ids)
    input_ids = torch.zeros(len(ids), length, dtype=torch.long)
    mask = torch.zeros(len(ids), length, dtype=torch.long)
    for row, i in enumerate(ids):
        input_ids[row, : len(examples[i])] = examples[i]
        mask[row, : len(examples[i])] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": torch.tensor([i % 3 for i in ids]),
            "idx": torch.tensor(ids)}


@pytest.mark.parametrize("mode", ["memory", "disk"])
def test_cached_outputs_equal_uncached_across_batch_compositions(examples, mode, tmp_path):
    teacher_model = _model(0)
    cached = Teacher.copy_of(teacher_model, "frozen", NEEDS, TeacherCache(N, mode, tmp_path / "c"))
    plain = Teacher.copy_of(teacher_model, "frozen", NEEDS, None)
    # Fill with one batch composition (different padding lengths), read with another.
    cached.outputs(_batch(examples, [0, 1, 2, 7, 8]))
    cached.outputs(_batch(examples, [3, 4, 5, 6, 9]))
    assert int(cached.cache.filled.sum()) == N
    batch = _batch(examples, [9, 2, 5, 0])
    hits = cached.cache.hits
    got, want = cached.outputs(batch), plain.outputs(batch)
    assert cached.cache.hits == hits + 1
    for name in NEEDS:
        assert got[name].shape == want[name].shape, name
        torch.testing.assert_close(got[name], want[name].float(), atol=1e-5, rtol=1e-5)
    # The distillation loss is the same with and without the cache, for every term.
    student = _model(1)
    s_out = model_outputs(student, batch, NEEDS)
    for name, opts in [("kd", {}), ("mse", {"representation": "mean"}), ("cosine", {"representation": "pooled"}),
                       *[("cross_correlation", {"representation": r}) for r in REPRESENTATIONS]]:
        term = DISTILL_TERMS.build(name, **opts)
        torch.testing.assert_close(term(s_out, got), term(s_out, want), atol=1e-5, rtol=1e-5)
    # Same batch twice: exact.
    again = cached.outputs(batch)
    for name in NEEDS:
        assert torch.equal(again[name], got[name])
    if mode == "disk":
        assert list((tmp_path / "c").glob("teacher_*.rank0.npy"))
        cached.cache.close()
        assert not (tmp_path / "c").exists()


def test_partial_batch_is_recomputed_not_guessed(examples):
    teacher = Teacher.copy_of(_model(0), "frozen", ("cls",), TeacherCache(N))
    teacher.outputs(_batch(examples, [0, 1]))
    assert teacher.cache.lookup(torch.tensor([0, 2]), ("cls",)) is None  # 2 not cached yet
    out = teacher.outputs(_batch(examples, [0, 2]))
    want = model_outputs(teacher.model, _batch(examples, [0, 2]), ("cls",))["cls"]
    torch.testing.assert_close(out["cls"], want)
    assert bool(teacher.cache.filled[[0, 1, 2]].all()) and not bool(teacher.cache.filled[3:].any())


def test_refresh_invalidates_the_cache(examples):
    student = _model(0)
    teacher = Teacher.copy_of(student, "refresh", ("logits", "cls"), TeacherCache(N))
    batch = _batch(examples, [0, 1, 2])
    before = teacher.outputs(batch)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(0.05 * torch.randn_like(p))
    assert torch.allclose(teacher.outputs(batch)["cls"], before["cls"])  # still the old teacher: a hit
    teacher.refresh_from(student)
    assert teacher.cache.version == 1 and not bool(teacher.cache.filled.any())
    after = teacher.outputs(batch)
    want = model_outputs(student.eval(), batch, ("logits", "cls"))
    torch.testing.assert_close(after["cls"], want["cls"])
    assert not torch.allclose(after["cls"], before["cls"])
    assert not teacher.model.training and not any(p.requires_grad for p in teacher.model.parameters())


def test_teacher_is_frozen_and_gives_no_grad(examples):
    student = _model(0).train()
    teacher = Teacher.copy_of(student, "frozen", ("cls",), None)
    assert not teacher.model.training
    out = teacher.outputs(_batch(examples, [0, 1]))
    assert not out["cls"].requires_grad
    assert all(p.requires_grad for p in student.parameters())  # the copy froze, not the student


def test_prefill_caches_everything_and_counts_only_training_lookups(examples):
    teacher = Teacher.copy_of(_model(0), "frozen", ("cls", "logits"), TeacherCache(N))
    batches = [_batch(examples, list(range(i, min(i + 4, N)))) for i in range(0, N, 4)]
    assert teacher.prefill(batches) == N
    assert teacher.cache.hits == teacher.cache.misses == 0
    out = teacher.outputs(_batch(examples, [8, 3]))
    assert teacher.cache.hits == 1
    want = model_outputs(teacher.model, _batch(examples, [8, 3]), ("cls",))["cls"]
    torch.testing.assert_close(out["cls"], want, atol=1e-5, rtol=1e-5)
    assert Teacher.copy_of(_model(0), "frozen", ("cls",), None).prefill(batches) == 0


def test_weights_and_errors():
    teacher = Teacher.copy_of(_model(0), "frozen", (), None)
    name = "bert.encoder.layer.0.attention.self.query.weight"
    assert teacher.weights([name])[name].shape == (16, 16)
    with pytest.raises(ValueError, match="same architecture"):
        teacher.weights(["roberta.encoder.layer.0.weight"])
    with pytest.raises(ValueError, match="unknown teacher mode"):
        Teacher(_model(0), "ema", (), None)
    with pytest.raises(ValueError, match="unknown teacher cache mode"):
        TeacherCache(3, "gpu")
