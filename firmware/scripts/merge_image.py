"""PlatformIO post-build step: a merged flash image and boot_app0.bin in the build directory.

After firmware.bin is linked this writes, next to it in .pio/build/<env>/:

- ``boot_app0.bin``, copied from the Arduino framework, so that the build directory alone
  holds every image (`securecam flash firmware/.pio/build/esp32cam` then writes all four);
- ``securecam-<env>.bin``, the merged image to write at 0x0 (bootloader 0x1000, partition
  table 0x8000, boot_app0 0xe000, app 0x10000), made with ``esptool merge_bin``.

It never fails the build: if anything here goes wrong it prints a warning and the usual
firmware.bin is still there. Pure helpers (`flash_images`, `merge_command`) are unit-tested
by tests/firmware/test_board_layer.py with a fake SCons environment.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

APP_OFFSET = 0x10000


def flash_images(extra: list[tuple[str, str]], app: str) -> list[tuple[int, str]]:
    """(offset, file) pairs from PlatformIO's FLASH_EXTRA_IMAGES plus the app, by offset."""
    images = {int(str(offset), 0): str(path) for offset, path in extra}
    images[APP_OFFSET] = app
    return sorted(images.items())


def merge_command(
    python: str, esptool: str, chip: str, images: list[tuple[int, str]], out: str
) -> list[str]:
    """esptool merge_bin with the flash settings kept from the bootloader's header."""
    tool = [python, esptool] if esptool.endswith(".py") else [python, "-m", "esptool"]
    command = [*tool, "--chip", chip, "merge_bin", "-o", out]
    command += ["--flash_mode", "keep", "--flash_freq", "keep", "--flash_size", "keep"]
    for offset, path in images:
        command += [hex(offset), path]
    return command


def after_build(source, target, env) -> None:  # noqa: ANN001 (SCons callback signature)
    try:
        build = Path(env.subst("$BUILD_DIR"))
        extra = [
            (env.subst(str(o)), env.subst(str(p))) for o, p in env.get("FLASH_EXTRA_IMAGES", [])
        ]
        for _, path in extra:
            if Path(path).name == "boot_app0.bin" and Path(path).is_file():
                shutil.copyfile(path, build / "boot_app0.bin")
        images = flash_images(extra, env.subst("$BUILD_DIR/${PROGNAME}.bin"))
        missing = [path for _, path in images if not Path(path).is_file()]
        if missing:
            print(f"merge_image: not merging, missing {missing}", file=sys.stderr)
            return
        out = build / f"securecam-{env.subst('$PIOENV')}.bin"
        chip = env.BoardConfig().get("build.mcu", "esp32")
        command = merge_command(
            env.subst("$PYTHONEXE"), env.subst("$OBJCOPY"), chip, images, str(out)
        )
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            print(f"merge_image: esptool failed:\n{result.stdout}{result.stderr}", file=sys.stderr)
            return
        print(f"merge_image: {out} (write at 0x0)")
    except Exception as exc:  # never break the build for a convenience
        print(f"merge_image: skipped ({exc})", file=sys.stderr)


try:
    Import("env")  # SCons provides Import, and through it env
except NameError:  # loaded by the tests, outside SCons
    env = None
if env is not None:
    env.AddPostAction("$BUILD_DIR/${PROGNAME}.bin", after_build)
