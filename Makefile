# Two commands: `make run` (set up, build the demo index if missing, serve) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_INDEX ?= var/demo-index
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test lint bench install browser clean

$(BIN)/followup: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: 2.13.0 is the CPU build on disk; anything else pulls CUDA wheels.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/followup

$(DEMO_INDEX)/manifest.json: | $(BIN)/followup
	$(BIN)/followup index build --demo --out $(DEMO_INDEX)

run: $(DEMO_INDEX)/manifest.json
	$(BIN)/followup serve --index $(DEMO_INDEX) --host $(HOST) --port $(PORT)

# Debian's Chromium drives the browser tests; nothing is downloaded by Playwright itself.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# Lint, format and strict types (config in pyproject.toml), then the test suite.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy corpus index retriever answer api eval followup

test: lint browser
	$(BIN)/python -m pytest -q

bench: $(DEMO_INDEX)/manifest.json
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) var
