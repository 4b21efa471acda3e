"""Probe round 49 (docs/probe_round49.md, a deciding round; probe only): its findings, fixed by the lead. Each test
fails on 6e1417e and passes after its fix. Hand-written configs and environments, offline."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_file_urls_are_their_paths_once_hydra_has_read_them():
    """pc_sw, pc_int, pc_sp, pc_quote, pc_choice: round 48's fix decoded `file://` values back onto the command line,
    where Hydra read `%2C` as a sweep's comma, `%24%7Bseed%7D` as an interpolation, dropped a trailing `%20`, and a
    quoted or choice() value was not converted at all. The composed config's values are converted instead."""
    from omegaconf import OmegaConf

    from sdp.data.locations import local_config

    cfg = OmegaConf.create({"seed": 1, "output_root": "file:///tmp/r", "output_dir": "file:///tmp/p49/sw%2Cx",
                            "cache_dir": "file:///tmp/p49/s%24%7Bseed%7D", "task": {"train_file": "file:///t/evsp%20"},
                            "data_dir": "${output_root}/x", "labels": ["file:///l", "plain"]})
    local_config(cfg)
    assert (cfg.output_dir, cfg.cache_dir, cfg.task.train_file) == ("/tmp/p49/sw,x", "/tmp/p49/s${seed}", "/t/evsp ")
    assert OmegaConf.to_container(cfg)["data_dir"] == "${output_root}/x" and cfg.data_dir == "/tmp/r/x"
    assert list(cfg.labels) == ["file:///l", "plain"]  # only the path keys are locations (probe round 50, lab_url1)


def test_sdp_run_writes_a_quoted_file_urls_folder(tmp_path):
    """pc_quote (with pc_sw's comma): `"output_dir='file:///.../q%2C1'"` wrote the run to ./file:/..., unsaid."""
    from offline_env import offline_env

    out = tmp_path / "q,1"
    done = subprocess.run(
        [sys.executable, "-m", "cli.run", "debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=2",
         "prune.max_steps=2", f"cache_dir={tmp_path / 'cache'}", f"output_dir='file://{tmp_path}/q%2C1'"],
        cwd=tmp_path, env=offline_env(), capture_output=True,
        text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "metrics.json").is_file() and not (tmp_path / "file:").exists(), sorted(p.name for p in tmp_path.iterdir())


