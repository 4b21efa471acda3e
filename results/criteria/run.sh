#!/usr/bin/env bash
# The unstructured criteria side by side (docs/method.md "Pruning criteria"): one dense MiniLM fine-tuned on 1,600
# SST-2 sentences (the quickstart's recipe), then SDP-CC(mean) pruned to 50% from it by magnitude,
# movement and taylor, one seed, each scored on a fixed random 500 of the 872 SST-2 dev sentences. CPU-sized: one seed and small
# data, so the table it gives is not evidence of a difference between the criteria.
#   bash results/criteria/run.sh        (runs under outputs/criteria, then copies the records here; no weights)
set -euo pipefail
cd "$(dirname "$0")/../.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export SDP_DATA_DIR=${SDP_DATA_DIR:-$(realpath ../shared/data)}
OUT=${OUT:-outputs/criteria}
COMMON=(experiment=quickstart max_train_samples=1600 max_eval_samples=500 seed=42 train.num_threads=1)

# The dense model, once (sparsity 0 and one pruning update: the dense-only run), shared by the three.
nice .venv/bin/sdp-run "${COMMON[@]}" sparsity=0.0 prune.max_steps=1 output_dir="$OUT/dense"
for criterion in magnitude movement taylor; do
  nice .venv/bin/sdp-run "${COMMON[@]}" prune.criterion=$criterion dense.checkpoint="$(realpath "$OUT/dense/dense_model")" \
    output_dir="$OUT/$criterion" > "$OUT/$criterion.out" 2>&1 &
done
wait

# The records (metrics, trace, config, run.json, log): never weights.
for run in dense magnitude movement taylor; do
  mkdir -p "results/criteria/$run"
  for f in metrics.json trace.jsonl run.json run.log sparsity.json; do
    [ -f "$OUT/$run/$f" ] && cp "$OUT/$run/$f" "results/criteria/$run/"
  done
  cp "$OUT/$run/.hydra/config.yaml" "results/criteria/$run/config.yaml"
done
nice .venv/bin/sdp-tables results_dir=results/criteria out_dir=results/criteria/tables plots=false
