"""make stop-grids: stop the grids (make study, make calibrate) that this repository started, and nothing else.

Each grid driver is sent SIGTERM; it passes it on to its runs, which checkpoint after their current update and
stop, and it starts no new run. `make study` (or `make calibrate`) afterwards resumes them. The grids are found
by their pid files (scripts/grid_pids.py), never by a pattern over every process's command line.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from grid_pids import stop  # noqa: E402  (scripts/ is not a package)


def main() -> int:
    lines = stop()
    print("\n".join(lines) if lines else "stop-grids: no grid of this repository is running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
