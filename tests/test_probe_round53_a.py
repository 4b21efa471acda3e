"""Probe round 53 (docs/probe_round53.md, a deciding round; probe only): its report findings, fixed by the lead (part
A). Each test fails on 9b8777c and passes after its fix. Hand-written records, offline."""

from __future__ import annotations

from pathlib import Path

from records import write_record

A1, A2, A3 = "9f1a3c6574279401", "003b8f8ebf70c037", "9f1a3c6574279495"  # A's dense models by seed (16 hex digits)


def _dd(root: Path) -> None:
    """dd_eq: A trains its own dense models a1..a3 (seeds 1-3); D1 is given a1's model (the same content), D3 a2's;
    a3 and D3 end at one score (53.125), a1 and D1 too (50.0). One config hash (dense.checkpoint is a per-seed input)."""
    for seed, own, final in ((1, A1, 0.5), (2, A2, 0.59375), (3, A3, 0.53125)):
        write_record(root / "A", f"a{seed}", "MP", seed, final, own=own)
    write_record(root, "D1", "MP", 1, 0.5, given=(f"{root}/A/a1/dense_model", A1))
    write_record(root, "D3", "MP", 3, 0.53125, given=(f"{root}/A/a2/dense_model", A2))


def test_runs_of_one_score_that_pruned_other_dense_models_are_no_identical_copies(tmp_path):
    """dd_eq: a3 (its own model) and D3 (given a2's) were counted "identical duplicates collapsed" and D3 kept unsaid:
    a3's model left the Dense row, its cost left costs.md. Now a conflict naming both and what each pruned; a1 and D1,
    which pruned one model (the same fingerprint) to one score, stay one identical copy."""
    from sdp.report.report import build_report

    _dd(tmp_path)
    build_report(tmp_path, plots=False)
    summary = (tmp_path / "tables" / "summary.md").read_text()
    assert "identical duplicates collapsed: 1)" in summary, summary
    assert "- conflicting duplicates: 1" in summary, summary
    conflict = next(line for line in summary.splitlines() if "seed=3:" in line)
    assert "`A/a3` (53.12); `D3` (53.12)" in conflict and "their dense models differ: `A/a3` trained its own " \
        f"({A3}); `D3` was given dense.checkpoint ({A2})" in conflict, conflict
    assert "seed=1:" not in summary  # a1 and D1: one model, one score


def test_one_model_trained_and_given_is_no_conflict_of_dense_models():
    """A run given another's dense_model/ pruned that very model: "their dense models differ" was said of a trained
    and a given run by kind alone, though both recorded one fingerprint."""
    from sdp.report.duplicates import Conflict, dense_words

    conflict = Conflict(key={}, seed=1, paths=["a", "b"], values=[0.6, 0.7], kept="b", dense=[(True, A1), (False, A1)])
    assert dense_words(conflict) == ""
    conflict.dense = [(True, A1), (False, "")]  # the given one recorded by path: by kind, as before
    assert "their dense models differ" in dense_words(conflict)


def test_the_partners_mask_file_is_its_mask(tmp_path):
    """rm_file_partner: `prune.reference_mask=<MP partner>/mask.safetensors` (the file) was counted in claims.md as
    "not their MP partner's" and its Jaccard (0.995 by hand) left out; the partner's folder was taken. Its
    dense_mask.safetensors (the dense one-shot mask) is still no MP mask."""
    from sdp.pruning.overlap import DENSE_MASK, MASK_FILE
    from sdp.report.claim_pairs import PARTNER_MASK, refers_to_partner

    assert PARTNER_MASK == MASK_FILE
    partner = tmp_path / "cl" / "mp_1"
    partner.mkdir(parents=True)
    (partner / MASK_FILE).write_bytes(b"the final mask")
    (partner / DENSE_MASK).write_bytes(b"the dense one-shot mask")
    mp = {"rel": "cl/mp_1", "run_dir": str(partner), "model_sha256": None}

    def cc(reference: Path) -> dict:
        return {"analysis": {"mask_overlap": {"reference": 0.995, "reference_path": str(reference)}}}

    assert refers_to_partner(cc(partner), mp)
    assert refers_to_partner(cc(partner / MASK_FILE), mp)
    assert not refers_to_partner(cc(partner / DENSE_MASK), mp)
    assert not refers_to_partner(cc(tmp_path / "cl" / "mp_2" / MASK_FILE), mp)  # another run's


def test_a_cell_of_several_configs_is_one_line_naming_its_rows(tmp_path):
    """Probe round 53, noticed: "several configs share one cell" was a line per row, each naming one row (`[A]`), as if
    that row held several configs."""
    import json

    from sdp.report.report import build_report

    for name, criterion in (("m", "magnitude"), ("t", "taylor")):
        write_record(tmp_path, name, "MP", 1, 0.5, own=A1 if name == "m" else A2)
        for file in ("run.json", "metrics.json"):
            record = json.loads((tmp_path / name / file).read_text())
            if file == "run.json":
                record["config"]["prune"]["criterion"] = criterion
            (tmp_path / name / file).write_text(json.dumps({**record, "config_hash": f"h-{name}"}))
    build_report(tmp_path, plots=False)
    lines = [line for line in (tmp_path / "tables" / "summary.md").read_text().splitlines()
             if "several configs share one cell" in line and "/ MP /" in line]
    assert len(lines) == 1 and lines[0].count("[") == 2, lines


def test_copies_of_records_without_fingerprints_or_of_reruns_stay_identical(tmp_path):
    """The review of session 25: with dd_eq's fix, a trained run and a run given its own folder by path (no
    fingerprints: older records) were a conflict "whose dense models differ", and two reruns of one config with their
    own dense stages (other bits: other threads) were a conflict keeping the newest, resumed or not. Both are copies."""
    from sdp.report.report import build_report

    write_record(tmp_path / "A", "a1", "MP", 1, 0.5)
    write_record(tmp_path, "D1", "MP", 1, 0.5, given=(f"{tmp_path}/A/a1/dense_model", ""))
    write_record(tmp_path / "R", "r2", "MP", 2, 0.5, own=A1)
    write_record(tmp_path, "R2", "MP", 2, 0.5, own=A2)
    build_report(tmp_path, plots=False)
    summary = (tmp_path / "tables" / "summary.md").read_text()
    assert "identical duplicates collapsed: 2)" in summary and "- conflicting duplicates: 0" in summary, summary


def test_a_cell_is_its_schedules_and_teachers(tmp_path):
    """The review of session 25: MP cubic [x] and MP linear [y] at 80% (one config each) were said to "share one
    cell": a cell is its schedule's and teacher's too."""
    import json

    from sdp.report.report import build_report

    for name, schedule, steps in (("c8", "cubic", 20), ("l8", "linear", 30), ("c9", "cubic", 30), ("l9", "linear", 20)):
        write_record(tmp_path, name, "MP", 1, 0.5)
        for file in ("run.json", "metrics.json"):
            record = json.loads((tmp_path / name / file).read_text())
            if file == "run.json":
                record["config"]["dense"]["max_steps"] = steps
            else:
                record["schedule"], record["target_sparsity"] = schedule, 0.8 if name.endswith("8") else 0.9
            (tmp_path / name / file).write_text(json.dumps({**record, "config_hash": f"h-{name}"}))
    build_report(tmp_path, plots=False)
    lines = [line for line in (tmp_path / "tables" / "summary.md").read_text().splitlines()
             if "several configs share one cell" in line]
    assert len(lines) == 1 and "`rte / tiny-bert / Dense / 0%` [" in lines[0], lines  # two dense configs: truly
