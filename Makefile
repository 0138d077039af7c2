# Two entry points (README quick start): `make demo` and `make test`.
# Both create .venv/ on first use; the stamp re-installs when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo lint test test-unit test-rtl test-e2e test-slow test-all bench clean

$(STAMP): pyproject.toml
	# Verilator's FST tracing (`run --engine rtl --trace`) compiles against lz4 (Debian: liblz4-dev).
	test -f /usr/include/lz4.h || apt-get install -y -q liblz4-dev >/dev/null 2>&1 \
	  || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q liblz4-dev >/dev/null 2>&1) \
	  || echo "warning: liblz4-dev is missing; rtl --trace will not build"
	# A headless browser lets the tests render report.html (they skip that one check without it).
	command -v chromium-headless-shell >/dev/null || command -v chromium >/dev/null \
	  || apt-get install -y -q chromium-headless-shell >/dev/null 2>&1 \
	  || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium-headless-shell >/dev/null 2>&1) \
	  || echo "warning: no chromium; the report.html screenshot test will skip"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch==2.13.0 is pinned in pyproject.toml: the CPU wheel (a looser spec pulls CUDA builds)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/bnn2hls demo -o demo_out

# Two workers: Verilator builds and simulations dominate and run independently. worksteal: a
# worker that runs dry takes queued tests from the other, so no minute-long test ends alone.
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist worksteal

# Lint and type checks (config in pyproject.toml), a few seconds; `make test` runs them first.
lint: $(STAMP)
	$(BIN)/ruff check bnn2hls tests sim benchmarks
	$(BIN)/mypy

test: lint
	$(PYTEST)

# The three tiers of `make test` (markers set per file in tests/conftest.py), `slow` left out as there.
test-unit: $(STAMP)
	$(PYTEST) -m 'unit and not slow'

test-rtl: $(STAMP)
	$(PYTEST) -m 'rtl and not slow'

test-e2e: $(STAMP)
	$(PYTEST) -m 'e2e and not slow'

test-slow: $(STAMP)
	$(PYTEST) -m slow

test-all: $(STAMP)
	$(PYTEST) -m 'slow or not slow'

bench: $(STAMP)
	$(BIN)/python benchmarks/reference_speed.py
	$(BIN)/python benchmarks/rtl_sim_speed.py

clean:
	rm -rf $(VENV) demo_out
