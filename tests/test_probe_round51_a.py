"""Probe round 51 (docs/probe_round51.md, a deciding round; probe only): its findings of part A (Dense rows of given
models), fixed by the lead. Each test fails on 4a5a955 and passes after its fix. Hand-written records, offline."""

from __future__ import annotations

import json
from pathlib import Path

from records import write_record

DENSE = {1: 0.46875, 2: 0.53125}  # A's dense scores by seed (15/32, 17/32), as the probe's a1, a2


def _runs(root: Path, run: str, finals: dict[int, float], criterion: str, reads: dict[int, str] | None = None,
          dense: dict[str, float] | None = None) -> None:
    """MP runs of one setup (config hash h-<run>, prune.criterion ``criterion``), seed -> final score: their own dense
    stage (model fp-<run><seed>, dense score DENSE[seed]), or ``reads``: seed -> the model given (fingerprint fp-<x>,
    read from <x>'s dense_model/), scored ``dense[x]`` (else A's score of that model)."""
    for seed, final in finals.items():
        name, given = f"{run}{seed}", (reads or {}).get(seed)
        write_record(root, name, "MP", seed, final, own=None if given else f"fp-{run}{seed}",
                     given=(f"{root}/{given}/dense_model", f"fp-{given}") if given else None)
        score = (dense or {}).get(given) or DENSE[int(given[-1]) if given else seed]
        for file in ("run.json", "metrics.json"):
            record = json.loads((root / name / file).read_text())
            if file == "run.json":
                record["config"]["prune"]["criterion"] = criterion
            else:
                record["dense"] = {"main": score, "accuracy": score}
            (root / name / file).write_text(json.dumps({**record, "config_hash": f"h-{run}"}))


def to_mrpc(root: Path, names: tuple[str, ...]) -> None:
    """The runs ``names`` made on mrpc (another task, other data)."""
    for name in names:
        for file in ("run.json", "metrics.json"):
            record = json.loads((root / name / file).read_text())
            if file == "run.json":
                record["config"]["task"]["name"] = "mrpc"
            else:
                record["task"] = "mrpc"
                record["data_fingerprint"] = {k: v if k == "model:dense.checkpoint" else f"{v}mrpc"
                                              for k, v in record["data_fingerprint"].items()}
            (root / name / file).write_text(json.dumps(record))


def _report(root: Path) -> tuple[dict[str, str], list[str], str, str]:
    """glue.md's Dense rows (label -> cell), summary.md's Dense lines, glue.md and deltas.md."""
    from sdp.report.report import build_report

    build_report(root, plots=False)
    glue, deltas = ((root / "tables" / f"{name}.md").read_text() for name in ("glue", "deltas"))
    rows = {line.split("|")[2].strip(): line.split("|")[4].strip() for line in glue.splitlines() if "| Dense" in line}
    summary = (root / "tables" / "summary.md").read_text().splitlines()
    return rows, [line for line in summary if "`tiny-bert / Dense`" in line], glue, deltas


def _deltas_vs_dense(glue: str, deltas: str) -> dict[str, str]:
    """A pruned row's mean in glue.md -> its cell in deltas.md's `Δ main score vs Dense` (rows labelled alike)."""
    table = deltas.split("Δ main score vs MP")[0]
    cells = {line.split("|")[2].strip(): line.split("|")[4].strip() for line in table.splitlines()
             if line.startswith("| tiny-bert | MP")}
    return {line.split("|")[4].strip(): cells[line.split("|")[2].strip()] for line in glue.splitlines()
            if line.startswith("| tiny-bert | MP")}


def test_a_given_setup_of_crossed_seeds_shares_the_row_of_its_models(tmp_path):
    """dgc_cross: c1 read a2's dense model, c2 read a1's (by fingerprint): glue.md showed the two models twice, `Dense
    [138d7615]` and `Dense [a8228701]`, each 50.00 ± 4.42 (n=2), and summary.md said their dense models are "others".
    One row now: by hand the models' scores 46.875 (a1's) and 53.125 (a2's): mean 50.00, sample sd
    sqrt((3.125^2 + 3.125^2) / 1) = 4.42, n=2 (a model, not a seed, is the unit: by seed, a1 with c1's read of a2's
    model, it would read 50.00 ± 0.00). No Dense line. Δ vs Dense pairs each run with the model it pruned: MP [A]
    (mean final (56.25 + 68.75) / 2 = 62.50) a1 56.25 - 46.875 = 9.375, a2 68.75 - 53.125 = 15.625: +12.50 (n=2); MP
    [C] (56.25) c1 (seed 1, a2's model) 62.5 - 53.125 = 9.375, c2 (a1's) 50 - 46.875 = 3.125: +6.25 (n=2)."""
    _runs(tmp_path, "a", {1: 0.5625, 2: 0.6875}, "magnitude")
    _runs(tmp_path, "c", {1: 0.625, 2: 0.5}, "movement", reads={1: "a2", 2: "a1"})
    rows, lines, glue, deltas = _report(tmp_path)
    assert rows == {"Dense": "50.00 ± 4.42 (n=2)"}, rows
    assert lines == [], lines
    assert _deltas_vs_dense(glue, deltas) == {"62.50 ± 8.84 (n=2)": "+12.50 (n=2)",
                                              "56.25 ± 8.84 (n=2)": "+6.25 (n=2)"}, deltas


