"""costs.md: wall_seconds per task, kind of run and method; a resumed run is counted, never averaged."""

from __future__ import annotations

from pathlib import Path

from conftest import run_record, write_run

from sdp.report.report import build_report


def test_costs_table_leaves_resumed_runs_out_of_the_statistics(tmp_path: Path):
    acc = {"accuracy": 0.8, "main": 0.8}
    write_run(tmp_path, "dense/sst2_seed1", run_record("sst2", "MP", 0.0, 1, acc, acc, wall_seconds=600.0))
    write_run(tmp_path, "runs/mp1", run_record("sst2", "MP", 0.9, 1, acc, acc, wall_seconds=100.0))
    write_run(tmp_path, "runs/mp2", run_record("sst2", "MP", 0.9, 2, acc, acc, wall_seconds=300.0))
    write_run(tmp_path, "runs/mp3", run_record("sst2", "MP", 0.9, 3, acc, acc, wall_seconds=40.0),
              trace=[{"event": "train", "step": 1, "loss": 1.0}, {"event": "resume", "stage": "prune", "step": 5},
                     "not json, but says \"resume\""])
    write_run(tmp_path, "runs/kd1", run_record("sst2", "KD", 0.9, 1, acc, acc))  # an older record: no wall_seconds
    (tmp_path / "README.md").write_text("# Study\n<!-- sdp-tables: costs.md -->\nSTALE\n<!-- /sdp-tables: costs.md -->\nend\n")
    build_report(tmp_path, plots=False)
    text = (tmp_path / "tables" / "costs.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| sst2")]
    assert rows == ["| sst2 | minilm | dense model (sparsity 0) | — | 600 | 600-600 | 1 | 0 |",
                    "| sst2 | minilm | pruning run | MP | 200 | 100-300 | 2 | 1 |"]
    readme = (tmp_path / "README.md").read_text()
    assert "STALE" not in readme and rows[1] in readme and readme.endswith("end\n")  # the quoted copy, refreshed
    build_report(tmp_path, plots=False)
    assert (tmp_path / "tables" / "costs.md").read_text() == text  # byte-identical on a re-run
