"""Structured pruning (issue 28): whole heads, FFN neurons and layers; the criterion seam (l2, taylor); masks
that stay exact in training; and the physically smaller model that predicts what the masked network did."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from sdp import validate
from sdp.objectives.registry import CRITERIA
from sdp.pruning import export, structures
from sdp.pruning.build import mask_state
from sdp.pruning.compact import (
    UNPRUNED_KEY,
    compact_form,
    encoder_params,
    kept_from_masks,
    kept_from_weights,
    standard_form,
)
from sdp.pruning.criteria import base
from sdp.pruning.criteria.taylor import Taylor
from sdp.pruning.export import STRUCTURE_FILE
from sdp.pruning.masks import select_prunable

ALL = ["heads", "ffn", "layers"]


def tiny(seed: int = 0, layers: int = 3) -> BertForSequenceClassification:
    """A tiny BERT with weights large enough (std 0.3) that a pruned structure moves the logits visibly."""
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=layers, num_attention_heads=4,
                     intermediate_size=64, initializer_range=0.3, num_labels=3)
    model = BertForSequenceClassification(cfg).eval()
    with torch.no_grad():  # LayerNorms as a trained model has them (at 1 and 0, LN(LN(x)) = LN(x) hides a layer)
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.add_(0.3 * torch.randn_like(p))
    return model


def batch(seed: int = 1, rows: int = 3, length: int = 12, vocab: int = 100) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (rows, length), generator=g)
    mask = torch.ones_like(ids)
    mask[0, length // 2:] = 0  # padding must be handled the same way by every form
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}


def state_of(model, criterion: str = "l2", kinds=ALL):
    return mask_state(model, select_prunable(model), CRITERIA.build(criterion), "structured", structures=kinds)


def random_keep(state, seed: int = 0, drop_layer: int | None = 1) -> None:
    """A random structured mask: about half the heads and neurons of every layer, and one layer removed."""
    g = torch.Generator().manual_seed(seed)
    for b in state.blocks:
        heads = torch.rand(b.heads, generator=g) < 0.5
        heads[int(torch.randint(0, b.heads, (1,), generator=g))] = True
        ffn = torch.rand(b.width, generator=g) < 0.5
        ffn[0] = True
        state.heads_kept[b.index], state.ffn_kept[b.index] = heads, ffn
        state.layer_kept[b.index] = b.index != drop_layer
    state.masks = state._masks_from_keep()
    state.apply()


def logits(model, inputs) -> torch.Tensor:
    with torch.no_grad():
        return model(**inputs).logits


def test_choice_lists_match_the_registries():
    assert sorted(validate.GRANULARITIES) == sorted(base.GRANULARITIES)
    assert sorted(validate.STRUCTURES) == sorted(structures.STRUCTURES)
    assert tuple(validate.EXPORT_PACKAGES) == tuple(export.EXPORT_PACKAGES)


@pytest.mark.parametrize("kinds", [ALL, ["heads", "ffn"], ["ffn"]])
@pytest.mark.parametrize("criterion", ["l2", "taylor"])
def test_sparsity_counted_in_structures(kinds, criterion):
    """Each event removes whole structures until round(s * n) weights are gone, overshooting by less than one
    FFN neuron (the smallest structure); pruned rows' biases go too; nothing pruned ever comes back."""
    model = tiny()
    state = state_of(model, criterion, kinds)
    n = sum(p.numel() for p in state.params.values())
    neuron = 2 * 32
    previous = {k: m.clone() for k, m in state.masks.items()}
    for s in (0.2, 0.45, 0.7) if "heads" in kinds else (0.1, 0.3, 0.45):  # FFN alone: at most ~half the weights
        if criterion == "taylor":  # one update's gradients before each event
            model.zero_grad()
            model(**batch(), labels=torch.tensor([0, 1, 2])).loss.backward()
            state.after_backward()
        state.update(s)
        removed, k = state.removed_weights(), round(s * n)
        zeros = sum(int((p == 0).sum()) for p in state.params.values())
        assert zeros >= removed >= k
        assert removed - k < neuron
        assert all(bool((previous[k_] >= m).all()) for k_, m in state.masks.items())  # monotone
        previous = {k_: m.clone() for k_, m in state.masks.items()}
        for b in state.blocks:
            rows = state._row_masks(b)
            assert bool((b.query.bias[~rows["query"]] == 0).all()) and bool((b.ffn_in.bias[~rows["ffn_in"]] == 0).all())
            assert int(state.heads_kept[b.index].sum()) >= 1 and int(state.ffn_kept[b.index].sum()) >= 1
    if "layers" not in kinds:
        assert all(state.layer_kept)


