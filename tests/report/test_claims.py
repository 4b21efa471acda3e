"""claims.md: paired verdicts and the frontier on a hand-made study tree (issue 11), through sdp-tables."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_record, write_run

from sdp.report.claims import _diffs
from sdp.report.collect import pair_hash
from sdp.report.evidence import interval, verdict
from sdp.report.report import build_report

OFFSET = {"MP": 0.0, "KD": 0.03, "SDP-CC(mean)": 0.02}  # SDP-CC beats MP and loses to KD, in every pair


def _tree(root: Path, methods: dict[str, float] = OFFSET) -> None:
    for seed in (1, 2, 3):  # the study's dense-only runs (sparsity 0): not a frontier row, not a pair
        write_run(root, f"dense/sst2_seed{seed}", run_record("sst2", "MP", 0.0, seed, {"main": 0.9}, {"main": 0.9}))
    for task, dense in (("sst2", 0.90), ("mrpc", 0.80)):
        for sparsity, drop in ((0.5, 0.0), (0.8, 0.05), (0.9, 0.2)):
            for seed in (1, 2, 3):
                for method, off in methods.items():
                    final = dense - drop + off + 0.001 * seed
                    analysis = {"recovery": {"mean_recovery_steps": 10.0 - off * 100, "mean_loss_jump": 0.1,
                                             "mean_removed_mass": 0.004 - off / 10},
                                "separability": {"final": {"fisher_ratio": 0.5 + off, "snr": 0.2}},
                                "mask_overlap": {"reference": 0.9, "dense_magnitude": 0.95},
                                # SDP-CC closer to its teacher; MRPC's MP measured on another representation
                                "cross_correlation": {"cc_diag": 0.4 - 5 * off, "representation":
                                                      "cls" if (task, method) == ("mrpc", "MP") else "mean"}}
                    write_run(root, f"runs/{task}/{method}_s{sparsity}_seed{seed}", run_record(
                        task, method, sparsity, seed, {"main": final}, {"main": dense}, analysis=analysis))


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def test_verdicts_and_frontier(tmp_path):
    _tree(tmp_path)
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    claim1 = _line(text, "| SDP-CC(mean) beats MP and KD")
    assert "vs MP +2.00 [+2.00, +2.00] (n=6)" in claim1 and "vs KD -1.00" in claim1 and claim1.endswith("| fails |")
    # Identical SNR: the interval is [0, 0], inside 1% of MP's mean SNR (0.2): no difference in any unit, so said
    assert _line(text, "| signal-to-noise |").endswith("| negligible (no difference in any unit) |")
    assert _line(text, "| faster recovery").endswith("| holds |")  # 2 fewer updates in every pair
    sparsity = _line(text, "| CC implicitly encourages sparsity")
    assert "-2.000 [-2.000, -2.000] (n=6)" in sparsity and sparsity.endswith("| holds |")
    assert "Jaccard(kept weights of SDP-CC(mean), of MP) = 0.900" in sparsity
    check = _line(text, "| (check, not a claim) SDP-CC(mean) keeps the student closer to its teacher")
    assert "-0.100 [-0.100, -0.100] (n=3)" in check and check.endswith("| holds |")  # MRPC's pairs: not comparable
    # Frontier: sst2 keeps 90% of 0.90 (0.81) at 0.8 for every method, not at 0.9; mrpc likewise.
    frontier = _line(text, "| sparsity frontier")
    assert "sst2: 0.8 vs 0.8" in frontier and frontier.endswith("| inconclusive (no difference in any unit) |")
    assert "| sst2 | 0 |" not in text
    # By sparsity (descriptive), 0.5 included although the verdicts use >= 0.8 only: 2 tasks x 3 seeds.
    assert _line(text, "| 0.5 |") == "| 0.5 | +2.00 [+2.00, +2.00] (n=6) | -1.00 [-1.00, -1.00] (n=6) |"
    assert _line(text, "| sst2 | 0.9 |") == (
        "| sst2 | 0.9 | 90.00 ± 0.00 (n=3) | 70.20 ± 0.10 (n=3) | 73.20 ± 0.10 (n=3) | 72.20 ± 0.10 (n=3) |")
    build_report(tmp_path, plots=False)
    assert (tmp_path / "tables" / "claims.md").read_text() == text  # byte-identical re-run


def test_no_claims_without_pairs_and_a_stale_file_goes(tmp_path):
    _tree(tmp_path)
    build_report(tmp_path, plots=False)
    assert (tmp_path / "tables" / "claims.md").is_file()
    other = tmp_path / "other"
    _tree(other, {"MP": 0.0, "KD": 0.03})  # no SDP-CC: nothing to judge
    (other / "tables").mkdir()
    (other / "tables" / "claims.md").write_text("stale")
    build_report(other, plots=False)
    assert not (other / "tables" / "claims.md").exists()


def test_a_method_with_two_configs_in_one_pair_is_left_out(tmp_path):
    _tree(tmp_path)
    extra = run_record("sst2", "MP", 0.9, 1, {"main": 0.5}, {"main": 0.9}, analysis={}, config_hash="other")
    write_run(tmp_path, "runs/sst2/mp_other", extra)
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    assert "Left out: 1 (pairing key, method)" in text
    # The ambiguous sst2/0.9/seed-1 pair is not guessed; that (task, seed) unit keeps its 0.8 pair.
    assert "vs MP +2.00 [+2.00, +2.00] (n=6)" in text


def test_interval_and_verdict():
    assert interval([0.1, 0.2]) is None and verdict(None, +1).startswith("inconclusive")
    mean, low, high = interval([1.0, 2.0, 3.0])  # t(0.975, 2) = 4.3027 x sem 1/sqrt(3)
    assert mean == 2.0 and abs((high - mean) - 2.4842) < 1e-3 and abs((mean - low) - 2.4842) < 1e-3
    assert verdict((1.0, 0.5, 1.5), -1) == "fails" and verdict((-1.0, -1.5, -0.5), -1) == "holds"
    # Within the margin on both sides: negligible, though the interval excludes 0; reaching past it: holds.
    assert verdict((-1.0, -1.5, -0.5), -1, margin=2.0) == "negligible"
    assert verdict((-1.0, -2.5, -0.5), -1, margin=2.0) == "holds"


def test_a_tiny_difference_in_a_secondary_row_is_negligible(tmp_path):
    """SDP-CC removes 0.1% less L1 mass than MP in every pair: an interval that excludes 0 but lies within 1% of
    MP's mean (0.004) is negligible, not holds; the score claim keeps its own rule."""
    _tree(tmp_path, {"MP": 0.0, "KD": 0.03, "SDP-CC(mean)": 0.00004})  # mass 0.004 - 0.000004
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    row = _line(text, "| CC implicitly encourages sparsity")
    assert "-0.004 [-0.004, -0.004] (n=6)" in row
    assert row.endswith("| negligible (within +-0.040: 1% of MP's mean) |")
    assert _line(text, "| SDP-CC(mean) beats MP and KD").endswith("| fails |")  # +0.004 points vs MP, -3 vs KD


