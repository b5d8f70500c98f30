# The two commands of the README (`make book`, `make test`) set up .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg

.PHONY: help venv book notebooks test lint unit test-seeds test-params bench gpu-check lab clean evidence

help:
	@echo "make book        run every notebook (papermill, default parameters, side by side) into outputs/;"
	@echo "                 a selection: make book NOTEBOOKS='notebooks/0[1-3]_*.ipynb'"
	@echo "make test        lint + unit tests + nbval regression run of the notebooks + headline metrics"
	@echo "make notebooks   re-execute the notebooks in place (refresh the outputs nbval compares)"
	@echo "make test-seeds  slow: every notebook's assertions for seeds 0-4"
	@echo "make test-params slow: every numbered notebook with non-default values of each parameter (runs in a"
	@echo "                 temporary folder); prints and writes the table to evidence/test_params/;"
	@echo "                 split over days: make test-params PARAM_OUT=/some/folder (reruns skip the cases done there)"
	@echo "                 finish the committed table: make test-params PARAM_NOT_IN=evidence/test_params/table.csv"
	@echo "make bench       training-loop benchmark (helpers loop vs DataLoader loop, validation cost)"
	@echo "make gpu-check   on a CUDA machine: CUDA tests, notebooks 03/04 on the GPU, GPU benchmark (< 4 min)"
	@echo "make lab         open the book in JupyterLab"
	@echo "make evidence    regenerate every evidence/ set (sweep specs on a local Dask cluster, and thresholds), print the wall time;"
	@echo "                 some sets: make evidence EVIDENCE='imbalance' (workers: EVIDENCE_WORKERS=2)"

# (Re)create the virtual environment when requirements.txt or pyproject.toml change.
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ needed, got " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . \
	  || $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

NOTEBOOKS ?=
book: $(STAMP)
	$(BIN)/python -m helpers.book $(NOTEBOOKS)

notebooks: $(STAMP)
	$(BIN)/python -m helpers.book --in-place

lint: $(STAMP)
	$(BIN)/ruff check helpers tests notebooks

test: $(STAMP)
	$(BIN)/ruff check helpers tests notebooks
	$(BIN)/pytest tests notebooks $(NBVAL)

unit: $(STAMP)
	$(BIN)/pytest tests

test-seeds: $(STAMP)
	$(BIN)/pytest tests -m slow

PARAM_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
test-params: $(STAMP)
	$(BIN)/python -m helpers.param_sweep --workers $(PARAM_WORKERS) --table evidence/test_params \
	  --label "make test-params $(NOTEBOOKS) (every case of each notebook named, default: every numbered notebook)" \
	  $(if $(PARAM_OUT),--out $(PARAM_OUT) --resume) $(if $(PARAM_NOT_IN),--not-in $(PARAM_NOT_IN)) $(NOTEBOOKS)

bench: $(STAMP)
	$(BIN)/python -m helpers.bench

gpu-check: $(STAMP)
	$(BIN)/python -m helpers.gpu_check

EVIDENCE ?=
EVIDENCE_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
evidence: $(STAMP)
	$(BIN)/python -m helpers.make_evidence $(EVIDENCE) --workers $(EVIDENCE_WORKERS)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) outputs/*/ .pytest_cache .ruff_cache