@pytest.mark.parametrize(("env", "said"), [
    ({"PMI_RANK": "0", "PMI_SIZE": "2"}, "PMI_RANK=0 PMI_SIZE=2 are set but MASTER_ADDR is not"),  # rk_pmi
    ({"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "2"}, "are set but MASTER_ADDR is not"),  # rk_ompi
    ({"RANK": "0", "PMI_SIZE": "2"}, "RANK=0 PMI_SIZE=2 are set but MASTER_ADDR is not"),  # rk_r0pmi
    ({"MASTER_PORT": "abc", "PMI_RANK": "0", "PMI_SIZE": "2", "MASTER_ADDR": "h"}, "MASTER_PORT='abc' is not a port"),
    ({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}, "are set but MASTER_ADDR is not"),  # rk_lr0w1
    ({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "1"}, "are set but MASTER_ADDR is not"),  # rk_lr1w1
])
def test_launch_variables_no_launcher_set_are_one_line(env, said):
    """rk_pmi, rk_ompi, rk_r0pmi, rk_port, rk_lr0w1, rk_lr1w1: accelerate's `MASTER_ADDR env was not set`, int()'s
    ValueError, a failed record: tracebacks."""
    from sdp.run.launch import LauncherError, check_rank_in_world

    with pytest.raises(LauncherError, match=said):
        check_rank_in_world(env)


def test_a_plug_in_label_in_another_dash_is_a_twin():
    """pl_hy: a plug-in labelled `SDP‐CC` (U+2010 HYPHEN) registered, and was tabled as SDP-CC."""
    from sdp.objectives.component import Registry
    from sdp.objectives.registry import DISTILL_TERMS

    registry = Registry("regularizer_probe49", "alpha", DISTILL_TERMS.base, compose=False)
    registry.peers = (DISTILL_TERMS,)
    with pytest.raises(ValueError, match="is already regularizer 'cross_correlation''s"):
        registry.register("hy_cc", next(iter(DISTILL_TERMS._entries.values())).cls, label="SDP\u2010CC")


def test_labels_that_are_no_number_are_not_said_to_be_one():
    """lab_um: `−1_0` beside `-1_0` was refused as "the way a number is written"; `2_1` is no number (round 48)."""
    from sdp.data.file_scan import label_problem

    assert "differ only in a minus sign or dash" in str(label_problem(["-1_0", "\u22121_0"]))


@pytest.mark.parametrize("extra", ["h-A", "h-C"])
def test_a_given_setup_joins_the_row_of_exactly_its_seeds(tmp_path, extra):
    """dgy: B was given dense models for seeds 1 and 2 that two setups trained, one of them with a seed 3 too: B's Dense
    row became that one's at n=3 (a seed B never read), or not, by the setups' hash order. It joins the one of its
    two seeds, whichever setup has the third."""
    import json

    from records import write_record

    from sdp.report.report import build_report

    def make(run: str, seed: int, config_hash: str, criterion: str, *, own: bool):
        write_record(tmp_path, run, "MP", seed, 0.6, own=f"fp-{seed}" if own else None,
                     given=None if own else (f"{tmp_path}/a{seed}/dense_model", f"fp-{seed}"))
        for name in ("run.json", "metrics.json"):
            record = json.loads((tmp_path / run / name).read_text())
            if name == "run.json":
                record["config"]["prune"]["criterion"] = criterion
                record["config"]["dense"]["max_steps"] = {"h-A": 20, "h-C": 30, "h-B": 40}[config_hash]
            (tmp_path / run / name).write_text(json.dumps({**record, "config_hash": config_hash}))

    for setup, criterion, run in (("h-A", "magnitude", "a"), ("h-C", "taylor", "c")):
        for seed in (1, 2, 3) if setup == extra else (1, 2):
            make(f"{run}{seed}", seed, setup, criterion, own=True)
    for seed in (1, 2):
        make(f"b{seed}", seed, "h-B", "movement", own=False)
    build_report(tmp_path, plots=False)
    rows = [line for line in (tmp_path / "tables" / "glue.md").read_text().splitlines() if "| Dense" in line]
    assert sorted(r.split("|")[4].strip()[-5:] for r in rows) == ["(n=2)", "(n=3)"], rows
    joined = [r for r in rows if "+" in r.split("|")[2]]  # the row two setups share is labelled by both
    assert len(joined) == 1 and "(n=2)" in joined[0], rows  # B's with the setup of its two seeds


def test_review_interpolated_file_urls_are_their_paths(monkeypatch):
    """Review of round 49's fixes: `output_dir=file:///tmp/r_${seed}` and SDP_CACHE_DIR=file:///... (through
    `${oc.env:...}`) were skipped as interpolations, and written under ./file:/...; a `\\${` in a path stays a text."""
    from omegaconf import OmegaConf

    from sdp.data.locations import local_config

    monkeypatch.setenv("SDP_CACHE_DIR", "file:///tmp/cc")
    cfg = OmegaConf.create({"seed": 42, "output_dir": "file:///tmp/r_${seed}", "output_root": "file:///x",
                            "cache_dir": "${oc.env:SDP_CACHE_DIR,.cache/sdp}", "data_dir": "${output_root}/y",
                            "task": {"train_file": "file:///tmp/a%5C%24%7Bseed%7D"}, "missing": "???"})
    local_config(cfg)
    assert (cfg.output_dir, cfg.cache_dir, cfg.data_dir, cfg.task.train_file) == ("/tmp/r_42", "/tmp/cc", "/x/y",
                                                                                  "/tmp/a\\${seed}")


@pytest.mark.parametrize("env", [{"MASTER_PORT": "tcp://10.96.0.12:29500"}, {"MASTER_PORT": "abc", "RANK": "0"}])
def test_review_a_port_one_process_never_reads_is_not_checked(env):
    """Review of round 49's fixes: Kubernetes sets MASTER_PORT=tcp://<ip>:<port> in every pod of a namespace with a
    Service named `master`; a one-process run was refused for it."""
    from sdp.run.launch import check_rank_in_world

    check_rank_in_world(env)


def test_review_an_output_root_url_is_decoded_alone(tmp_path):
    """Review of round 49's fixes: with output_root=file://..., the whole folder Hydra built was read as a URL: a
    model name's `%41` decoded to `A`, a `#` refused. Only the root is the URL; Hydra's folders under it are names."""
    from offline_env import offline_env

    done = subprocess.run(
        [sys.executable, "-m", "cli.run", "debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=2",
         "prune.max_steps=2", f"cache_dir={tmp_path / 'cache'}", f"output_root=file://{tmp_path}/r%20t",
         "model.name=tb%41"], cwd=tmp_path, env=offline_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = list((tmp_path / "r t" / "runs" / "rte").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("tb%41_") and (runs[0] / "metrics.json").is_file(), runs
    assert not (tmp_path / "file:").exists()