def test_pairs_of_one_task_and_seed_are_one_unit():
    """0.8 and 0.9 of one (task, seed) share the dense model: one value each, their mean."""
    def rec(final):
        return {"final": final, "dense": 0.9, "analysis": {}}
    pairs = {("sst2", "m", "cubic", "frozen", sp, seed, "h"): {"MP": rec(0.5), "SDP-CC": rec(0.5 + d)}
             for seed, diffs in ((1, (0.01, 0.03)), (2, (0.02, 0.02))) for sp, d in zip((0.8, 0.9), diffs)}
    pairs[("sst2", "m", "cubic", "frozen", 0.5, 1, "h")] = {"MP": rec(0.5), "SDP-CC": rec(0.9)}  # below HIGH
    assert [round(d, 6) for d in _diffs(pairs, "SDP-CC", "MP", lambda r: r["final"])] == [0.02, 0.02]
    # The by-sparsity table: each sparsity on its own, 0.5 included.
    by = {sp: [round(d, 6) for d in _diffs(pairs, "SDP-CC", "MP", lambda r: r["final"], sparsity=sp)]
          for sp in (0.5, 0.8, 0.9)}
    assert by == {0.5: [0.4], 0.8: [0.01, 0.02], 0.9: [0.03, 0.02]}


def test_runs_of_another_budget_are_not_paired(tmp_path):
    """Pairs need the same config apart from the distillation term (run.json), e.g. the same LR schedule."""
    for seed in (1, 2, 3):
        for method, lr_schedule in (("MP", "linear"), ("SDP-CC", "constant")):
            path = write_run(tmp_path, f"runs/{method}_{seed}", run_record(
                "sst2", method, 0.9, seed, {"main": 0.8}, {"main": 0.9}, analysis={})).parent
            config = {"task": {"name": "sst2"}, "prune": {"lr_schedule": lr_schedule},
                      "regularizer": {"name": "none" if method == "MP" else "cross_correlation"}}
            (path / "run.json").write_text(json.dumps({"config": config}))
    build_report(tmp_path, plots=False)
    assert not (tmp_path / "tables" / "claims.md").exists()  # no MP partner under the same budget
    for seed in (1, 2, 3):  # now the same budget: the regularizer alone differs, so they pair
        path = tmp_path / f"runs/SDP-CC_{seed}" / "run.json"
        data = json.loads(path.read_text())
        data["config"]["prune"]["lr_schedule"] = "linear"
        path.write_text(json.dumps(data))
    build_report(tmp_path, plots=False)
    assert "vs MP +0.00 [+0.00, +0.00] (n=3)" in (tmp_path / "tables" / "claims.md").read_text()


