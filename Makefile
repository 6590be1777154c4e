# cmoc: set-up, report, tests. Every target builds the virtual environment first if needed.
# Two stamps: `make report` installs the runtime and the PDF extra only (RUNTIME); the test,
# lint and benchmark targets add the development extras (DEV) on top, without reinstalling.
VENV      := .venv
PY        := $(VENV)/bin/python
RUNTIME   := $(VENV)/.installed-runtime
DEV       := $(VENV)/.installed
EVIDENCE  ?= evidence/ioc
SEED      ?= 20211
REPORT_OUT ?=
PYTEST_ARGS ?=
# Test files spread over one worker per core (pytest-xdist); a file's tests stay on one worker,
# so its module fixtures (a fit, a report build) are made once. PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= auto
XDIST     := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)

.PHONY: all setup setup-runtime report test test-slow test-all lint format bench clean distclean

all: report

## Everything: the runtime, the PDF extra and the development extras (tests, lint, notebooks).
setup: $(DEV)

## The runtime and the PDF extra only (what `make report` needs).
setup-runtime: $(RUNTIME)

$(RUNTIME): pyproject.toml requirements.lock
	@py=$$(.ci/find-python) || exit 1; \
	if [ ! -x $(PY) ]; then echo "creating $(VENV) with $$py"; "$$py" -m venv $(VENV) || exit 1; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e ".[pdf]"
	@touch $(RUNTIME)

$(DEV): $(RUNTIME)
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $(DEV)

## Build the report for the bundled evidence base (validates, fits or reuses the fit, summarises).
report: $(RUNTIME)
	$(VENV)/bin/cmoc report $(EVIDENCE) --seed $(SEED) $(if $(REPORT_OUT),--out $(REPORT_OUT))

## Run the test suite: everything but the long sampling tests marked slow (the README's command).
test: $(DEV)
	$(PY) -m pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

## The long sampling tests only (recovery, calibration, planning follow-up); CI runs them too.
test-slow: $(DEV)
	$(PY) -m pytest -m slow $(XDIST) $(PYTEST_ARGS)

## Both.
test-all: $(DEV)
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

lint: $(DEV)
	$(VENV)/bin/ruff check src tests benchmarks analyses
	$(VENV)/bin/ruff format --check src tests benchmarks analyses
	$(VENV)/bin/lint-imports

format: $(DEV)
	$(VENV)/bin/ruff format src tests benchmarks analyses
	$(VENV)/bin/ruff check --fix src tests benchmarks analyses

bench: $(DEV)
	$(PY) benchmarks/bench_fit.py

clean:
	rm -rf reports/build .pytest_cache .ruff_cache

distclean: clean
	rm -rf $(VENV)
