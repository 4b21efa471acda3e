"""Round 30's leftovers and noticed cases (issue 26), fixed by the lead; each test fails on 6f3fd74."""
from __future__ import annotations

import json

from records import write_record


def test_a_cell_with_a_run_resumed_under_other_code_is_marked(tmp_path):
    """rz1, left: summary.md listed the run resumed under other code, but glue.md's cell (one run, two codes) was not
    marked †, and "Code versions" said "one sdp version"."""
    from sdp.report.report import build_report

    write_record(tmp_path, "mp1", "MP", 1, 0.9, own="fp1")
    metrics = json.loads((tmp_path / "mp1" / "metrics.json").read_text())
    code = {"id": "5ec2ecade1ba987d", "before_resume": ["4ba7b1f1088164de"]}
    (tmp_path / "mp1" / "metrics.json").write_text(json.dumps({**metrics, "code": code}))
    build_report(tmp_path, plots=False)
    glue = (tmp_path / "tables" / "glue.md").read_text()
    assert "| MP | 80% | 90.00 (n=1)† |" in glue, glue
    summary = (tmp_path / "tables" / "summary.md").read_text()
    assert "mixes sdp versions code:4ba7b1f10881, code:5ec2ecade1ba" in summary, summary
