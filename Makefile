# Two commands on a fresh machine (Python 3.11+, git, make):
#   make run    set up a virtual environment, migrate the embedded SQLite database, load demo data, run the bot
#   make test   set up the virtual environment and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-dates venv bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) -m tsm run --demo

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-dates: $(STAMP)
	bash tests/dates/run.sh $(PY)

bench: $(STAMP)
	$(PY) bench/slot_finder.py
	$(PY) bench/graph_calls.py
	$(PY) bench/bot_turns.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache
