#!/usr/bin/env bash
# The structured grid (results/structured/README.md) in the background, from this checkout: start | stop | status.
#   bash scripts/structured_grid.sh start    # start or resume: the grid runner, two runs side by side, nice 19
#   bash scripts/structured_grid.sh stop     # SIGTERM to its process group: the running sdp-run checkpoints
#   bash scripts/structured_grid.sh status
# The grid itself is `python scripts/grid.py structured` (scripts/grids/structured.yaml: the measured levels'
# sparsities, results/structured/levels_quiet/levels.json); it skips finished runs and resumes an interrupted one.
# Beside it, a loop commits finished records every 15 minutes (scripts/commit_records.py: never weights or
# model.onnx) and regenerates the frontier (scripts/structured_report.py), until the grid's process is gone.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=results/structured
LOGS=$ROOT/logs  # git-ignored (results/**/logs/)
PY=${PYTHON:-.venv/bin/python}
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

case "${1:-status}" in
start)
  if alive $LOGS/grid.pid; then echo "structured grid: running already (pid $(cat $LOGS/grid.pid))"; exit 0; fi
  mkdir -p $LOGS
  # setsid: its own process group, so `stop` reaches the runner and the sdp-run it started, and nothing else.
  setsid nohup nice -n 19 $PY scripts/grid.py structured "root=$ROOT" >> $LOGS/grid.log 2>&1 < /dev/null &
  echo $! > $LOGS/grid.pid
  # With autogroup scheduling a new session competes as a whole whatever its nice: give the session nice 19 too
  # (scripts/gridrun.py lower_autogroup does the same for each run it starts).
  echo 19 > /proc/$!/autogroup 2>/dev/null || true
  setsid nohup nice -n 19 bash scripts/structured_grid.sh commit-loop >> $LOGS/commit.log 2>&1 < /dev/null &
  echo $! > $LOGS/commit.pid
  echo 19 > /proc/$!/autogroup 2>/dev/null || true
  echo "structured grid: started (pid $(cat $LOGS/grid.pid)); log $LOGS/grid.log;" \
       "commit loop pid $(cat $LOGS/commit.pid), log $LOGS/commit.log"
  ;;
stop)
  for f in $LOGS/commit.pid $LOGS/grid.pid; do
    if alive $f; then kill -TERM -- "-$(cat $f)" && echo "structured grid: SIGTERM to process group $(cat $f)"; fi
  done
  ;;
status)
  if alive $LOGS/grid.pid; then echo "structured grid: running (pid $(cat $LOGS/grid.pid))"; else echo "structured grid: not running"; fi
  # PROGRESS.md is the grid's last word (committed with the records): say when it was written, since its "running"
  # lines are of that moment, not of now (with no grid running they read as a contradiction).
  if [ -f $ROOT/PROGRESS.md ]; then
    echo "as $ROOT/PROGRESS.md last recorded ($(grep -m1 -oE 'Updated [0-9-]+ [0-9:]+ UTC' $ROOT/PROGRESS.md || echo 'time unknown'); not necessarily now):"
    sed -n '1,12p' $ROOT/PROGRESS.md | grep -E '^- (running|failed|left)' || true
  fi
  ;;
commit-loop)
  while alive $LOGS/grid.pid; do
    sleep 900
    $PY scripts/structured_report.py || true
    $PY scripts/commit_records.py $ROOT -m "results/structured: finished records of the structured grid" || true
    git add $ROOT/frontier.md $ROOT/frontier.png 2>/dev/null && \
      git commit -q -m "results/structured: frontier regenerated from the committed records" -- $ROOT/frontier.md $ROOT/frontier.png \
      2>/dev/null || true
  done
  ;;
*) echo "usage: bash scripts/structured_grid.sh start|stop|status" >&2; exit 2 ;;
esac
