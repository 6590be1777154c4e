# cmoc: set-up, report, tests. Every target builds the virtual environment first if needed.
VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
EVIDENCE  ?= evidence/ioc
SEED      ?= 20211
REPORT_OUT ?=
PYTEST_ARGS ?=

.PHONY: all setup report test test-slow test-all lint format bench clean distclean

all: report

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@py=$$(.ci/find-python) || exit 1; \
	if [ ! -x $(PY) ]; then echo "creating $(VENV) with $$py"; "$$py" -m venv $(VENV) || exit 1; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

## Build the report for the bundled evidence base (validates, fits or reuses the fit, summarises).
report: $(STAMP)
	$(VENV)/bin/cmoc report $(EVIDENCE) --seed $(SEED) $(if $(REPORT_OUT),--out $(REPORT_OUT))

## Run the test suite: everything but the long sampling tests marked slow (the README's command).
test: $(STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

## The long sampling tests only (recovery, calibration, planning follow-up); CI runs them too.
test-slow: $(STAMP)
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

## Both.
test-all: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks analyses
	$(VENV)/bin/ruff format --check src tests benchmarks analyses

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks analyses
	$(VENV)/bin/ruff check --fix src tests benchmarks analyses

bench: $(STAMP)
	$(PY) benchmarks/bench_fit.py

clean:
	rm -rf reports/build .pytest_cache .ruff_cache

distclean: clean
	rm -rf $(VENV)
