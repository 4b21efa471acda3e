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


def test_costs_read_the_threads_a_run_was_set_to(tmp_path):
    """ct1's fix split costs.md by versions.num_threads, which records made by older code hold as torch's default (2),
    read before the run applied its train.num_threads=1: the committed study's costs were split into "1 thread" and
    "2 threads" rows, and its README changed to say 59 records ran at 2 threads, for runs that ran at one."""
    from sdp.report.report import build_report

    write_record(tmp_path, "mp1", "MP", 1, 0.9, own="fp1")
    write_record(tmp_path, "kd1", "KD", 1, 0.9, own="fp2", threads=2)  # recorded 2 ...
    record = json.loads((tmp_path / "kd1" / "run.json").read_text())
    record["config"]["train"] = {"num_threads": 1}  # ... set to 1
    (tmp_path / "kd1" / "run.json").write_text(json.dumps(record))
    build_report(tmp_path, plots=False)
    costs = (tmp_path / "tables" / "costs.md").read_text()
    assert "thread" not in costs.split("| task |")[1] and "Runs of one setup at other" not in costs, costs
