"""Probe round 45 (docs/probe_round45.md, a deciding round; probe only): its findings, fixed by the lead. Each test
fails on bb49b03 (the round's BASE) and passes after its fix. Hand-written files and tiny models, offline."""

from __future__ import annotations

import json

import pytest
from records import write_csv
from test_probe_round32 import _classifier

from sdp.run.rundir import RunHoldsDataError
from sdp.run.users_files import check_no_users_files


@pytest.mark.parametrize("files", [
    {".backup.20261207.tmp": "mine"},  # u1: a dated hidden file of the user's, 8 characters like mkstemp's
    {".thesis.20261207.tmp/chapter1.tex": "mine"},  # u2: a folder of them
    {"rank-summary.error": "mine", "notes.txt": "mine"},  # u3: a name like a rank's note
    {"run.log": "", "notes.txt": "mine"},  # noticed: an empty run.log of the user's
    {"run.log": "2026-12-06 10:00:00,000 INFO task=rte\n", "notes.txt": "mine"},  # round 46, u7: a copy of sdp's
    {"rank-0.error": "mine", "notes.txt": "mine"}, {"rank-\u0661.error": "mine", "notes.txt": "mine"},  # u6, u5
])
def test_a_users_files_named_like_sdps_are_theirs(tmp_path, files):
    """u1, u2, u3: the run wrote among the user's files and deleted them (as a dead temporary, as an earlier launch's
    rank note); an empty run.log of theirs beside their notes made the folder a run's (noticed)."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    with pytest.raises(RunHoldsDataError, match=r"of no sdp run"):
        check_no_users_files(tmp_path)


def test_only_a_ranks_own_notes_are_cleared(tmp_path):
    """u3: clear_rank_notes removed every `rank-*.error`, a user's `rank-summary.error` too."""
    from sdp.run.rank_notes import clear_rank_notes

    (tmp_path / "rank-1.error").write_text("RuntimeError: x\n")
    (tmp_path / "rank-summary.error").write_text("mine")
    clear_rank_notes(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rank-summary.error"]


def test_a_dense_checkpoint_named_in_another_case_gets_the_runs_names(tmp_path, tokenizer):
    """dcase: a dense.checkpoint named `NEG`/`POS` under a run of `neg`/`pos` saved its model as `NEG`/`POS`:
    sdp-predict printed them and sdp-eval refused the run's own model on the run's own dev file."""
    from omegaconf import OmegaConf

    from sdp.models.presets import load_model

    ckpt = _classifier(tokenizer, tmp_path / "ckpt")
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, "id2label": {"0": "NEG", "1": "POS"},
                                                  "label2id": {"NEG": 0, "POS": 1}}))
    model = load_model(OmegaConf.create({"trust_remote_code": False}), 2, ("neg", "pos"), tokenizer, str(ckpt))
    assert model.config.id2label == {0: "neg", 1: "pos"} and model.config.label2id == {"neg": 0, "pos": 1}


def test_each_process_reads_a_custom_file_afresh_in_turn(tmp_path, monkeypatch):
    """t3b: on three ranks each read the CSV afresh into one datasets cache at once, and one's cleanup removed the
    folder another built (a FileNotFoundError traceback, 1 of 6 launches). Each read is afresh (round 27's cf1: a rank
    that read before another rebuilt the cache read the old version: review), and holds the cache folder's lock."""
    from pathlib import Path

    import datasets

    from sdp.data.custom import read_table
    from sdp.io import folder_lock

    path = write_csv(tmp_path / "tr.csv", [("a film", "pos"), ("another", "neg")])
    seen: list = []
    real = datasets.load_dataset

    def load(*args, **kwargs):
        with folder_lock(Path(datasets.config.HF_DATASETS_CACHE), wait=False) as free:  # another process's view
            seen.append((kwargs.get("download_mode"), free))
        return real(*args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", load)
    read_table(path, "train_file")
    assert seen == [("force_redownload", False)], seen


@pytest.mark.parametrize("names, said", [
    (["\u3164", "pos"], "names no class for the id"),  # hang
    (["\u2800", "pos"], "names no class for the id"),  # braille
    (["\uffa0", "pos"], "names no class for the id"),  # hf
    (["\u0301", "pos"], "names no class for the id"),  # a lone combining accent (noticed)
    (["neg", "neg\U000e0067"], "differ only in invisible characters"),  # tag
    (["neg", "neg\u200c"], "differ only in invisible characters"),  # zwnj
    (["neg", "ne\u200dg"], "differ only in invisible characters"),  # zwj
    (["neg", "ne\u034fg"], "differ only in invisible characters"),  # cgj
])
def test_class_names_that_print_as_nothing_or_alike_are_refused(names, said):
    """hang, braille, hf, tag, zwnj, zwj, cgj: accepted, printed as blank lines or as `neg` twice."""
    from sdp.class_names import check_class_names
    from sdp.models.inspect import ModelLoadError

    with pytest.raises(ModelLoadError, match=said):
        check_class_names({"id2label": dict(enumerate(names))}, "model_dir 'm'")


def test_labels_of_a_file_that_print_alike_are_refused_before_training(tmp_path):
    """The other side of zwj: the data reader keeps a joiner (the tokenizers read it), so a file labelled `neg` and
    `ne\u200dg` trained a model whose outputs sdp-eval then refused. Refused when the labels are read."""
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    rows = [(f"text {i}", ("neg", "ne\u200dg")[i % 2]) for i in range(8)]
    train, dev = write_csv(tmp_path / "tr.csv", rows), write_csv(tmp_path / "dv.csv", rows[:2])
    task = OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "text_fields": ["text"],
                             "label_column": "label", "metric": "accuracy"})
    with pytest.raises(DataError, match=r"task.label_column='label' names classes that differ only in invisible"):
        custom_task(task)


