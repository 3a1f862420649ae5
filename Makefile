# MicroGrad+ — everyday commands. `make lab` and `make test` set everything up first.
VENV   ?= .venv
# The venv's Python; inside the NGC container (no venv: scripts/setup.sh installs around the
# image's torch) the image's own. Expanded when a recipe runs, i.e. after `setup`.
PY      = $(if $(wildcard $(VENV)/bin/python),$(VENV)/bin/python,python3)
NBTIMEOUT ?= 300

.PHONY: help setup lab test check lint typecheck unit fast notebooks release release-check bench gpu-check clean
# Test workers: two processes share the modules (each module's fixtures stay in one).
WORKERS ?= 2
XDIST = $(if $(filter-out 0 1,$(WORKERS)),-n $(WORKERS) --dist loadfile,)

help:
	@echo "make lab        set up, then open the labs in JupyterLab"
	@echo "make check      lint, type checks and the fast tests (under two minutes; while working)"
	@echo "make test       set up, then run lint, type checks, tests, notebooks and release check"
	@echo "make bench      benchmarks (speed ratios against PyTorch, grading throughput)"
	@echo "make release    regenerate labs/ from solutions/ (instructors)"

setup:
	@bash scripts/setup.sh

# `make lab PORT=8890 NOTEBOOK_DIR=labs LAB_ARGS=--ip=0.0.0.0`; works as root too (scripts/lab.py).
lab: setup
	@PORT="$(PORT)" NOTEBOOK_DIR="$(NOTEBOOK_DIR)" LAB_ARGS="$(LAB_ARGS)" $(PY) scripts/lab.py

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: setup
	$(PY) -m mypy

unit: setup
	$(PY) -m pytest $(XDIST) --cov --cov-report=term -q -p no:cacheprovider

fast: setup
	$(PY) -m pytest $(XDIST) -m "not slow" -q -p no:cacheprovider

notebooks: setup
	MPLBACKEND=Agg $(PY) -m pytest $(XDIST) -p no:cacheprovider --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=$(NBTIMEOUT) solutions/ -q

release-check: setup
	$(PY) -m grader release --check

test: setup
	@bash scripts/timed.sh lint typecheck unit notebooks release-check

check: setup
	@bash scripts/timed.sh lint typecheck fast

release: setup
	$(PY) -m grader release

bench: setup
	$(PY) benchmarks/mnist_mlp.py
	$(PY) benchmarks/grading_throughput.py
	$(PY) benchmarks/gradebook_write.py

gpu-check: setup
	bash scripts/gpu_check.sh

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage htmlcov
