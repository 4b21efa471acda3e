#!/usr/bin/env bash
# Study: plain magnitude pruning (MP) vs logit KD vs SDP-CC at 90% sparsity, MiniLM on SST-2, all
# pruned from ONE shared dense fine-tune, with the demo's budget (8k training sentences, 2 pruning
# epochs, fp32, 2 CPU cores: ~9 min per method). Results land in results/sweeps/<name>/ with their
# configs; `make tables` then puts them into results/tables/.
#
#   scripts/study_sst2_minilm.sh <dense model dir>     # e.g. the dense_model/ of a `make demo` run
#   scripts/study_sst2_minilm.sh <dense model dir> seed=1,2,3   # extra Hydra overrides (more seeds)
set -euo pipefail
cd "$(dirname "$0")/.."
dense="${1:?usage: $0 <dense model dir> [hydra overrides...]}"
shift
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" HF_DATASETS_OFFLINE="${HF_DATASETS_OFFLINE:-1}"
export TRANSFORMERS_OFFLINE="${TRANSFORMERS_OFFLINE:-1}"
# The local GLUE folder, as `make demo` uses it (the Hub otherwise).
export SDP_DATA_DIR="${SDP_DATA_DIR:-$(realpath ../shared/data)}"
.venv/bin/sdp-run -m experiment=demo "dense.checkpoint=$(realpath "$dense")" \
    regularizer=none,cross_correlation,kd output_root=results \
    hydra.sweep.dir=results/sweeps/sst2_minilm_s0.9 "$@"