def test_beating_mp_alone_is_not_beating_mp_and_kd(tmp_path):
    _tree(tmp_path, {"MP": 0.0, "SDP-CC": 0.02})  # no KD runs at all
    build_report(tmp_path, plots=False)
    claim1 = _line((tmp_path / "tables" / "claims.md").read_text(), "| SDP-CC beats MP and KD")
    assert "vs MP +2.00" in claim1 and "vs KD — (n=0)" in claim1 and claim1.endswith("| inconclusive |")


def test_frontier_compares_only_tasks_and_sparsities_both_methods_ran(tmp_path):
    _tree(tmp_path)
    write_run(tmp_path, "runs/cola/mp", run_record("cola", "MP", 0.9, 1, {"main": 0.2}, {"main": 0.2}))  # MP only
    write_run(tmp_path, "runs/cola/cc", run_record("cola", "SDP-CC(mean)", 0.5, 1, {"main": 0.0}, {"main": 0.2}))
    build_report(tmp_path, plots=False)
    frontier = _line((tmp_path / "tables" / "claims.md").read_text(), "| sparsity frontier")
    assert "cola" not in frontier and "mrpc: 0.8 vs 0.8" in frontier and "sst2: 0.8 vs 0.8" in frontier


def test_pair_hash_ignores_the_method_and_the_sparsity_only():
    base = {"sparsity": 0.9, "seed": 1, "prune": {"lr_schedule": "constant"}, "dense": {"checkpoint": "d1"},
            "regularizer": {"name": "none"}, "weight_reg": {"name": "none"}}
    same = {**base, "sparsity": 0.8, "regularizer": {"name": "cross_correlation", "alpha": 1.0}}
    assert pair_hash(base) == pair_hash(same)
    assert pair_hash(base) != pair_hash({**base, "dense": {"checkpoint": "d2"}})  # another dense model
    assert pair_hash(base) != pair_hash({**base, "prune": {"lr_schedule": "linear"}})
    assert pair_hash({}) is None


