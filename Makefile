# Two commands on a fresh machine:
#   make report [DATA=folder]   run the notebooks on the corpus, HTML to reports/ (FORCE=1: all of them)
#   make test                   run the test suite (and ruff)
# Both create .venv and install what they need: `report` the package alone, `test` the
# package with its test tools, JupyterLab and Dask. For interactive work:
#   make lab                    JupyterLab on the project's kernel "analysis" (LAB_ARGS=... for more options)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# One stamp per install, so `make report` never installs the test or Lab tools.
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
LAB_STAMP := $(VENV)/.installed-lab
KERNEL := $(VENV)/share/jupyter/kernels/analysis/kernel.json
DATA ?=
CODES ?=
# FORCE=1: run every notebook (by default a notebook whose inputs and outputs are unchanged keeps its page)
FORCE ?=
# Extra options for jupyter lab, e.g. LAB_ARGS="--no-browser --port=8899 --ip=0.0.0.0";
# LAB_DIR: the folder it serves (the project; notebooks/ opens first)
LAB_ARGS ?=
LAB_DIR ?= $(CURDIR)
# Paths reach the command through the environment, quoted by the shell: spaces, quotes and
# non-ASCII letters pass unchanged (make's own functions would split them). A relative
# path is taken from the folder make runs in.
export DATA CODES

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: install report test lint load lab kernel clean-processed browser

# The package with JupyterLab, for working in the notebooks.
install: $(LAB_STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(TEST_STAMP)

$(LAB_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[lab]"
	touch $(LAB_STAMP)

report: $(STAMP)
	$(PY) -m analysis report $(if $(DATA),--transcripts "$$DATA") $(if $(CODES),--codes "$$CODES") $(if $(FORCE),--force)

load: $(STAMP)
	$(PY) -m analysis load $(if $(DATA),--transcripts "$$DATA")

test: $(TEST_STAMP) browser lint
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff: pyflakes, bugbear, pycodestyle and import order (settings in pyproject.toml)
lint: $(TEST_STAMP)
	$(PY) -m ruff check src tests benchmarks notebooks

# The project's kernel, "analysis": this .venv's Python. Registered in .venv for `make lab`;
# `make kernel KERNEL_SCOPE=--user` registers it for a JupyterLab installed elsewhere.
KERNEL_SCOPE ?= --sys-prefix
kernel: $(STAMP)
	$(PY) -m ipykernel install $(KERNEL_SCOPE) --name analysis --display-name "Python 3 (thematic analysis)" >/dev/null

$(KERNEL): $(STAMP)
	$(MAKE) --no-print-directory kernel KERNEL_SCOPE=--sys-prefix

# JupyterLab at the project root on the "analysis" kernel. config/jupyter/ holds the server
# settings (notebooks saved without outputs, encrypted kernel connections); it is added to
# Jupyter's config path, so your own ~/.jupyter settings still apply. Root (containers, CI)
# needs --allow-root.
lab: $(LAB_STAMP) $(KERNEL)
	JUPYTER_CONFIG_PATH="$(CURDIR)/config/jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	  $(VENV)/bin/jupyter lab --ServerApp.root_dir="$(LAB_DIR)" --LabApp.default_url=/lab/tree/notebooks \
	  $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

# Browser tests open the HTML reports in Debian's Chromium (no browser download);
# installed here with apt-get when missing and allowed (root), skipped with a message otherwise.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  echo "installing Debian's chromium with apt-get (browser tests)" && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: browser tests will be skipped"; }

clean-processed:
	rm -rf data/processed/* reports/*.html reports/executed
