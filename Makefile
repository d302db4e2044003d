# Every target sets up .venv itself, so a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-test lint typecheck venv clean firmware-host firmware-test firmware-cross

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
	$(PY) -m ruff format --check app tests main.py

# mypy --strict on the non-GUI core; which packages, and the untyped third-party modules, are
# set in pyproject.toml ([tool.mypy]).
typecheck: $(STAMP)
	$(PY) -m mypy

# The firmware core is built and unit-tested in C first; the Python suite then includes its
# interop and console tests (tests/firmware). No test depends on this machine's speed: on a
# slow or busy one, stretch every timeout, e.g. `make test SECURECAM_TEST_TIMEOUT_SCALE=3`.
# firmware-cross compiles every firmware source for the ESP32 with the real compiler (below).
# Branch coverage of app/ is printed at the end (files fully covered are left out).
test: $(STAMP) lint typecheck firmware-host firmware-cross
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

firmware-host:
	$(MAKE) -C firmware/host test

firmware-test: $(STAMP) firmware-host
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests/firmware

# The xtensa check kit (not part of this repository): a real xtensa-esp32-elf GCC compiles every
# file of firmware/src and firmware/lib/*/src against the real Arduino-ESP32 / ESP-IDF / mbedTLS
# headers, -Wall -Wextra -Werror, and prints the object sizes (about 7 s; the first run unpacks
# it into ~/.cache/securecam-xtensa). Its README says what it covers. Never skipped: without the
# kit this target fails.
XTENSA_KIT ?= ../shared/xtensa
firmware-cross:
	@test -f '$(XTENSA_KIT)/check-firmware' || { echo "make firmware-cross: no xtensa check kit: $(abspath $(XTENSA_KIT))/check-firmware does not exist; put the kit there or point at it with make XTENSA_KIT=/path/to/xtensa" >&2; exit 1; }
	bash '$(XTENSA_KIT)/check-firmware'

# Benchmarks measure this machine and stay out of `make test` (which only checks that the
# entry point runs a tiny workload). BENCH_ARGS, e.g. --quick; `python -m app.bench -h`.
# Then hostile peers against a running `securecam serve` (ATTACK_ARGS, e.g. --repeats 1), and
# viewers of `securecam serve --share` (SHARE_ARGS, e.g. --quick --repeats 1), and the firmware's
# loop on the host model of an ESP32 link (BOARD_ARGS, e.g. --quick), and cameras on shaped
# links between network namespaces with adaptive quality (SHAPED_ARGS, e.g. --quick; needs root,
# says why it skips without), and the window's start-up against an empty PySide6 window.
bench: $(STAMP)
	$(PY) -m app.bench $(BENCH_ARGS)
	$(PY) -m app.bench.attacks $(ATTACK_ARGS)
	$(PY) -m app.bench.share $(SHARE_ARGS)
	$(PY) -m app.bench.board $(BOARD_ARGS)
	$(PY) -m app.bench.shaped $(SHAPED_ARGS)
	$(PY) -m app.bench.startup

# The benchmark report's own tests: short runs of every section (pytest -m bench).
bench-test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m bench tests/bench $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .coverage .mypy_cache
