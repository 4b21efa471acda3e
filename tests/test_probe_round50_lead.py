"""Probe round 50 (docs/probe_round50.md, a deciding round; probe only): the findings the lead fixed (paths: `~`, file
URLs, the library run's folder). fu_hydra_rundir and fu_sweepdir are in tests/test_round49_left_open.py (Hydra's
folders that are file URLs). Each test fails on b43e2a8. Hand-written configs and environments, offline."""

from __future__ import annotations

import subprocess
import sys

import pytest

SMOKE = ["debug=smoke", "task=rte", "model=tiny-bert", "train.num_threads=1", "dense.max_steps=2", "prune.max_steps=2"]


def _sdp_run(cwd, *args, **env):
    from offline_env import offline_env

    return subprocess.run([sys.executable, "-m", "cli.run", *args], cwd=cwd, env=offline_env(**env),
                          capture_output=True, text=True, timeout=600)


def test_a_tilde_is_home_for_the_output_keys_too(tmp_path):
    """run_tilde, or_tilde, cache_tilde: `"output_root='~/or'"` ran in ./~/or (the line naming ~), and a `~` cache_dir
    was written half in $HOME, half in ./~ (never read back); the input keys read `~` as home. Every path key does."""
    home, cwd = tmp_path / "home", tmp_path / "cw"
    home.mkdir(), cwd.mkdir()
    done = _sdp_run(cwd, *SMOKE, "output_root='~/or'", "cache_dir='~/cc'", HOME=str(home))
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = (home / "or" / "runs" / "rte").iterdir()
    assert (run / "metrics.json").is_file() and f"run dir {run}" in done.stdout + done.stderr
    assert [p.name for p in (home / "cc").iterdir()] and list(cwd.iterdir()) == [], sorted(cwd.rglob("*"))
    refused = _sdp_run(cwd, *SMOKE, "hydra.run.dir='~/hr'", HOME=str(home))  # Hydra's own folder: it cannot be read so
    assert refused.returncode == 2 and "hydra.run.dir is '~/hr'" in refused.stderr, refused.stderr[-2000:]
    assert list(cwd.iterdir()) == []


def test_local_config_converts_the_path_keys_only(monkeypatch):
    """lab_url1: class names that read as file URLs were rewritten to paths and then refused as unknown labels;
    run_tilde: output_dir='~/x' was kept as `~/x`. Only the path keys (sdp/config.py PATH_KEYS) are locations."""
    from omegaconf import OmegaConf

    from sdp.data.locations import local_config

    monkeypatch.setenv("HOME", "/home/u")
    cfg = OmegaConf.create({"output_dir": "~/run", "cache_dir": "file:///c%20d", "output_root": "~",
                            "task": {"label_names": ["file:///neg", "file:///pos"], "train_file": "~/t.csv",
                                     "label_column": "~label"}, "dense": {"checkpoint": "file:///m"}})
    local_config(cfg)
    assert (cfg.output_dir, cfg.cache_dir, cfg.output_root) == ("/home/u/run", "/c d", "/home/u")
    assert list(cfg.task.label_names) == ["file:///neg", "file:///pos"] and cfg.task.label_column == "~label"
    # an input key of the run's identity keeps its `~` (its reader expands it): a run made before with it is found
    # again, not refused as another config (review of round 50's fixes)
    assert (cfg.task.train_file, cfg.dense.checkpoint) == ("~/t.csv", "/m")


def test_a_dense_checkpoint_at_a_tilde_is_read_as_home(tmp_path, monkeypatch):
    """Review of round 51's fixes: `dense.checkpoint='~/dm'` was refused ("does not exist": check_model_dir takes the
    path as it is) once only the keys outside a run's identity were expanded; a model folder key is expanded (no run
    could read one with `~` before, so none recorded it)."""
    from omegaconf import OmegaConf

    from sdp.data.locations import local_config

    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = OmegaConf.create({"dense": {"checkpoint": "~/dm"}, "prune": {"teacher_checkpoint": "~/t"}})
    local_config(cfg)
    assert (cfg.dense.checkpoint, cfg.prune.teacher_checkpoint) == (f"{tmp_path}/dm", f"{tmp_path}/t")


