"""How the plug-in tests run sdp: a fresh interpreter whose only route to the plug-in is SDP_PLUGINS (the documented
one), with tests/plugins on PYTHONPATH so the one-file plug-in module imports by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def run_with_plugins(args: list[str], cwd: Path, plugins: str | None) -> subprocess.CompletedProcess:
    """``python -m <args>`` in ``cwd`` with SDP_PLUGINS=``plugins`` (unset when None)."""
    env = {k: v for k, v in os.environ.items() if k != "SDP_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(HERE)])
    if plugins is not None:
        env["SDP_PLUGINS"] = plugins
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
