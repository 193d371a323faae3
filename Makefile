# whalelab's front door. Five knobs: PROFILE, DEVICE, DATA, RUN, SEED; for your own data
# also DATA_FLAGS (how it is read: whalelab train's data flags, for train and report) and
# DETECT (recordings, files or folders, that the detection notebook runs the model over).
#   make report                 set up, make data, train, run every notebook -> reports/<profile>/
#   make test                   the test suite (includes a smoke run of every notebook)
#   make test-fast              the tests not marked slow: no notebooks, no DenseNet training
#   make report PROFILE=smoke   the whole report in a few minutes
#   make report DEVICE=cuda PROFILE=full
#   make report DATA=my_calls/ RUN=runs/mine DATA_FLAGS="--background-label noise"
#   make train DATA=recordings/ DATA_FLAGS="--label-column 'Call Type' --empty-label noise"
#   make train NPROC=4          torchrun: 4 processes (one a GPU; gloo CPU processes without)
#   make report DATA=calls.csv RUN=runs/mine DETECT="hydrophone/2024-06/ extra.wav"
#   make lab                    JupyterLab on the notebooks (prints its URL; Ctrl-C stops it)
#   make readme-table RUN=runs/quick   the README's measured table, from the run's metrics

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.whalelab-installed

DEVICE ?= auto
SEED   ?= 0
# full with a usable GPU, quick otherwise
ifneq ($(DEVICE),cpu)
ifneq ($(shell nvidia-smi -L 2>/dev/null),)
PROFILE ?= full
endif
endif
PROFILE ?= quick
SYNTH  := data/synthetic/$(PROFILE)
DATA   ?= $(SYNTH)
RUN    ?= runs/$(PROFILE)
REPORT := reports/$(PROFILE)
DATA_FLAGS ?=
DETECT ?=
# training processes: 1 is whalelab train itself, more run it under torchrun
NPROC  ?= 1
# the synthetic set is made only when it is the data
DATA_READY := $(if $(filter $(SYNTH),$(DATA)),data,setup)

WHALELAB := $(BIN)/whalelab
TRAINER  := $(if $(filter-out 1,$(NPROC)),$(BIN)/torchrun --standalone --nproc-per-node $(NPROC) -m whalelab.cli,$(WHALELAB))

.PHONY: help setup data train report test test-fast bench lab readme-table clean
.DEFAULT_GOAL := help

help:
	@sed -n '1,14p' Makefile

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing whalelab and its dependencies into $(VENV) (first time: several minutes)"
	@$(BIN)/python -m pip install --quiet --progress-bar off -e '.[dev,birdnet,cloud]' 2>&1 \
		| grep -v "is ignored: it is neither a file nor a directory" || true
	@$(BIN)/python -c "import whalelab, torch, librosa, papermill" \
		|| { echo "make setup: installing into $(VENV) failed"; exit 1; }
	@touch $@

# the manifest is written last, so its presence means a complete data set
$(SYNTH)/manifest.csv: | $(STAMP)
	$(WHALELAB) synth --out $(SYNTH) --profile $(PROFILE) --seed $(SEED)

data: setup $(SYNTH)/manifest.csv

train: $(DATA_READY)
	$(TRAINER) train --data $(DATA) --out $(RUN) --profile $(PROFILE) --device $(DEVICE) \
		--seed $(SEED) --resume $(DATA_FLAGS)

report: $(DATA_READY)
	$(WHALELAB) report --out $(REPORT) --profile $(PROFILE) --device $(DEVICE) \
		--data $(DATA) --run $(RUN) --seed $(SEED) $(DATA_FLAGS) \
		$(foreach path,$(DETECT),--detect $(path))

test: setup
	$(BIN)/python -m pytest

# one torch thread: small tests gain nothing from a second, and on busy shared cores
# OpenMP threads that wait on each other made this suite four times slower
test-fast: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -m "not slow"

bench: data
	$(WHALELAB) bench --data $(DATA) --profile $(PROFILE) --device $(DEVICE) --out reports/bench.json

# JupyterLab on the notebooks, progress bars on: it prints the URL to open, and Ctrl-C (or
# SIGTERM) shuts it down, kernels and all, without asking. As root (a container) it needs
# and gets --allow-root. LAB_FLAGS adds options: LAB_FLAGS="--port 9999 --no-browser".
# whalelab.lab is `jupyter lab` with Ctrl-C handled as SIGTERM is (see its docstring)
LAB_FLAGS ?=
lab: setup
	$(BIN)/python -m whalelab.lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root) \
		$(LAB_FLAGS)

# record RUN's metrics.json and event_metrics.json where the README's measured table names
# (docs/measured/quick.json) and render the table from them (after `make report`)
readme-table: setup
	$(BIN)/python -m whalelab.bench.readme --run $(RUN) --readme README.md

clean:
	rm -rf reports runs data/synthetic
