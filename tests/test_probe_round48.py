"""Probe round 48 (docs/probe_round48.md, a deciding round; probe only): its findings, fixed by the lead. Each test
fails on e04f1ef and passes after its fix. Hand-written files, records and names, offline."""

from __future__ import annotations

import json

import pytest
from records import write_csv, write_record


def test_a_file_url_on_the_command_line_is_its_path():
    """fw_od, fw_run, fw_cc: `output_dir=file:///tmp/x` wrote the run to ./file:/tmp/x (exit 0, `run dir
    file:/tmp/x`), and cache_dir so a cache no run found again. Every command's `key=file://...` is its path."""
    from sdp.data.locations import local_argv

    # (sdp-run's and sdp-eval's config is converted after Hydra reads it since round 49; local_argv is sdp-predict's,
    # sdp-tables' and sdp-export's, which take no sweeps: a comma is part of the path)
    assert local_argv(["output_dir=file:///tmp/x", "cache_dir=file:/tmp/c", "task.train_file=file:///a.csv%2Cb",
                       "file:///m/model", "--out", "file:///tmp/o.onnx", "seed=1", "+x=file:///y"]) == [
        "output_dir=/tmp/x", "cache_dir=/tmp/c", "task.train_file=/a.csv,b", "/m/model", "--out", "/tmp/o.onnx",
        "seed=1", "+x=/y"]


def test_sdp_tables_writes_to_a_file_urls_folder(tmp_path, monkeypatch):
    """fw_od's kin: `sdp-tables out_dir=file:///...` wrote ./file:/... under the working folder."""
    from sdp.cli.tables import main

    write_record(tmp_path / "runs", "mp1", "MP", 1, 0.6)
    monkeypatch.chdir(tmp_path)
    assert main([f"results_dir={tmp_path / 'runs'}", f"out_dir=file://{tmp_path / 'out'}", "plots=false"]) == 0
    assert (tmp_path / "out" / "glue.md").is_file() and not (tmp_path / "file:").exists()


