#!/usr/bin/env bash
# A config error fails faster than importing torch and transformers (issue 15): both side by side, on
# this machine, three times each. Not a test (it times things).
#   scripts/config_error_speed.sh            # uses .venv/bin/python, or $PYTHON
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export PYTHONPATH=${PYTHONPATH:-$PWD} HF_HUB_OFFLINE=1
for i in 1 2 3; do
  s=$(date +%s.%N)
  err=$("$PY" -m cli.run sparsity=1.5 model=tiny-bert task=rte output_dir="${TMPDIR:-/tmp}/sdp-speed-$$" 2>&1 >/dev/null)
  rc=$?
  m=$(date +%s.%N)
  "$PY" -c "import torch, transformers"
  e=$(date +%s.%N)
  printf 'sdp-run sparsity=1.5: %.2f s (exit %d, %d line(s) of error)   import torch, transformers: %.2f s\n' \
    "$(echo "$m - $s" | bc)" "$rc" "$(printf '%s\n' "$err" | grep -c .)" "$(echo "$e - $m" | bc)"
done
printf 'error: %s\n' "$err"
rm -rf "${TMPDIR:-/tmp}/sdp-speed-$$"
