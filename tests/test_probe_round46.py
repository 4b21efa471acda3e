"""Probe round 46 (docs/probe_round46.md) and round 45's left-open dr3: what the round left open, fixed by the lead.
Each test fails on 9449cae and passes after its fix (the costs count: test_probe_round45.py, its last test). Hand-written records and names, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from records import write_csv, write_record

LOOK_ALIKE = {  # two names that print alike by a look-alike letter of a script beyond Cyrillic and Greek
    "arm": ["pos", "p\u0585s"],  # an Armenian օ
    "scg": ["neg", "ne\u0261"],  # IPA's script ɡ (one script: Latin's phonetic letters)
    "cher": ["A", "\u13aa"],  # a Cherokee Ꭺ
    "lisu": ["POS", "P\ua4f3S"],  # a Lisu ꓳ
}


@pytest.mark.parametrize("case", sorted(LOOK_ALIKE))
def test_class_names_alike_by_a_letter_of_another_script_are_refused(case):
    """arm, scg, cher, lisu: a model whose two outputs printed `pos` and `pօs` (`A` and `Ꭺ` ...) was accepted."""
    from sdp.class_names import check_class_names
    from sdp.models.inspect import ModelLoadError

    with pytest.raises(ModelLoadError, match=r"differ only in look-alike letters"):
        check_class_names({"id2label": dict(enumerate(LOOK_ALIKE[case]))}, "model_dir 'm'")


@pytest.mark.parametrize("case", ["arm", "scg"])
def test_labels_alike_by_a_letter_of_another_script_are_refused_before_training(tmp_path, case):
    """lab_arm, lab_scg: a file labelled `pos`/`pօs` (`neg`/`neɡ`) trained a model whose two classes print alike."""
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    rows = [(f"text {i}", LOOK_ALIKE[case][i % 2]) for i in range(8)]
    train, dev = write_csv(tmp_path / "tr.csv", rows), write_csv(tmp_path / "dv.csv", rows[:2])
    task = OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "text_fields": ["text"],
                             "label_column": "label", "metric": "accuracy"})
    with pytest.raises(DataError, match=r"task.label_column='label' .*differ only in look-alike letters"):
        custom_task(task)


@pytest.mark.parametrize("names", [
    ["kır", "kir"],  # Turkish: dotless ı is a letter of its own, in the same script
    ["Нан", "һан"],  # Kazakh: one script's two words
    ["ɛwe", "ewe"],  # an African alphabet's open e
    ["Ꭺ", "Ꭹ"],  # two Cherokee letters
    ["օր", "որ"],  # two Armenian words
    ["\u182d\u1820", "\u182d\u180b\u1820"],  # Mongolian ᠭᠠ, and with FVS1 (another glyph: review of round 46)
])
def test_names_of_one_scripts_own_letters_print_apart(names):
    """The look-alike map widened to every script Unicode's confusables data lists: one script's own letters (and
    Latin's letters of alphabets beside its phonetic ones) still name classes of their own."""
    from sdp.data.file_scan import label_problem
    from sdp.data.printed_names import printed_names_problem

    assert printed_names_problem(names) is None, names
    assert label_problem(sorted(names)) is None, names


def test_the_look_alike_map_holds_letters_that_print_as_one_latin_letter():
    """Its table's shape (scripts/look_alike_table.py prints its middle part): each maps a non-ASCII letter to one
    ASCII letter, and none of Latin's alphabets' own letters (Turkish ı, long s) is in it."""
    from sdp.data.look_alike import LOOK_ALIKE as TABLE

    assert len(TABLE) > 250
    for source, target in TABLE.items():
        assert not chr(source).isascii() and chr(source).isalpha(), hex(source)
        assert chr(target).isascii() and chr(target).isalpha(), (hex(source), target)
    assert not {ord("ı"), ord("ſ"), ord("ɑ"), ord("ɣ")} & set(TABLE)


def test_a_setup_given_another_setups_dense_models_shares_its_dense_row(tmp_path):
    """dr3 (round 45, left open): one setup trained its dense models (their fingerprints recorded), another was given
    them as dense.checkpoint seed by seed: glue.md showed `Dense [3a10a99f]` and `Dense [42d65dea]`, one model. Given
    another model (another fingerprint), or one seed's model at another seed, the rows stay apart."""
    from sdp.report.report import build_report

    def dense_rows(name: str, given_print: str, given_seed_shift: int = 0) -> list[str]:
        root = tmp_path / name
        for seed in (1, 2):
            write_record(root, f"own_{seed}", "MP", seed, 0.6, own=f"fp-{seed}")
            write_record(root, f"given_{seed}", "MP", seed, 0.61,
                         given=(f"{root}/own_{seed}/dense_model", f"{given_print}-{seed + given_seed_shift}"))
            run = json.loads((root / f"given_{seed}" / "run.json").read_text())
            run["config"]["prune"]["criterion"], run["config_hash"] = "movement", "h-given"
            (root / f"given_{seed}" / "run.json").write_text(json.dumps(run))
            record = json.loads((root / f"given_{seed}" / "metrics.json").read_text())
            (root / f"given_{seed}" / "metrics.json").write_text(json.dumps({**record, "config_hash": "h-given"}))
        build_report(root, plots=False)
        return [line for line in (root / "tables" / "glue.md").read_text().splitlines() if "| Dense" in line]

    assert len(one := dense_rows("one", "fp")) == 1, one
    assert len(dense_rows("other", "fq")) == 2
    assert len(dense_rows("shifted", "fp", 1)) == 2


def test_a_library_run_stopped_before_its_run_json_leaves_a_folder_sdp_run_takes(tmp_path, monkeypatch):
    """Review of round 46's fixes: run.log alone is no mark of sdp's, and sdp.recipe.run (the library entry point)
    attached it without the folder's lock; a library run stopped before run.json (a data error, Ctrl-C) left a
    folder of run.log alone, which sdp-run then refused as the user's. The library run holds the lock too."""
    import logging

    from hydra import compose, initialize_config_dir

    import sdp.recipe
    from sdp.run.users_files import check_no_users_files

    def stopped(cfg):
        logging.getLogger("sdp").info("reading the task")
        raise KeyboardInterrupt

    monkeypatch.setattr(sdp.recipe, "resolve_run_task", stopped)
    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[1] / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["debug=smoke", "cpu=true", "train.num_threads=1",
                                                       f"cache_dir={tmp_path / 'cache'}"])
    with pytest.raises(KeyboardInterrupt):
        sdp.recipe.run(cfg, tmp_path / "run")
    assert "reading the task" in (tmp_path / "run" / "run.log").read_text()
    check_no_users_files(tmp_path / "run")  # sdp's folder: the relaunch continues it