@pytest.mark.parametrize(("env", "said"), [
    ({"RANK": "\u00b2"}, "RANK='\u00b2' is not a number"),  # rk_sup
    ({"WORLD_SIZE": "\u00b2"}, "WORLD_SIZE='\u00b2' is not a number"),  # ws_sup
    ({"LOCAL_RANK": "1"}, "LOCAL_RANK=1 is set but MASTER_ADDR is not"),  # lrank1
    ({"LOCAL_RANK": "0", "MASTER_ADDR": "h"}, "LOCAL_RANK=0 is set but no RANK and WORLD_SIZE"),  # lrank0
    ({"RANK": "0", "WORLD_SIZE": "2"}, "RANK=0 WORLD_SIZE=2 are set but MASTER_ADDR is not"),  # r0w2n
    # round 49: MPI's pairs and LOCAL_RANK beside a world of one, without MASTER_ADDR; a port that is no number
    ({"PMI_RANK": "0", "PMI_SIZE": "2"}, "PMI_RANK=0 PMI_SIZE=2 are set but MASTER_ADDR is not"),  # rk_pmi
    ({"RANK": "0", "PMI_SIZE": "2"}, "RANK=0 PMI_SIZE=2 are set but MASTER_ADDR is not"),  # rk_r0pmi
    ({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "1"}, "are set but MASTER_ADDR is not"),  # rk_lr1w1
    ({"MASTER_PORT": "abc", "RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "h"}, "MASTER_PORT='abc' is not a port"),
])
def test_rank_variables_no_launcher_set_are_refused_in_one_line(env, said):
    """rk_sup, ws_sup (`int('²')`), lrank1, lrank0 (accelerate took LOCAL_RANK for a launch), r0w2n (torch's
    rendezvous without MASTER_ADDR): tracebacks, a failed record left."""
    from sdp.run.launch import LauncherError, check_rank_in_world

    with pytest.raises(LauncherError, match=said):
        check_rank_in_world(env)


@pytest.mark.parametrize("names", [
    ["\u0628\u200d\u0628", "\u0628\u0628"],  # arzwjmid: beh ZWJ beh prints as beh beh
    ["\u07ca\u200d\u07ca", "\u07ca\u07ca"],  # nkozwj
])
def test_names_alike_but_for_a_zwj_between_letters_that_join_anyway_are_refused(names):
    from sdp.data.printed_names import printed_names_problem

    assert "differ only in invisible characters" in str(printed_names_problem(names))


def test_labels_with_an_underscore_are_no_number():
    """lab_und: `2_1` and `21` were refused as one number written two ways (Decimal reads `2_1` as 21)."""
    from sdp.data.file_scan import label_problem

    assert label_problem(["21", "2_1"]) is None


def test_a_lone_combining_mark_is_no_text(tmp_path, tokenizer, capsys):
    """pacc, ev_pacc: a row of a lone U+0301 (the tokenizer reads `[CLS] [SEP]`) was labelled with no word by
    sdp-predict and scored by sdp-eval, while a zero-width space alone is refused."""
    from sdp.cli.predict import main
    from test_probe_round32 import _classifier

    from sdp.data.file_scan import no_text

    assert no_text("\u0301") and not no_text("e\u0301")
    model = _classifier(tokenizer, tmp_path / "m")
    path = write_csv(tmp_path / "in.csv", [("a great film", "x"), ("\u0301", "y")])
    assert main([f"model_dir={model}", f"input={path}", "text_fields=text", f"output={tmp_path / 'o.txt'}"]) == 0
    assert "1 of 2 rows hold a text this model's tokenizer reads nothing in" in capsys.readouterr().err


def test_sdp_eval_says_how_to_quote_a_value_holding_an_equals_sign(tmp_path, capsys):
    """ev_eq: `task.validation_file=/tmp/a=b.csv` gave Hydra's bare `mismatched input '='`; sdp-run names the cure."""
    from sdp.cli.eval import main

    assert main([f"model_dir={tmp_path}", "task=custom", f"task.validation_file={tmp_path}/a=b.csv"]) == 2
    err = capsys.readouterr().err
    assert "is not an override Hydra can read" in err and "quoted" in err, err


def test_one_set_of_dense_models_trained_by_two_setups_is_one_row(tmp_path):
    """dg_col: B was given A's dense models seed by seed (one row with A's), and C's run trained the very model A's
    seed 1 did: C took A's place in the lookup, and B kept a Dense row of its own beside A's."""
    from sdp.report.report import build_report

    def make(run: str, method: str, seed: int, config_hash: str, *, own: str | None = None, given: str | None = None):
        write_record(tmp_path, run, method, seed, 0.6, own=own,
                     given=(f"{tmp_path}/{given}/dense_model", f"fp-{seed}") if given else None)
        for name in ("run.json", "metrics.json"):
            record = json.loads((tmp_path / run / name).read_text())
            if name == "run.json":
                record["config"]["prune"]["criterion"] = {"h-A": "magnitude", "h-B": "movement", "h-C": "taylor"}[
                    config_hash]
            (tmp_path / run / name).write_text(json.dumps({**record, "config_hash": config_hash}))

    for seed in (1, 2):
        make(f"a{seed}", "MP", seed, "h-A", own=f"fp-{seed}")
        make(f"b{seed}", "MP", seed, "h-B", given=f"a{seed}")
    make("c1", "MP", 1, "h-C", own="fp-1")
    build_report(tmp_path, plots=False)
    rows = [line for line in (tmp_path / "tables" / "glue.md").read_text().splitlines() if "| Dense" in line]
    assert len(rows) == 2 and any("(n=2)" in r for r in rows), rows  # A with B; C's one seed its own


def test_label_names_hydra_read_as_one_number_say_how_to_quote():
    """lab_und2: `task.label_names=[2_1,21]` (Hydra reads both as 21) was refused naming ['21', '21'] only."""
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    task = OmegaConf.create({"name": "custom", "train_file": "/tmp/x.csv", "validation_file": "/tmp/y.csv",
                             "text_fields": ["text"], "label_column": "label", "metric": "accuracy",
                             "label_names": [21, 21]})
    with pytest.raises(DataError, match=r"quote each name, as task.label_names=\['2_1','21'\]"):
        custom_task(task)
