"""The package's version: the installed distribution's (a wheel, or an editable install), else pyproject.toml's in a
source checkout that was never installed; "unknown" only when neither exists."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "sdp-prune"  # the name on the package index; the import name is `sdp`
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def package_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    try:  # a checkout run as `python -m cli.run` without installing: the version it would install as
        project = PYPROJECT.read_text().split("[project]", 1)[1].split("\n[", 1)[0]
    except (OSError, IndexError):
        return "unknown"
    found = re.search(r'^version\s*=\s*"([^"]+)"', project, re.MULTILINE)
    return found.group(1) if found else "unknown"
