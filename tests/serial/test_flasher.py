"""Real esptool (ROM loader, no stub) against the emulated ESP32 in tests/serial/rom_emulator.py."""

from __future__ import annotations

import os
import random

import pytest
import serial

from app.serial import cli as flash_cli
from app.serial.flasher import (
    BOOT_MODE_DIAGRAM,
    GUIDANCE_BOOT_MODE,
    GUIDANCE_BUSY,
    GUIDANCE_MD5,
    GUIDANCE_WIRING,
    FlashCancelled,
    Flasher,
    FlashError,
    FlashImage,
    find_build,
    load_images,
    missing_optional,
)
from tests.serial.rom_emulator import RomEmulator

MAC = bytes.fromhex("246f28a1b2c3")


def _data(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return b"\x00" + bytes(rng.getrandbits(8) for _ in range(size - 1))  # not 0xE9 (image magic)


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
    image = _data(128 * 1024, 1)
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
    build.mkdir(parents=True)
    parts = {
        "bootloader.bin": (0x1000, _data(20000, 2)),
        "partitions.bin": (0x8000, _data(3072, 3)),
        "firmware.bin": (0x10000, _data(90000, 4)),
    }
    for name, (_, data) in parts.items():
        (build / name).write_bytes(data)
    assert find_build(tmp_path) == build
    assert missing_optional(tmp_path) == ["boot_app0.bin"]
    (build / "boot_app0.bin").write_bytes(_data(8192, 5))
    parts["boot_app0.bin"] = (0xE000, (build / "boot_app0.bin").read_bytes())
    images = load_images(tmp_path)
    assert [(i.name, i.offset) for i in images] == [
        ("bootloader.bin", 0x1000),
        ("partitions.bin", 0x8000),
        ("boot_app0.bin", 0xE000),
        ("firmware.bin", 0x10000),
    ]
    progress: list[tuple[int, int]] = []
    _flasher(emulator, on_progress=lambda d, t: progress.append((d, t))).flash(images)
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
            _flasher(emu).flash([FlashImage(0, _data(4096, 6), "x.bin")])
        serial.Serial(emu.port, exclusive=True).close()  # closed again
    assert info.value.guidance == GUIDANCE_WIRING
    assert "No serial data received" in info.value.message


def test_wrong_boot_mode_gets_io0_guidance():
    with RomEmulator("wrong_boot") as emu, pytest.raises(FlashError) as info:
        _flasher(emu).flash([FlashImage(0, _data(4096, 7), "x.bin")])
    assert info.value.message == "Wrong boot mode detected (0x13)."
    assert info.value.guidance == GUIDANCE_BOOT_MODE
    assert BOOT_MODE_DIAGRAM in info.value.guidance
    assert os.path.exists(BOOT_MODE_DIAGRAM)


def test_md5_mismatch_retries_at_lower_baud_then_explains():
    logs: list[str] = []
    with RomEmulator("corrupt") as emu, pytest.raises(FlashError) as info:
        _flasher(emu, on_log=logs.append).flash([FlashImage(0, _data(16384, 8), "x.bin")])
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
        image = _data(256 * 1024, 9)

        def progress(done: int, total: int) -> None:
            if done > total // 4:
                flasher.cancel()

        flasher.on_progress = progress
        with pytest.raises(FlashCancelled):
            flasher.flash([FlashImage(0, image, "x.bin")])
        assert 0x13 not in emu.commands  # stopped before verifying
        serial.Serial(emu.port, exclusive=True).close()  # the port is free again
        assert _flasher(emu).identify().chip == "ESP32"  # and usable


def test_cli_flash(tmp_path, capsys):
    image = _data(8192, 10)
    path = tmp_path / "fw.bin"
    path.write_bytes(image)
    with RomEmulator() as emu:
        parser = _parser()
        args = parser.parse_args(
            [
                "flash",
                "--port",
                emu.port,
                "--no-stub",
                "--before",
                "no-reset",
                "--after",
                "no-reset",
                str(path),
            ]
        )
        assert args.handler(args) == 0
        assert bytes(emu.flash[: len(image)]) == image
    assert "100 %" in capsys.readouterr().err


def test_cli_flash_failure_exit_1(tmp_path, capsys):
    path = tmp_path / "fw.bin"
    path.write_bytes(b"\x00" * 4096)
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
