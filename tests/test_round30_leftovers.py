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
    assert "mixes code versions code:4ba7b1f10881, code:5ec2ecade1ba" in summary, summary


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


def test_a_sweep_jobs_model_is_named_by_its_model_and_id(tmp_path, monkeypatch):
    """Round 30 (noticed): sdp-eval's default folder for a sweep job's model was named after the first 100 bytes of the
    job's folder (`<time>_custom_debug=smoke,dense.lr=0.01,...,method=mp,`): every job of a sweep shared that name,
    and the id that told them apart was cut off. A sweep job's model is `<its model's name>-<run id>`."""
    from omegaconf import OmegaConf

    from cli.eval import default_out_dir
    from sdp.config import model_name_from, sweep_job_name

    overrides = "debug=smoke,dense.lr=0.01,method=mp," + ",".join(f"task.text_fields.{i}=column_{i}" for i in range(5))
    jobs = [tmp_path / "sweeps" / f"{overrides},id={h}" for h in ("0123abcd", "89ef4567")]
    for job in jobs:
        (job / "model").mkdir(parents=True)
        (job / "dense_model").mkdir()
    (jobs[0] / "run.json").write_text(json.dumps({"config": {"model": {"name": "tiny-bert"}}}))
    assert model_name_from(str(jobs[0] / "model")) == "tiny-bert-0123abcd"
    assert model_name_from(str(jobs[0] / "dense_model")) == "tiny-bert-0123abcd-dense"
    assert model_name_from(str(jobs[1] / "model")) == "job-89ef4567"  # no record yet: still told apart by its id
    assert sweep_job_name(tmp_path / "mine") is None  # any other folder keeps its own name
    cfg = OmegaConf.create({"output_root": str(tmp_path / "out"), "task": {"name": "custom"}})
    folder = default_out_dir(cfg, str(jobs[0] / "model"))
    assert folder.is_dir() and folder.name.endswith("_custom_tiny-bert-0123abcd"), folder.name


def test_writing_a_new_file_where_hard_links_are_refused(tmp_path, monkeypatch):
    """Round 30's Left: atomic_write(replace=False) made the file with os.link, which some network and FUSE filesystems
    refuse (EPERM): sdp-predict output= and sdp-export --out failed there. The name is claimed with O_EXCL instead, so
    a file already there is still kept."""
    import errno
    import os

    import pytest

    from sdp.io import atomic_write

    def no_links(src, dst):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "labels.txt"
    atomic_write(path, lambda p: p.write_text("mine\n"), replace=False)
    assert path.read_text() == "mine\n"
    with pytest.raises(FileExistsError):
        atomic_write(path, lambda p: p.write_text("theirs\n"), replace=False)
    assert path.read_text() == "mine\n" and [p.name for p in tmp_path.iterdir()] == ["labels.txt"]  # no temporary left


def test_costs_split_a_setups_runs_by_device(tmp_path):
    """ct1's Left: costs.md pooled one setup's runs made on two machines (a GPU's and a CPU's times in one mean). A
    run records its device (versions.device), and runs on another device are rows of their own, said."""
    from sdp.report.report import build_report

    for name, method, seed, device in (("mp1", "MP", 1, "NVIDIA H200"), ("mp2", "MP", 2, "CPU Intel Xeon"),
                                       ("kd1", "KD", 1, "NVIDIA H200")):
        write_record(tmp_path, name, method, seed, 0.9, own=f"fp{seed}")
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        metrics["versions"]["device"] = device
        metrics["wall_seconds"] = 5.0 if device.startswith("NVIDIA") else 300.0
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    build_report(tmp_path, plots=False)
    costs = (tmp_path / "tables" / "costs.md").read_text()
    assert "| dense + pruning (NVIDIA H200) | MP | 5 | 5-5 | 1 | 0 |" in costs, costs
    assert "| dense + pruning (CPU Intel Xeon) | MP | 300 | 300-300 | 1 | 0 |" in costs, costs
    assert "| dense + pruning (NVIDIA H200) | KD | 5 | 5-5 | 1 | 0 |" in costs, costs
    assert "or on another device (`versions.device`" in costs


def test_a_run_records_its_device():
    import torch

    from sdp.run.env import device_name, versions

    assert versions(1, torch.device("cpu"))["device"].startswith("CPU ") and "device" not in versions(1)
    assert device_name(torch.device("cpu")) == versions(1, torch.device("cpu"))["device"]
    assert device_name(torch.device("meta")) == "meta"  # another backend (mps, xpu): its name, not the CPU's