def test_one_model_given_to_every_seed_says_which_model(tmp_path):
    """dgf_twice: f1 and f2 both read a1's dense model: glue.md showed `Dense [a8228701] | 46.88 (n=1)` beside A's row
    and summary.md said the models are "others". F's row is one of A's models, one unit however many seeds read it
    (round 26, dk1): 46.875, n=1, no sd; A's row 46.875 and 53.125: 50.00 ± 4.42 (n=2). glue.md's note and summary.md
    say which model, given to which seeds. Δ vs Dense pairs each run with a1's model, not its seed's: MP [F] (mean
    final (50 + 56.25) / 2 = 53.12) f1 50 - 46.875 = 3.125, f2 56.25 - 46.875 = 9.375: +6.25 (n=2) (by seed, f2 -
    53.125 = 3.125 would give +3.12); MP [A] (62.50) +12.50 as in dgc_cross."""
    _runs(tmp_path, "a", {1: 0.5625, 2: 0.6875}, "magnitude")
    _runs(tmp_path, "f", {1: 0.5, 2: 0.5625}, "movement", reads={1: "a1", 2: "a1"})
    rows, lines, glue, deltas = _report(tmp_path)
    label_f = next(label for label, cell in rows.items() if cell == "46.88 (n=1)")[len("Dense ["):-1]
    label_a = next(label for label, cell in rows.items() if cell == "50.00 ± 4.42 (n=2)")[len("Dense ["):-1]
    assert len(rows) == 2, rows
    said = "given to seeds 1, 2 as dense.checkpoint: some of that row's models, each counted once however many seeds"
    assert f"- Dense [{label_f}] = [{label_a}]'s dense model of seed 1, {said} read it." in glue, glue
    assert lines == [f"- `tiny-bert / Dense` row [{label_f}]: [{label_a}]'s dense model of seed 1, {said} read it"], \
        lines
    assert _deltas_vs_dense(glue, deltas) == {"62.50 ± 8.84 (n=2)": "+12.50 (n=2)",
                                              "53.12 ± 4.42 (n=2)": "+6.25 (n=2)"}, deltas


def test_given_models_of_other_content_are_still_others(tmp_path):
    """The case the fix must not join: D's runs read dense models from A's folders whose content is other (fp-z1,
    fp-z2: retrained since, with the same dense scores as A's), beside C, which read A's models crossed (dgc_cross).
    C joins A's row ([A+C]: 46.875, 53.125: 50.00 ± 4.42, n=2); D keeps its own (the same numbers, n=2), and
    summary.md says the two rows' dense models are others (before: three rows, A's models twice)."""
    _runs(tmp_path, "a", {1: 0.53125, 2: 0.59375}, "magnitude")
    _runs(tmp_path, "c", {1: 0.625, 2: 0.5}, "movement", reads={1: "a2", 2: "a1"})
    _runs(tmp_path, "d", {1: 0.5, 2: 0.5}, "taylor", reads={1: "z1", 2: "z2"}, dense={"z1": DENSE[1], "z2": DENSE[2]})
    rows, lines, _, _ = _report(tmp_path)
    assert sorted(rows.values()) == ["50.00 ± 4.42 (n=2)"] * 2 and sum("+" in label for label in rows) == 1, rows
    assert len(lines) == 1 and lines[0].endswith("their dense models are others (other code, data content or "
                                                 "dense.checkpoint, or dense scores that differ seed by seed)"), lines


