# computesat: `make run` starts the emulated satellite with a ground console; `make test` runs
# every test. Both set up a virtual environment in .venv first (only Python 3.11 and pip needed).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup bytecode run satellite test lint bench bench-quick clean

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

# What pip does at a regular install and an editable install skips: compile the bytecode, so
# each process of the satellite starts without compiling ~50 modules (~0.5 s of CPU a process
# when PYTHONDONTWRITEBYTECODE is set; otherwise only the first start pays it). Incremental.
bytecode: setup
	@$(BIN)/python -m compileall -q computesat runtime icd flightsw hwsim ground sdk/computesat_sdk >/dev/null

run: bytecode
	$(BIN)/computesat up

satellite: bytecode
	$(BIN)/computesat satellite

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/python -m pytest -q

bench: bytecode
	@for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

bench-quick: bytecode
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
