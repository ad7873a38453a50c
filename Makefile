# invlab — the course and its package. `make course` and `make test` work on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.py))

.PHONY: course test unit notebooks-test lab notebooks install clean lint bench browser-test lab-reset

# Create the virtual environment and install the package with its dev extras. torch is pinned to
# the local CPU wheel first so nothing pulls a CUDA build from the registry.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	PYTHONWARNINGS=ignore $(PY) -m pip install -q -e ".[dev]"   # no setuptools banners from the build backend
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

## make course: install, then execute every notebook and render the course to build/course/ (offline pages,
## MathJax included); JOBS notebooks at a time (default: one per core, at most 4), the cores shared among their kernels.
## The notebooks are small-tensor work that one thread runs nearly as fast as two, so side by side they finish sooner.
NPROC := $(shell nproc 2>/dev/null || echo 2)
JOBS ?= $(shell echo $$(( $(NPROC) < 4 ? $(NPROC) : 4 )))
KERNEL_THREADS := $(shell echo $$(( $(NPROC) / $(JOBS) > 0 ? $(NPROC) / $(JOBS) : 1 )))
course: $(STAMP)
	$(PY) tools/build_course.py --out build/course --jobs $(JOBS)

## make test: install, then lint, unit tests, the notebook pairing check and every notebook under nbval
test: $(STAMP)
	$(VENV)/bin/ruff check invlab tests data_scripts benchmarks tools
	$(PY) -m pytest -q tests
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-$(KERNEL_THREADS)} $(PY) -m pytest -q --nbval-lax --nbval-current-env \
	  -p no:randomly -n $(JOBS) --dist loadfile notebooks/

unit: $(STAMP)
	$(PY) -m pytest -q tests

## make lab: open the course in JupyterLab on 127.0.0.1 (LAB_IP=0.0.0.0 to reach it from outside a container);
## as root (containers, cloud notebooks) it adds --allow-root. Open the URL with the token it prints.
## Lab opens your own copy of the notebooks, $(LAB_DIR)/ (ignored by git): run, change and save them freely;
## notebooks/ stays the course as committed. A notebook missing from the copy is copied in; `make lab-reset`
## replaces the whole copy with the committed notebooks.
LAB_IP ?= 127.0.0.1
CHROMIUM ?= /usr/bin/chromium
LAB_DIR ?= my-notebooks
lab: $(STAMP)
	@mkdir -p $(LAB_DIR) && for f in notebooks/[0-9]*.ipynb; do [ -e "$(LAB_DIR)/$${f##*/}" ] || cp "$$f" $(LAB_DIR)/; done
	@echo "make lab: JupyterLab on $(LAB_IP) serving your copy $(LAB_DIR)/; open the http://...:PORT/lab?token=... URL printed below (Ctrl-C stops it)"
	$(VENV)/bin/jupyter lab $(LAB_DIR)/ --ip=$(LAB_IP)$(if $(filter 0,$(shell id -u)), --allow-root)

lab-reset:
	rm -rf $(LAB_DIR)
	@echo "make lab-reset: $(LAB_DIR)/ removed; the next make lab copies the committed notebooks"

## make browser-test: JupyterLab and the rendered course in headless Chromium (installs Debian's chromium and the
## playwright package if missing); screenshots in build/browser/. Called by .ci/run.
browser-test: $(STAMP)
	@command -v $(CHROMIUM) >/dev/null || { [ "$$(id -u)" = 0 ] && (apt-get install -y -q chromium >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)); } || \
	  { echo "make browser-test: $(CHROMIUM) is missing; install Debian's chromium (apt-get install chromium)"; exit 2; }
	@$(PY) -c "import playwright" 2>/dev/null || PYTHONWARNINGS=ignore $(PY) -m pip install -q "playwright>=1.40"
	CHROMIUM=$(CHROMIUM) $(PY) tools/browser_test.py --out build/browser

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
