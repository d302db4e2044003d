"""Building the firmware with PlatformIO (app/serial/firmware_build.py).

PlatformIO here is tests/serial/fake_pio.py, a stand-in for its CLI: the real ``pio run``
downloads the ESP32 toolchain from the internet, which the test machine cannot reach. The
stand-in prints PlatformIO's kind of output, fails with PlatformIO's error texts, and writes
real ESP32 images (tests/serial/images.py) where PlatformIO and merge_image.py put them.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from pathlib import Path

import pytest

from app.serial.firmware_build import (
    BuildJob,
    BuildSteps,
    Kind,
    build_job,
    find_platformio,
    find_project,
    install_job,
)
from app.serial.flasher import MERGED_IMAGE, find_build, load_images
from tests.serial import fake_pio
from tests.waiting import scaled, wait_until_sync

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


def checkout(root: Path) -> Path:
    """A SecureCam checkout's firmware project (platformio.ini, src, lib) under `root`."""
    project = root / "firmware"
    project.mkdir(parents=True)
    shutil.copyfile(FIRMWARE / "platformio.ini", project / "platformio.ini")
    shutil.copytree(FIRMWARE / "src", project / "src")
    shutil.copytree(FIRMWARE / "lib", project / "lib")
    return project


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    return fake_pio.write_payload(tmp_path_factory.mktemp("payload"))


@pytest.fixture
def pio(tmp_path, payload) -> Path:
    return fake_pio.install(tmp_path / "bin", payload)


def run_build(pio: Path, project: Path, **kwargs) -> tuple[object, list[str], list[tuple]]:
    lines: list[str] = []
    steps: list[tuple[int, int, str]] = []
    job = build_job(
        pio, project, on_line=lines.append, on_step=lambda *s: steps.append(s), **kwargs
    )
    return job.run(), lines, steps


def test_build_streams_platformio_output_and_finds_the_flashable_build(tmp_path, pio):
    project = checkout(tmp_path)
    outcome, lines, steps = run_build(pio, project)
    build = project / ".pio" / "build" / "esp32cam"
    assert outcome.ok and not outcome.cancelled and outcome.build == build
    assert outcome.message == f"Firmware built: {build}"
    assert lines[0] == "$ pio run -e esp32cam"
    assert "Compiling .pio/build/esp32cam/src/main.cpp.o" in lines
    assert lines[-1].startswith("=") and "[SUCCESS]" in lines[-1]
    assert find_build(tmp_path) == build  # where the wizard and `securecam flash` look
    assert [i.name for i in load_images(build)][-1] == "firmware.bin"
    load_images(build / MERGED_IMAGE)  # the merged image passes the flasher's checks too
    assert [s[0] for s in steps] == sorted(s[0] for s in steps)  # never goes back
    assert {s[0] for s in steps} == {1, 2, 3, 4} and {s[1] for s in steps} == {4}
    compiled = sum(line.startswith("Compiling ") for line in lines)
    assert f"Compiling ({compiled} files)" in [s[2] for s in steps]


def test_failed_build_quotes_the_first_compiler_error(tmp_path, pio):
    project = checkout(tmp_path)
    fake_pio.set_mode(pio.parent, "fail")
    outcome, lines, _ = run_build(pio, project)
    assert not outcome.ok and not outcome.cancelled and outcome.returncode == 1
    assert outcome.message == (
        "Build failed (exit code 1): src/main.cpp:42:5: error: 'camera_init' was not declared"
        " in this scope"
    )
    assert "[FAILED]" in lines[-1]
    assert find_build(tmp_path) is None


def test_failed_build_keeps_an_earlier_build_it_did_not_touch(tmp_path, pio):
    project = checkout(tmp_path)
    assert run_build(pio, project)[0].ok
    before = (project / ".pio" / "build" / "esp32cam" / "firmware.bin").read_bytes()
    fake_pio.set_mode(pio.parent, "fail")  # fails while compiling, before any image
    assert not run_build(pio, project)[0].ok
    build = find_build(tmp_path)
    assert build is not None and (build / "firmware.bin").read_bytes() == before


