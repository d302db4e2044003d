"""A stand-in for PlatformIO's ``pio`` command line, for tests only.

Why a stand-in: a real ``pio run -e esp32cam`` first downloads the espressif32 platform, the
xtensa toolchain and the Arduino core from the internet, which the test machine cannot reach
(and which takes minutes). This script behaves like PlatformIO's CLI where the app depends on
it: it refuses a directory without platformio.ini and an unknown environment with
PlatformIO's error text, prints PlatformIO's kind of output (``Processing ...``, one
``Compiling .pio/build/<env>/...o`` per source file of the project, ``Linking``, ``Building
.pio/build/<env>/firmware.bin``, ``[SUCCESS]``/``[FAILED]``), and writes the build directory
as PlatformIO and firmware/scripts/merge_image.py do: bootloader.bin, partitions.bin,
firmware.bin, boot_app0.bin and the merged securecam-<env>.bin. The images are real ESP32
images made by tests/serial/images.py (copied from the `payload` directory the test prepared).

`install(bin_dir, payload, mode)` writes an executable ``pio`` into `bin_dir`; the mode is in
the JSON file next to it and may be changed between runs (`set_mode`):

- ``ok``: a successful build;
- ``fail``: a compiler error, ``*** [...] Error 1`` and ``[FAILED]``, exit code 1;
- ``offline``: the first run without internet: PlatformIO cannot install the platform;
- ``hang``: writes bootloader.bin and half of firmware.bin, starts a "compiler" child (its
  pid in ``<bin_dir>/compiler.pid``) that never finishes, so a cancel must end the whole
  process group, not just ``pio``;
- ``stubborn``: the same, with a compiler that ignores SIGTERM (only SIGKILL ends it);
- ``deaf``: ``pio`` itself ignores SIGTERM, closes its output (its pid in
  ``<bin_dir>/pio.pid``) and never ends: only SIGKILL ends it, and no end of output says when.

`pip_command(bin_dir, payload)` is a stand-in for ``pip install platformio`` that installs this
``pio`` into `bin_dir`; `locate_in(bin_dir)` finds it there once installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

CONFIG = "pio.json"
ROOT = Path(__file__).resolve().parents[2]  # the checkout, so ``tests`` imports anywhere
FILES = ("bootloader.bin", "partitions.bin", "boot_app0.bin", "firmware.bin")


def install(bin_dir: Path, payload: Path, mode: str = "ok") -> Path:
    """An executable ``pio`` in `bin_dir` running this script; returns its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / CONFIG).write_text(json.dumps({"mode": mode, "payload": str(payload)}))
    pio = bin_dir / "pio"
    pio.write_text(
        f"#!{sys.executable}\n"
        "import runpy, sys\n"
        f"sys.argv[1:1] = [{str(bin_dir / CONFIG)!r}]\n"
        f"runpy.run_path({__file__!r}, run_name='__main__')\n"
    )
    pio.chmod(0o755)
    return pio


def pip_command(bin_dir: Path, payload: Path) -> list[str]:
    """A stand-in for ``pip install platformio``: pip's kind of output, and the stand-in
    ``pio`` (building `payload`'s images) installed into `bin_dir`."""
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from pathlib import Path\n"
        "from tests.serial import fake_pio\n"
        "print('Collecting platformio')\n"
        f"fake_pio.install(Path({str(bin_dir)!r}), Path({str(payload)!r}))\n"
        "print('Successfully installed platformio-6.1.18')\n"
    )
    return [sys.executable, "-c", script]


def locate_in(bin_dir: Path) -> Callable[[], Path | None]:
    """Finds the ``pio`` that `pip_command` installs into `bin_dir` (None before)."""
    return lambda: bin_dir / "pio" if (bin_dir / "pio").exists() else None


def set_mode(bin_dir: Path, mode: str) -> None:
    config = json.loads((bin_dir / CONFIG).read_text())
    config["mode"] = mode
    (bin_dir / CONFIG).write_text(json.dumps(config))


