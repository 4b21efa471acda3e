"""The wheel a user installs: built from this tree, installed into a fresh venv, run from an empty folder.

To stay fast and offline the venv gets no dependencies of its own: a .pth file makes the running
interpreter's site-packages (torch, transformers, ...: the venv `make test` built) visible behind it,
and the wheel goes in with --no-deps. The wheel's own `sdp` comes first on sys.path, and the outer
editable install is not active there (.pth files of a path added by a .pth are not processed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")
ENV = {**os.environ, "PYTHONPATH": ""}  # nothing of this checkout may leak into the installed one


def _dotted(root: Path, name: str) -> set[str]:
    """The importable name of every folder under ``root`` (installed as ``name``): setuptools ships a folder's
    files, code or data, only as a listed package, and warns about each folder it finds unlisted."""
    folders = [root, *(d for d in root.rglob("*") if d.is_dir() and "__pycache__" not in d.parts)]
    return {".".join((name, *d.relative_to(root).parts)) for d in folders
            if all(part.isidentifier() for part in d.relative_to(root).parts)}


def test_listed_packages_cover_the_source_tree():
    from setuptools.config.pyprojecttoml import load_file  # tomllib is Python 3.11+ only

    setuptools = load_file(REPO / "pyproject.toml")["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = _dotted(REPO / "sdp", "sdp") | _dotted(REPO / "conf", "sdp.conf") | _dotted(REPO / "cli", "sdp.cli") | \
        _dotted(REPO / "hydra_plugins" / "sdp_launcher", "hydra_plugins.sdp_launcher")
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"
    assert listed <= found, f"packages listed but not in the tree: {sorted(listed - found)}"
    assert setuptools["package-dir"] == {"sdp": "sdp", "sdp.conf": "conf", "sdp.cli": "cli"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv with the wheel of this tree installed."""
    root = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools leaves build/ and *.egg-info in the source folder, and an egg-info on
    # sys.path would make pip think the distribution is installed already.
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "sdp", "cli", "conf", "hydra_plugins"):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, src / name, **({"ignore": IGNORE} if copy is shutil.copytree else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(root / "dist"), str(src)], check=True, capture_output=True, cwd=root, env=ENV)
    (wheel,) = (root / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "sdp/conf/config.yaml" in names and "sdp/cli/run.py" in names
    assert not any(n.startswith(("cli/", "conf/")) for n in names), "top-level cli/ or conf/ in the wheel"
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = (venv / "lib").glob("python*/site-packages")
    (site / "_outer_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", str(wheel)], check=True, capture_output=True, env=ENV)
    assert not (site / "cli").exists(), "a top-level `cli` package landed in site-packages"
    return venv / "bin"


def _run(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    env = {**ENV, "CUDA_VISIBLE_DEVICES": "", **env}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def test_installed_wheel_composes_and_helps(installed, tmp_path):
    job = _run([str(installed / "sdp-run"), "task=rte", "--cfg", "job"], tmp_path).stdout
    assert "name: rte" in job and "name: minilm" in job
    helped = _run([str(installed / "sdp-run"), "--help"], tmp_path).stdout
    assert helped.startswith("sdp-run:") and "model=hf" in helped and "Hydra" not in helped.split("\n")[0]
    assert "sdp-tables" in _run([str(installed / "sdp-tables"), "--help"], tmp_path).stdout
    for tool in ("sdp-eval", "sdp-predict"):
        assert _run([str(installed / tool), "--help"], tmp_path).stdout.startswith(f"usage: {tool}")
    # The code that runs is the wheel's, not this checkout's.
    where = _run([str(installed / "python"), "-c", "import sdp.cli.run as m; print(m.config_path())"], tmp_path)
    assert where.stdout.strip() == "pkg://sdp.conf"


def test_installed_wheel_smoke_run_from_an_empty_directory(installed, tmp_path, data_dir):
    _run([str(installed / "sdp-run"), "debug=smoke", "task=rte", "train.num_threads=1"], tmp_path,
         SDP_DATA_DIR=str(data_dir))
    (metrics_file,) = tmp_path.glob("outputs/runs/*/*/metrics.json")
    metrics = json.loads(metrics_file.read_text())
    assert metrics["status"] == "completed" and metrics["task"] == "rte"
    # No git checkout around a wheel: the version is the installed distribution's (it was "unknown").
    from setuptools.config.pyprojecttoml import load_file

    assert metrics["versions"]["sdp_version"] == load_file(REPO / "pyproject.toml")["project"]["version"]