def test_first_build_offline_says_it_needs_the_internet(tmp_path, pio):
    project = checkout(tmp_path)
    fake_pio.set_mode(pio.parent, "offline")
    outcome, _, steps = run_build(pio, project)
    assert outcome.message.startswith(
        "Build failed (exit code 1): Error: Could not install package 'espressif32 @ 6.10.0'"
    )
    assert "internet" in outcome.guidance
    assert steps == [
        (1, 4, "Preparing (PlatformIO may first download its toolchain)"),
        (1, 4, "Preparing: Installing espressif32 @ 6.10.0"),
    ]


def test_platformio_refuses_a_directory_without_platformio_ini(tmp_path, pio):
    (tmp_path / "empty").mkdir()
    outcome, _, _ = run_build(pio, tmp_path / "empty")
    assert outcome.message.startswith("Build failed (exit code 1): Error: Not a PlatformIO project")


@pytest.mark.parametrize("mode", ["hang", "stubborn"])
def test_cancel_ends_the_process_group_and_leaves_no_half_written_build(tmp_path, pio, mode):
    """The compiler PlatformIO started goes too (a stubborn one by SIGKILL), and the images
    the cancelled build wrote (half a firmware.bin) are removed, so nothing flashable is
    left that mixes two builds."""
    project = checkout(tmp_path)
    assert run_build(pio, project)[0].ok  # an earlier, complete build
    fake_pio.set_mode(pio.parent, mode)
    lines: list[str] = []
    job = build_job(pio, project, on_line=lines.append, kill_grace=0.2)
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(job.run()))
    worker.start()
    wait_until_sync(lambda: "xtensa-esp32-elf-g++ running" in lines, 20)
    compiler = int((pio.parent / "compiler.pid").read_text())
    job.cancel()
    worker.join(scaled(20))
    assert not worker.is_alive()
    (outcome,) = result
    assert outcome.cancelled and not outcome.ok and outcome.message == "Build cancelled"
    wait_until_sync(lambda: not _alive(compiler), 10, message="the compiler ended")
    build = project / ".pio" / "build" / "esp32cam"
    assert not (build / "firmware.bin").exists() and not (build / MERGED_IMAGE).exists()
    assert not (build / "bootloader.bin").exists()  # rewritten by the cancelled build
    assert find_build(tmp_path) is None
    assert f"Removed {build / 'firmware.bin'} (written by the unfinished build)." in lines


def test_cancel_kills_a_platformio_that_closed_its_output_and_ignores_sigterm(tmp_path, pio):
    """Its output ends before the process does: the wait for its exit must escalate the
    cancel to SIGKILL too, not hang."""
    project = checkout(tmp_path)
    fake_pio.set_mode(pio.parent, "deaf")
    lines: list[str] = []
    job = build_job(pio, project, on_line=lines.append, kill_grace=0.2)
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(job.run()), daemon=True)
    worker.start()
    wait_until_sync(lambda: "pio: closing its output" in lines, 20)
    leader = int((pio.parent / "pio.pid").read_text())
    job.cancel()
    worker.join(scaled(20))
    try:
        assert not worker.is_alive(), "run() still waits for a pio that ignored SIGTERM"
    finally:
        if worker.is_alive():  # end it, so the failure leaves nothing running
            os.kill(leader, signal.SIGKILL)
            worker.join(scaled(20))
    (outcome,) = result
    assert outcome.cancelled and outcome.message == "Build cancelled"
    assert outcome.returncode == -signal.SIGKILL and not _alive(leader)
    assert find_build(tmp_path) is None


def test_an_exception_in_a_callback_ends_the_build_and_leaves_nothing_running(tmp_path, pio):
    project = checkout(tmp_path)
    fake_pio.set_mode(pio.parent, "hang")

    def on_line(line: str) -> None:
        if line == "xtensa-esp32-elf-g++ running":
            raise RuntimeError("the log view went away")

    job = build_job(pio, project, on_line=on_line)
    with pytest.raises(RuntimeError, match="the log view went away"):
        job.run()
    compiler = int((pio.parent / "compiler.pid").read_text())
    wait_until_sync(lambda: not _alive(compiler), 10, message="the compiler ended")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as ended
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def test_cancel_before_the_process_starts_still_cancels(tmp_path, pio):
    project = checkout(tmp_path)
    job = build_job(pio, project)
    job.cancel()
    outcome = job.run()
    assert outcome.cancelled and outcome.message == "Build cancelled"
    assert find_build(tmp_path) is None


