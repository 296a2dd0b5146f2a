# Two entry points for a fresh machine: `make demo` and `make test` (`make test-fast` while working).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-fast lint bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"

demo: install
	$(BIN)/python -m vlga_jax.cli run
	@echo "The vlga command is $(BIN)/vlga, or plain vlga after: . $(BIN)/activate"

test: install
	$(BIN)/ruff check .
	# Two workers, each test file whole in one (its module fixtures share compiled programs):
	# the suite is compile-bound and XLA compiles one program per thread.
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# The tests not marked slow (no end-to-end runs of the examples, docs and CLI): a quick check
# while working; `make test` is what CI runs.
test-fast: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

bench: install
	$(BIN)/python benchmarks/throughput.py

# The API reference from the docstrings: docs/api/index.html (not committed). Every
# package and module is named because a package's __all__ lists its top-level names only.
SOURCES := $(sort $(shell find vlga_jax -name '*.py' ! -name '__main__.py'))
MODULES := $(subst /,.,$(patsubst %/__init__,%,$(SOURCES:.py=)))
docs: install
	$(BIN)/python -m pdoc -o docs/api $(MODULES)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
