"""Review of session 24's fixes, part A (sdp-tables' words of given models): sentences of summary.md and glue.md
about Dense rows of dense models given as dense.checkpoint that were false while the numbers were right. Each test
fails before its fix. Hand-written records (tests/test_probe_round51_a.py's helpers), offline."""

from __future__ import annotations

from test_probe_round51_a import DENSE, _report, _runs
from test_probe_round51_a import to_mrpc as _to_mrpc

NO_KEY = ("- `tiny-bert / Dense` rows of other setups: differ in no key the dense stage reads (only in prune.criterion, "
          "which the pruning stage reads): ")
SAME = "scored otherwise (other code or data content, or dense scores that differ seed by seed)"
OTHERS = "(other code, data content or dense.checkpoint, or dense scores that differ seed by seed)"


def _label(rows: dict[str, str], cell: str) -> str:
    """The label (as glue.md writes it, `Dense [x]` -> x) of the one Dense row whose cell is ``cell``."""
    found = [label for label, shown in rows.items() if shown == cell]
    assert len(found) == 1, (cell, rows)
    return found[0][len("Dense ["):-1]


def test_rows_of_one_model_scored_otherwise_beside_a_row_of_another_are_said_row_by_row(tmp_path):
    """The review's MUST: given-only B (x1, scored 46.875), C (x1, scored 50.0) and E (x3, scored 62.5) keep a row each
    (by hand: 46.88 (n=1), 50.00 (n=1), 62.50 (n=1): one model each), but summary.md said "some of their dense models
    are the same by fingerprint ..., each row holding another set of them": B and C hold the same set, E none of
    another row's. Now each kind is said, its rows named as glue.md labels them."""
    _runs(tmp_path, "b", {1: .5}, "magnitude", reads={1: "x1"}, dense={"x1": .46875})
    _runs(tmp_path, "c", {1: .5625}, "movement", reads={1: "x1"}, dense={"x1": .5})
    _runs(tmp_path, "e", {1: .625}, "taylor", reads={1: "x3"}, dense={"x3": .625})
    rows, lines, _, _ = _report(tmp_path)
    b, c, e = (_label(rows, cell) for cell in ("46.88 (n=1)", "50.00 (n=1)", "62.50 (n=1)"))
    first, second = sorted((b, c))
    assert lines == [f"{NO_KEY}by fingerprint, rows [{first}] and [{second}] hold the same dense models, {SAME}; row "
                     f"[{e}] holds other dense models, none of another row's {OTHERS}"], lines


def test_rows_of_one_set_and_a_row_of_some_of_it_are_said_row_by_row(tmp_path):
    """B and C both given x1 (seed 1) and x2 (seed 2), C's scored otherwise (50.0 each), D given x1 alone: three rows
    (by hand: B 46.875, 53.125: 50.00 ± 4.42 (n=2); C 50.00 ± 0.00 (n=2); D 46.88 (n=1)); summary.md said "each row
    holding another set" though B and C hold one set."""
    scores = {"x1": DENSE[1], "x2": DENSE[2]}
    _runs(tmp_path, "b", {1: .5, 2: .5}, "magnitude", reads={1: "x1", 2: "x2"}, dense=scores)
    _runs(tmp_path, "c", {1: .5, 2: .5}, "movement", reads={1: "x1", 2: "x2"}, dense={"x1": .5, "x2": .5})
    _runs(tmp_path, "d", {1: .5}, "taylor", reads={1: "x1"}, dense=scores)
    rows, lines, _, _ = _report(tmp_path)
    b, c, d = (_label(rows, cell) for cell in ("50.00 ± 4.42 (n=2)", "50.00 ± 0.00 (n=2)", "46.88 (n=1)"))
    first, second = sorted((b, c))
    some = ", ".join(f"[{x}] and [{y}]" for x, y in sorted(tuple(sorted(pair)) for pair in ((b, d), (c, d))))
    assert lines == [f"{NO_KEY}by fingerprint, rows [{first}] and [{second}] hold the same dense models, {SAME}; rows "
                     f"{some} hold some of the same dense models, each another set of them"], lines


def test_tasks_whose_rows_are_of_other_kinds_say_each_task_s(tmp_path):
    """Across tasks: on rte B and C hold x1, scored otherwise (46.88 (n=1), 50.00 (n=1): "same"); on mrpc D holds x1
    and x2 (50.00 ± 4.42 (n=2)) and E x1 (46.88 (n=1): "shared"). The kinds differ, and the line said "others",
    false on both tasks. Each task's is said."""
    _runs(tmp_path, "b", {1: .5}, "magnitude", reads={1: "x1"}, dense={"x1": .46875})
    _runs(tmp_path, "c", {1: .5625}, "movement", reads={1: "x1"}, dense={"x1": .5})
    _runs(tmp_path, "d", {1: .5, 2: .5}, "taylor", reads={1: "x1", 2: "x2"}, dense={"x1": DENSE[1], "x2": DENSE[2]})
    _runs(tmp_path, "e", {1: .5}, "l2", reads={1: "x1"}, dense={"x1": DENSE[1]})
    _to_mrpc(tmp_path, ("d1", "d2", "e1"))
    _, lines, _, _ = _report(tmp_path)
    assert lines == [f"{NO_KEY}on mrpc: some of their dense models are the same by fingerprint (given as "
                     "dense.checkpoint), each row holding another set of them; on rte: their dense models are the "
                     f"same by fingerprint, {SAME}"], lines