def say(text: str = "", err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def main(config_path: str, args: list[str]) -> int:
    config = json.loads(Path(config_path).read_text())
    mode, payload = config["mode"], Path(config["payload"])
    if args[:1] == ["--version"]:
        say("PlatformIO Core, version 6.1.18")
        return 0
    if args[:1] != ["run"]:
        say(f"Error: No such command '{args[0] if args else ''}'.", err=True)
        return 2
    ini = Path("platformio.ini")
    if not ini.is_file():
        say(
            "Error: Not a PlatformIO project. `platformio.ini` file has not been found in"
            f" current working directory ({os.getcwd()}). To initialize new project please"
            " use `platformio project init` command",
            err=True,
        )
        return 1
    envs = re.findall(r"^\[env:([^\]]+)\]", ini.read_text(), re.MULTILINE)
    env = args[args.index("-e") + 1] if "-e" in args else envs[0]
    if env not in envs:
        say(f"Error: Unknown environment names '{env}'. Valid names are '{', '.join(envs)}'")
        return 1
    start = time.monotonic()
    build = Path(".pio") / "build" / env
    say(f"Processing {env} (platform: espressif32 @ 6.10.0; board: esp32cam; framework: arduino)")
    say("-" * 80)
    if mode == "offline":
        say("Platform Manager: Installing espressif32 @ 6.10.0")
        say(
            "Error: Could not install package 'espressif32 @ 6.10.0' for your system"
            " 'linux_x86_64': HTTPClientError: Max retries exceeded with url:"
            " /v3/packages/platformio/platform/espressif32",
            err=True,
        )
        return 1
    say("Verbose mode can be enabled via `-v, --verbose` option")
    say("CONFIGURATION: https://docs.platformio.org/page/boards/espressif32/esp32cam.html")
    say("PLATFORM: Espressif 32 (6.10.0) > AI Thinker ESP32-CAM")
    say("HARDWARE: ESP32 240MHz, 320KB RAM, 4MB Flash")
    say("LDF: Library Dependency Finder -> https://bit.ly/configure-pio-ldf")
    say("LDF Modes: Finder ~ deep+, Compatibility ~ soft")
    say("Found 34 compatible libraries")
    say("Scanning dependencies...")
    say("Dependency Graph")
    say("|-- securecam_core")
    say("Building in release mode")
    build.mkdir(parents=True, exist_ok=True)
    sources = sorted(
        p for p in [*Path("src").rglob("*"), *Path("lib").rglob("*")] if p.suffix in (".c", ".cpp")
    )
    for index, source in enumerate(sources):
        obj = build / f"{source}.o"
        obj.parent.mkdir(parents=True, exist_ok=True)
        say(f"Compiling {obj}")
        obj.write_bytes(b"\x7fELF object")
        if mode == "fail" and source.name == "main.cpp":
            say(f"{source}:42:5: error: 'camera_init' was not declared in this scope")
            say(f"*** [{obj}] Error 1")
            say(f"{'=' * 25} [FAILED] Took {time.monotonic() - start:.2f} seconds {'=' * 25}")
            return 1
        if mode in ("hang", "stubborn", "deaf") and index == len(sources) // 2:
            shutil.copyfile(payload / "bootloader.bin", build / "bootloader.bin")
            firmware = (payload / "firmware.bin").read_bytes()
            (build / "firmware.bin").write_bytes(firmware[: len(firmware) // 2])
            if mode == "deaf":
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                Path(config_path).with_name("pio.pid").write_text(str(os.getpid()))
                say("pio: closing its output")
                os.close(1)
                os.close(2)
                while True:
                    time.sleep(1)
            compiler = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import signal, sys, time\n"
                    "if sys.argv[1] == 'stubborn':\n"
                    "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                    "print('xtensa-esp32-elf-g++ running', flush=True)\n"
                    "while True: time.sleep(1)\n",
                    mode,
                ]
            )
            Path(config_path).with_name("compiler.pid").write_text(str(compiler.pid))
            compiler.wait()
            return 1
    say(f"Archiving {build}/libFrameworkArduino.a")
    say(f"Indexing {build}/libFrameworkArduino.a")
    say(f"Linking {build}/firmware.elf")
    (build / "firmware.elf").write_bytes(b"\x7fELF executable")
    say(f"Retrieving maximum program size {build}/firmware.elf")
    say(f"Checking size {build}/firmware.elf")
    say("RAM:   [=         ]  14.6% (used 47764 bytes from 327680 bytes)")
    say("Flash: [====      ]  41.8% (used 821757 bytes from 1966080 bytes)")
    say(f"Building {build}/bootloader.bin")
    shutil.copyfile(payload / "bootloader.bin", build / "bootloader.bin")
    say(f"Generating partitions {build}/partitions.bin")
    shutil.copyfile(payload / "partitions.bin", build / "partitions.bin")
    say(f"Building {build}/firmware.bin")
    say("esptool.py v4.8.1")
    say("Creating esp32 image...")
    say("Merged 2 ELF sections")
    say("Successfully created esp32 image.")
    shutil.copyfile(payload / "firmware.bin", build / "firmware.bin")
    shutil.copyfile(payload / "boot_app0.bin", build / "boot_app0.bin")
    merged = build / f"securecam-{env}.bin"
    shutil.copyfile(payload / "merged.bin", merged)
    say(f"merge_image: {merged.resolve()} (write at 0x0)")
    say(f"{'=' * 25} [SUCCESS] Took {time.monotonic() - start:.2f} seconds {'=' * 25}")
    return 0


def write_payload(directory: Path) -> Path:
    """The images a build writes (tests/serial/images.py), and the merged one."""
    from tests.serial import images

    directory.mkdir(parents=True, exist_ok=True)
    parts = images.build_parts()
    for name, (_, data) in parts.items():
        (directory / name).write_bytes(data)
    (directory / "merged.bin").write_bytes(images.merged(parts))
    return directory


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
