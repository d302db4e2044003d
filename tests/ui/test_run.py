"""`securecam` / `make run` as a user starts it: a separate process, the real entry point."""

import os
import re
import subprocess
import sys

from tests.waiting import scaled, wait_until_sync


def test_without_a_display_it_says_how_to_run_headless(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env["SECURECAM_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "main.py", "--demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    assert result.returncode == 1
    assert "no display" in result.stderr and "securecam serve --demo" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_demo_streams_after_launch(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SECURECAM_HOME=str(tmp_path))
    process = subprocess.Popen(
        [sys.executable, "main.py", "--demo", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = tmp_path / "logs" / "securecam.log"

    def both_connected() -> str:
        assert process.poll() is None, process.stderr.read()  # it must not have exited
        text = log.read_text() if log.exists() else ""
        connected = "device demo-1 connected" in text and "device demo-2 connected" in text
        return text if connected else ""

    try:
        try:
            text = wait_until_sync(both_connected, 60, interval=0.1, message="demo cameras")
        except AssertionError as exc:
            shown = log.read_text() if log.exists() else ""
            raise AssertionError(f"{exc}; log:\n{shown}") from None
        assert "(encrypted)" in text
    finally:
        process.terminate()
        process.communicate(timeout=scaled(30))  # reaps it and closes its stderr pipe
    assert re.search(r"[0-9a-fA-F]{64}", log.read_text()) is None  # no key text ever logged


# Runs the real app in a fresh interpreter and reports, at the demo's first painted frame,
# which of the libraries that only later features need were loaded by then.
_FIRST_FRAME_PROBE = """
import json, logging, os, sys
LATER = set(sys.argv[1].split(","))

class AtFirstFrame(logging.Handler):
    def emit(self, record):
        if "first frame painted" in record.getMessage():
            loaded = sorted({name.split(".")[0] for name in sys.modules} & LATER)
            print(json.dumps(loaded), flush=True)
            os._exit(0)

logging.getLogger().addHandler(AtFirstFrame())
from app.cli import main
main(["--demo"])
"""
# Share (aiohttp, its certificate's cryptography), the setup wizard (esptool, pyserial) and
# the latency plots (pyqtgraph), which the window builds once the first frame is up.
LOADED_LATER = ("aiohttp", "cryptography", "esptool", "serial", "pyqtgraph")


def test_nothing_only_later_features_or_the_plots_need_loads_before_the_first_frame(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", _FIRST_FRAME_PROBE, ",".join(LOADED_LATER)],
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen", SECURECAM_HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1] == "[]"
