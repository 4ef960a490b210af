# Kafka from Python: the two commands are `make lab` and `make test`; everything else is a step of theirs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.11+ for the venv: python3.11 when present, else python3
PYTHON_BIN ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PORT ?= 9092

.PHONY: help setup jars rdkafka broker stop status doctor lab test clean nav
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

setup: $(STAMP) jars rdkafka  ## venv with every Python dependency, the Kafka jars in the cache, pykafka's C extension

# Without Maven (e.g. the Docker route) this says so in one line and carries on; the doctor explains what is missing.
jars: $(STAMP)  ## the 3.9 broker's jars, and the 4.x ones lesson 05 starts beside it (fetched once)
	@if ! command -v mvn >/dev/null 2>&1 && ! $(PY) -c 'import sys; from helpers import broker; sys.exit(not broker.jars_ok())'; then \
	  echo "Kafka jars not fetched: Maven is missing. The embedded broker needs it (use Docker + KAFKA_BOOTSTRAP_SERVERS instead); run make doctor."; \
	else \
	  $(PY) -m helpers broker jars >/dev/null && \
	  $(PY) -m helpers broker jars --version $$($(PY) -c 'from helpers.compat import KAFKA4_VERSION as v; print(v)') >/dev/null; \
	fi

# pykafka's optional C extension (pykafka.rdkafka._rd_kafka, behind use_rdkafka=True) compiles only when
# librdkafka's headers are there before pip builds pykafka; pip silently installs pure Python otherwise.
# Fast when already built. Where the headers cannot be installed it says so in one line and carries on:
# the rdkafka variants in lessons and tests are then skipped with that reason. Tested with Debian 12's
# librdkafka-dev 2.0.2-1; not pinned to that version string so that other Debian/Ubuntu releases work.
# A failed attempt is remembered in .venv/.rdkafka-unavailable (delete it to try again).
RDKAFKA_H := echo '\#include <librdkafka/rdkafka.h>' | $${CC:-cc} $$CFLAGS -E -x c - >/dev/null 2>&1
rdkafka: $(STAMP)
	@if $(PY) -c 'import pykafka.rdkafka._rd_kafka' 2>/dev/null; then exit 0; fi; \
	if [ -f $(VENV)/.rdkafka-unavailable ]; then exit 0; fi; \
	if command -v brew >/dev/null 2>&1 && brew --prefix librdkafka >/dev/null 2>&1; then \
	  export CFLAGS="-I$$(brew --prefix librdkafka)/include $$CFLAGS" LDFLAGS="-L$$(brew --prefix librdkafka)/lib $$LDFLAGS"; fi; \
	if ! $(RDKAFKA_H); then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing librdkafka-dev (apt-get) for pykafka's rdkafka extension..."; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librdkafka-dev >/dev/null || true; \
	  fi; \
	fi; \
	if ! $(RDKAFKA_H); then \
	  echo "pykafka rdkafka: no librdkafka headers (installing them needs root + apt-get librdkafka-dev, or brew install librdkafka); use_rdkafka=True variants will be skipped."; \
	  touch $(VENV)/.rdkafka-unavailable; exit 0; fi; \
	echo "Building pykafka 2.8.0 from source against librdkafka (use_rdkafka=True)..."; \
	$(PY) -m pip install --quiet --disable-pip-version-check --no-cache-dir --no-binary pykafka --force-reinstall --no-deps pykafka==2.8.0 >/dev/null 2>&1; \
	if $(PY) -c 'import pykafka.rdkafka._rd_kafka' 2>/dev/null; then echo "pykafka rdkafka extension: built"; \
	else echo "pykafka rdkafka: the C extension did not compile (pip fell back to pure Python); use_rdkafka=True variants will be skipped."; \
	  touch $(VENV)/.rdkafka-unavailable; fi

broker: setup  ## start (or find) the embedded broker on $(PORT)
	@$(PY) -m helpers broker start --port $(PORT)

stop:  ## stop the embedded broker this workbook started
	@if [ -x $(PY) ]; then $(PY) -m helpers broker stop --port $(PORT); fi

status:
	@$(PY) -m helpers broker status --port $(PORT)

doctor: setup
	@$(PY) -m helpers doctor

lab: setup  ## JupyterLab on notebooks/; the broker keeps running after you quit it: `make stop`
	@$(PY) -m helpers broker ensure
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# The pytest plugin (helpers.pytest_plugin) finds or starts the broker and stops it at the
# end if it started it, even when tests fail; a broker `make lab` started is left running.
# Three workers, one file (or notebook) each at a time: the suite mostly waits on the broker.
test: setup
	$(PY) -m pytest -n 3 --dist loadfile

nav: setup  ## regenerate the index notebook and the navigation links
	$(PY) tools/nav.py

clean: stop
	rm -rf $(VENV) .pytest_cache
