# The two commands of the README: `make demo` and `make test`. Everything else is a convenience.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint format golden install clean

# The kit alone is what `make demo` needs; the dev extras (pytest, ruff, uv, SeaweedFS...) only `make test`.
# setuptools warns about every editable install in a banner; an editable install is what the kit wants.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed-dev

demo: $(BIN)/.installed ## train the session-5 pipeline locally and print its metrics
	$(BIN)/labkit pipeline run training

# Test files are spread over PYTEST_WORKERS processes, a file's tests together (they share module fixtures).
PYTEST_WORKERS ?= 2

test: $(BIN)/.installed-dev ## every test tier this machine can run (container/cluster tiers skip with a reason)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(BIN)/.installed-dev
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

golden: $(BIN)/.installed-dev ## regenerate tests/golden after an intended pipeline change
	$(BIN)/labkit pipeline compile --all --out tests/golden

clean:
	rm -rf build runs .pytest_cache
