"""Probe round 47 (docs/probe_round47.md, a deciding round; probe only), part A: a data file given as a ``file://`` URL
and datasets' cache, fixed by the lead. Each test fails on 16a5d9e (the round's findings merged) and passes after its
fix. Hand-written files, offline; nothing is trained. datasets' cache is a folder of the test's own (its lock is never
the machine's)."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path

import datasets
import pytest
from hydra import compose, initialize_config_dir
from records import write_csv

from sdp.data.tasks import DataError

CONF = str(Path(__file__).resolve().parents[1] / "conf")
SMOKE = ["debug=smoke", "train.num_threads=1", "dense.max_steps=2", "prune.max_steps=2"]


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "hf-datasets"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    return cache


def _compose(overrides: list[str]):
    import sdp.config  # noqa: F401  (the structured schema)

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _replace_keeping_time(path: Path, rows: list[tuple[str, str]]) -> None:
    """Another version of ``path``, of its size, with its modification time kept (cp -p, rsync -a, tar x)."""
    stamp = path.stat().st_mtime_ns
    size = path.stat().st_size
    write_csv(path, rows)
    assert path.stat().st_size == size
    os.utime(path, ns=(stamp, stamp))


def _rows(label_of) -> list[tuple[str, str]]:
    return [(f"a text number {i:02d}", label_of(i)) for i in range(20)]


# --------------------------------------------------------------------------- fu2
def test_a_file_url_is_read_afresh_as_its_path_is(tmp_path):
    """fu2: `task.validation_file=file:///.../V.csv`, V.csv replaced by another version of its size and time: sdp-eval
    scored the old version (95.83, by hand 4.17): a file:// URL was taken as remote and read from datasets' cache."""
    from sdp.data.custom import read_table

    path = Path(write_csv(tmp_path / "V.csv", _rows(lambda i: ("neg", "pos")[i % 2])))
    assert read_table(path.as_uri(), "validation_file")["label"][:2] == ["neg", "pos"]
    _replace_keeping_time(path, _rows(lambda i: ("pos", "neg")[i % 2]))  # every label swapped
    assert read_table(path.as_uri(), "validation_file")["label"][:2] == ["pos", "neg"]


# --------------------------------------------------------------------------- fr2
def test_a_training_file_url_is_the_file_at_its_path(tmp_path):
    """fr2: `sdp-run task.train_file=file:///.../T.csv`, T.csv replaced keeping its time: the run trained on and
    recorded the previous version. The task reads the file afresh, records its content (run.json data_files: none for
    a URL) and names it by its path, as the plain path's run does."""
    from sdp.crosslingual import resolve_task
    from sdp.data.custom import file_digests, read_custom_split

    train = Path(write_csv(tmp_path / "T.csv", _rows(lambda i: ("neg", "pos")[i % 2])))
    dev = write_csv(tmp_path / "D.csv", [(f"a dev text {i}", ("neg", "pos")[i % 2]) for i in range(6)])
    cfg = _compose([*SMOKE, "task=custom", f"task.train_file={train.as_uri()}", f"task.validation_file={dev}",
                    "task.text_fields=[text]", "task.label_column=label", "task.metric=accuracy"])
    assert read_custom_split(resolve_task(cfg.task), None, "train")[0]["label"] == "neg"
    _replace_keeping_time(train, _rows(lambda i: ("pos", "neg")[i % 2]))
    task = resolve_task(cfg.task)
    assert dict(task.local_split_files)["train"] == str(train.resolve())
    assert read_custom_split(task, None, "train")[0]["label"] == "pos"
    assert set(file_digests(cfg.task)) == {"train_file", "validation_file"}


def test_sdp_run_takes_a_file_url_as_its_path(tmp_path, monkeypatch):
    """fr2 (the run's side): the run's config holds the path, so every check of a local file applies to it: here, the
    run folder that holds its own training file (resume=false would move it aside; probe round 15, o03d)."""
    import sdp.sweep
    from sdp.run.rundir import RunHoldsDataError

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    train = Path(write_csv(run_dir / "T.csv", _rows(lambda i: ("neg", "pos")[i % 2])))
    dev = write_csv(tmp_path / "D.csv", [(f"a dev text {i}", ("neg", "pos")[i % 2]) for i in range(6)])
    cfg = _compose([*SMOKE, "task=custom", f"task.train_file={train.as_uri()}", f"task.validation_file={dev}",
                    "task.text_fields=[text]", "task.label_column=label", "task.metric=accuracy",
                    f"output_dir={run_dir}"])

    def ran(*args, **kwargs):
        raise AssertionError("the run went on into a folder that holds its own training file")

    monkeypatch.setattr(sdp.sweep, "_run_locked", ran)
    with pytest.raises(RunHoldsDataError, match="holds data this run reads"):
        sdp.sweep.run_job(cfg)
    assert cfg.task.train_file == str(train)


# --------------------------------------------------------------------------- q2, q3, q4
@pytest.mark.parametrize("case, lines", [
    ("q2", {5: '"a text number 03,pos', 8: 'a text number 06" x,neg'}),  # a quote closed 3 lines on, by '" x'
    ("q3", {6: "a text number 04,neg,extra"}),
    ("q4", {2: "a text number 00,neg,extra"}),
])
def test_a_file_url_is_scanned_as_its_path_is(tmp_path, case, lines):
    """q2: a file:// CSV whose quote is not closed: 117 rows of 120 scored (rows merged), no word; q3: a row of one
    field too many: datasets' DatasetGenerationError traceback; q4: the same in the first row: "column 'label' is
    empty in 119 of 120 rows", a problem the file does not have. By its path each is refused naming its line; by its
    URL now too, in the same words."""
    from sdp.data.custom import read_table

    path = Path(write_csv(tmp_path / f"{case}.csv", _rows(lambda i: ("neg", "pos")[i % 2])))
    text = path.read_text().splitlines()
    for n, line in lines.items():
        text[n - 1] = line
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match="line") as by_path:
        read_table(str(path), "validation_file")
    with pytest.raises(DataError) as by_url:
        read_table(path.as_uri(), "validation_file")
    assert str(by_url.value) == str(by_path.value)


@pytest.mark.parametrize("url, said", [
    ("file://server/share/V.csv", "names the host 'server'"),
    ("file:///tmp/V.csv?version=2", "which a URL reads as a query or a fragment"),
])
def test_a_file_url_that_names_no_local_file_is_refused_in_one_line(url, said):
    """(fu2's fix) a file:// URL is a local file; one naming another host, or with a query, is none: refused, naming
    the value and what is allowed (fsspec read the path on this machine, whatever the host)."""
    from sdp.data.custom import read_table

    with pytest.raises(DataError, match="task.validation_file='file:") as err:
        read_table(url, "validation_file")
    assert said in str(err.value) and "\n" not in str(err.value)


def test_sdp_eval_and_sdp_predict_take_a_file_url_as_its_path(tmp_path, tokenizer, capsys):
    """(fu2's fix, noticed) sdp-eval's scored file is filled in for the training file from the path; sdp-predict's
    input=file://... was "does not exist (or is not a file)" of a file that exists."""
    from test_probe_round32 import _classifier

    from cli.predict import main as predict_main
    from sdp.eval_task import fill_custom_task

    path = Path(write_csv(tmp_path / "V.csv", _rows(lambda i: ("neg", "pos")[i % 2])))
    cfg = _compose(["task=custom", f"task.validation_file={path.as_uri()}", "task.text_fields=[text]",
                    "task.label_column=label", "task.metric=accuracy"])
    fill_custom_task(cfg, {"id2label": {"0": "neg", "1": "pos"}, "sdp_tokenizer_digest": "x"})
    assert (cfg.task.validation_file, cfg.task.train_file) == (str(path), str(path))
    model = _classifier(tokenizer, tmp_path / "model")
    out = tmp_path / "labels.txt"
    assert predict_main([f"model_dir={model}", f"input={path.as_uri()}", "text_fields=text", f"output={out}",
                         "cpu=true"]) == 0, capsys.readouterr().err
    assert len(out.read_text().splitlines()) == 20


