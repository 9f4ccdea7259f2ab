# Two commands from a fresh clone (only Python 3.11 and make needed):
#   make run    serve the app on http://localhost:8501
#   make test   ruff + core tests + page tests (AppTest) + browser tests (Chromium)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: run test lint bench mutants clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip

# Stamp files: reinstall only when a requirements file changes.
$(VENV)/.run-installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/streamlit run streamlit_app.py --server.port $(PORT)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2

bench: $(VENV)/.dev-installed
	$(BIN)/python -m benchmarks

# Mutation testing of core/ (hours for all of it on 2 cores; not part of `make test`):
#   make mutants                      every module, then the per-module table
#   make mutants MODULE=core/grpo.py  one module
mutants: $(VENV)/.dev-installed
	nice -n 10 $(BIN)/python scripts/mutants.py $(MODULE)

clean:
	rm -rf $(VENV) artifacts .pytest_cache .ruff_cache mutants