def test_unreachable_sparsity_is_a_clear_error_at_setup():
    model = tiny()
    with pytest.raises(ValueError, match=r"sparsity=0.9 is out of reach with prune.structures=\['heads'\]: at most 0.375 "):
        mask_state(model, select_prunable(model), CRITERIA.build("l2"), "structured", structures=["heads"], target=0.9)
    state = state_of(model, "l2", ["heads"])
    with pytest.raises(ValueError, match=r"sparsity=0.9 is out of reach"):
        state.update(0.9)


def test_masks_stay_exact_through_adamw():
    """Pruned weights and their biases stay exactly zero through AdamW steps, and their moments are zeroed."""
    model = tiny().train()
    state = state_of(model, "l2")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    labels = torch.tensor([0, 1, 2])
    for _ in range(2):  # moments everywhere before the event
        model(**batch(), labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    random_keep(state, drop_layer=2)
    state.mask_optimizer_state(opt)
    biases = state._bias_masks()
    for bias, keep in biases:
        assert bool((opt.state[bias]["exp_avg"][~keep] == 0).all())
    for _ in range(3):
        model(**batch(), labels=labels).loss.backward()
        state.mask_grads()
        opt.step()
        state.apply()
        opt.zero_grad()
    for name, p in state.params.items():
        assert bool((p[~state.masks[name]] == 0).all()), name
    for bias, keep in biases:
        assert bool((bias[~keep] == 0).all())


def test_taylor_score_is_the_first_order_loss_change():
    """A head's taylor score is |sum of w * dL/dw over its Q/K/V rows, their biases and its O columns|, averaged
    over the observed updates and divided by its prunable weights (by hand, for head 1 of layer 0)."""
    model = tiny()
    state = state_of(model, "taylor")
    crit: Taylor = state.criterion
    expected = []
    for seed in (1, 2):
        model.zero_grad()
        model(**batch(seed), labels=torch.tensor([0, 1, 2])).loss.backward()
        state.after_backward()
        b, d = state.blocks[0], state.blocks[0].head_size
        rows = slice(d, 2 * d)
        total = sum((lin.weight[rows] * lin.weight.grad[rows]).sum() + (lin.bias[rows] * lin.bias.grad[rows]).sum()
                    for lin in (b.query, b.key, b.value))
        total = total + (b.attn_out.weight[:, rows] * b.attn_out.weight.grad[:, rows]).sum()
        expected.append(float(total.detach().abs()))
    score = float(crit.scores(state)["heads"][0][1])
    assert score == pytest.approx(sum(expected) / 2 / state.blocks[0].head_cost, rel=1e-4)
    assert score > 0


def test_resumed_masks_give_the_same_structures():
    """A checkpoint's masks give back the kept structures, and taylor's running averages since the last event."""
    model = tiny()
    state = state_of(model, "taylor")
    random_keep(state, seed=3, drop_layer=0)
    model(**batch(), labels=torch.tensor([0, 1, 2])).loss.backward()
    state.after_backward()
    other = state_of(tiny(), "taylor")
    other.load_masks({k: m.clone() for k, m in state.state_tensors().items()})
    for kind, parts in state.criterion.scores(state).items():
        for a, b in zip(parts, other.criterion.scores(other)[kind]):
            assert torch.equal(a, b), kind
    assert other.layer_kept == state.layer_kept
    for a, b, on in zip(other.heads_kept, state.heads_kept, state.layer_kept):
        assert not on or torch.equal(a, b)
    assert other.digest() == state.digest()


def test_smaller_model_predicts_as_the_masked_one():
    """Standard form (layers dropped, one FFN width) and compact form (per-layer heads and neurons) give the masked
    network's logits; the removed layer is skipped, not merely zeroed (its LayerNorms would change the logits)."""
    model = tiny(layers=3)
    state = state_of(model)
    random_keep(state, seed=0, drop_layer=1)
    inputs = batch()
    masked = logits(model, inputs)
    state.layer_kept[1] = True  # the same zeros, but the layer runs: its biases and LayerNorms change the result
    assert (logits(model, inputs) - masked).abs().max() > 1e-3
    state.layer_kept[1] = False
    kept = kept_from_masks(state)
    standard, compact = standard_form(model, kept), compact_form(model, kept)
    assert standard.config.num_hidden_layers == 2 == len(compact.bert.encoder.layer)
    assert standard.config.intermediate_size == max(int(kept.ffn[i].sum()) for i in (0, 2))
    n_params = [sum(p.numel() for p in m.parameters()) for m in (model, standard, compact)]
    assert n_params[0] > n_params[1] > n_params[2]
    for small in (standard, compact):
        torch.testing.assert_close(logits(small, inputs), masked, rtol=1e-5, atol=1e-5)
    # The standard form reloads with stock transformers, and its zero heads and padding read back as pruned.
    assert kept_from_weights(standard).summary() == [s for s in kept.summary() if s["heads"]]


def test_minilm_random_structured_mask(minilm_path, tmp_path):
    """The real MiniLM with a random structured mask: masked, standard, compact and ONNX (onnxruntime) agree."""
    model = BertForSequenceClassification.from_pretrained(str(minilm_path), num_labels=2).eval()
    state = state_of(model)
    random_keep(state, seed=5, drop_layer=3)
    inputs = batch(length=16, vocab=model.config.vocab_size)
    masked = logits(model, inputs)
    kept = kept_from_masks(state)
    for small in (standard_form(model, kept), compact_form(model, kept)):
        torch.testing.assert_close(logits(small, inputs), masked, rtol=1e-4, atol=1e-5)
    if export.missing_export_packages():
        pytest.skip(f"the export extra is not installed ({export.missing_export_packages()}): pip install 'sdp[export]'")
    path = export.export_onnx(compact_form(model, kept), tmp_path / "model.onnx")
    other = batch(seed=7, rows=5, length=21, vocab=model.config.vocab_size)  # other batch and length: dynamic axes
    got = export.onnx_logits(export.onnx_session(path), other)
    torch.testing.assert_close(torch.from_numpy(got), logits(model, other), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("record", ["config", STRUCTURE_FILE])
def test_sdp_export_counts_dense_as_the_unpruned_model(tmp_path, record):
    """sdp-export of a standard checkpoint (a layer gone, FFN cut): its dense figure is the unpruned model's, read
    from config.json (or, in folders saved before that key, the run's structure.json), not the folder's own size;
    standard is the folder's and onnx the exported graph's."""
    if export.missing_export_packages():
        pytest.skip(f"the export extra is not installed ({export.missing_export_packages()}): pip install 'sdp[export]'")
    model = tiny(layers=3)
    state = state_of(model)
    random_keep(state, seed=0, drop_layer=1)
    kept = kept_from_masks(state)
    standard = standard_form(model, kept)
    if record == STRUCTURE_FILE:
        delattr(standard.config, UNPRUNED_KEY)
        (tmp_path / STRUCTURE_FILE).write_text(json.dumps({"encoder_params": {"dense": encoder_params(model)}}))
    standard.save_pretrained(tmp_path)
    _, out = export.export_model_dir(tmp_path, tmp_path / "again.onnx")
    assert out["encoder_params"] == {"dense": encoder_params(model), "standard": encoder_params(standard),
                                     "onnx": encoder_params(compact_form(model, kept))}
    assert out["encoder_params"]["dense"] > out["encoder_params"]["standard"] > out["encoder_params"]["onnx"]
    assert out["dense_from"].startswith(record if record == STRUCTURE_FILE else "config.json")


@pytest.mark.parametrize("overrides, message", [
    (["prune.granularity=blocks"], "prune.granularity='blocks' is not one of ['structured', 'unstructured']"),
    (["prune.criterion=l2"], "prune.criterion='l2' is not one of ['magnitude', 'movement', 'taylor'] for "
     "prune.granularity=unstructured ('l2' ranks structured pruning)"),
    (["prune.granularity=structured", "prune.criterion=magnitude"],
     "prune.criterion='magnitude' is not one of ['l2', 'taylor'] for prune.granularity=structured"),
    (["prune.structures=[heads]"], "prune.structures=['heads'] is read only with prune.granularity=structured"),
    (["prune.granularity=structured", "prune.structures=[heads,blocks]"],
     "prune.structures=['heads', 'blocks'] must be a non-empty list of ['ffn', 'heads', 'layers']"),
    (["prune.granularity=structured", "prune.scope=layerwise"], "only prune.scope=global applies"),
])
def test_bad_structured_keys_are_one_line_errors(config_error, overrides, message):
    assert message in config_error(overrides)