# --------------------------------------------------------------------------- hc1
def test_a_cache_named_by_a_file_is_one_line(tmp_path, own_cache):
    """hc1: `HF_DATASETS_CACHE=<a file>`: a FileExistsError traceback from the cache's mkdir."""
    from sdp.data.custom import read_table

    own_cache.write_text("x\n")
    path = write_csv(tmp_path / "V.csv", _rows(lambda i: ("neg", "pos")[i % 2]))
    with pytest.raises(DataError, match="HF_DATASETS_CACHE") as err:
        read_table(path, "validation_file")
    assert str(own_cache) in str(err.value) and "a folder" in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------- lk1
def test_a_read_waiting_on_the_caches_lock_says_what_it_waits_for(tmp_path, own_cache, monkeypatch):
    """lk1: a command reading a custom file while another held the lock on datasets' cache (a stopped job) waited
    with no word, for ever. It still waits (a slow reader is legitimate), saying once what for: the folder locked and
    its holder. Here the holder is this process, through a file description of its own. (Said past
    WAIT_BEFORE_SAYING, 0 here: a sweep's jobs taking turns is no news; as info, not a warning for the record.)"""
    import sdp.io
    from sdp.data.custom import read_table

    monkeypatch.setattr(sdp.io, "WAIT_BEFORE_SAYING", 0.0)
    monkeypatch.setattr(logging.getLogger("sdp"), "level", logging.INFO)

    path = write_csv(tmp_path / "V.csv", _rows(lambda i: ("neg", "pos")[i % 2]))
    own_cache.mkdir()
    said: list[str] = []
    waiting = threading.Event()

    class Heard(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())
            if "waiting" in record.getMessage():
                waiting.set()

    heard = Heard(logging.INFO)
    logging.getLogger("sdp").addHandler(heard)
    holder = os.open(own_cache, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    read: list = []
    reader = threading.Thread(target=lambda: read.append(read_table(path, "validation_file")), daemon=True)
    try:
        reader.start()
        heard_it = waiting.wait(timeout=60)  # a bound on a failure only: the message comes before the wait
        assert not read  # the lock is still held: it has waited, not read
    finally:
        os.close(holder)  # releases the lock
        reader.join()
        logging.getLogger("sdp").removeHandler(heard)
    assert heard_it, said
    assert len(read) == 1 and len(read[0]) == 20
    lines = [s for s in said if "waiting" in s]
    assert len(lines) == 1 and "\n" not in lines[0], lines
    assert str(own_cache) in lines[0] and f"pid {os.getpid()}" in lines[0], lines[0]


def test_review_file_url_forms_and_their_words(tmp_path):
    """Review of round 47's fixes: `file:/tmp/x.csv` (RFC 8089's short form) was read as a relative path that does
    not exist; `file://data/x.csv` and `file:///a#b.csv` were refused in words that did not say why."""
    from sdp.data.locations import local_path
    from sdp.data.tasks import DataError

    assert local_path(f"file:{tmp_path}/x.csv") == f"{tmp_path}/x.csv"
    with pytest.raises(DataError, match=r"names the host 'data' \(a file URL's path begins at its third slash"):
        local_path("file://data/x.csv", "task.train_file")
    with pytest.raises(DataError, match=r"holds a '\?' or '#', .* \(write them %3F and %23 there\)"):
        local_path("file:///tmp/a#b.csv", "task.train_file")


def test_review_the_library_run_takes_a_file_url_as_its_path(tmp_path, monkeypatch):
    """Review of round 47's fixes: sdp.recipe.run kept `file://` in the config it records (run.json), so the readers
    of recorded paths (scored rows, the reference mask's train file) found no file."""
    from hydra import compose, initialize_config_dir

    import sdp.recipe

    def stopped(cfg):
        raise KeyboardInterrupt

    monkeypatch.setattr(sdp.recipe, "resolve_run_task", stopped)
    train = write_csv(tmp_path / "T.csv", _rows(lambda i: ("neg", "pos")[i % 2]))
    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[1] / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["debug=smoke", "cpu=true", "task=custom", f"task.train_file=file://{train}",
                                                       f"task.validation_file={train}", "task.text_fields=[text]",
                                                       "task.label_column=label", f"cache_dir={tmp_path / 'c'}"])
    with pytest.raises(KeyboardInterrupt):
        sdp.recipe.run(cfg, tmp_path / "run")
    assert cfg.task.train_file == train
