"""Probe round 55 (docs/probe_round55.md, a deciding round; probe only): claims.md's partner mask judged as the run read
it (rm_after, rm_before, rm_relink), fixed by the lead (part A). Each test fails on e2fac3a. Offline, no training."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_run_records_the_digests_of_its_mask_and_of_the_reference_it_read(tmp_path):
    """The run records its own mask's sha256 (mask_sha256) and the reference mask's as read (reference_sha256): a run
    folder's mask.safetensors, or a file."""
    from sdp.pruning.overlap import MASK_FILE, mask_overlap, save_masks

    masks = {"layer.weight": torch.tensor([[True, False], [True, True]])}
    partner = tmp_path / "mp_1"
    partner.mkdir()
    save_masks(partner / MASK_FILE, {"layer.weight": torch.tensor([[True, True], [False, True]])})
    for reference in (partner, partner / MASK_FILE):
        run = tmp_path / f"cc_{reference.name}"
        run.mkdir()
        overlap = mask_overlap(masks, run, str(reference), save=True)
        assert overlap["mask_sha256"] == _digest(run / MASK_FILE)
        assert overlap["reference_sha256"] == _digest(partner / MASK_FILE)
        assert abs(overlap["reference"] - 2 / 4) < 1e-9  # kept bits: 3 and 3, both kept at 2 of 4 in their union


def test_claims_tell_the_partners_mask_by_the_digests_recorded(tmp_path):
    """rm_after: a copy of mp_2's mask, read by cc_1, was overwritten with mp_1's after the run: claims.md took cc_1's
    overlap (0.055: with mp_2's mask) as its partner's. rm_before: the reverse left a run that read its partner's mask
    out. rm_relink: a link re-pointed since. With both digests recorded, the mask as read decides."""
    from sdp.report.claim_pairs import refers_to_partner

    partner = tmp_path / "cl" / "mp_1"
    partner.mkdir(parents=True)
    (partner / "mask.safetensors").write_bytes(b"mp_1's mask")  # the file now: mp_1's
    mp = {"rel": "cl/mp_1", "run_dir": str(partner), "model_sha256": None,
          "analysis": {"mask_overlap": {"mask_sha256": "a" * 64}}}

    def cc(path: Path, read: str) -> dict:
        return {"analysis": {"mask_overlap": {"reference": 0.055, "reference_path": str(path),
                                              "reference_sha256": read}}}

    assert not refers_to_partner(cc(partner / "mask.safetensors", "b" * 64), mp)  # read another mask then
    assert refers_to_partner(cc(tmp_path / "elsewhere.safetensors", "a" * 64), mp)  # read the partner's then
    older = {"analysis": {"mask_overlap": {"reference": 0.9, "reference_path": str(partner / "mask.safetensors")}}}
    assert refers_to_partner(older, mp)  # a record from before the digests: by the file, as before


def test_hydras_folders_of_a_name_too_long_are_one_line(tmp_path):
    """or_long, hr_long, sw_long: `output_root` (or hydra.run.dir, hydra.sweep.dir) naming a part past 255 bytes was
    Hydra's OSError 'File name too long' (the callback's own check raised it again while naming the blocker)."""
    import subprocess
    import sys

    from offline_env import offline_env

    long = str(tmp_path / ("b" * 300))
    for args, key in ((["debug=smoke", f"output_root={long}"], "output_root"),
                      (["debug=smoke", f"hydra.run.dir={long}"], "hydra.run.dir"),
                      (["-m", "debug=smoke", "seed=1", f"hydra.sweep.dir={long}"], "hydra.sweep.dir")):
        done = subprocess.run([sys.executable, "-m", "cli.run", *args], cwd=tmp_path, env=offline_env(),
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith(
            f"sdp-run: error: DataError: {key}='"), (args, done.stderr[-600:])
        assert "Traceback" not in done.stderr, done.stderr[-600:]
