"""The pruning-criterion seam (issue 24): one registry of criteria, each saying which granularities it ranks;
unstructured magnitude, movement (Sanh et al. 2020) and taylor give exact sparsity in both scopes with masks
nested across events; movement's running scores survive a checkpoint; a bad criterion/granularity pair is a
one-line error."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import BertConfig, BertForSequenceClassification

from sdp import validate
from sdp.objectives.naming import base_method, method_name
from sdp.objectives.registry import CRITERIA, criteria_for
from sdp.pruning.build import mask_state
from sdp.pruning.criteria.base import DEFAULT_CRITERION, GRANULARITIES
from sdp.pruning.masks import MaskState, select_prunable
from sdp.pruning.scored import ScoredMaskState

UNSTRUCTURED = ["magnitude", "movement", "taylor"]
LABELS = torch.tensor([0, 1, 0, 1])


def tiny(seed: int = 0) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=48, num_labels=2)
    return BertForSequenceClassification(cfg).train()


def batch(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 64, (4, 10), generator=g)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": LABELS}


def unstructured(model: nn.Module, criterion: str, scope: str = "global"):
    return mask_state(model, select_prunable(model), CRITERIA.build(criterion), "unstructured", scope)


def one_update(model, state, opt, seed: int) -> None:
    """What optimizer_update does: backward, observe, mask the gradients, step, re-apply the masks."""
    opt.zero_grad()
    model(**batch(seed)).loss.backward()
    state.after_backward()
    state.mask_grads()
    opt.step()
    state.apply()


def test_the_registry_names_every_criterion_with_its_granularities():
    assert set(UNSTRUCTURED) | {"l2"} <= set(CRITERIA.names())
    assert criteria_for("unstructured")[:3] == sorted(UNSTRUCTURED) and criteria_for("structured") == ["l2", "taylor"]
    assert sorted(validate.GRANULARITIES) == sorted(GRANULARITIES)
    assert all(DEFAULT_CRITERION[g] in criteria_for(g) for g in GRANULARITIES)
    model = tiny()
    assert type(unstructured(model, "magnitude")) is MaskState  # magnitude keeps MaskState's streamed selection
    assert isinstance(unstructured(model, "movement"), ScoredMaskState)
    with pytest.raises(ValueError, match=r"ranks \['unstructured'\] pruning, not prune.granularity=structured"):
        mask_state(model, select_prunable(model), CRITERIA.build("movement"), "structured")


def test_method_names_carry_a_criterion_that_is_not_the_default():
    prune = {"criterion": "movement", "granularity": None}
    assert method_name("none", prune=prune) == "MP (movement)" and base_method("MP (movement)") == "MP"
    assert method_name("cross_correlation", "frobenius", "mean", prune) == "SDP-CC(mean)+AWR-fro (movement)"
    assert method_name("kd", prune={"criterion": "magnitude"}) == "KD"
    assert method_name("kd", prune={"criterion": "l2", "granularity": "structured"}) == "KD"
    assert method_name("kd", prune={"criterion": "taylor", "granularity": "structured"}) == "KD (taylor)"


@pytest.mark.parametrize("scope", ["global", "layerwise"])
@pytest.mark.parametrize("criterion", UNSTRUCTURED)
def test_exact_sparsity_and_nested_masks(criterion, scope):
    """Each event zeroes exactly round(s * n) prunable weights (per matrix: layerwise), training in between keeps
    them at zero, and no pruned weight comes back at a later event."""
    model = tiny()
    state = unstructured(model, criterion, scope)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    n = sum(p.numel() for p in state.params.values())
    previous = {k: m.clone() for k, m in state.masks.items()}
    for event, s in enumerate((0.3, 0.55, 0.8)):
        for u in range(2):
            one_update(model, state, opt, seed=10 * event + u)
        removed = state.update(s, opt)["removed"]
        if scope == "global":
            assert sum(int((p == 0).sum()) for p in state.params.values()) == round(s * n)
        else:
            for name, p in state.params.items():
                assert int((p == 0).sum()) == round(s * p.numel()), name
        assert removed == sum(int((previous[k] & ~m).sum()) for k, m in state.masks.items())
        assert all(bool((previous[k] >= m).all()) for k, m in state.masks.items())  # nested
        previous = {k: m.clone() for k, m in state.masks.items()}
    zeros = sum(int((p == 0).sum()) for p in state.params.values())
    one_update(model, state, opt, seed=99)  # training keeps them at zero
    assert sum(int((p == 0).sum()) for p in state.params.values()) == zeros


def two_weights() -> dict[str, nn.Parameter]:
    """A large weight that training pushes towards zero, and a small one it pushes away from zero."""
    return {"w": nn.Parameter(torch.tensor([[3.0, 0.1]]))}


@pytest.mark.parametrize("criterion, grad, pruned", [
    ("magnitude", [1.0, -1.0], 1),  # |w|: the small one goes
    ("movement", [1.0, -1.0], 0),  # S = -w * g = [-3, 0.1]: the large one, moving towards zero, goes
    ("taylor", [0.01, -10.0], 0),  # |w * g| = [0.03, 1]: the one the loss barely notices goes
])
def test_what_each_criterion_prunes(criterion, grad, pruned):
    params = two_weights()
    state = mask_state(nn.Module(), params, CRITERIA.build(criterion))
    params["w"].grad = torch.tensor([grad])
    state.after_backward()
    state.update(0.5)
    assert state.masks["w"].tolist() == [[pruned != 0, pruned != 1]]


def test_movement_sums_over_every_update_and_taylor_averages_since_the_last_event():
    model = tiny()
    moving, taylor = unstructured(model, "movement"), unstructured(model, "taylor")
    name = next(iter(moving.params))
    want_s, want_t = torch.zeros_like(moving.params[name]), torch.zeros_like(moving.params[name])
    for seed in (1, 2):
        model.zero_grad()
        model(**batch(seed)).loss.backward()
        p = moving.params[name]
        want_s -= p.detach() * p.grad
        want_t += (p.detach() * p.grad).abs()
        moving.after_backward()
        taylor.after_backward()
    torch.testing.assert_close(moving.criterion.scores(moving)[name], want_s)
    torch.testing.assert_close(taylor.criterion.scores(taylor)[name], want_t / 2)
    moving.update(0.3)
    taylor.update(0.3)
    assert moving.criterion.updates == 2 and taylor.criterion.updates == 0  # movement keeps summing; taylor restarts


def test_a_non_finite_update_is_left_out_of_the_scores():
    """An fp16 overflow step (which the optimizer skips) must not poison scores that sum over the whole stage."""
    params = two_weights()
    state = mask_state(nn.Module(), params, CRITERIA.build("movement"))
    params["w"].grad = torch.tensor([[1.0, -1.0]])
    state.after_backward()
    params["w"].grad = torch.tensor([[float("inf"), 1.0]])
    state.after_backward()
    assert state.criterion.updates == 1
    assert state.criterion.scores(state)["w"].flatten().tolist() == pytest.approx([-3.0, 0.1])


def test_resume_restores_movement_scores(tmp_path):
    """The checkpoint (state_tensors, through safetensors as the run's checkpoint writes it) holds movement's S: a
    state loaded from it has the same S and masks, and prunes exactly as the uninterrupted one at the next event."""
    model = tiny()
    state = unstructured(model, "movement")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for seed in (1, 2):
        one_update(model, state, opt, seed)
    state.update(0.4, opt)
    one_update(model, state, opt, seed=3)
    save_file(state.state_tensors(), str(tmp_path / "masks.safetensors"))

    other_model = tiny(seed=1)
    other_model.load_state_dict(model.state_dict())
    other = unstructured(other_model, "movement")
    other.load_masks(load_file(str(tmp_path / "masks.safetensors")))
    assert other.criterion.updates == state.criterion.updates == 3
    for name, s in state.criterion.scores(state).items():
        assert torch.equal(other.criterion.scores(other)[name], s), name
    assert other.digest() == state.digest()
    for m, st in ((model, state), (other_model, other)):
        m.eval().zero_grad()  # no dropout: both see the same gradient
        m(**batch(4)).loss.backward()
        st.after_backward()
        st.update(0.7)
    assert other.digest() == state.digest()


@pytest.mark.parametrize("overrides, message", [
    (["prune.granularity=structured", "prune.criterion=movement"],
     "prune.criterion='movement' is not one of ['l2', 'taylor'] for prune.granularity=structured ('movement' ranks "
     "unstructured pruning)"),
    (["prune.criterion=nope"],
     "prune.criterion='nope' is not one of ['magnitude', 'movement', 'taylor'] for prune.granularity=unstructured"),
    (["prune.criterion=movement", "prune.criterion_options={beta: 2}"],
     "prune.criterion=movement does not take prune.criterion_options.beta; its options are []"),
    (["prune.criterion_options=3"], "prune.criterion_options=3 must be a mapping of option to value"),
])
def test_a_bad_criterion_is_a_one_line_error(config_error, overrides, message):
    assert message in config_error(overrides)
