# The two commands a fresh machine needs: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup postgres demo test test-fast lint bench gpu-check clean

# setuptools warns at every editable install that a folder named like the package in the working
# directory may shadow it on import: here that folder *is* the package, so the warning is filtered.
EDITABLE_QUIET := ignore:Editable installation

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	PYTHONWARNINGS="$(EDITABLE_QUIET)" $(BIN)/pip install -q -e '.[dev]'
	$(MAKE) --no-print-directory postgres
	touch $(STAMP)

# The tests of MLflow on PostgreSQL start a server of their own (tests/execute/pg_server.py) from
# Debian's binaries: installed here when missing and apt-get can (as root; CI runs as root).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; } || \
	  echo "note: PostgreSQL is not installed; the tests of MLflow on PostgreSQL skip here and fail in CI (apt-get install postgresql)"

setup: $(STAMP)

# Two jobs at once, as results/quickstart.md was made; the table goes to the git-ignored
# results/generated/, so `make demo` leaves the checkout as it found it.
DEMO_WORKERS := 2

demo: $(STAMP)
	$(BIN)/kdsweep run sweeps/quickstart.yaml --cpu-workers $(DEMO_WORKERS)
	$(BIN)/kdsweep table sweeps/quickstart.yaml
	@echo "kdsweep is in $(BIN): run 'source $(BIN)/activate' to type kdsweep ... as above (or call $(BIN)/kdsweep)"

test: $(STAMP)
	$(BIN)/ruff check kdsweep tests benchmarks
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

# The five speed benchmarks of benchmarks/README.md, side by side in one process each (~13 min).
bench: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_engine.py
	cd benchmarks && ../$(BIN)/python bench_fused.py --rounds 2
	cd benchmarks && ../$(BIN)/python bench_data.py
	cd benchmarks && ../$(BIN)/python bench_sched.py --rounds 1 --jobs 20
	cd benchmarks && ../$(BIN)/python bench_batched.py --rounds 2

# The GPU check (benchmarks/README.md): every CUDA path in at most 8 minutes, report.md / .json in
# $(OUT). No venv: a lent GPU machine runs a plain checkout on its own Python (on the device tool's
# machine $OUT is already set, to the folder whose files come back). Without a GPU: tiny CPU sizes.
# An existing PYTHONPATH (carried wheels unpacked with pip --target) is kept after the checkout.
OUT ?= benchmarks/gpu/$(shell date -u +%Y-%m-%d-%H%M)

gpu-check:
	PYTHONPATH=.$${PYTHONPATH:+:$$PYTHONPATH} $(PY) benchmarks/gpu_check.py $(OUT)

lint: $(STAMP)
	$(BIN)/ruff check kdsweep tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
