"""Real esptool (ROM loader, no stub) against the emulated ESP32 in tests/serial/rom_emulator.py."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import serial
from esptool.bin_image import ESP32S3FirmwareImage

from app.resources import BOOT_MODE_DIAGRAM, resource
from app.serial import cli as flash_cli
from app.serial.firmware_build import find_project
from app.serial.flasher import (
    DEFAULT_BAUD,
    GUIDANCE_BOOT_MODE,
    GUIDANCE_BUSY,
    GUIDANCE_MD5,
    GUIDANCE_WIRING,
    FlashCancelled,
    Flasher,
    FlashError,
    FlashImage,
    FlashInputError,
    find_build,
    load_images,
    missing_optional,
)
from tests.serial import images
from tests.serial.listing import list_adapters
from tests.serial.rom_emulator import MB, RomEmulator
from tests.waiting import scaled

MAC = bytes.fromhex("246f28a1b2c3")
APP_OFFSET = 0x10000
NO_PORT = "/dev/securecam-test-no-such-port"


def _app(size: int, seed: int) -> FlashImage:
    """A real ESP32 app image for app0."""
    return FlashImage(APP_OFFSET, images.app(size, seed), "firmware.bin")


def _flasher(emu: RomEmulator, **kw) -> Flasher:
    kw.setdefault("connect_attempts", 2)
    return Flasher(emu.port, no_stub=True, before="no-reset", after="no-reset", **kw)


@pytest.fixture
def emulator():
    with RomEmulator(mac=MAC) as emu:
        yield emu


def test_identify(emulator):
    identity = _flasher(emulator).identify()
    assert identity.chip == "ESP32"
    assert identity.mac == "24:6f:28:a1:b2:c3"
    assert identity.flash_size == "4MB"
    assert 0x40001000 in emulator.reads  # chip detection by magic value


def test_flash_merged_bin(emulator, tmp_path):
    image = images.merged()
    path = tmp_path / "securecam-merged.bin"
    path.write_bytes(image)
    logs: list[str] = []
    progress: list[tuple[int, int]] = []
    flasher = _flasher(
        emulator, on_log=logs.append, on_progress=lambda d, t: progress.append((d, t))
    )
    identity = flasher.flash(load_images(path))
    assert identity.chip == "ESP32"
    assert bytes(emulator.flash[: len(image)]) == image
    assert bytes(emulator.flash[len(image) : len(image) + 4096]) == b"\xff" * 4096
    assert 0x03 in emulator.commands and 0x13 in emulator.commands  # FLASH_DATA, MD5
    assert any("Hash of data verified" in line for line in logs)
    assert progress[-1] == (len(image), len(image))
    done = [d for d, _ in progress]
    assert done == sorted(done) and len(set(done)) > 10


def test_flash_build_dir(emulator, tmp_path):
    build = tmp_path / "firmware" / ".pio" / "build" / "esp32cam"
    parts = images.fake_build(tmp_path, boot_app0=False)
    assert find_build(tmp_path) == build
    assert missing_optional(tmp_path) == ["boot_app0.bin"]
    (build / "boot_app0.bin").write_bytes(images.otadata())
    parts["boot_app0.bin"] = (0xE000, (build / "boot_app0.bin").read_bytes())
    loaded = load_images(tmp_path)
    assert [(i.name, i.offset) for i in loaded] == [
        ("bootloader.bin", 0x1000),
        ("partitions.bin", 0x8000),
        ("boot_app0.bin", 0xE000),
        ("firmware.bin", 0x10000),
    ]
    progress: list[tuple[int, int]] = []
    _flasher(emulator, on_progress=lambda d, t: progress.append((d, t))).flash(loaded)
    for name, (offset, data) in parts.items():
        assert bytes(emulator.flash[offset : offset + len(data)]) == data, name
    total = sum(len(d) for _, d in parts.values())
    assert progress[-1] == (total, total)


def test_missing_build_file_is_explained(tmp_path):
    build = tmp_path / ".pio" / "build" / "esp32cam"
    build.mkdir(parents=True)
    (build / "firmware.bin").write_bytes(b"x")
    with pytest.raises(FlashError) as info:
        load_images(tmp_path)
    assert "bootloader.bin" in info.value.message
    with pytest.raises(FlashError):
        load_images(tmp_path / "nope.bin")


def test_silent_board_gets_wiring_guidance():
    with RomEmulator("silent") as emu:
        with pytest.raises(FlashError) as info:
            _flasher(emu).flash([_app(4096, 6)])
        serial.Serial(emu.port, exclusive=True).close()  # closed again
    assert info.value.guidance == GUIDANCE_WIRING
    assert "No serial data received" in info.value.message


def test_wrong_boot_mode_gets_io0_guidance():
    with RomEmulator("wrong_boot") as emu, pytest.raises(FlashError) as info:
        _flasher(emu).flash([_app(4096, 7)])
    assert info.value.message == "Wrong boot mode detected (0x13)."
    assert info.value.guidance == GUIDANCE_BOOT_MODE
    diagram = resource(BOOT_MODE_DIAGRAM)  # package data: the path works where it is installed
    assert str(diagram) in info.value.guidance
    assert os.path.exists(str(diagram))


def test_md5_mismatch_retries_at_lower_baud_then_explains():
    logs: list[str] = []
    with RomEmulator("corrupt") as emu, pytest.raises(FlashError) as info:
        _flasher(emu, on_log=logs.append).flash([_app(16384, 8)])
    assert info.value.guidance == GUIDANCE_MD5
    assert any("retrying at 115200" in line for line in logs)
    assert emu.commands.count(0x13) == 2


def test_busy_port_is_explained(emulator):
    holder = serial.Serial(emulator.port, exclusive=True)
    try:
        with pytest.raises(FlashError) as info:
            _flasher(emulator).identify()
    finally:
        holder.close()
    assert info.value.guidance == GUIDANCE_BUSY


def test_cancel_mid_flash_closes_port(tmp_path):
    with RomEmulator(block_delay=0.002) as emu:
        flasher = _flasher(emu)
        image = _app(256 * 1024, 9)

        def progress(done: int, total: int) -> None:
            if done > total // 4:
                flasher.cancel()

        flasher.on_progress = progress
        with pytest.raises(FlashCancelled):
            flasher.flash([image])
        assert 0x13 not in emu.commands  # stopped before verifying
        serial.Serial(emu.port, exclusive=True).close()  # the port is free again
        assert _flasher(emu).identify().chip == "ESP32"  # and usable


def test_cli_flash(tmp_path, capsys):
    image = images.app(8192, 10)
    path = tmp_path / "fw.bin"
    path.write_bytes(image)
    with RomEmulator() as emu:
        code, err, _ = _flash_cli(capsys, "--port", emu.port, *EMULATED_APP, str(path))
        assert code == 0, err
        assert bytes(emu.flash[APP_OFFSET : APP_OFFSET + len(image)]) == image
    assert any("100 %" in line for line in err)


def test_cli_flash_without_port_uses_the_only_likely_adapter(tmp_path, capsys, monkeypatch):
    image = images.app(8192, 11)
    path = tmp_path / "fw.bin"
    path.write_bytes(image)
    with RomEmulator() as emu:
        list_adapters(monkeypatch, emu.port)
        code, err, out = _flash_cli(capsys, *EMULATED_APP, str(path))
        assert code == 0, err
        assert bytes(emu.flash[APP_OFFSET : APP_OFFSET + len(image)]) == image
    assert out.splitlines()[-1].endswith(f" on {emu.port}.")


def test_cli_flash_without_port_and_no_single_adapter_says_why(tmp_path, capsys, monkeypatch):
    path = tmp_path / "fw.bin"
    path.write_bytes(images.app(8192, 12))
    list_adapters(monkeypatch)
    code, err, _ = _flash_cli(capsys, "--offset", "0x10000", str(path))
    assert code == 1
    assert err[-1] == "securecam: error: no ESP32 serial adapter found; pass --port"
    assert "CP210x" in "\n".join(err)  # what to check first
    list_adapters(monkeypatch, "/dev/ttyUSB0", "/dev/ttyUSB1")
    code, err, _ = _flash_cli(capsys, "--offset", "0x10000", str(path))
    assert (code, err) == (
        1,
        [
            "securecam: error: several adapters found (/dev/ttyUSB0, /dev/ttyUSB1); "
            "pick one with --port"
        ],
    )


def test_the_cli_default_baud_is_the_flashers():
    assert flash_cli.DEFAULT_BAUD == DEFAULT_BAUD
    assert _parser().parse_args(["flash"]).baud == DEFAULT_BAUD


def test_cli_flash_failure_exit_1(tmp_path, capsys):
    path = tmp_path / "fw.bin"
    path.write_bytes(images.merged())
    with RomEmulator("wrong_boot") as emu:
        args = _parser().parse_args(
            ["flash", "--port", emu.port, "--before", "no-reset", str(path)]
        )
        assert args.handler(args) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("securecam: error: Wrong boot mode")
        or "securecam: error: Wrong boot mode" in err
    )
    assert "IO0" in err


def _parser():
    import argparse

    parser = argparse.ArgumentParser(prog="securecam")
    flash_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser


# -- bad input: refused before any port opens ---------------------------------------------


# `flash` against the emulated ROM loader (no stub, no reset lines), an app at 0x10000.
EMULATED_APP = ("--no-stub", "--before", "no-reset", "--after", "no-reset", "--offset", "0x10000")


def _flash_cli(capsys, *argv: str) -> tuple[int, list[str], str]:
    args = _parser().parse_args(["flash", *argv])
    code = args.handler(args)
    out, err = capsys.readouterr()
    return code, err.splitlines(), out


def test_cli_refuses_a_readme_before_opening_the_port(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# SecureCam\n")
    code, err, out = _flash_cli(capsys, "--port", NO_PORT, str(readme))
    assert code == 2
    assert err == [
        "securecam: error: README.md is not an ESP32 image (first byte 0x23, expected 0xE9)"
    ]
    assert out == ""


def test_cli_refuses_random_bytes_without_a_byte_to_the_board(tmp_path, capsys):
    noise = tmp_path / "noise.bin"
    noise.write_bytes(b"\x5a" + random.Random(11).randbytes(64 * 1024))
    with RomEmulator() as emu:
        code, err, _ = _flash_cli(capsys, "--port", emu.port, "--before", "no-reset", str(noise))
        serial.Serial(emu.port, exclusive=True).close()  # never held
    assert code == 2
    assert err == [
        "securecam: error: noise.bin is not an ESP32 image (first byte 0x5A, expected 0xE9)"
    ]
    assert emu.commands == [] and emu.flash.count(0xFF) == len(emu.flash)


@pytest.mark.parametrize(
    ("make", "offset", "expected"),
    [
        (
            images.merged,
            "0x10000",
            "m.bin is a merged image and must be written at 0x0, not at 0x10000",
        ),
        (
            images.app,
            "0x0",
            "m.bin is an app image and must be written at 0x10000 or 0x1f0000, not at 0x0",
        ),
        (
            images.partition_table,
            "0x9000",
            "m.bin is a partition table and must be written at 0x8000",
        ),
    ],
)
def test_cli_refuses_an_image_at_the_wrong_offset(tmp_path, capsys, make, offset, expected):
    path = tmp_path / "m.bin"
    path.write_bytes(make())
    code, err, _ = _flash_cli(capsys, "--port", NO_PORT, "--offset", offset, str(path))
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"securecam: error: {expected}")


def test_cli_missing_file_and_bad_options_are_one_line(tmp_path, capsys):
    code, err, _ = _flash_cli(capsys, "--port", NO_PORT, str(tmp_path / "nope.bin"))
    assert code == 2 and len(err) == 1 and "nope.bin" in err[0]
    code, err, _ = _flash_cli(capsys, "--port", NO_PORT, str(tmp_path))
    assert err == [
        f"securecam: error: No firmware build in {tmp_path}: build it first: cd firmware &&"
        " pio run -e esp32cam (or press Build firmware in the setup wizard)"
    ]
    assert code == 2
    with pytest.raises(SystemExit) as info:
        _parser().parse_args(["flash", "--offset", "zz", "x.bin"])
    assert info.value.code == 2 and "'zz' is not a flash offset" in capsys.readouterr().err


def test_cli_missing_serial_port_is_one_line_after_the_image_check(tmp_path, capsys):
    path = tmp_path / "securecam-esp32cam.bin"
    path.write_bytes(images.merged())
    code, err, _ = _flash_cli(capsys, "--port", NO_PORT, str(path))
    assert code == 2
    assert err == [f"securecam: error: argument --port: serial port '{NO_PORT}' does not exist"]


def test_flasher_checks_images_before_it_opens_the_port():
    with pytest.raises(FlashInputError) as info:
        Flasher(NO_PORT).flash([FlashImage(0, b"# SecureCam\n", "README.md")])
    assert info.value.message.startswith("README.md is not an ESP32 image")
    with pytest.raises(FlashInputError, match="Nothing to flash"):
        Flasher(NO_PORT).flash([])


def test_load_images_checks_what_the_wizard_flashes(tmp_path):
    """The setup wizard and its service flash through `load_images`: the same checks."""
    readme = tmp_path / "README.md"
    readme.write_text("# SecureCam\n")
    with pytest.raises(FlashInputError, match=r"^README\.md is not an ESP32 image"):
        load_images(readme)
    images.fake_build(tmp_path)
    build = tmp_path / "firmware" / ".pio" / "build" / "esp32cam"
    (build / "firmware.bin").write_bytes(images.app(image_class=ESP32S3FirmwareImage))
    with pytest.raises(FlashInputError, match=r"^firmware\.bin is an ESP32-S3 image"):
        load_images(tmp_path)


def test_images_larger_than_the_boards_flash_are_not_written(tmp_path):
    images.fake_build(tmp_path)
    with RomEmulator(flash_size=2 * MB) as emu, pytest.raises(FlashInputError) as info:
        _flasher(emu).flash(load_images(tmp_path))
    assert info.value.message == "bootloader.bin is built for 4 MB of flash, but the board has 2 MB"
    assert 0x02 not in emu.commands and 0x10 not in emu.commands  # no FLASH_(DEFL_)BEGIN
    assert emu.flash.count(0xFF) == len(emu.flash)


def test_command_line_refusal_has_no_traceback(tmp_path):
    """The real entry point, in a subprocess: one line on stderr, exit code 2."""
    readme = tmp_path / "README.md"
    readme.write_text("# SecureCam\n")
    result = subprocess.run(
        [sys.executable, "-m", "app", "flash", "--port", NO_PORT, str(readme)],
        capture_output=True,
        text=True,
        timeout=scaled(120),
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "securecam: error: README.md is not an ESP32 image (first byte 0x23, expected 0xE9)"
    ]
    assert "Traceback" not in result.stdout + result.stderr


# -- a missing build says "build it first" ------------------------------------------------

BUILD_FIRST = (
    "build it first: cd firmware && pio run -e esp32cam (or press Build firmware in the setup"
    " wizard)"
)


def test_cli_without_image_flashes_the_checkouts_build_or_says_build_it_first(
    tmp_path, capsys, monkeypatch
):
    firmware = tmp_path / "firmware"
    firmware.mkdir()
    (firmware / "platformio.ini").write_text("[env:esp32cam]\n")
    assert find_project(tmp_path) == firmware
    monkeypatch.setattr(flash_cli, "CHECKOUT", tmp_path)
    code, err, _ = _flash_cli(capsys, "--port", NO_PORT)
    assert code == 2
    assert err == [
        f"securecam: error: No firmware build in {firmware}/.pio/build/esp32cam: {BUILD_FIRST}"
    ]
    parts = images.fake_build(tmp_path)
    with RomEmulator() as emu:
        code, _, out = _flash_cli(
            capsys, "--port", emu.port, "--no-stub", "--before", "no-reset", "--after", "no-reset"
        )
        assert code == 0 and out.splitlines()[-1].startswith("Flashed ESP32")
        for name, (offset, data) in parts.items():
            assert bytes(emu.flash[offset : offset + len(data)]) == data, name


def test_cli_without_image_outside_a_checkout_asks_for_one(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(flash_cli, "CHECKOUT", tmp_path)
    code, err, _ = _flash_cli(capsys, "--port", NO_PORT)
    assert code == 2 and len(err) == 1 and "pass the merged .bin" in err[0]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("firmware/.pio/build/esp32cam", "No firmware build in {path}: "),
        ("firmware/.pio/build/esp32cam/securecam-esp32cam.bin", "{path} does not exist: "),
        ("securecam-esp32cam.bin", "{path} does not exist: "),
    ],
)
def test_documented_paths_in_a_missing_build_say_build_it_first(tmp_path, capsys, where, expected):
    path = tmp_path / where
    code, err, _ = _flash_cli(capsys, "--port", NO_PORT, str(path))
    assert code == 2
    assert err == [f"securecam: error: {expected.format(path=path)}{BUILD_FIRST}"]


def test_cannot_read_is_only_for_a_file_that_exists(tmp_path):
    with pytest.raises(FlashInputError) as info:
        load_images(tmp_path / "typo.bin")
    assert info.value.message == f"{tmp_path / 'typo.bin'} does not exist."
    with pytest.raises(FlashInputError) as info:
        load_images(Path("/proc/self/mem"))  # there, but reading it fails (EIO), even as root
    assert info.value.message.startswith("Cannot read /proc/self/mem: ")


# -- a board with another chip or less flash: refused before anything is erased -----------


def test_identify_reports_another_chip_and_its_flash_size():
    with RomEmulator(chip="ESP32-S3", flash_size=8 * MB) as emu:
        identity = _flasher(emu).identify()
    assert identity.chip == "ESP32-S3" and identity.flash_size == "8MB"
    assert identity.description.startswith("ESP32-S3")
    assert identity.mac == "24:6f:28:a1:b2:c3"


@pytest.mark.parametrize(
    ("board", "expected"),
    [
        (
            {"chip": "ESP32-S3"},
            "securecam-esp32cam.bin is built for the ESP32, but the board is an ESP32-S3:"
            " flash it to an ESP32 board (the AI-Thinker ESP32-CAM)",
        ),
        (
            {"flash_size": 2 * MB},
            "securecam-esp32cam.bin is built for 4 MB of flash, but the board has 2 MB",
        ),
    ],
)
def test_cli_refuses_a_board_with_another_chip_or_less_flash_before_erasing(
    tmp_path, capsys, board, expected
):
    path = tmp_path / "securecam-esp32cam.bin"
    path.write_bytes(images.merged())
    with RomEmulator(**board) as emu:
        code, err, _ = _flash_cli(
            capsys, "--port", emu.port, "--no-stub", "--before", "no-reset", str(path)
        )
        serial.Serial(emu.port, exclusive=True).close()  # released
    assert code == 2
    assert err == [f"securecam: error: {expected}"]
    assert not {0x02, 0x10} & set(emu.commands)  # no FLASH_BEGIN / FLASH_DEFL_BEGIN
    assert emu.flash.count(0xFF) == len(emu.flash)
