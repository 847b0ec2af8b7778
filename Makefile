# computesat: `make run` starts the emulated satellite with a ground console; `make test` runs
# every test. Both set up a virtual environment in .venv first (only Python 3.11 and pip needed).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run satellite test lint bench bench-quick clean

$(STAMP): pyproject.toml sdk/pyproject.toml examples/vendor_board/pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
		echo "python3 -m venv is unavailable here; using virtualenv from PyPI"; \
		$(PYTHON) -m pip install --quiet --user virtualenv && $(PYTHON) -m virtualenv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./sdk
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet ./examples/vendor_board
	@touch $@

setup: $(STAMP)

run: setup
	$(BIN)/computesat up

satellite: setup
	$(BIN)/computesat satellite

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/python -m pytest -q

bench: setup
	@for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

bench-quick: setup
	@for b in bench/bench_*.py; do $(BIN)/python $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info

# The suite as `make test` runs it, with two busy-loop processes competing for the cores:
# the tests must hold when the host is loaded. The busy loops are killed however pytest ends;
# the target exits with pytest's status.
.PHONY: test-under-load
test-under-load: setup
	@$(PYTHON) -c 'while True: pass' & b1=$$!; \
	$(PYTHON) -c 'while True: pass' & b2=$$!; \
	trap 'kill $$b1 $$b2 2>/dev/null' EXIT INT TERM HUP; \
	echo "busy loops $$b1 $$b2 running"; \
	$(BIN)/python -m pytest -q
