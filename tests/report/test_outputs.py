"""Plots, byte-identical reruns, the CLI front end and the published-baselines CSV."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from cli.tables import main, parse_args
from sdp.report.baselines import load_published
from sdp.report.report import build_report

REPO = Path(__file__).resolve().parents[2]


def test_plots_written(glue_tree: Path, xglue_tree: Path) -> None:
    build_report(glue_tree)
    build_report(xglue_tree)
    expected = [
        glue_tree / "tables/plots/score_vs_sparsity_mrpc.png",
        glue_tree / "tables/plots/score_vs_sparsity_stsb.png",
        glue_tree / "tables/plots/recovery_mrpc_50.png",  # one per target sparsity
        xglue_tree / "tables/plots/score_vs_sparsity_xnli.png",
        xglue_tree / "tables/plots/per_language_xnli.png",
    ]
    for path in expected:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        assert 5_000 < path.stat().st_size < 500_000, path
    assert not list((glue_tree / "tables/plots").glob("recovery_stsb*"))  # no trace for stsb


def test_byte_identical_reruns(glue_tree: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy" / "results"
    shutil.copytree(glue_tree, copy)  # copytree keeps mtimes, so the same run wins a conflict
    first = build_report(glue_tree, out_dir=tmp_path / "out1")
    second = build_report(copy, out_dir=tmp_path / "out2")
    names1 = sorted(p.relative_to(tmp_path / "out1").as_posix() for p in first.files)
    names2 = sorted(p.relative_to(tmp_path / "out2").as_posix() for p in second.files)
    assert names1 == names2 and any(n.endswith(".png") for n in names1)
    for name in names1:
        assert (tmp_path / "out1" / name).read_bytes() == (tmp_path / "out2" / name).read_bytes(), name
    png = (tmp_path / "out1" / "plots" / "score_vs_sparsity_mrpc.png").read_bytes()
    assert b"matplotlib" not in png.lower()  # no Software metadata


def test_stale_outputs_removed(xglue_tree: Path) -> None:
    build_report(xglue_tree)
    assert (xglue_tree / "tables/xglue.md").is_file()
    shutil.rmtree(xglue_tree / "runs")
    (xglue_tree / "tables" / "notes.txt").write_text("mine")
    build_report(xglue_tree)
    assert not (xglue_tree / "tables/xglue.md").exists()
    assert not list((xglue_tree / "tables/plots").glob("*.png"))
    assert (xglue_tree / "tables" / "notes.txt").read_text() == "mine"  # only our own files go


def test_cli(glue_tree: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([f"results_dir={glue_tree}", "plots=false"]) == 0
    assert "5 runs, 1 failed, 2 malformed, 1 conflicts" in capsys.readouterr().out
    assert (glue_tree / "tables" / "glue.md").is_file()
    assert not (glue_tree / "tables" / "plots").exists()
    assert main(["--help"]) == 0 and "results_dir" in capsys.readouterr().out
    assert main(["bogus=1"]) == 2
    assert parse_args(["results_dir=x", "+out_dir=y"])["out_dir"] == "y"


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_unreadable_baselines_are_named_and_old_tables_survive_a_failed_read(glue_tree: Path, tmp_path: Path,
                                                                             monkeypatch, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"method,model\n\xff\xfe,x\n")
    assert main([f"results_dir={glue_tree}", f"baselines={bad}", "plots=false"]) == 0
    assert f"warning: `{bad}` cannot be read as UTF-8 text" in capsys.readouterr().err
    assert f"`{bad}` cannot be read as UTF-8 text" in (glue_tree / "tables" / "summary.md").read_text()
    before = _tree(glue_tree / "tables")
    import sdp.report.report

    def broken(*args, **kwargs):
        raise RuntimeError("reading the inputs failed")

    monkeypatch.setattr(sdp.report.report, "load_published", broken)
    with pytest.raises(RuntimeError, match="reading the inputs failed"):
        build_report(glue_tree, plots=False)
    assert _tree(glue_tree / "tables") == before  # the old tables were not cleared before the inputs were read


def test_published_rows_out_of_range_or_twice_are_named_and_left_out(tmp_path: Path) -> None:
    path = tmp_path / "published.csv"
    header = "method,model,sparsity,task,metric,value,source"
    path.write_text("\n".join([header, "MP,bert,0.9,cola,mcc,30,a", "MP,bert,0.9,cola,mcc,40,b",
                               "MP,bert,90,sst2,accuracy,80,c"]) + "\n")
    cells, problems = load_published(path)
    assert problems == ["`published.csv` line 3: the same model, method, sparsity, task and metric as line 2; row "
                        "left out", "`published.csv` line 4: sparsity 90 is not a fraction in [0, 1] (write 0.9 "
                        "for 90%); row left out"]
    assert list(cells[cells["metric"] == "mcc"]["mean"]) == [30.0]


def test_repo_published_csv_matches_anchors() -> None:
    path = REPO / "results" / "baselines" / "published_glue.csv"
    cells, problems = load_published(path)
    assert problems == [] and not cells.empty
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["source"] for r in rows)
    # ANCHORS.md sits beside the shared data (shared/docs next to shared/data).
    candidates = [REPO.parent / "shared" / "docs" / "ANCHORS.md"]
    if os.environ.get("SDP_DATA_DIR"):
        candidates.insert(0, Path(os.environ["SDP_DATA_DIR"]).resolve().parent / "docs" / "ANCHORS.md")
    anchors = next((c for c in candidates if c.is_file()), None)
    if anchors is None:
        if os.environ.get("SDP_REQUIRE_DATA") == "1":
            pytest.fail(f"ANCHORS.md not found at {[str(c) for c in candidates]}")
        pytest.skip("ANCHORS.md not available")
    text = anchors.read_text()
    for r in rows:  # every number exactly as written in the published summary
        assert r["value"] in text, r


def test_recovery_by_step_counts_steps_that_never_recovered(tmp_path: Path) -> None:
    import pandas as pd

    from sdp.report.plots import recovery, recovery_by_step

    def step(sparsity: float, recovered: int | None) -> dict:
        return {"event": "prune", "step": 1, "sparsity": sparsity, "loss_before": 0.5, "loss_after": 0.7,
                "recovery_steps": recovered}  # fmt: skip

    traces = {"mp1": [step(0.5, 4), step(0.9, None)], "mp2": [step(0.5, 8), step(0.9, 6)],
              "cc1": [step(0.5, 2), step(0.9, 3)], "mp_linear": [step(0.5, 1), step(0.9, 1)]}  # fmt: skip
    for name, events in traces.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "trace.jsonl").write_text("\n".join(json.dumps(e) for e in events))
    runs = pd.DataFrame([{"task": "sst2", "target_sparsity": 0.9, "has_trace": True, "path": name, "model": "m",
                          "method": "MP" if name.startswith("mp") else "SDP-CC", "teacher": "frozen",
                          "schedule": "linear" if name.endswith("linear") else "cubic", "setup": "s1"}
                         for name in traces])  # fmt: skip
    frame, problems = recovery_by_step(runs, tmp_path, "sst2", 0.9)
    assert problems == []
    rows = {(r.method, r.schedule, r.sparsity): (r.recovery, r.never, r.seeds) for r in frame.itertuples()}
    assert rows == {("MP", "cubic", 50.0): (6.0, 0, 2), ("MP", "cubic", 90.0): (6.0, 1, 2),  # mean: seeds that recovered
                    ("MP", "linear", 50.0): (1.0, 0, 1), ("MP", "linear", 90.0): (1.0, 0, 1),  # another curve
                    ("SDP-CC", "cubic", 50.0): (2.0, 0, 1), ("SDP-CC", "cubic", 90.0): (3.0, 0, 1)}  # fmt: skip
    # Another budget (setup) is another curve, not more seeds of this one.
    other = runs.assign(setup=["s1", "s2", "s1", "s1"])
    split = recovery_by_step(other, tmp_path, "sst2", 0.9)[0]
    assert sorted(split[(split["method"] == "MP") & (split["schedule"] == "cubic")]["setup"].unique()) == ["s1", "s2"]
    assert split["seeds"].max() == 1
    # Only never-recovered steps: still a plot (the x marks), not "no data".
    (tmp_path / "mp1" / "trace.jsonl").write_text(json.dumps(step(0.9, None)))
    path, _ = recovery(runs[runs["path"] == "mp1"], tmp_path, "sst2", 0.9, tmp_path / "plots")
    assert path is not None and path.is_file()
