# booktrans — two commands do all the set-up: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DVC_NO_ANALYTICS := 1
# stage commands in dvc.yaml call `python`: make it the project environment's
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONHASHSEED := 0
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
PROFILE ?= configs/cluster-24xh100.yaml

# Every target is written `target: prerequisites  ## what it does`: `make help` lists them from these
# comments (tests/test_makefile.py checks that each target has one and is declared phony below).
.PHONY: help setup browser demo repro test lint sample cluster preflight plan plan-cluster smoke-cluster \
	push pull release lock clean bench-ingest bench-align bench-dataset bench-train bench-translate \
	eval-align eval-pairing eval-proofread eval-omissions gate-figures

help:  ## this list
	@grep -h -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | sed -e 's|\$$(PROFILE)|$(PROFILE)|g' \
	  | awk 'BEGIN {FS = ":.*## "} {printf "make %-16s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv from requirements.lock (torch CPU wheel, DeepSpeed without its CUDA ops)

# torch first, with an exact pin: a looser pin would pull the CUDA build (GBs) on CPU machines.
# DeepSpeed next, built against that torch without its CUDA ops (DS_BUILD_OPS=0; they are compiled
# on first use on a GPU node): multi-process training runs on the CPU over gloo (docs/train.md).
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip "setuptools<81" wheel
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	DS_BUILD_OPS=0 $(BIN)/pip install -q --disable-pip-version-check --no-build-isolation -c requirements.lock deepspeed
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/dvc config --local core.analytics false 2>/dev/null || true
	touch $(STAMP)

# The page tests (tests/test_pages.py) drive headless Chromium; installed from Debian when missing
# (as root, or with sudo). An existing install is left alone.
browser:  ## install headless Chromium (Debian: chromium, chromium-driver) for the page tests, if missing
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1; then \
	  echo "chromium: $$(command -v chromium || command -v chromium-browser || command -v google-chrome)"; \
	else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; \
	fi

# The demo's models are tiny: one thread each decodes and trains fastest, and far faster than two
# on a busy 2-core machine (docs/translate.md, make bench-translate).
demo: $(STAMP)  ## create .venv if missing, run the whole pipeline on the embedded sample
	$(BIN)/booktrans preflight --params params.yaml
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/dvc repro
	@echo "Report: reports/index.html   (metrics: $(BIN)/dvc metrics show)"

repro: $(STAMP)  ## dvc repro with the current params.yaml
	$(BIN)/dvc repro

# The suite runs in TEST_WORKERS processes (pytest-xdist), whole test files to a worker: the DVC pipeline
# tests' background runs, the multi-process training and the rest then share the cores (tests/conftest.py).
TEST_WORKERS ?= 2

test: $(STAMP)  ## create .venv if missing, run the test suite in TEST_WORKERS processes (default 2)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)  ## ruff: lint rules and import order, then formatting (pyproject.toml [tool.ruff])
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

sample: $(STAMP)  ## rebuild data/sample/ from its sources
	$(BIN)/python scripts/make_sample.py

cluster: $(STAMP)  ## apply $(PROFILE) to params.yaml, check it, run every round
	$(BIN)/booktrans profile apply $(PROFILE) --params params.yaml
	$(BIN)/booktrans preflight --params params.yaml
	$(BIN)/dvc repro

bench-ingest: $(STAMP)  ## pages/s of the full PDF path against plain page.get_text(); TXT and EPUB against plain library calls
	$(BIN)/python bench/ingest_pdf.py
	$(BIN)/python bench/ingest_formats.py

eval-pairing: $(STAMP)  ## chapter pairing on real translations bent the ways editions differ (../shared/data/align-dev)
	$(BIN)/python eval/chapter_pairing.py

gate-figures: $(STAMP)  ## the figures the ingest and align gate defaults were chosen from
	$(BIN)/python eval/gate_figures.py

eval-align: $(STAMP)  ## strict F1 of the aligner on ../shared/data/align-dev
	$(BIN)/python eval/align.py
	$(BIN)/python eval/align.py --translator gale-church

