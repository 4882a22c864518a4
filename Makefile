# The two commands of the README: `make test` and `make demo`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

FLOOR_VENV ?= .venv-floor
FLOOR_STAMP := $(FLOOR_VENV)/.installed
#: What `make test-floor` runs: the whole suite by default.
FLOOR_TESTS ?= tests
#: Examples per fuzz target in `make fuzz` (`make test` runs each with a small budget).
FUZZ_EXAMPLES ?= 20000

.PHONY: test demo lint typecheck pytest bench clean test-floor fuzz

$(STAMP): pyproject.toml tests/plugins/telegram_channel/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# pip >= 25.1 understands PEP 735 dependency groups (--group).
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e . --group dev
	# A real distribution with a `digitorn.channels` entry point, for the plugin test.
	$(BIN)/python -m pip install --quiet ./tests/plugins/telegram_channel
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check digitorn_notify tests benchmarks docs examples

typecheck: $(STAMP)
	$(BIN)/mypy --strict digitorn_notify
	# The tests too, less strictly (see [tool.mypy] overrides in pyproject.toml).
	$(BIN)/mypy tests

pytest: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-branch --cov-report=term $(PYTEST_ARGS)

test: lint typecheck pytest

# The suite against the lowest versions pyproject.toml allows for every runtime
# dependency (.ci/floor_constraints.py pins them), in a venv of its own.
$(FLOOR_STAMP): pyproject.toml .ci/floor_constraints.py tests/plugins/telegram_channel/pyproject.toml
	test -x $(FLOOR_VENV)/bin/python || $(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	$(PYTHON) .ci/floor_constraints.py > $(FLOOR_VENV)/floor-constraints.txt
	$(FLOOR_VENV)/bin/python -m pip install --quiet -c $(FLOOR_VENV)/floor-constraints.txt -e . --group test
	$(FLOOR_VENV)/bin/python -m pip install --quiet -c $(FLOOR_VENV)/floor-constraints.txt ./tests/plugins/telegram_channel
	touch $(FLOOR_STAMP)

test-floor: $(FLOOR_STAMP)
	$(FLOOR_VENV)/bin/python .ci/floor_constraints.py --check
	$(FLOOR_VENV)/bin/python -m pytest -q -p no:cacheprovider $(FLOOR_TESTS)

# The parsers' fuzz targets (tests/security/test_fuzz.py) with a large budget.
fuzz: $(STAMP)
	DIGITORN_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p no:cacheprovider tests/security/test_fuzz.py

demo: $(STAMP)
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) $(FLOOR_VENV) .coverage .mypy_cache .ruff_cache .pytest_cache .hypothesis
