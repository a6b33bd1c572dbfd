# blurscope — the two commands a newcomer needs:
#   make run    set up .venv from requirements.lock and run the default pipeline
#   make test   set up .venv and run the test suite
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
SNAKEMAKE_ARGS ?=

.PHONY: run test bench bench-pipeline lint venv dryrun report clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --progress-bar on -r requirements.lock
	$(BIN)/pip install --no-deps --no-build-isolation -e .
	touch $@

# Bytecode of the library for every job's imports (~0.3 s a job), also where
# PYTHONDONTWRITEBYTECODE keeps Python from writing it; stale files are recompiled.
PYC = $(BIN)/python -m compileall -q -j 0 workflow_scripts >/dev/null

run: venv
	$(PYC)
	$(BIN)/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)

dryrun: venv
	$(BIN)/snakemake -n $(SNAKEMAKE_ARGS)

report: venv
	$(BIN)/snakemake --report results/report/snakemake_report.zip $(SNAKEMAKE_ARGS)

test: venv
	$(PYC)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest $(PYTEST_ARGS)

bench: venv
	@for b in tests/bench/bench_*.py; do [ $$b = tests/bench/bench_pipeline.py ] && continue; echo "== $$b"; $(BIN)/python $$b || exit 1; done
	@echo "== tests/bench/bench_pipeline.py (planning only; make bench-pipeline runs the whole pipeline)"
	@$(BIN)/python tests/bench/bench_pipeline.py

bench-pipeline: venv
	$(PYC)
	$(BIN)/python tests/bench/bench_pipeline.py --run --cores $(if $(filter all,$(CORES)),$(shell nproc),$(CORES))

lint: venv
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check .

clean:
	rm -rf results/* .snakemake
