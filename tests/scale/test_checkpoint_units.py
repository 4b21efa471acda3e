"""Fast unit checks of the pieces behind resume and the distributed guards (no training run)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from accelerate.data_loader import SeedableRandomSampler, skip_first_batches
from accelerate.utils import DistributedType
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader

from sdp.run.rundir import atomic_dir, prepare_run_dir
from sdp.training.distributed import ShardedWeightsError, count_eval_examples, refuse_sharded
from sdp.training.loop import DataPosition, endless
from sdp.training.state_io import optimizer_from_files, optimizer_to_files, rng_state, set_rng_state


def test_atomic_dir_keeps_the_old_folder_when_a_write_fails(tmp_path):
    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("killed mid-write")
    assert (target / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temp folder left behind
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("new")
    assert (target / "a.txt").read_text() == "new"


def test_optimizer_state_round_trips_through_safetensors_and_json(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(3):
        model(torch.randn(5, 4)).pow(2).sum().backward()
        opt.step()
        opt.zero_grad()
    tensors, meta = optimizer_to_files(opt)
    save_file(tensors, str(tmp_path / "opt.safetensors"))
    meta = json.loads(json.dumps(meta))
    fresh = torch.optim.AdamW(model.parameters(), lr=1.0)
    optimizer_from_files(fresh, load_file(str(tmp_path / "opt.safetensors")), meta)
    a, b = opt.state_dict(), fresh.state_dict()
    assert a["param_groups"][0]["lr"] == b["param_groups"][0]["lr"]
    for pid in a["state"]:
        for key in a["state"][pid]:
            assert torch.equal(torch.as_tensor(a["state"][pid][key]), torch.as_tensor(b["state"][pid][key]))


def test_rng_state_round_trips_through_json():
    state = json.loads(json.dumps(rng_state()))
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    set_rng_state(state)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected


def test_resuming_data_mid_epoch_sees_exactly_the_remaining_batches():
    """The seedable sampler (what make_accelerator asks accelerate for) + skip_first_batches."""

    class Skipper:  # the one Accelerator method endless() uses
        skip_first_batches = staticmethod(skip_first_batches)

    def loader():
        sampler = SeedableRandomSampler(range(20), data_seed=7)
        dl = DataLoader(list(range(20)), batch_size=4, sampler=sampler)
        dl.set_epoch = sampler.set_epoch
        return dl

    full = [b.tolist() for _, (_, b) in zip(range(12), endless(loader()))]
    pos = DataPosition(epoch=1, batches=2)  # 5 batches per epoch: 7 consumed
    resumed = [b.tolist() for _, (_, b) in zip(range(5), endless(loader(), Skipper(), pos))]
    assert resumed == full[7:12]
    assert (pos.epoch, pos.batches) == (2, 2)


@pytest.mark.parametrize("kind", [DistributedType.FSDP, DistributedType.DEEPSPEED])
def test_sharded_modes_are_refused_with_the_reason(kind):
    with pytest.raises(ShardedWeightsError, match="needs the full weights on every process"):
        refuse_sharded(kind, env={})
    with pytest.raises(ShardedWeightsError, match="ACCELERATE_USE_DEEPSPEED"):
        refuse_sharded(None, env={"ACCELERATE_USE_DEEPSPEED": "true"})
    refuse_sharded(DistributedType.MULTI_GPU, env={})  # plain DDP is fine


def test_eval_count_mismatch_is_an_error():
    outputs = {"validation": (np.zeros((5, 2)), np.zeros(5))}
    assert count_eval_examples(outputs, {"validation": list(range(5))}) == {"validation": 5}
    with pytest.raises(RuntimeError, match="duplicated or lost"):
        count_eval_examples(outputs, {"validation": list(range(4))})


def test_prepare_run_dir_creates_and_probes(tmp_path):
    assert prepare_run_dir(tmp_path / "a" / "b").is_dir()
