"""A record a grid kept from older code (code_changed_since, scripts/gridrun.py) is counted and listed in
summary.md; a tree without one gets no such lines (the committed tables stay as they are)."""

from __future__ import annotations

from pathlib import Path

from conftest import mrpc, run_record, write_run

from sdp.report.report import build_report


def test_summary_lists_records_kept_from_older_code(tmp_path: Path) -> None:
    root = tmp_path / "results"
    flag = {"commit": "a" * 40, "code": "c0de", "files_changed": 2, "training_files_changed": []}
    write_run(root, "runs/j0", run_record("mrpc", "MP", 0.5, 1, mrpc(0.8, 0.7), mrpc(0.9, 0.8),
                                          code_changed_since=flag))
    write_run(root, "runs/j1", run_record("mrpc", "MP", 0.5, 2, mrpc(0.8, 0.7), mrpc(0.9, 0.8)))
    build_report(root, plots=False)
    text = (root / "tables" / "summary.md").read_text()
    assert "- records kept from older code (code_changed_since): 1" in text
    assert "- `runs/j0`: made at aaaaaaaaaa, kept for code c0de; training files changed: 0" in text
    (root / "runs" / "j0" / "metrics.json").unlink()
    build_report(root, plots=False)
    assert "older code" not in (root / "tables" / "summary.md").read_text()