def test_a_unicode_form_is_not_called_letter_case():
    """lig, kel: `ﬁne`/`fine` and the Kelvin sign `K`/`K` were said to "differ only in spaces or letter case"."""
    from sdp.data.file_scan import label_problem

    for names in (["fine", "\ufb01ne"], ["K", "\u212a"]):
        assert "differ only in Unicode form" in label_problem(names), names


def test_a_nan_overlap_is_not_recorded():
    """tc1: a NaN `mask_overlap.dense_magnitude` printed `SDP-CC(mean) nan` in claims.md."""
    from sdp.report.claim_pairs import get

    read = get("mask_overlap", "dense_magnitude")
    assert read({"analysis": {"mask_overlap": {"dense_magnitude": float("nan")}}}) is None
    assert read({"analysis": {"mask_overlap": {"dense_magnitude": 0.5}}}) == 0.5


def test_the_xnli_small_card_names_test_de_apart():
    """Round 45, noticed: with task.eval_test=true the card put test.de under "each language's eval side"."""
    from test_probe_round17 import _cfg, _metrics

    from sdp.models.card import model_card

    card = model_card(_metrics(), _cfg("task=xnli_small", "model=tiny-xlmr", "task.eval_test=true"), "sdp-run ...")
    assert "(each language's eval side; test.de: its test file)" in card, card


@pytest.mark.parametrize("names", [
    ["\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",  # England and Scotland flags
     "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"],
    ["\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u062e\u0648\u0627\u0647\u0645"],  # Persian ZWNJ
    ["\u0915\u094d\u200d\u0937", "\u0915\u094d\u0937"],  # a Devanagari half form
    ["\U0001F468\u200d\U0001F469\u200d\U0001F467", "\U0001F468\U0001F469\U0001F467"],  # one emoji, three
    ["\u0600", "pos"],  # an Arabic number sign prints
])
def test_names_a_joiner_or_tag_shapes_print_apart(names):
    """Review of round 45's fixes: every format character was unprinted, and the flags of England and Scotland, a
    Persian word and its ZWNJ-less twin, an emoji family and its three emoji were refused as printing alike."""
    from sdp.data.printed_names import printed_names_problem

    assert printed_names_problem(names) is None, names


def test_round46_invisible_marks():
    """Round 46, khm, khm5, mfvs: names alike but for U+17B4, U+17B5, U+180B printed `neg` twice (the times that are
    no times: the test below)."""
    from sdp.data.printed_names import printed_names_problem

    for mark in ("\u17b4", "\u17b5", "\u180b"):
        assert "differ only in invisible characters" in str(printed_names_problem(["neg", "neg" + mark])), mark


def test_a_time_that_is_no_time_is_not_averaged(tmp_path):
    """Round 46, ti5: a run's wall_seconds of -1000 beside one of 3 was averaged into costs.md (`-499 | -1000-3`)."""
    from records import write_record

    from sdp.report.report import build_report

    for seed, seconds in ((1, 3.0), (2, -1000.0), (3, "fast")):
        write_record(tmp_path, f"mp{seed}", "MP", seed, 0.6)
        record = json.loads((tmp_path / f"mp{seed}" / "metrics.json").read_text())
        record["wall_seconds"] = seconds
        (tmp_path / f"mp{seed}" / "metrics.json").write_text(json.dumps(record))
    build_report(tmp_path, plots=False)
    costs = (tmp_path / "tables" / "costs.md").read_text()
    assert "| MP | 3 | 3-3 | 1 |" in costs and "-1000" not in costs, costs  # the one time that is a time
    # and the two that are none counted as left out (round 46's Left: `| 1 | 0 |`, no count and no word)
    assert "| MP | 3 | 3-3 | 1 | 2 |" in costs and "left out (resumed, no trace, no time)" in costs, costs
