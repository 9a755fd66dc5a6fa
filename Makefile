# Two commands on a fresh machine (Python 3.11+, git, make):
#   make run    set up a virtual environment, migrate the embedded SQLite database, load demo data, run the bot
#   make test   set up the virtual environment and run the whole test suite
#
# Dependencies: the venv installs exactly requirements-dev.lock (every version pinned, every file hashed; the image
# installs requirements.lock), then the project itself with --no-deps. pyproject.toml keeps the ranges.
#   make lock                          rewrite both locks after a change to pyproject.toml's dependencies (keeps
#                                      every other pin; a few seconds)
#   make lock UPGRADE_PACKAGE=aiohttp  move one package (and what it needs) to its newest allowed version
#   make lock-upgrade                  move everything to the newest versions pyproject.toml allows
# A lock made from another pyproject.toml is refused under CI=true ("run make lock"); elsewhere the venv step says
# so and installs the lock, then what pyproject.toml adds, unlocked.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LOCK := requirements-dev.lock
LOCK_TOOLS := .cache/lock-tools
UV_VERSION := 0.13.9

.PHONY: run test check lint typecheck format-check test-dates test-dates-all mutate venv lock lock-upgrade bench card-screenshots clean

$(STAMP): pyproject.toml requirements.lock $(LOCK)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	@if $(PYTHON) dev/lockfile.py check; then \
	  echo "$(PY) -m pip install --require-hashes -r $(LOCK)"; \
	  $(PY) -m pip install --quiet --require-hashes -r $(LOCK) || exit 1; \
	  $(PY) -m pip install --quiet --no-deps --no-build-isolation -e . || exit 1; \
	elif [ -n "$$CI" ] && [ "$$CI" != "false" ]; then \
	  echo "lock: CI installs only locked versions: refusing (run make lock)" >&2; exit 1; \
	else \
	  echo "lock: WARNING: installing $(LOCK), then what pyproject.toml adds from its ranges, NOT LOCKED;" \
	       "run make lock" >&2; \
	  $(PY) -m pip install --quiet --require-hashes -r $(LOCK) || exit 1; \
	  $(PY) -m pip install --quiet --no-build-isolation -e '.[dev]' || exit 1; \
	fi
	$(PY) -m pip check
	touch $(STAMP)

venv: $(STAMP)

lock:
	@$(LOCK_TOOLS)/bin/uv --version 2>/dev/null | grep -q '^uv $(UV_VERSION)' || \
	  { $(PYTHON) -m venv $(LOCK_TOOLS) && $(LOCK_TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION); }
	$(PYTHON) dev/lockfile.py compile --uv $(LOCK_TOOLS)/bin/uv $(if $(UPGRADE),--upgrade) \
	  $(foreach p,$(UPGRADE_PACKAGE),--upgrade-package $(p))

lock-upgrade:
	$(MAKE) lock UPGRADE=1

run: $(STAMP)
	$(PY) -m tsm run --demo

# What CI runs (.ci/run): the checks (ruff check, ruff format --check, mypy), then the tests.
check: lint format-check typecheck

# The coverage report (lines and branches, pyproject.toml [tool.coverage]) is printed at the end; on a whole run
# (no PYTEST_ARGS) tools/coverage_check.py then holds tsm/domain, tsm/chat and tsm/notifications.py to 95% each.
test: $(STAMP) check
	bash tests/browser/install-chromium.sh
	$(PY) -m pytest -q --cov --cov-report=term $(PYTEST_ARGS)
	$(if $(PYTEST_ARGS),,$(PY) tools/coverage_check.py)

test-dates: $(STAMP)
	bash tools/faked_dates.sh $(PY)

# The whole suite under faked dates (wall-clock tests aside: tools/faked_dates.sh), one date: DATE="2027-03-24 12:00:00"
test-dates-all: $(STAMP)
	bash tools/faked_dates.sh --all $(if $(DATE),--date "$(DATE)") $(PY)

# Mutation testing of one file with the tests that reach it: make mutate FILE=tsm/domain/slots.py [MUTATE_ARGS="--sample 40"]
mutate: $(STAMP)
	$(PY) tools/mutate.py $(FILE) $(MUTATE_ARGS)

bench: $(STAMP)
	$(PY) bench/slot_finder.py
	$(PY) bench/graph_calls.py
	$(PY) bench/bot_turns.py
	$(PY) bench/book_confirm.py

# PNGs of the main cards at 320 px as Teams draws them (docs/cards/, linked from the README): Microsoft's adaptivecards
# renderer with Teams' host config in Debian's chromium (tests/browser/cardrender.py; npm ci installs the renderer)
card-screenshots: $(STAMP)
	bash tests/browser/install-chromium.sh
	$(PY) tests/browser/cardrender.py docs/cards

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

format-check: $(STAMP)
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) var .pytest_cache