def test_the_keys_read_as_home_are_the_path_keys_outside_a_runs_identity(monkeypatch):
    """HOME_KEYS (sdp/data/locations.py, which may not import sdp.run) in step with sdp/run/env.py's identity; a `~user`
    of no user here is one line (it made ./~user, then a traceback: review)."""
    from sdp.data.locations import HOME_KEYS, MODEL_FOLDER_KEYS, PATH_KEYS, home_path
    from sdp.data.spec import DataError
    from sdp.run.env import NON_IDENTITY_GROUP_KEYS, NON_IDENTITY_KEYS

    outside = set(NON_IDENTITY_KEYS) | {f"{g}.{k}" for g, keys in NON_IDENTITY_GROUP_KEYS.items() for k in keys}
    assert HOME_KEYS == (PATH_KEYS & outside) | MODEL_FOLDER_KEYS
    with pytest.raises(DataError, match="the home folder of no user here"):
        home_path("~sdp_no_such_user_50/r", "output_dir")


def test_sdp_predict_and_tables_read_a_tilde_as_home(monkeypatch):
    """pr_tilde: in one sdp-predict command `model_dir=~/m` was home and `output=~/p.txt` ./~; sdp-tables' folders
    alike. Their path keys are read as home; other keys (text_fields) as they are."""
    from sdp.data.locations import local_argv

    monkeypatch.setenv("HOME", "/home/u")
    keys = frozenset({"model_dir", "input", "output"})
    assert local_argv(["model_dir=~/m", "output='~/p.txt'", "text_fields=~x", "input=-"], keys) == [
        "model_dir=/home/u/m", "output=/home/u/p.txt", "text_fields=~x", "input=-"]


@pytest.mark.parametrize("url", ["file:///tmp/p50/ev%00x", "file:///tmp/p50/evnl%0A", "file:///a%1Bb"])
def test_a_control_character_in_a_file_url_is_one_line(url):
    """ev_nul, run_nul: `%00` was `ValueError: embedded null byte`; ev_nl: `%0A` a folder whose name printed across two
    lines."""
    from sdp.data.locations import local_path
    from sdp.data.spec import DataError

    with pytest.raises(DataError, match="holds the control character"):
        local_path(url, "output_dir")


def test_a_run_refused_for_its_url_leaves_no_hydra_folder(tmp_path):
    """run_nul's folder: the job refused as its config was converted left Hydra's (empty) run folder behind."""
    done = _sdp_run(tmp_path, *SMOKE, "output_dir=file:///tmp/p50/rn%00x")
    assert done.returncode == 2 and "holds the control character" in done.stderr, done.stderr[-2000:]
    assert list(tmp_path.iterdir()) == [], sorted(tmp_path.rglob("*"))


def test_output_root_urls_with_dots_or_an_upper_case_scheme(tmp_path):
    """or_dotdot: `output_root=file:///.../x/../or1` ran under ./file:/... (Hydra's normalised folder never matched the
    URL's path); or_upper: `FILE:///...` left an empty ./FILE:/... tree. Hydra's folders are made of the root's path."""
    (tmp_path / "x").mkdir()
    cwd = tmp_path / "cw"
    cwd.mkdir()
    for root, made in ((f"file://{tmp_path}/x/../or1", tmp_path / "or1"), (f"FILE://{tmp_path}/or2", tmp_path / "or2")):
        done = _sdp_run(cwd, *SMOKE, f"cache_dir={tmp_path / 'cache'}", f"output_root={root}")
        assert done.returncode == 0, done.stderr[-2000:]
        (run,) = (made / "runs" / "rte").iterdir()
        assert (run / "metrics.json").is_file() and list(cwd.iterdir()) == [], (root, sorted(cwd.rglob("*")))


def test_the_library_run_takes_its_folder_once_its_config_is_converted(tmp_path, monkeypatch):
    """lib_od: sdp.recipe.run(cfg) with output_dir=file:///... ran in ./file:/... while run.json recorded the path: the
    folder was read before local_config converted it."""
    from omegaconf import OmegaConf

    import sdp.recipe

    taken = {}
    monkeypatch.setattr(sdp.recipe, "validate_config", lambda cfg: None)
    monkeypatch.setattr(sdp.recipe, "completed_here", lambda run_dir, cfg: None)
    monkeypatch.setattr(sdp.recipe, "train_run", lambda cfg, run_dir: taken.update(run_dir=run_dir, od=cfg.output_dir))
    monkeypatch.chdir(tmp_path)
    sdp.recipe.run(OmegaConf.create({"output_dir": f"file://{tmp_path}/lib%201", "output_root": "outputs"}))
    assert taken == {"run_dir": f"{tmp_path}/lib 1", "od": f"{tmp_path}/lib 1"}
    assert not (tmp_path / "file:").exists()


def test_a_given_dense_row_of_one_seed_and_a_shared_one_are_worded_as_shown(tmp_path):
    """Review of round 50's fixes: B given A's seed-2 model alone read "at seeds 2"; B and C both given A's seeds 1-2
    share one Dense row `[B+C]` in glue.md, and summary.md wrote a line for each, labelled [B] and [C]."""
    from test_probe_round50_a import _setup_runs

    from sdp.report.report import build_report

    _setup_runs(tmp_path / "one", "a", (1, 2, 3), "h-A", "magnitude", own=True)
    _setup_runs(tmp_path / "one", "b", (2,), "h-B", "movement", own=False)
    build_report(tmp_path / "one", plots=False)
    glue = (tmp_path / "one" / "tables" / "glue.md").read_text()
    # one model is "model" (review of session 24's fixes: it said "dense models at seed 2")
    assert "dense model at seed 2 (given as dense.checkpoint)" in glue and "at seeds 2" not in glue, glue
    _setup_runs(tmp_path / "two", "a", (1, 2, 3), "h-A", "magnitude", own=True)
    _setup_runs(tmp_path / "two", "b", (1, 2), "h-B", "movement", own=False)
    _setup_runs(tmp_path / "two", "c", (1, 2), "h-C", "taylor", own=False)
    build_report(tmp_path / "two", plots=False)
    glue = (tmp_path / "two" / "tables" / "glue.md").read_text()
    summary = (tmp_path / "two" / "tables" / "summary.md").read_text()
    shared = next(line.split("|")[2].strip() for line in glue.splitlines() if "| Dense [" in line and "+" in line)
    lines = [line for line in summary.splitlines() if "`tiny-bert / Dense` row [" in line]
    assert len(lines) == 1 and lines[0].startswith(f"- `tiny-bert / Dense` row [{shared[len('Dense ['):-1]}]:"), (
        shared, lines)


def test_a_files_rows_read_as_nothing_are_one_refusal_over_every_split_of_it(tmp_path, tokenizer):
    """Probe round 51, rn_vft, rn_vk: with validation_from_train, a row the tokenizer reads as nothing was said "in 1 of
    the 16 rows this run reads" (the carve alone; the run reads 64 of the file) or "of the 48" (the part trained), and
    the other part's rows only once those were fixed. One refusal of the file: its rows in both parts, of all read."""
    from omegaconf import OmegaConf
    from records import write_csv

    from sdp.data.custom import custom_task
    from sdp.data.loading import VALIDATION_FROM_TRAIN, load_splits
    from sdp.data.tasks import DataError
    from sdp.data.tokenize import tokenize_splits

    rows = [(f"a training text number {i}", ("neg", "pos")[i % 2]) for i in range(40)]
    cfg = OmegaConf.create({"name": "custom", "train_file": write_csv(tmp_path / "tr.csv", rows),
                            "text_fields": ["text"], "label_column": "label", "metric": "accuracy",
                            "validation_from_train": 0.25})
    carve = load_splits(custom_task(cfg), None, validation_from_train=0.25).file_rows[VALIDATION_FROM_TRAIN]
    held = min(int(r) + 1 for r in carve)  # a file row (from 1) held out, and one trained: the carve is by position
    trained = min(set(range(1, 41)) - {int(r) + 1 for r in carve})
    for r in (held, trained):
        rows[r - 1] = ("\u200d", rows[r - 1][1])
    cfg.train_file = write_csv(tmp_path / "tr.csv", rows)
    task = custom_task(cfg)
    loaded = load_splits(task, None, validation_from_train=0.25)
    with pytest.raises(DataError) as err:
        tokenize_splits(loaded.datasets, task, tokenizer, 32, file_rows=loaded.file_rows)
    said = f"is empty in 2 of the 40 rows this run reads (first: {sorted((held, trained))};"
    assert said in str(err.value) and str(err.value).count("task.train_file=") == 1, str(err.value)