def test_readme_block_between_markers_follows_claims_md(tmp_path):
    """A results folder's README quotes the generated tables between markers; sdp-tables keeps them current and
    touches nothing else (and no README without the markers)."""
    _tree(tmp_path)
    prose_before, prose_after = "# Study\n\nVerdict text written by a person.\n\n", "\n\nMore prose.\n"
    readme = tmp_path / "README.md"
    readme.write_text(f"{prose_before}<!-- sdp-tables: claims.md -->\nstale numbers\n"
                      f"<!-- /sdp-tables: claims.md -->{prose_after}")
    build_report(tmp_path, plots=False)
    text, claims = readme.read_text(), (tmp_path / "tables" / "claims.md").read_text()
    assert text.startswith(prose_before) and text.endswith(prose_after) and "stale numbers" not in text
    block = text.split("<!-- sdp-tables: claims.md -->\n", 1)[1].split("\n<!-- /sdp-tables: claims.md -->")[0]
    assert block == claims.split("\n", 1)[1].strip("\n")  # claims.md without its title
    assert "| sst2 | 0.9 | 90.00 ± 0.00 (n=3) |" in block and "## Verdicts for SDP-CC(mean)" in block
    build_report(tmp_path, plots=False)
    assert readme.read_text() == text  # byte-identical re-run

    plain = "# A README without markers\n"
    readme.write_text(plain)
    build_report(tmp_path, plots=False)
    assert readme.read_text() == plain
    readme.write_text("<!-- sdp-tables: claims.md -->\nmine\n<!-- /sdp-tables: claims.md -->\n")
    build_report(tmp_path, out_dir=tmp_path / "elsewhere", plots=False)  # tables written elsewhere:
    assert "mine" in readme.read_text()  # the results folder's README is left as it is


def _with_setup(run_dir: Path, epochs: int) -> None:
    config = {"task": {"name": "sst2"}, "dense": {"epochs": epochs}, "regularizer": {}}
    (run_dir / "run.json").write_text(json.dumps({"config": config}))