def test_costs_of_times_near_the_largest_float_is_a_table(tmp_path):
    """Review of round 46's fixes: two runs of 1e308 s (finite, >= 0) overflowed the mean to inf, and sdp-tables
    ended in `OverflowError: cannot convert float infinity to integer`."""
    from sdp.report.report import build_report

    for seed in (1, 2):
        write_record(tmp_path, f"mp{seed}", "MP", seed, 0.6)
        record = json.loads((tmp_path / f"mp{seed}" / "metrics.json").read_text())
        (tmp_path / f"mp{seed}" / "metrics.json").write_text(json.dumps({**record, "wall_seconds": 1e308}))
    build_report(tmp_path, plots=False)
    assert f"| MP | {int(1e308)} | " in (tmp_path / "tables" / "costs.md").read_text()


@pytest.mark.parametrize("names", [
    ["hy:գառ", "hy:զառ"],  # Armenian lamb and dice, tagged in Latin: one script's two words
    ["գառ (hy)", "զառ (hy)"],
    ["i", "ɪ"], ["kit", "kɪt"], ["y", "ʏ"],  # IPA's own vowels
    ["o", "ဝိ"], ["my:ဝိ", "my:ဝု"],  # a Myanmar vowel sign is no Latin accent
])
def test_review_names_of_one_script_beside_latin_tags_print_apart(names):
    """Review of 0e81a67: a Latin tag beside two Armenian words, IPA's ɪ and ʏ, a Myanmar vowel sign on a letter mapped
    to `o`: each pair was refused as look-alikes, task.label_names too (no way around it)."""
    from sdp.data.file_scan import label_problem
    from sdp.data.printed_names import printed_names_problem

    assert printed_names_problem(names) is None, names
    assert label_problem(sorted(names)) is None, names


def test_review_a_setup_with_its_own_dense_models_keeps_its_dense_row(tmp_path):
    """Review of 0e81a67: a setup S holding runs of their own dense models (score 0.75) and runs given setup A's
    (0.55) was moved whole into A's row (one Dense row, a score no model has), and S's row gone."""
    from sdp.report.report import build_report

    for seed in (1, 2):
        write_record(tmp_path, f"a_{seed}", "MP", seed, 0.6, own=f"fp-a-{seed}")
        write_record(tmp_path, f"s_{seed}", "MP", seed, 0.6, own=f"fp-s-{seed}")
        write_record(tmp_path, f"k_{seed}", "KD", seed, 0.6,
                     given=(f"{tmp_path}/a_{seed}/dense_model", f"fp-a-{seed}"))
        for run, config_hash in ((f"s_{seed}", "h-S"), (f"k_{seed}", "h-K")):  # dense.max_steps=40
            config = json.loads((tmp_path / run / "run.json").read_text())
            config["config"]["dense"]["max_steps"], config["config_hash"] = 40, config_hash
            (tmp_path / run / "run.json").write_text(json.dumps(config))
            record = json.loads((tmp_path / run / "metrics.json").read_text())
            dense = {"main": 0.75, "accuracy": 0.75} if run.startswith("s") else record["dense"]
            (tmp_path / run / "metrics.json").write_text(json.dumps({**record, "config_hash": config_hash,
                                                                      "dense": dense}))
    build_report(tmp_path, plots=False)
    rows = [line for line in (tmp_path / "tables" / "glue.md").read_text().splitlines() if "| Dense" in line]
    # A's row its two models alone; S's row S's two and the two given to its KD runs (round 31's dk1: a unit each)
    assert sorted(r.split("|")[4].strip() for r in rows) == ["55.00 ± 0.00 (n=2)", "65.00 ± 11.55 (n=4)"], rows