def test_a_given_model_of_a_pooled_row_names_the_setup_that_trained_it(tmp_path):
    """A trains a1, a2 (46.875, 53.125); E is given a2 at seed 1 and a1 at seed 2: A's set, so one row [A+E] (by hand
    a1: 46.875 (a1's own run and e2), a2: 53.125: 50.00 ± 4.42 (n=2)); B is given a1 at seed 1: its own row, 46.88
    (n=1). glue.md said `[A+E]'s dense models at seed 1 ...: the same models as that row's, at these seeds only`,
    but [A+E]'s seed 1 is a1 (A's) and a2 (E's): B holds a1 only, which A trained. And one model is "model"."""
    _runs(tmp_path, "a", {1: .5625, 2: .6875}, "magnitude")
    _runs(tmp_path, "b", {1: .5}, "taylor", reads={1: "a1"})
    _runs(tmp_path, "e", {1: .5625, 2: .5}, "l2", reads={1: "a2", 2: "a1"})
    rows, lines, glue, _ = _report(tmp_path)
    pooled, b = _label(rows, "50.00 ± 4.42 (n=2)"), _label(rows, "46.88 (n=1)")
    a = next(label for label in pooled.split("+") if f"| MP [{label}] | 80% | 62.50 ± 8.84 (n=2)" in glue)
    said = f"[{a}]'s dense model at seed 1{{}}: one of row [{pooled}]'s models, the one [{a}] trained at that seed"
    assert f"- Dense [{b}] = {said.format(' (given as dense.checkpoint)')}." in glue, glue
    assert lines == [f"- `tiny-bert / Dense` row [{b}]: {said.format(', given as dense.checkpoint')}"], lines


def test_one_model_given_to_a_setup_is_said_as_one(tmp_path):
    """A trains a1, a2; B is given a1 at seed 1: B's row is that one model (46.88 (n=1)), which glue.md and summary.md
    called "[A]'s dense models at seed 1 ...: the same models as that row's, at these seeds only"."""
    _runs(tmp_path, "a", {1: .5625, 2: .6875}, "magnitude")
    _runs(tmp_path, "b", {1: .5}, "taylor", reads={1: "a1"})
    rows, lines, glue, _ = _report(tmp_path)
    a, b = _label(rows, "50.00 ± 4.42 (n=2)"), _label(rows, "46.88 (n=1)")
    said = f"[{a}]'s dense model at seed 1{{}}: the same model as that row's, at this seed only"
    assert f"- Dense [{b}] = {said.format(' (given as dense.checkpoint)')}." in glue, glue
    assert lines == [f"- `tiny-bert / Dense` row [{b}]: {said.format(', given as dense.checkpoint')}"], lines


OLD_NOTE = "- Dense = each run's dense fine-tuned score, averaged per seed, then over seeds."


def test_the_dense_note_says_a_model_read_at_two_seeds_counts_once(tmp_path):
    """A given-only F of one model, x1, read at seeds 1 and 2: its Dense row is 46.88 (n=1) (one model, one unit: round
    26's dk1), but glue.md's note said "averaged per seed, then over seeds" (that would be n=2). The note says so where
    such a row is in the table; a table of given models one per seed (B: x1 at seed 1, x2 at seed 2: 50.00 ± 4.42
    (n=2)) keeps the note as it was."""
    _runs(tmp_path / "f", "f", {1: .5, 2: .5625}, "magnitude", reads={1: "x1", 2: "x1"}, dense={"x1": DENSE[1]})
    rows, _, glue, _ = _report(tmp_path / "f")
    assert rows == {"Dense": "46.88 (n=1)"}, rows
    assert OLD_NOTE not in glue and (
        "- Dense = each run's dense fine-tuned score, averaged per seed, then over seeds; but a dense model (known by "
        "its fingerprint) that runs of several seeds read, given as dense.checkpoint, or one given to a seed beside "
        "that seed's own, is one unit of the mean and of n: one model read at seeds 1 and 2 counts once.") in glue, glue
    _runs(tmp_path / "b", "b", {1: .5, 2: .5625}, "magnitude", reads={1: "x1", 2: "x2"},
          dense={"x1": DENSE[1], "x2": DENSE[2]})
    rows, _, glue, _ = _report(tmp_path / "b")
    assert rows == {"Dense": "50.00 ± 4.42 (n=2)"} and OLD_NOTE in glue, (rows, glue)


def test_rows_of_models_not_known_by_fingerprint_are_not_said_to_be_others():
    """Review of session 24's fixes, noticed: rows whose dense models no record fingerprints (runs from before sdp
    kept it; results/criteria's three setups given one dense.checkpoint by path) were said to hold "others"; and (the
    review of session 25) a known row apart from every known one went unsaid beside an unknown row."""
    from sdp.report.setup_diff import _MODEL_WORDS, _rows_kind

    assert _rows_kind({"A": {None}, "B": {None}}) == "unknown"
    assert _rows_kind({"A": {None}, "B": {None}, "C": {"m1"}}) == "unknown"
    assert "not all known by fingerprint" in _MODEL_WORDS["unknown"]
    assert _rows_kind({"A": {"m1"}, "B": {"m2"}}) == ""  # known and apart: others
    mixed = _rows_kind({"A": {"m1"}, "B": {"m1", "m2"}, "C": {None}})  # A, B share m1; C not known
    assert "rows [A] and [B] hold some of the same dense models" in mixed and \
        "row [C] holds dense models no record fingerprints" in mixed and "others" not in mixed, mixed
    apart = _rows_kind({"A": {"m1"}, "B": {"m1"}, "C": {"m2"}, "D": {None}})
    assert "rows [A] and [B] hold the same dense models" in apart and "row [C] holds other dense models, none of " \
        "another row's known so" in apart and "row [D] holds dense models no record fingerprints" in apart, apart
