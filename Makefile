# Kafka from Python: the two commands are `make lab` and `make test`; everything else is a step of theirs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.11+ for the venv: python3.11 when present, else python3
PYTHON_BIN ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PORT ?= 9092

.PHONY: help setup jars broker stop status doctor lab test clean nav
help:
	@echo "make lab    set up, start the broker, open JupyterLab on notebooks/"
	@echo "make test   set up, start the broker, run tests/ and every notebook (nbval), stop what it started"
	@echo "make setup | broker | stop | status | doctor | clean"

$(STAMP): pyproject.toml
	@$(PYTHON_BIN) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, found " + sys.version.split()[0] + ": install python3.11 or use conda (environment.yml)")'
	@test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "pip==25.3"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@rm -f $(VENV)/.installed-*; touch $@

setup: $(STAMP) jars  ## venv with every Python dependency, and the Kafka jars in the cache

jars: $(STAMP)
	@$(PY) -m helpers broker jars >/dev/null

broker: setup  ## start (or find) the embedded broker on $(PORT)
	@$(PY) -m helpers broker start --port $(PORT)

stop:  ## stop the embedded broker this workbook started
	@if [ -x $(PY) ]; then $(PY) -m helpers broker stop --port $(PORT); fi

status:
	@$(PY) -m helpers broker status --port $(PORT)

doctor: setup
	@$(PY) -m helpers doctor

lab: broker  ## JupyterLab on notebooks/; the broker keeps running after you quit it: `make stop`
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

# The pytest plugin (helpers.pytest_plugin) finds or starts the broker and stops it at the
# end if it started it, even when tests fail; a broker `make lab` started is left running.
test: setup
	$(PY) -m pytest

nav: setup  ## regenerate the index notebook and the navigation links
	$(PY) tools/nav.py

clean: stop
	rm -rf $(VENV) .pytest_cache
