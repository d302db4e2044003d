"""`securecam` / `make run` as a user starts it: a separate process, the real entry point."""

import os
import re
import subprocess
import sys
import time


def test_without_a_display_it_says_how_to_run_headless(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env["SECURECAM_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "main.py", "--demo"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "no display" in result.stderr and "securecam serve --demo" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_demo_streams_within_seconds_of_launch(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SECURECAM_HOME=str(tmp_path))
    process = subprocess.Popen(
        [sys.executable, "main.py", "--demo", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = tmp_path / "logs" / "securecam.log"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = log.read_text() if log.exists() else ""
            if "device demo-1 connected" in text and "device demo-2 connected" in text:
                break
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.2)
        else:
            raise AssertionError(f"demo cameras never connected; log:\n{text}")
        assert "(encrypted)" in text
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert re.search(r"[0-9a-fA-F]{64}", log.read_text()) is None  # no key text ever logged