def test_a_tilde_of_no_user_in_an_input_key_is_one_line():
    """Probe round 51, ev_nouser_vf: `task.validation_file='~nosuchuser/x.csv'` was a RuntimeError traceback (Could not
    determine home directory) from the reader's expanduser. The input keys keep `~` as written, but are checked."""
    from omegaconf import OmegaConf

    from sdp.data.locations import local_config
    from sdp.data.spec import DataError

    with pytest.raises(DataError, match="task.validation_file='~sdp_no_such_user_51/x.csv' begins with"):
        local_config(OmegaConf.create({"task": {"validation_file": "~sdp_no_such_user_51/x.csv"}}))
    cfg = OmegaConf.create({"task": {"validation_file": "~/x.csv"}})
    local_config(cfg)
    assert cfg.task.validation_file == "~/x.csv"


@pytest.mark.parametrize("address", ["192.0.2.1", "no.such.host.invalid"])
def test_a_world_of_one_at_another_machines_address_is_one_line(address):
    """Probe round 51, rk_unreach: `RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 MASTER_ADDR=192.0.2.1` (an address no machine here
    holds) waited 30 minutes for its own process group, unsaid, through a SIGTERM. A world of one outside torchrun
    (whose agent hosts the store) needs an address of this machine."""
    from sdp.run.launch import LauncherError, check_rank_in_world

    env = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": address, "MASTER_PORT": "29655"}
    with pytest.raises(LauncherError, match=f"MASTER_ADDR={address} (is no address of this machine|names no host)"):
        check_rank_in_world(env)
    check_rank_in_world({**env, "MASTER_ADDR": "127.0.0.1"})
    check_rank_in_world({**env, "TORCHELASTIC_RUN_ID": "none"})  # torchrun's worker: its agent holds the store


def test_a_model_folder_at_a_tilde_is_loaded_from_home(tmp_path, monkeypatch, tokenizer):
    """Probe round 52, tk_tilde, pm_tilde: `model.pretrained='~/m'` and `model.tokenizer='~/m'` (kept as written in the
    config: a run's identity) reached transformers with the `~`, which took them for Hub ids (a traceback)."""
    from omegaconf import OmegaConf
    from test_probe_round32 import _classifier

    from sdp.models.presets import load_tokenizer, model_source

    monkeypatch.setenv("HOME", str(tmp_path))
    _classifier(tokenizer, tmp_path / "m")
    from sdp.config import ModelConfig

    cfg = OmegaConf.merge(OmegaConf.structured(ModelConfig), {"name": "hf", "pretrained": "~/m", "tokenizer": "~/m"})
    assert model_source(cfg) == f"{tmp_path}/m"
    assert load_tokenizer(cfg)("a film")["input_ids"] == tokenizer("a film")["input_ids"]


def test_sdp_eval_model_dir_of_no_users_home_is_one_line(tmp_path, monkeypatch, capsys):
    """Probe round 52, ev_nouser_md: `sdp-eval model_dir='~nosuchuser/m'` was `RuntimeError: Could not determine home
    directory.` (a traceback) in its default output folder's name."""
    from sdp.cli.eval import main

    monkeypatch.chdir(tmp_path)
    assert main(["model_dir=~sdp_no_such_user_52/m", "task=rte", "debug=smoke"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("sdp-eval: error: DataError: model_dir='~sdp_no_such_user_52/m' begins with"), err
