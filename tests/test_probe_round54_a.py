"""Probe round 54 (docs/probe_round54.md, a deciding round; probe only): its report findings, fixed by the lead (part
A). Each test fails on 655d331 and passes after its fix. Hand-written records and folders, offline."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from records import write_record


def test_a_link_to_or_a_copy_of_the_partners_mask_is_its_mask(tmp_path):
    """rm_link: `prune.reference_mask=<a link to the MP partner's mask.safetensors>` was counted "not their MP
    partner's" (the file's name was read on the link, before following it) and its Jaccard (0.9951279 by hand) left
    out; rm_copy: a byte-identical copy elsewhere too. A mask file is the partner's by content; its dense mask, or
    another run's mask, is not."""
    from sdp.report.claim_pairs import PARTNER_MASK, refers_to_partner

    partner, other = tmp_path / "cl" / "mp_1", tmp_path / "cl" / "mp_2"
    for run, bits in ((partner, b"mask of mp_1"), (other, b"mask of mp_2")):
        run.mkdir(parents=True)
        (run / PARTNER_MASK).write_bytes(bits)
        (run / "dense_mask.safetensors").write_bytes(b"dense mask")
    (tmp_path / "mplink.safetensors").symlink_to(partner / PARTNER_MASK)
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "mine.safetensors").write_bytes(b"mask of mp_1")
    mp = {"rel": "cl/mp_1", "run_dir": str(partner), "model_sha256": None}

    def cc(reference: Path) -> dict:
        return {"analysis": {"mask_overlap": {"reference": 0.995, "reference_path": str(reference)}}}

    assert refers_to_partner(cc(tmp_path / "mplink.safetensors"), mp)
    assert refers_to_partner(cc(tmp_path / "copy" / "mine.safetensors"), mp)
    assert refers_to_partner(cc(partner / PARTNER_MASK), mp) and refers_to_partner(cc(partner), mp)
    assert not refers_to_partner(cc(partner / "dense_mask.safetensors"), mp)
    assert not refers_to_partner(cc(other / PARTNER_MASK), mp)
    os.remove(partner / PARTNER_MASK)  # a checkout without the masks (never committed): by path, as before
    assert refers_to_partner(cc(partner / PARTNER_MASK), mp) and not refers_to_partner(cc(other / PARTNER_MASK), mp)


DENSE = {"1111111111111111": 0.5, "2222222222222222": 0.53125, "3333333333333333": 0.46875}


def _own(root: Path, name: str, seed: int, model: str, lr: float) -> None:
    """An MP run of its own dense stage (model fingerprint ``model``), prune.lr ``lr`` (a pruning key: its setup)."""
    write_record(root, name, "MP", seed, 0.5, own=model)
    for file in ("run.json", "metrics.json"):
        record = json.loads((root / name / file).read_text())
        if file == "run.json":
            record["config"]["prune"]["lr"] = lr
        else:  # each model its own dense score (one model, one score)
            record["dense"] = {"main": DENSE[model], "accuracy": DENSE[model]}
        (root / name / file).write_text(json.dumps({**record, "config_hash": f"h-{lr}"}))


def test_dense_models_trained_alike_are_not_said_to_be_given(tmp_path):
    """dn_trained_shared: two setups of their own dense stages, differing only in prune.lr, trained one model alike at
    seed 2 (one fingerprint) and others at seed 1: summary.md said their models were the same "(given as
    dense.checkpoint)", and no run was given one."""
    from sdp.report.report import build_report

    _own(tmp_path, "a1", 1, "1111111111111111", 1e-4)
    _own(tmp_path, "a2", 2, "2222222222222222", 1e-4)
    _own(tmp_path, "b1", 1, "3333333333333333", 1e-2)
    _own(tmp_path, "b2", 2, "2222222222222222", 1e-2)
    build_report(tmp_path, plots=False)
    line = next(line for line in (tmp_path / "tables" / "summary.md").read_text().splitlines()
                if "`tiny-bert / Dense` rows of other setups" in line)
    assert "same by fingerprint (trained alike by their own runs, none given)" in line, line
    assert "given as dense.checkpoint" not in line, line


def test_a_folder_of_a_model_that_is_no_run_is_not_called_a_run_folder(tmp_path):
    """ad_proj: a folder holding model/ and no run record (a project folder) was "a run folder", and its model/ (80%
    pruned) advised as dense.checkpoint, then refused as pruned already. Only a run's folder gets the run-folder
    words."""
    from sdp.models.inspect import ModelLoadError, check_model_dir

    (tmp_path / "proj" / "model").mkdir(parents=True)
    (tmp_path / "proj" / "model" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelLoadError, match=r"it has no config.json$"):
        check_model_dir(tmp_path / "proj", "dense.checkpoint")


def test_a_folder_of_an_sdp_eval_record_is_no_run_folder(tmp_path):
    """Probe round 55, ad_evfolder: a folder holding a pruned model/ and sdp-eval's metrics.json (`"kind": "eval"`)
    was "a run folder ... it was given its dense model": sdp-eval's record is no run's."""
    from sdp.models.inspect import ModelLoadError, check_model_dir

    (tmp_path / "ev" / "model").mkdir(parents=True)
    (tmp_path / "ev" / "model" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (tmp_path / "ev" / "metrics.json").write_text(json.dumps({"kind": "eval", "task": "rte"}))
    with pytest.raises(ModelLoadError, match=r"it has no config.json$"):
        check_model_dir(tmp_path / "ev", "dense.checkpoint")
