# The two commands of the README: `make test` and `make demo`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint typecheck pytest bench clean

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

demo: $(STAMP)
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .coverage .mypy_cache .ruff_cache .pytest_cache .hypothesis
