"""What probe round 22 found (issue 26; docs/probe_round22.md): a tuning model (task.validation_from_train) scored
by sdp-eval, or taken as a tuning run's dense.checkpoint, on a training file holding its rows in another order (the
"held-out" rows were 10 of 16 trained on), sdp-eval carving the dev file in place of the training file, a carve whose
held-out rows repeat training rows unsaid, and a "v1-" tokenizer digest refused as another tokenizer. Each test
fails on the commit the probe ran (acb92cb) and passes after its fix. Tiny models, offline."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]
CONF = str(REPO / "conf")
WORDS = {"pos": "a lovely warm bright film", "neg": "a dull cold grim mess"}
TASK = ["task=custom", "task.text_fields=[body]", "task.label_column=verdict"]
CARVE = ["task.validation_from_train=0.25", "max_train_samples=64"]  # the smoke run's max_train_samples


def _compose(overrides: list[str]):
    import sdp.config  # noqa: F401  (the structured schema)

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(["review_id\tbody\tverdict", *rows]) + "\n")
    return path


def _reviews(n: int) -> list[str]:
    labels = ("pos", "neg")
    return [f"{i}\t{WORDS[labels[i % 2]]} number {i}\t{labels[i % 2]}" for i in range(n)]


@pytest.fixture(scope="module")
def tuning_run(tmp_path_factory) -> dict[str, Path]:
    """A smoke tuning run on 48 rows (12 held out), and the same rows in another order."""
    from sdp.recipe import run

    tmp = tmp_path_factory.mktemp("carve")
    rows = _reviews(48)
    train = _write(tmp / "train.tsv", rows)
    shuffled = rows[:]
    random.Random(5).shuffle(shuffled)
    cfg = _compose(["debug=smoke", "train.num_threads=1", "dense.max_steps=2", "prune.max_steps=2",
                    f"cache_dir={tmp}/cache", *TASK, f"task.train_file={train}", "task.validation_from_train=0.25"])
    run(cfg, run_dir=tmp / "run")
    return {"tmp": tmp, "run": tmp / "run", "train": train, "shuffled": _write(tmp / "shuffled.tsv", shuffled),
            "dev": _write(tmp / "dev.tsv", _reviews(20))}


def _eval(run: dict[str, Path], name: str, *overrides: str) -> tuple[int, str]:
    from cli.eval import main

    return main([f"model_dir={run['run'] / 'model'}", *TASK, f"cache_dir={run['tmp']}/cache",
                 f"output_dir={run['tmp'] / name}", *overrides]), name


def test_eval_of_a_tuning_model_refuses_a_training_file_of_its_rows_in_another_order(tuning_run, capsys):
    """m02: `sdp-eval model_dir=d02/model task=custom task.train_file=<the run's file, rows shuffled>
    task.validation_from_train=0.25 max_train_samples=64` printed `custom accuracy=25.00 (16 examples)`: the carve
    keys matched, but 10 of the 16 rows it held out were rows the model trained on. The run's own file still
    scores, as its run did."""
    rc, _ = _eval(tuning_run, "same", f"task.train_file={tuning_run['train']}", *CARVE)
    assert rc == 0
    on_disk = json.loads((tuning_run["tmp"] / "same" / "metrics.json").read_text())
    run_metrics = json.loads((tuning_run["run"] / "metrics.json").read_text())
    assert on_disk["final"]["main"] == pytest.approx(run_metrics["final"]["main"])
    capsys.readouterr()
    rc, name = _eval(tuning_run, "shuffled", f"task.train_file={tuning_run['shuffled']}", *CARVE)
    assert rc != 0
    assert "its run trained on other rows than the ones this carve leaves for training" in capsys.readouterr().err
    assert not (tuning_run["tmp"] / name / "metrics.json").exists()


def test_eval_with_a_carve_does_not_carve_the_dev_file(tuning_run, capsys):
    """m10: `sdp-eval model_dir=d02/model task=custom task.validation_file=dev.csv task.validation_from_train=0.25
    max_train_samples=64` (no train_file) carved the dev file itself and printed `custom accuracy=0.00 (5
    examples)` as validation_from_train, beside a warning that the dev file was not scored."""
    rc, name = _eval(tuning_run, "dev_carved", f"task.validation_file={tuning_run['dev']}", *CARVE)
    assert rc != 0
    assert "task.train_file is required for task=custom" in capsys.readouterr().err
    assert not (tuning_run["tmp"] / name / "metrics.json").exists()


def test_a_tuning_runs_dense_checkpoint_of_other_training_rows_is_refused(tuning_run):
    """o02: a tuning run on the shuffled file with dense.checkpoint=<d02>/dense_model printed `dense held-out
    accuracy=25.00`: its dense model had trained on 10 of the 16 rows this run held out and scored."""
    from sdp.errors import ConfigError
    from sdp.recipe import run

    tmp = tuning_run["tmp"]
    cfg = _compose(["debug=smoke", "train.num_threads=1", "dense.max_steps=2", "prune.max_steps=2", "method=mp",
                    f"cache_dir={tmp}/cache", *TASK, f"task.train_file={tuning_run['shuffled']}",
                    "task.validation_from_train=0.25", f"dense.checkpoint={tuning_run['run'] / 'dense_model'}"])
    with pytest.raises(ConfigError, match="its run trained on other rows than the ones this carve leaves"):
        run(cfg, run_dir=tmp / "from_dense")


def test_a_carve_whose_held_out_rows_repeat_training_rows_is_said(tmp_path, caplog):
    """d12: a training file holding each row twice, carved by task.validation_from_train=0.25: 10 of the 16
    held-out rows had their twin among the training rows, scored as held-out with no word (a dev file's repeats are
    said: `... rows repeat a row of task.train_file`)."""
    from sdp.crosslingual import resolve_task
    from sdp.data.loading import load_splits

    rows = _reviews(40)
    train = _write(tmp_path / "dup.tsv", rows + rows)
    cfg = _compose([*TASK, f"task.train_file={train}", "task.validation_from_train=0.25"])
    with caplog.at_level("WARNING", logger="sdp"):
        loaded = load_splits(resolve_task(cfg.task), None, validation_from_train=0.25)
    held, kept = loaded.datasets["validation_from_train"], loaded.datasets["train"]
    repeats = sum(text in set(kept["body"]) for text in held["body"])
    assert repeats > 0
    assert f"{repeats} of {len(held)} held-out rows repeat a row left for training" in caplog.text


def test_a_v1_digest_written_with_a_prefix_is_not_called_another_tokenizer():
    """m05: config.json `sdp_tokenizer_digest: "v1-03dcb994aa927706"` (the folder's own tokenizer's v1 digest, with
    a prefix no sdp writes) was refused as `trained with another tokenizer than the one given (tokenizer digest
    v1-03dcb994aa927706 ...; 03dcb994aa927706 given)`: it is a record this sdp cannot read, and said so."""
    from sdp.models.tokenizer_digest import digest_version

    assert digest_version("03dcb994aa927706") == 1
    assert digest_version("v2-75855abd27a1ba59") == 2
    assert digest_version("v1-03dcb994aa927706") is None
    assert digest_version("v3-03dcb994aa927706") is None


def test_the_tables_evaluations_say_which_rows_each_scored(tmp_path):
    """o04: two sdp-eval records of one model, one on its dev file (20 rows) and one on its run's carve (16 rows),
    were listed in summary.md's Evaluations as `| custom | ... | 30.00 |` and `| custom | ... | 56.25 |`, with
    nothing to tell which rows each had scored."""
    from sdp.report.report import build_report

    for name, split, n, main in (("dev", "validation", 20, 0.3), ("carve", "validation_from_train", 16, 0.5625)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps({
            "kind": "eval", "status": "completed", "task": "custom", "model": "tiny-bert", "method": "SDP-CC",
            "seed": None, "target_sparsity": 0.5, "final": {"accuracy": main, "main": main},
            "eval_examples": {split: n}}))
    build_report(tmp_path, plots=False)
    summary = (tmp_path / "tables" / "summary.md").read_text()
    assert "| `carve` | custom | tiny-bert | SDP-CC | 50% | — | validation_from_train (16) | 56.25 |" in summary
    assert "| `dev` | custom | tiny-bert | SDP-CC | 50% | — | validation (20) | 30.00 |" in summary


def test_a_carve_that_holds_out_every_row_of_a_class_is_said(tmp_path, caplog):
    """p02: a file of 60 rows with one `mid` row, carved by task.validation_from_train=0.25: the carve held out that
    row, so the model had a `mid` output never trained on, and the row was scored as a miss, unsaid (a dev file's
    class with no training row is refused, a listed class with none is said)."""
    from sdp.crosslingual import resolve_task
    from sdp.data.loading import load_splits

    rows = _reviews(60)
    rows[8] = f"8\t{WORDS['neg']} but plain 8\tmid"  # row 8 is among the 15 the seed-0 carve holds out
    train = _write(tmp_path / "rare.tsv", rows)
    cfg = _compose([*TASK, f"task.train_file={train}", "task.validation_from_train=0.25"])
    with caplog.at_level("WARNING", logger="sdp"):
        loaded = load_splits(resolve_task(cfg.task), None, validation_from_train=0.25)
    assert "mid" not in {loaded.datasets["train"].features["label"].int2str(y) for y in loaded.datasets["train"]["label"]}
    assert "left no training row of class(es) ['mid']" in caplog.text and "their 1 held-out row(s)" in caplog.text
