# Two commands from a fresh clone (only Python 3.11 and make needed):
#   make run    serve the app on http://localhost:8501
#   make test   ruff + core tests + page tests (AppTest) + browser tests (Chromium)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: run test lint bench mutants clean hall bench-hall

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip

# Stamp files: reinstall only when a requirements file changes.
# requirements.txt names PyTorch's CPU index for Community Cloud. Where that index is unreachable,
# plain `pip install -r` would retry it for every package (minutes). install_requirements.py takes
# torch from a local wheel when there is one and then drops the index line from a copy of the file:
# no lookup at all, instead of shorter timeouts (PIP_RETRIES/PIP_TIMEOUT) that still pay a wait per
# package and would also cut a slow but working network short. Without a local wheel, the file as is.
$(VENV)/.run-installed: requirements.txt scripts/install_requirements.py | $(BIN)/python
	$(BIN)/python scripts/install_requirements.py requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt scripts/install_requirements.py | $(BIN)/python
	$(BIN)/python scripts/install_requirements.py requirements-dev.txt
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
#   make mutants MODULE=core/grpo.py ARGS=--survivors   re-check only its last survivors (scripts/mutants.py)
mutants: $(VENV)/.dev-installed
	nice -n 10 $(BIN)/python scripts/mutants.py $(MODULE) $(ARGS)

# A lecture hall on one machine: WORKERS streamlit processes behind HAProxy on PORT (deploy/hall.py).
WORKERS ?= $(shell nproc)
hall: $(VENV)/.run-installed
	bash deploy/ensure-haproxy.sh
	$(BIN)/python -m deploy.hall --workers $(WORKERS) --port $(PORT)

# The lecture simulation (Locust): 40 and 80 students against one process and a 2-worker hall, plus a
# worker killed mid-lecture (benchmarks/bench_hall.py; about 10 minutes; tables for the README).
bench-hall: $(VENV)/.dev-installed
	bash deploy/ensure-haproxy.sh
	$(BIN)/python -m benchmarks.bench_hall

clean:
	rm -rf $(VENV) artifacts .pytest_cache .ruff_cache mutants