def test_given_setups_of_one_models_crossed_share_a_row(tmp_path):
    """dgc_cross, with no run here that trained the models: B given x1 at seed 1 and x2 at seed 2, E given x2 at seed 1
    and x1 at seed 2 (by fingerprint) were two Dense rows (the rows of given models were matched seed by seed), said
    to be "others". One row: x1 46.875, x2 53.125: 50.00 ± 4.42 (n=2), and no Dense line."""
    scores = {"x1": DENSE[1], "x2": DENSE[2]}
    _runs(tmp_path, "b", {1: 0.5, 2: 0.5}, "magnitude", reads={1: "x1", 2: "x2"}, dense=scores)
    _runs(tmp_path, "e", {1: 0.5, 2: 0.5}, "movement", reads={1: "x2", 2: "x1"}, dense=scores)
    rows, lines, _, _ = _report(tmp_path)
    assert rows == {"Dense": "50.00 ± 4.42 (n=2)"} and lines == [], (rows, lines)


def test_rows_of_one_set_of_models_scored_otherwise_are_not_said_to_hold_others(tmp_path):
    """dgc_cross's sentence: C read A's two models crossed (by fingerprint) but recorded other dense scores (50.00 each,
    A's 46.875 and 53.125: scored otherwise, as by other code), so it keeps its own row (50.00 ± 0.00 (n=2) beside A's
    50.00 ± 4.42 (n=2)); summary.md said their dense models are "others", which the fingerprints show false."""
    _runs(tmp_path, "a", {1: 0.5625, 2: 0.6875}, "magnitude")
    _runs(tmp_path, "c", {1: 0.625, 2: 0.5}, "movement", reads={1: "a2", 2: "a1"}, dense={"a1": 0.5, "a2": 0.5})
    rows, lines, _, _ = _report(tmp_path)
    assert sorted(rows.values()) == ["50.00 ± 0.00 (n=2)", "50.00 ± 4.42 (n=2)"], rows
    assert len(lines) == 1 and "others" not in lines[0] and lines[0].endswith(
        "their dense models are the same by fingerprint, scored otherwise (other code or data content, or dense "
        "scores that differ seed by seed)"), lines


def test_review_rows_holding_some_of_the_same_models_are_not_said_to_hold_others(tmp_path):
    """Review of round 51's fixes: given-only setups B (x1 at seed 1, x2 at seed 2) and E (x1 at seed 1) keep a row each
    (50.00 ± 4.42, n=2, and 46.88, n=1: right), but summary.md said their dense models "are others"; E's one model is
    B's x1."""
    scores = {"x1": DENSE[1], "x2": DENSE[2]}
    _runs(tmp_path, "b", {1: .5, 2: .5}, "magnitude", reads={1: "x1", 2: "x2"}, dense=scores)
    _runs(tmp_path, "e", {1: .5}, "movement", reads={1: "x1"}, dense=scores)
    rows, lines, _, _ = _report(tmp_path)
    assert sorted(rows.values()) == ["46.88 (n=1)", "50.00 ± 4.42 (n=2)"], rows
    assert lines and not any("are others" in line for line in lines), lines
    assert any("some of their dense models are the same by fingerprint" in line for line in lines), lines


def test_review_a_row_pooled_from_two_given_setups_names_every_seed_given(tmp_path):
    """Review of round 51's fixes: A trains a1, a2; B is given a1 at seed 1, E a1 at seed 2: one Dense row [B+E]
    (46.88, n=1: one model), whose note said "given to seed 2" (E's alone)."""
    _runs(tmp_path, "a", {1: .5625, 2: .6875}, "magnitude")
    _runs(tmp_path, "b", {1: .5}, "movement", reads={1: "a1"})
    _runs(tmp_path, "e", {2: .5625}, "taylor", reads={2: "a1"})
    rows, lines, glue, _ = _report(tmp_path)
    assert "46.88 (n=1)" in rows.values(), rows
    assert "dense model of seed 1, given to seeds 1, 2 as dense.checkpoint" in glue, glue
    assert any("given to seeds 1, 2" in line for line in lines) and not any("given to seed 2 " in line
                                                                            for line in lines), lines


def test_review_a_models_rows_of_two_tasks_are_not_said_to_hold_others(tmp_path):
    """Review of round 51's fixes: A trains on rte (a1, a2) and, as B, on mrpc; C is given A's rte models crossed. One
    Dense row a task ([A+C] on rte, [B] on mrpc), but summary.md said the rows' "dense models are others": they
    differ by task, not by models."""
    _runs(tmp_path, "a", {1: .5625, 2: .6875}, "magnitude")
    _runs(tmp_path, "b", {1: .5625, 2: .6875}, "magnitude")
    to_mrpc(tmp_path, ("b1", "b2"))  # B is A on mrpc: another task, other data
    _runs(tmp_path, "c", {1: .625, 2: .5}, "movement", reads={1: "a2", 2: "a1"})
    rows, lines, _, _ = _report(tmp_path)
    assert len(rows) == 2 and not any("are others" in line for line in lines), (rows, lines)
