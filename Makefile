# Two commands on a fresh machine:
#   make report [DATA=folder]   run every notebook on the corpus, HTML to reports/
#   make test                   run the test suite
# Both create .venv and install the package with its dependencies when needed.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA ?=
CODES ?=
# Paths reach the command through the environment, quoted by the shell: spaces, quotes and
# non-ASCII letters pass unchanged (make's own functions would split them). A relative
# path is taken from the folder make runs in.
export DATA CODES

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: install report test lint load clean-processed browser

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

report: $(STAMP)
	$(PY) -m analysis report $(if $(DATA),--transcripts "$$DATA") $(if $(CODES),--codes "$$CODES")

load: $(STAMP)
	$(PY) -m analysis load $(if $(DATA),--transcripts "$$DATA")

test: $(STAMP) browser lint
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff: pyflakes, bugbear, pycodestyle and import order (settings in pyproject.toml)
lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks notebooks

# Browser tests open the HTML reports in Debian's Chromium (no browser download);
# installed here when missing and allowed (root), skipped with a message otherwise.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: browser tests will be skipped"; }

clean-processed:
	rm -rf data/processed/* reports/*.html reports/executed