eval-omissions: $(STAMP)  ## the omission detector on real MT with dropped sentences (../shared/data), MAC-Dev, WMT23 labels
	$(BIN)/python eval/omission.py

eval-proofread: $(STAMP)  ## how often the proofreading export's doubtful beads are wrong, on ../shared/data/align-dev
	$(BIN)/python eval/proofread.py

bench-align: $(STAMP)  ## alignment speed: 30k x 40k sentences, and against plain pypi-bleualign
	$(BIN)/python bench/align_speed.py

bench-dataset: $(STAMP)  ## building a round's documents from a 100-book corpus, against a naive builder
	$(BIN)/python bench/dataset_speed.py

bench-translate: $(STAMP)  ## whole-book translation: chapters filling the batch against lock-step streams
	$(BIN)/python bench/translate_speed.py

REMOTE ?=
TARGETS ?=
push: $(STAMP)  ## outputs to the DVC remote [TARGETS=train@r2] [REMOTE=name] (docs/sharing.md)
	$(BIN)/dvc push $(if $(REMOTE),-r $(REMOTE)) $(TARGETS)

pull: $(STAMP)  ## outputs from the DVC remote [TARGETS=train@r2] [REMOTE=name] (docs/sharing.md)
	$(BIN)/dvc pull $(if $(REMOTE),-r $(REMOTE)) $(TARGETS)

# A round release: the commit whose dvc.lock holds round ROUND's model and evaluation, pushed and tagged.
release: $(STAMP)  ## ROUND=2: check, push and tag round-2
	@test -n "$(ROUND)" || { echo "usage: make release ROUND=2"; exit 2; }
	@git diff --quiet && git diff --cached --quiet || { echo "release: commit your changes first (git status)"; exit 2; }
	@$(BIN)/dvc status --quiet || { echo "release: outputs differ from dvc.lock; run dvc repro and commit dvc.lock"; exit 2; }
	$(BIN)/dvc push $(if $(REMOTE),-r $(REMOTE))
	git tag -a round-$(ROUND) -m "booktrans round $(ROUND)"
	@echo "tagged round-$(ROUND); publish it with: git push origin round-$(ROUND)"

plan: $(STAMP)  ## tokens, steps, memory per GPU, GPU-hours and cost of every round (params.yaml)
	$(BIN)/booktrans plan --params params.yaml

plan-cluster: $(STAMP)  ## the same for $(PROFILE), without applying it
	$(BIN)/booktrans plan --params params.yaml --profile $(PROFILE)

bench-train: $(STAMP)  ## training throughput on one GPU at long contexts (tokens/s, MFU, peak memory)
	$(BIN)/python bench/train_throughput.py

# The first rented node, before the whole cluster: loss and gradient norm against the degree-1 run,
# non-empty adapter, tokens/s per GPU, MFU and peak memory beside the planner (docs/train.md).
# Without a GPU it rehearses the same logic on the tiny model over two CPU processes.
smoke-cluster: $(STAMP)  ## on the first rented node: a few steps of the 128k round at the profile's degree
	$(BIN)/python bench/smoke_cluster.py --profile $(PROFILE) --json build/smoke/smoke.json

preflight: $(STAMP)  ## booktrans preflight: check params.yaml and the rounds' training settings before a run
	$(BIN)/booktrans preflight --params params.yaml

lock:  ## refresh requirements.lock from pyproject.toml
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install -q --upgrade pip "setuptools<81" wheel
	build/lock-venv/bin/pip install -q torch==2.13.0
	DS_BUILD_OPS=0 build/lock-venv/bin/pip install -q --no-build-isolation deepspeed
	build/lock-venv/bin/pip install -q ".[test]"
	{ echo "# booktrans pinned environment (Python 3.11). Refresh: make lock"; echo "torch==2.13.0"; \
	  build/lock-venv/bin/pip freeze --exclude-editable | grep -v -E '^(torch|booktrans)[= @]'; } > requirements.lock

clean:  ## remove .venv, build/ and the pytest and ruff caches
	rm -rf $(VENV) build .pytest_cache .ruff_cache
