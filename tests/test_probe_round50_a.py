"""Probe round 50 (docs/probe_round50.md, a deciding round; probe only): its findings of part A (dashes, label names,
ports, Dense rows), fixed by the lead. Each test fails on d6fd08f and passes after its fix. Hand-written labels,
records and environments, offline."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from records import write_record

# Unicode's Dash=Yes characters of no script's own that print as '-', and the two minus signs its confusables data
# adds; and the ones left out: a script's own hyphen (Armenian, Mongolian), a double hyphen, a wave, two em dashes
LIKE_A_HYPHEN = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u02d7\u2043"
NOT_LIKE_A_HYPHEN = "\u058a\u1806\u2e40\u301c\u2e3a"  # (U+207B, U+FE31: a data label's NFKC reads them as dashes)


@pytest.mark.parametrize("dash", ["\u02d7", "\u2043"])
def test_a_plug_in_label_in_a_minus_sign_or_hyphen_bullet_is_a_twin(dash):
    """pl_modminus, pl_hybullet: plug-ins labelled `SDP˗CC` (U+02D7) and `SDP⁃CC` (U+2043) registered, and were tabled
    beside SDP-CC, where `SDP‐CC` (U+2010) was refused since round 49."""
    from sdp.objectives.component import Registry
    from sdp.objectives.registry import DISTILL_TERMS

    registry = Registry("regularizer_probe50", "alpha", DISTILL_TERMS.base, compose=False)
    registry.peers = (DISTILL_TERMS,)
    with pytest.raises(ValueError, match="is already regularizer 'cross_correlation''s"):
        registry.register("mm_cc", next(iter(DISTILL_TERMS._entries.values())).cls, label=f"SDP{dash}CC")


def test_number_labels_in_every_dash_that_prints_as_a_minus_are_one_number():
    """lab_mm: labels `˗1` (U+02D7) and `-1` were two classes, unsaid, while `−1`, `–1`, `‐1` were refused. Every
    character that prints as '-' is a minus now (Unicode's Dash property, not a list of ten); a script's own hyphen, a
    double hyphen, a wave or a two-em dash is not."""
    from sdp.data.file_scan import label_problem, scores_as_text

    for dash in LIKE_A_HYPHEN:  # (U+FE63, U+FF0D are '-' by NFKC: "Unicode form")
        assert label_problem(sorted(["-1", f"{dash}1"])) is not None, ascii(dash)
        assert label_problem(sorted(["pre-op", f"pre{dash}op"])) is not None, ascii(dash)
    for dash in "\u02d7\u2043":
        assert "the way a number is written" in str(label_problem(sorted(["-1", f"{dash}1"]))), ascii(dash)
        assert "a minus sign or dash" in str(label_problem(sorted(["pre-op", f"pre{dash}op"]))), ascii(dash)
    for other in NOT_LIKE_A_HYPHEN:
        assert label_problem(sorted(["pre-op", f"pre{other}op"])) is None, ascii(other)
    assert scores_as_text(["\u02d70.5", "1.5"]) is not None  # a score with U+02D7's minus is a score


def test_a_regression_score_with_a_modifier_minus_is_read(tmp_path):
    """lab_mm (the regression reader): `float('˗0.5'.translate(DASHES))` raised: the score was "not a finite number"."""
    from test_probe_round37 import _custom

    from sdp.crosslingual import resolve_task
    from sdp.data.loading import load_splits

    rows = [(f"film number {i} here", f"{i % 5}.5") for i in range(10)]
    rows[3] = ("film number 3 here", "\u02d71.5")
    cfg = _custom(tmp_path, rows, rows[:5], "task.metric=pearson_spearman")
    splits = load_splits(resolve_task(cfg.task), None).datasets
    assert splits["train"]["label"][3] == -1.5 and splits["validation"]["label"][3] == -1.5


def test_text_labels_alike_but_for_a_dash_are_twins(tmp_path):
    """lab_t2: text labels `pre‐op` (U+2010) and `pre-op` trained as two classes that print alike, unsaid; sdp-predict
    printed `pre-op` for both. They are refused as `−1_0` beside `-1_0` is (round 49, lab_um)."""
    from test_probe_round37 import _custom

    from sdp.data.custom import custom_task
    from sdp.data.file_scan import look_alikes
    from sdp.data.tasks import DataError

    rows = [(f"film number {i} here", ("pre-op", "pre\u2010op")[i % 2]) for i in range(10)]
    cfg = _custom(tmp_path, rows, rows[:4])
    with pytest.raises(DataError, match=r"differ only in a minus sign or dash \('pre-op', 'pre\\u2010op'\)"):
        custom_task(cfg.task)
    assert "'pre\\u2010op' is 'pre-op' written otherwise" in look_alikes(["pre\u2010op"], ["pre-op", "post-op"])


def test_label_names_hydra_read_as_one_number_say_how_to_quote_through_the_schema(tmp_path):
    """lab_und2_cli: `task.label_names=[2_1,21]` on the command line was refused naming ['21', '21'] with no quoting
    hint: the schema (label_names: list[str]) had made Hydra's int 21 a string before custom_task read it (round 48's
    test built the task with OmegaConf.create, ints kept)."""
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401  (the structured schema)
    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    conf = str(Path(__file__).resolve().parents[1] / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "task=custom", "task.text_fields=[text]", f"task.train_file={tmp_path}/tr.csv",
            f"task.validation_file={tmp_path}/dv.csv", "task.label_names=[2_1,21]"])
    assert list(cfg.task.label_names) == ["21", "21"]  # what the run reads: Hydra's ints as the schema's strings
    with pytest.raises(DataError, match=r"names '21' more than once.*quote each name, as task.label_names=\['2_1','21'\]"):
        custom_task(cfg.task)
    with initialize_config_dir(config_dir=conf, version_base="1.3"):  # names given twice, no number: no hint
        cfg = compose(config_name="config", overrides=[
            "task=custom", "task.text_fields=[text]", f"task.train_file={tmp_path}/tr.csv",
            f"task.validation_file={tmp_path}/dv.csv", "task.label_names=[neg,neg,pos]"])
    with pytest.raises(DataError, match=r"names 'neg' more than once; each class is named once$"):
        custom_task(cfg.task)


def test_a_master_port_past_65535_is_one_line():
    """rk_port_range: `MASTER_PORT=99999` with an inherited LOCAL_RANK was torch's ValueError traceback (`port must
    have value from 0 to 65535 but was 99999.`)."""
    from sdp.run.launch import LauncherError, check_rank_in_world

    env = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1"}
    with pytest.raises(LauncherError, match=r"MASTER_PORT='99999' is past the last port: a port is 0 to 65535"):
        check_rank_in_world({**env, "MASTER_PORT": "99999"})
    check_rank_in_world({**env, "MASTER_PORT": "65535"})


def test_a_master_port_in_use_is_one_line_and_recorded(tmp_path):
    """rk_portbusy: a port in use where one process with an inherited LOCAL_RANK starts a process group was torch's
    DistNetworkError traceback (EADDRINUSE), exit 1. A real listener holds a free port the run is given."""
    from offline_env import offline_env

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        env = offline_env(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        done = subprocess.run(
            [sys.executable, "-m", "cli.run", "debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=2",
             "prune.max_steps=2", f"cache_dir={tmp_path / 'cache'}", f"output_dir={tmp_path / 'run'}"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    said = f"MASTER_ADDR:MASTER_PORT=127.0.0.1:{port} is in use"
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr[-3000:]
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "failed" and said in record["error"], record


DENSE = {1: 0.46875, 2: 0.53125, 3: 0.53125}


def _setup_runs(root: Path, run: str, seeds: tuple, config_hash: str, criterion: str, own: bool,
                dense: dict | None = None) -> None:
    """MP runs of one setup, seed by seed: their own dense stage (fingerprint fp-<seed>), or given A's dense models."""
    for seed in seeds:
        name = f"{run}{seed}"
        write_record(root, name, "MP", seed, 0.5625, own=f"fp-{run}-{seed}" if own else None,
                     given=None if own else (f"{root}/a{seed}/dense_model", f"fp-a-{seed}"))
        config = json.loads((root / name / "run.json").read_text())
        config["config"]["prune"]["criterion"] = criterion
        (root / name / "run.json").write_text(json.dumps({**config, "config_hash": config_hash}))
        record = json.loads((root / name / "metrics.json").read_text())
        record["dense"] = {"main": (dense or DENSE)[seed], "accuracy": (dense or DENSE)[seed]}
        (root / name / "metrics.json").write_text(json.dumps({**record, "config_hash": config_hash}))


def test_a_given_setups_dense_row_of_another_rows_models_says_so(tmp_path):
    """dga_alone: setup B, given (dense.checkpoint) A's dense models of seeds 1-2 where A trained seeds 1-3, showed a
    second Dense row of the same models, unsaid, and summary.md said the Dense rows "differ in prune.criterion", which
    no dense model reads. B's row stays A's models at B's seeds (n=2: its deltas pair with them), and says so."""
    from sdp.report.report import build_report

    _setup_runs(tmp_path, "a", (1, 2, 3), "h-A", "magnitude", own=True)
    _setup_runs(tmp_path, "b", (1, 2), "h-B", "movement", own=False)
    build_report(tmp_path, plots=False)
    glue = (tmp_path / "tables" / "glue.md").read_text()
    summary = (tmp_path / "tables" / "summary.md").read_text()
    rows = {line.split("|")[2].strip(): line.split("|")[4].strip() for line in glue.splitlines() if "| Dense" in line}
    label_b = next(label for label, cell in rows.items() if cell.endswith("(n=2)"))[len("Dense ["):-1]
    label_a = next(label for label, cell in rows.items() if cell.endswith("(n=3)"))[len("Dense ["):-1]
    assert rows[f"Dense [{label_b}]"] == "50.00 ± 4.42 (n=2)" and rows[f"Dense [{label_a}]"] == "51.04 ± 3.61 (n=3)"
    assert f"- Dense [{label_b}] = [{label_a}]'s dense models at seeds 1, 2 (given as dense.checkpoint)" in glue, glue
    dense_lines = [line for line in summary.splitlines() if "`tiny-bert / Dense`" in line]
    assert dense_lines == [f"- `tiny-bert / Dense` row [{label_b}]: [{label_a}]'s dense models at seeds 1, 2, given as "
                           "dense.checkpoint: the same models as that row's, at these seeds only"], dense_lines


def test_dense_rows_are_not_said_to_differ_in_a_pruning_key(tmp_path):
    """dga_alone (summary.md's words): two setups that trained their own dense models, differing in prune.criterion
    only, whose dense scores differ, keep a Dense row each; summary.md said they "differ in prune.criterion"."""
    from sdp.report.report import build_report

    _setup_runs(tmp_path, "a", (1, 2), "h-A", "magnitude", own=True)
    _setup_runs(tmp_path, "c", (1, 2), "h-C", "taylor", own=True, dense={1: 0.5, 2: 0.5})
    build_report(tmp_path, plots=False)
    summary = (tmp_path / "tables" / "summary.md").read_text()
    dense_lines = [line for line in summary.splitlines() if "`tiny-bert / Dense`" in line]
    assert len(dense_lines) == 1 and "differ in no key the dense stage reads (only in prune.criterion" in \
        dense_lines[0] and "prune.criterion='" not in dense_lines[0], dense_lines
    assert any("`tiny-bert / MP / cubic / frozen` rows of other setups: differ in prune.criterion:" in line
               for line in summary.splitlines()), summary  # the pruned rows do differ in it

