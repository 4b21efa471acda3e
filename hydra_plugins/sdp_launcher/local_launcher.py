"""hydra/launcher=local (and =gpu): Hydra finds a launcher only under the ``hydra_plugins`` namespace, so the class
lives here; what it does is in sdp/local_launch.py (imported when a sweep launches, not when Hydra scans plugins,
which it does on every ``sdp-run``, ``--help`` and tab completion included)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher


class SdpLocalLauncher(Launcher):
    """Each job of a sweep in its own process, ``n_jobs`` at a time; a job whose process dies is noted ``killed``
    and the others run on."""

    def __init__(self, n_jobs: int = 2) -> None:
        self.n_jobs = n_jobs
        self.config: Any = None
        self.task_function: Any = None
        self.hydra_context: Any = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        self.config, self.task_function, self.hydra_context = config, task_function, hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from sdp.local_launch import launch

        return launch(self, job_overrides, initial_job_idx)