def test_frontier_verdict_needs_three_units_and_setups_never_pool(tmp_path):
    """One (task, seed) where SDP-CC keeps 90% at 0.9 and MP only at 0.8 is no verdict; and two budgets (setups)
    of one task are two frontier rows, never one mean."""
    for method, final in (("MP", {0.8: 0.85, 0.9: 0.5}), ("SDP-CC(mean)", {0.8: 0.85, 0.9: 0.85})):
        for sp, score in final.items():
            _with_setup(write_run(tmp_path, f"runs/{method}_{sp}", run_record(
                "sst2", method, sp, 1, {"main": score}, {"main": 0.9}, analysis={})).parent, 3)
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    assert _line(text, "| sparsity frontier").endswith(
        "| — (n=1) | — | — | inconclusive (fewer than 3 units) |")  # no p-value, no power with n < 3
    assert "sst2: 0.9 vs 0.8" in _line(text, "| sparsity frontier")
    # Another budget of the same task and seed: its own rows, labelled by setup, and its own frontier.
    for method in ("MP", "SDP-CC(mean)"):
        _with_setup(write_run(tmp_path, f"other/{method}", run_record(
            "sst2", method, 0.9, 1, {"main": 0.1}, {"main": 0.5}, analysis={}, config_hash="budget1")).parent, 1)
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| sst2 [") and "| 0.9 |" in line]
    assert len(rows) == 2 and {r.split(" | ")[2] for r in rows} == {"90.00 (n=1)", "50.00 (n=1)"}
    # The same hash as glue.md's for the same runs (claims.md named them by the setup with the task in it).
    from sdp.report.collect import row_setup_hash

    labels = {r.split(" | ")[0][len("| sst2 ["):-1]: r.split(" | ")[2] for r in rows}
    short = {e: row_setup_hash({"task": {"name": "sst2"}, "dense": {"epochs": e}, "regularizer": {}})[:8]
             for e in (1, 3)}
    assert labels == {short[3]: "90.00 (n=1)", short[1]: "50.00 (n=1)"}
    glue = (tmp_path / "tables" / "glue.md").read_text()
    assert all(f"[{h}]" in glue for h in short.values())
    assert "task [hash] = the runs' setup where a task has several" in text
    # A third setup that differs from the first in the task's own settings only: the hash less the task is the
    # same, so the setup's own is added (two rows named alike would read as one experiment).
    for method in ("MP", "SDP-CC(mean)"):
        path = write_run(tmp_path, f"len64/{method}", run_record(
            "sst2", method, 0.9, 1, {"main": 0.3}, {"main": 0.5}, analysis={}, config_hash="len64")).parent
        config = {"task": {"name": "sst2", "max_seq_length": 64}, "dense": {"epochs": 3}, "regularizer": {}}
        (path / "run.json").write_text(json.dumps({"config": config}))
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    labels = [line.split(" | ")[0] for line in text.splitlines() if line.startswith("| sst2 [") and "| 0.9 |" in line]
    assert len(labels) == 3 and len(set(labels)) == 3
    assert sum(label.startswith(f"| sst2 [{short[3]}/") for label in labels) == 2


def test_a_studys_seeds_pool_although_each_has_its_own_dense_model(tmp_path):
    """The study passes every seed its own dense model (dense.checkpoint): one setup, one Dense row and one
    frontier row over 3 seeds, while the pairs stay within a seed."""
    for seed in (1, 2, 3):
        for method, final in (("MP", 0.70), ("SDP-CC(mean)", 0.72)):
            run_dir = write_run(tmp_path, f"runs/{method}_seed{seed}", run_record(
                "sst2", method, 0.9, seed, {"main": final + 0.01 * seed}, {"main": 0.8 + 0.01 * seed},
                analysis={}, config_hash=f"{method}{seed}", cell_hash=method)).parent
            config = {"dense": {"checkpoint": str(tmp_path / f"dense/sst2_seed{seed}/dense_model"), "epochs": 3},
                      "regularizer": {"name": method}, "sparsity": 0.9}
            (run_dir / "run.json").write_text(json.dumps({"config": config}))
    build_report(tmp_path, plots=False)
    claims = (tmp_path / "tables" / "claims.md").read_text()
    assert _line(claims, "| sst2 | 0.9 |") == "| sst2 | 0.9 | 82.00 ± 1.00 (n=3) | 72.00 ± 1.00 (n=3) | 74.00 ± 1.00 (n=3) |"
    assert "vs MP +2.00 [+2.00, +2.00] (n=3)" in _line(claims, "| SDP-CC(mean) beats MP and KD")
    glue = (tmp_path / "tables" / "glue.md").read_text()
    assert [line.split(" | ")[1] for line in glue.splitlines() if "| Dense" in line] == ["Dense"]
    assert "82.00 ± 1.00 (n=3)" in next(line for line in glue.splitlines() if "| Dense" in line)


def test_holm_and_power_columns(tmp_path):
    """Each claim row carries its Holm-adjusted p (over the claim rows, the check row apart) and the smallest
    difference its n and spread could detect with 80% power; the family-wise reading is spelled out."""
    from sdp.report.evidence import detectable, holm, p_value

    _tree(tmp_path)
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    assert "| Holm-adjusted p | smallest difference detectable (80% power) | verdict |" in text
    claim1 = _line(text, "| SDP-CC(mean) beats MP and KD")
    assert "| MP 0.000; KD 0.000 | MP 0.00; KD 0.00 | fails |" in claim1  # identical differences: no spread
    assert "(not in family)" in _line(text, "| (check, not a claim)")
    family = _line(text, "Holm's adjustment over the 8 comparisons")
    assert "still holding: class separability; faster recovery after pruning steps;" in family
    # The arithmetic: Holm multiplies the i-th smallest of m p-values by m - i + 1, kept non-decreasing.
    assert holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": None}) == {"a": 0.03, "b": 0.06, "c": 0.06, "d": None}
    diffs = [0.5, -1.2, 2.3, 0.1, 1.8, -0.4, 0.9, 1.1, -2.0, 0.7, 1.5, 0.2]
    assert 0.2 < p_value(diffs) < 0.25 and p_value([1.0, 1.0, 1.0]) == 0.0 and p_value([1.0, 2.0]) is None
    # At the detectable difference the test's power is 80%: noncentral t with ncp = d * sqrt(n) / sd.
    import statistics

    from scipy import stats
    d, n, sd = detectable(diffs), len(diffs), statistics.stdev(diffs)
    crit = stats.t.ppf(0.975, n - 1)
    ncp = d * n ** 0.5 / sd
    power = stats.nct.sf(crit, n - 1, ncp) + stats.nct.cdf(-crit, n - 1, ncp)
    assert abs(power - 0.8) < 1e-6
    assert d > 2.8 * sd / n ** 0.5 * 0.95  # near the normal approximation (z 1.96 + 0.84), above it for small n


def test_floor_cells_are_marked(tmp_path, data_dir, monkeypatch):
    """A cell whose mean sits at the best constant prediction's dev score is marked: MRPC's floor is F1 81.22 and
    accuracy 68.38 (every pair "equivalent"), main 74.80."""
    from sdp.report.floors import task_floor

    monkeypatch.setenv("SDP_DATA_DIR", str(data_dir))
    floor = task_floor("mrpc", str(data_dir))
    assert abs(floor - (0.8122270742358079 + 0.6838235294117647) / 2) < 1e-12
    assert task_floor("cola", str(data_dir)) == 0.0 and task_floor("stsb", str(data_dir)) == 0.0
    assert task_floor("mrpc", str(tmp_path / "nothing")) is None
    _tree(tmp_path)
    for seed in (1, 2, 3):  # MP at MRPC 0.9 predicts the majority class in every seed
        rec = json.loads((tmp_path / f"runs/mrpc/MP_s0.9_seed{seed}/metrics.json").read_text())
        rec["final"] = {"main": floor}
        (tmp_path / f"runs/mrpc/MP_s0.9_seed{seed}/metrics.json").write_text(json.dumps(rec))
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    assert _line(text, "| mrpc | 0.9 |").split(" | ")[3].endswith("(n=3) ‡")
    floors = _line(text, "‡ at its floor")
    assert "mrpc 74.80" in floors and "sst2 50.92" in floors
    # MRPC at 0.9 (the tree's KD and SDP-CC score 0.62-0.63 there: below it too), and MP at 0.8 (mean 75.20,
    # within half a point); no SST-2 cell is near 50.92.
    assert "Cells at a floor: 4: mrpc 0.8 MP; mrpc 0.9 MP; mrpc 0.9 KD; mrpc 0.9 SDP-CC(mean)." in floors


def test_a_floor_read_before_the_data_folder_was_set_is_not_kept(tmp_path, data_dir, monkeypatch):
    """The floor cache is keyed by the folder it read, not by the argument: a read with SDP_DATA_DIR unset (None)
    left mrpc's floor None for the whole process, and claims.md lost its ‡ marks in a run without the variable."""
    from sdp.report.floors import task_floor

    monkeypatch.delenv("SDP_DATA_DIR", raising=False)
    assert task_floor("mrpc", None) is None
    monkeypatch.setenv("SDP_DATA_DIR", str(data_dir))
    assert task_floor("mrpc", None) == task_floor("mrpc", str(data_dir)) is not None


def _spread(root: Path) -> None:
    """Spread in the SDP-CC runs (seed 1 down 1.5 points, seed 3 up 1.5): p-values well above 0."""
    for path in root.glob("runs/*/SDP-CC_s*_seed*/metrics.json"):
        rec = json.loads(path.read_text())
        rec["final"]["main"] += 0.015 * (int(path.parent.name[-1]) - 2)
        path.write_text(json.dumps(rec))


def _first_row_ps(section: str) -> tuple[float, float]:
    import re

    return tuple(float(v) for v in re.search(r"\| MP ([0-9.]+); KD ([0-9.]+) \|", section).groups())


def test_the_sdp_cc_variants_of_one_folder_are_one_holm_family(tmp_path):
    """Two SDP-CC variants side by side (cls and mean representations): each section's Holm adjustment covered its
    own 8 comparisons only, so each variant had a 5% family-wise error of its own and the one that held could be
    picked after the fact. The adjustment now runs over the 16 comparisons of both, in both sections."""
    _tree(tmp_path / "both", {"MP": 0.0, "KD": 0.03, "SDP-CC(mean)": 0.02, "SDP-CC": 0.01})
    _tree(tmp_path / "one", {"MP": 0.0, "KD": 0.03, "SDP-CC": 0.01})
    for name in ("both", "one"):
        _spread(tmp_path / name)
        build_report(tmp_path / name, plots=False)
    both = (tmp_path / "both" / "tables" / "claims.md").read_text()
    one = (tmp_path / "one" / "tables" / "claims.md").read_text()
    reading = [line for line in both.splitlines() if line.startswith("Holm's adjustment over")]
    assert len(reading) == 2 and all(line.startswith(
        "Holm's adjustment over the 16 comparisons of the claim rows of all 2 SDP-CC variants") for line in reading)
    assert "Holm's adjustment over the 8 comparisons of the claim rows above" in one
    joint = _first_row_ps(both.split("## Verdicts for SDP-CC\n", 1)[1])
    alone = _first_row_ps(one.split("## Verdicts for SDP-CC\n", 1)[1])
    assert all(j >= a for j, a in zip(joint, alone)) and joint != alone  # a larger family: larger adjusted p


def test_a_row_that_holds_only_unadjusted_says_so_in_its_verdict_cell():
    """Probe round 11: the verdict column said "holds" for rows whose Holm-adjusted p was 0.100, and only the
    paragraph under the table said no row held family-wise. The cell now carries the adjustment's reading."""
    from sdp.report.claims import Row, _render_rows

    rows = [Row("separability", "Fisher", "+0.10 [+0.03, +0.17] (n=9)", "holds", {"MP": [0.1, 0.2, 0.05]}),
            Row("beats", "score", "+2.0", "holds", {"MP": [1.0, 2.0, 3.0], "KD": [1.0, 2.0, 3.0]}),
            Row("check", "cc", "-0.27", "holds", {"MP": [0.1, 0.2, 0.3]}, family=False),
            Row("frontier", "sparsity", "+0.04", "inconclusive", {"MP": [0.1, -0.1, 0.0]})]
    adjusted = {"V|0:MP": 0.100, "V|1:MP": 0.01, "V|1:KD": 0.2, "V|3:MP": 1.0}
    cells = [line.rsplit("|", 2)[1].strip() for line in _render_rows(rows, "V", adjusted, 1)[2:6]]
    assert cells == ["holds unadjusted; not after Holm's adjustment",
                     "holds (after Holm's adjustment: vs MP only)",
                     "holds",  # not a claim: not in the family, its verdict is its interval's
                     "inconclusive"]
    adjusted["V|0:MP"] = 0.04
    assert _render_rows(rows, "V", adjusted, 1)[2].endswith("| holds |")


def test_a_recovery_recorded_with_events_that_removed_nothing_is_recounted(tmp_path):
    """Round 39, left (tests/test_open_items_s21.py): records made before sr1's fix counted a structured step's empty
    events as pruning steps in analysis.recovery, and claims.md read that summary. Recounted from the trace, said."""
    _tree(tmp_path)
    events = [{"event": "prune", "step": 10, "sparsity": 0.3, "loss_before": 1.0, "loss_after": 1.1,
               "recovery_steps": 8, "removed": 10, "removed_mass": 0.004},
              {"event": "prune", "step": 12, "sparsity": 0.4, "loss_before": 1.0, "loss_after": 1.0,
               "recovery_steps": 1, "removed": 0, "removed_mass": 0.0}]
    recorded = {"pruning_steps": 2, "mean_recovery_steps": 4.5, "mean_loss_jump": 0.05, "mean_removed_mass": 0.002,
                "unrecovered": 0, "smoothing": 0.9}
    for path in (tmp_path / "runs").glob("*/SDP-CC(mean)_*/metrics.json"):
        record = json.loads(path.read_text())
        record["analysis"]["recovery"] = recorded
        write_run(tmp_path, str(path.parent.relative_to(tmp_path)), record, trace=events)
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    assert "Recounted: the recovery of 12 run(s) at sparsity >= 0.8, from their trace.jsonl" in text  # 2 x 2 x 3 seeds
    assert "-2.0 [-2.0, -2.0] (n=6)" in _line(text, "| faster recovery")  # 8 - 10 (MP), not 4.5 - 10


def test_the_dense_mask_overlap_is_the_pairs_own(tmp_path):
    """Probe round 43, cl1: the "with the dense one-shot mask" overlap of MP averaged in an MP run no SDP-CC run is
    paired with (0.655 where the paired runs' mean is 0.666)."""
    _tree(tmp_path)
    analysis = {"mask_overlap": {"dense_magnitude": 0.1}}
    write_run(tmp_path, "runs/sst2/MP_s0.9_seed9", run_record("sst2", "MP", 0.9, 9, {"main": 0.7}, {"main": 0.9},
                                                             analysis=analysis))  # no SDP-CC partner
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    assert "with the dense one-shot mask: MP 0.950, SDP-CC(mean) 0.950" in _line(text, "| CC implicitly"), text


def test_the_dense_mask_overlap_is_over_the_pairs_recording_both(tmp_path):
    """Probe round 44, cl2, cl3: a pair whose SDP-CC run (or MP run) records no overlap with the dense mask still
    counted for the other method: MP over 3 pairs beside SDP-CC over 2, under one n, no word."""
    _tree(tmp_path)
    for method, value in (("MP", 0.1), ("SDP-CC(mean)", None)):  # one pair: MP 0.1, SDP-CC nothing recorded
        path = tmp_path / f"runs/sst2/{method}_s0.9_seed1"
        record = json.loads((path / "metrics.json").read_text())
        record["analysis"]["mask_overlap"]["dense_magnitude"] = value
        write_run(tmp_path, str(path.relative_to(tmp_path)), record)
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    assert ("with the dense one-shot mask: MP 0.950, SDP-CC(mean) 0.950 (over the 11 of 12 pairs whose runs both "
            "record it)") in _line(text, "| CC implicitly"), text


def test_the_dense_mask_overlap_recorded_by_no_pair_is_said(tmp_path):
    """Review of round 44's fixes: where no pair records both overlaps (MP's runs do), the note went without a word;
    records of no overlap at all keep none (tests/test_probe_round28.py)."""
    _tree(tmp_path)
    for path in (tmp_path / "runs").glob("*/SDP-CC(mean)_*/metrics.json"):
        record = json.loads(path.read_text())
        del record["analysis"]["mask_overlap"]["dense_magnitude"]
        write_run(tmp_path, str(path.parent.relative_to(tmp_path)), record)
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "claims.md").read_text()
    assert "with the dense one-shot mask: no pair's two runs both record it" in _line(text, "| CC implicitly"), text
