# Every target sets up .venv itself, so a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench lint venv clean firmware-host firmware-test

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) main.py --demo

lint: $(STAMP)
	$(PY) -m ruff check app tests main.py

# The firmware core is built and unit-tested in C first; the Python suite then includes its
# interop and console tests (tests/firmware).
test: $(STAMP) lint firmware-host
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

firmware-host:
	$(MAKE) -C firmware/host test

firmware-test: $(STAMP) firmware-host
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests/firmware

bench: $(STAMP)
	$(PY) -m app.bench

clean:
	rm -rf $(VENV) build *.egg-info
