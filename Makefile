# CodeHearth developer entry points. Everything installs into .venv; nothing global.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast test-editors lint bench vscode clean llama-server

# llama.cpp (the embedded model's runtime) compiles from source once, for any x86-64 CPU
# with AVX2 rather than this one only; pip keeps the built wheel in its cache.
ifeq ($(shell uname -m),x86_64)
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
	-DGGML_F16C=ON -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TESTS=OFF
endif
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "Installing CodeHearth with the embedded model (the first time this compiles"
	@echo "llama.cpp, a few minutes; later installs reuse the wheel from pip's cache)."
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

install: $(STAMP)

## demo: the main job in a real LSP session over examples/workspace: index, style,
## completion, a verified quick fix, chat and memory across a restart (Ollama when it runs
## with the models pulled, else the embedded model; every line says which model answered)
demo: $(STAMP)
	$(VENV)/bin/codehearth demo

## llama-server: llama.cpp's server, built once from the llama.cpp source in the pinned
## llama-cpp-python sdist (about 6 minutes on 2 cores) and cached in
## ${XDG_CACHE_HOME:-~/.cache}/codehearth; tests/real_servers run against it
llama-server: $(STAMP)
	$(PY) tests/real_servers/build_llama_server.py

## test: the whole test suite: the VS Code extension's build and tests (when npm is
## installed), then unit, golden, end-to-end over stdio, real model servers, and real
## editors where installed
test: $(STAMP) llama-server
	@if command -v npm >/dev/null 2>&1; then $(MAKE) vscode; \
	else echo "npm not found: skipping the VS Code extension"; fi
	$(PY) -m pytest -q

## test-editors: only the real-editor tests (install the editors first:
## bash tests/editors/install.sh)
test-editors: $(STAMP)
	$(PY) -m pytest -m editors tests/editors -v

## vscode: build, test and package the VS Code extension (Node 20+)
vscode: $(STAMP)
	cd vscode-extension && npm ci --no-audit --no-fund && npm run build && npm test && npm run package

## test-fast: skip the slow end-to-end suites for quick local loops
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not model and not editors and not real_servers" --ignore=tests/e2e \
		--ignore=tests/editors --ignore=tests/real_servers

lint: $(STAMP)
	$(VENV)/bin/ruff check server tests bench examples
	$(VENV)/bin/mypy

## bench: performance budgets from the issues, printed as JSON
bench: $(STAMP)
	$(PY) bench/latency.py
	$(PY) bench/typing.py
	$(PY) bench/syntax.py
	$(PY) bench/cold_start.py
	$(PY) bench/index.py
	$(PY) bench/index_ceiling.py
	$(PY) bench/retrieval.py
	$(PY) bench/style.py
	$(PY) bench/memory_search.py
	$(PY) bench/memory.py
	$(PY) bench/embedded.py
	$(PY) bench/refine.py
	$(PY) bench/soak.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