def test_an_unstartable_platformio_is_one_line_with_what_to_install(tmp_path):
    broken = tmp_path / "pio"
    broken.write_text("not a program")
    broken.chmod(0o644)
    outcome = build_job(broken, checkout(tmp_path)).run()
    assert outcome.message.startswith(f"Cannot start {broken}: Permission denied")
    assert "pip install platformio" in outcome.guidance or "pipx" in outcome.guidance


def test_find_platformio_on_path_then_in_the_venv_dirs(tmp_path, payload):
    path_dir, venv_bin = tmp_path / "path", tmp_path / "venv-bin"
    path_dir.mkdir()
    assert find_platformio(path=str(path_dir), extra_dirs=[venv_bin]) is None
    in_venv = fake_pio.install(venv_bin, payload)
    assert find_platformio(path=str(path_dir), extra_dirs=[venv_bin]) == in_venv
    on_path = fake_pio.install(path_dir, payload).rename(path_dir / "platformio")
    assert find_platformio(path=str(path_dir), extra_dirs=[venv_bin]) == on_path


def test_find_project_in_a_checkout_or_its_firmware_dir(tmp_path):
    assert find_project(tmp_path) is None
    project = checkout(tmp_path)
    assert find_project(tmp_path) == project and find_project(project) == project


def test_install_runs_pip_and_reports_its_error(tmp_path):
    lines: list[str] = []
    ok = install_job(
        tmp_path,
        command=[sys.executable, "-c", "print('Successfully installed platformio-6.1.18')"],
        on_line=lines.append,
    ).run()
    assert ok.ok and ok.kind is Kind.INSTALL and ok.message == "PlatformIO installed."
    assert "Successfully installed platformio-6.1.18" in lines
    script = (
        "import sys\n"
        "print('ERROR: Could not find a version that satisfies the requirement platformio')\n"
        "print('ERROR: No matching distribution found for platformio')\n"
        "sys.exit(1)\n"
    )
    failed = install_job(tmp_path, command=[sys.executable, "-c", script]).run()
    assert failed.message == (
        "PlatformIO install failed (exit code 1): ERROR: Could not find a version that"
        " satisfies the requirement platformio"
    )


def test_progress_bars_and_colours_become_plain_lines(tmp_path):
    script = (
        "import sys\n"
        "sys.stdout.write('Downloading  [###     ]  30%\\rDownloading  [########]  100%\\n')\n"
        "sys.stdout.write('\\x1b[32mCompiling .pio/build/esp32cam/src/a.c.o\\x1b[0m\\n')\n"
        "sys.stdout.write('no newline at the end')\n"
    )
    lines: list[str] = []
    BuildJob(Kind.INSTALL, [sys.executable, "-c", script], tmp_path, on_line=lines.append).run()
    assert lines[1:] == [
        "Downloading  [###     ]  30%",
        "Downloading  [########]  100%",
        "Compiling .pio/build/esp32cam/src/a.c.o",
        "no newline at the end",
    ]


def test_steps_follow_platformio_stages():
    steps = BuildSteps()
    seen = []
    for line in [
        "Processing esp32cam (platform: espressif32 @ 6.10.0; board: esp32cam)",
        "Tool Manager: Installing platformio/toolchain-xtensa-esp32 @ 8.4.0+2021r2-patch5",
        "Building in release mode",
        "Compiling .pio/build/esp32cam/src/main.cpp.o",
        "Compiling .pio/build/esp32cam/src/stream.cpp.o",
        "Archiving .pio/build/esp32cam/libFrameworkArduino.a",
        "Linking .pio/build/esp32cam/firmware.elf",
        "Building .pio/build/esp32cam/firmware.bin",
    ]:
        if steps.feed(line):
            seen.append((steps.step, steps.text))
    assert seen == [
        (1, "Preparing: Installing platformio/toolchain-xtensa-esp32 @ 8.4.0+2021r2-patch5"),
        (2, "Compiling (1 files)"),
        (2, "Compiling (2 files)"),
        (2, "Compiling (2 files), archiving libraries"),
        (3, "Linking"),
        (4, "Making the flash images"),
    ]
