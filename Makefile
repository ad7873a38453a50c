# invlab — the course and its package. `make course` and `make test` work on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.py))

.PHONY: course test unit notebooks-test lab notebooks install clean lint bench

# Create the virtual environment and install the package with its dev extras. torch is pinned to
# the local CPU wheel first so nothing pulls a CUDA build from the registry.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

## make course: install, then execute every notebook in order and render the course to build/course/
course: $(STAMP)
	$(PY) tools/build_course.py --out build/course

## make test: install, then lint, unit tests, the notebook pairing check and every notebook under nbval
test: $(STAMP)
	$(VENV)/bin/ruff check invlab tests data_scripts benchmarks tools
	$(PY) -m pytest -q tests
	$(PY) -m pytest -q --nbval-lax --nbval-current-env -p no:randomly notebooks/

unit: $(STAMP)
	$(PY) -m pytest -q tests

## make lab: open the course in JupyterLab on 127.0.0.1 (LAB_IP=0.0.0.0 to reach it from outside a container);
## as root (containers, cloud notebooks) it adds --allow-root. Open the URL with the token it prints.
LAB_IP ?= 127.0.0.1
lab: $(STAMP)
	@echo "make lab: JupyterLab on $(LAB_IP); open the http://...:PORT/lab?token=... URL printed below (Ctrl-C stops it)"
	$(VENV)/bin/jupyter lab notebooks/ --ip=$(LAB_IP)$(if $(filter 0,$(shell id -u)), --allow-root)

## make notebooks: regenerate every .ipynb from its .py source (execute, strip volatile metadata)
notebooks: $(STAMP)
	$(PY) tools/sync_notebooks.py $(NOTEBOOKS)

lint: $(STAMP)
	$(VENV)/bin/ruff check invlab tests data_scripts benchmarks tools

## make bench: every benchmark script (about 90 minutes on 2 CPU cores); figures in benchmarks/README.md
bench: $(STAMP)
	$(PY) benchmarks/bench_operators.py
	$(PY) benchmarks/eval_prior.py
	$(PY) benchmarks/bench_solvers.py
	$(PY) benchmarks/bench_splitting.py
	$(PY) benchmarks/gmm_posterior.py
	$(PY) benchmarks/bench_purification.py
	$(PY) benchmarks/eval_latent.py
	$(PY) benchmarks/bench_latent.py
	$(PY) benchmarks/bench_ddc.py
	$(PY) benchmarks/bench_regularization.py
	$(PY) benchmarks/eval_consistency.py
	$(PY) benchmarks/bench_grid.py

clean:
	rm -rf build
