"""Real ESP32 flash images for tests, made with esptool's own image writer and merge_bin.

`bootloader`/`app` build images segment by segment (an app has flash-mapped IROM/DROM
segments, a bootloader RAM segments only) with random contents; `partition_table` compiles
firmware/partitions.csv as ESP-IDF's gen_esp32part.py does (32-byte entries, MD5 record,
0xFF to 0xC00); `otadata` is an erased otadata selecting app0, like the Arduino core's
boot_app0.bin; `merged` is ``esptool merge_bin``; `fake_build` writes a PlatformIO-like build
directory of all four.
"""

from __future__ import annotations

import csv
import hashlib
import random
import struct
import zlib
from pathlib import Path

from esptool import cmds
from esptool.bin_image import ELFSection, ESP32FirmwareImage

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS_CSV = ROOT / "firmware" / "partitions.csv"
FLASH_4MB = 0x20  # header byte 3: flash size in the high nibble (0x20 = 4 MB), 40 MHz

BUILD_OFFSETS = {
    "bootloader.bin": 0x1000,
    "partitions.bin": 0x8000,
    "boot_app0.bin": 0xE000,
    "firmware.bin": 0x10000,
}


def _bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _save(image: ESP32FirmwareImage, sections: list[tuple[int, bytes]], flash: int) -> bytes:
    image.segments = [
        ELFSection(b".s%d" % i, addr, data, 0) for i, (addr, data) in enumerate(sections)
    ]
    image.entrypoint = 0x40080400
    image.flash_mode = 2  # DIO
    image.flash_size_freq = flash
    data = image.save(None)
    assert data is not None
    return data


def bootloader(
    size: int = 6000, seed: int = 1, image_class: type = ESP32FirmwareImage, flash: int = FLASH_4MB
) -> bytes:
    """A second-stage-bootloader-like image: DRAM and IRAM segments only."""
    half = size // 2 & ~3
    sections = [(0x3FFF0030, _bytes(half, seed)), (0x40078000, _bytes(half, seed + 1))]
    return _save(image_class(), sections, flash)


def app(
    size: int = 40000, seed: int = 2, image_class: type = ESP32FirmwareImage, flash: int = FLASH_4MB
) -> bytes:
    """An application-like image: DROM and IROM (flash-mapped) plus DRAM segments."""
    third = size // 3 & ~3
    sections = [
        (0x3F400020, _bytes(third, seed)),
        (0x3FFB0000, _bytes(third, seed + 1)),
        (0x400D0020, _bytes(third, seed + 2)),
    ]
    return _save(image_class(), sections, flash)


def project_partitions() -> list[tuple[str, int, int, int, int]]:
    """(label, type, subtype, offset, size) rows of firmware/partitions.csv."""
    types = {"app": 0x00, "data": 0x01}
    subtypes = {
        "nvs": 0x02,
        "ota": 0x00,
        "ota_0": 0x10,
        "ota_1": 0x11,
        "spiffs": 0x82,
        "coredump": 0x03,
        "factory": 0x00,
    }
    rows = []
    with PARTITIONS_CSV.open() as f:
        lines = [line for line in f if line.strip() and not line.lstrip().startswith("#")]
    for row in csv.reader(lines):
        name, type_, subtype, offset, size = (cell.strip() for cell in row[:5])
        rows.append((name, types[type_], subtypes[subtype], int(offset, 0), int(size, 0)))
    return rows


def partition_table(rows: list[tuple[str, int, int, int, int]] | None = None) -> bytes:
    """Compiled like gen_esp32part.py: entries, the MD5 record, 0xFF up to 0xC00."""
    table = b"".join(
        struct.pack("<2sBBII16sI", b"\xaa\x50", type_, subtype, offset, size, name.encode(), 0)
        for name, type_, subtype, offset, size in (rows or project_partitions())
    )
    table += b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(table).digest()
    return table + b"\xff" * (0xC00 - len(table))


def otadata() -> bytes:
    """Erased otadata with one record, ota_seq 1: boot app0 (what boot_app0.bin does)."""
    seq = struct.pack("<I", 1)
    record = seq + b"\xff" * 20 + struct.pack("<II", 0xFFFFFFFF, zlib.crc32(seq))
    return record + b"\xff" * (0x2000 - len(record))


def build_parts(app_size: int = 40000) -> dict[str, tuple[int, bytes]]:
    """name: (offset, data) of a complete build."""
    contents = {
        "bootloader.bin": bootloader(),
        "partitions.bin": partition_table(),
        "boot_app0.bin": otadata(),
        "firmware.bin": app(app_size),
    }
    return {name: (BUILD_OFFSETS[name], data) for name, data in contents.items()}


def merged(parts: dict[str, tuple[int, bytes]] | None = None, target_offset: int = 0) -> bytes:
    """``esptool merge_bin`` of `parts` (default: `build_parts`), keeping flash settings."""
    parts = parts or build_parts()
    data = cmds.merge_bin(sorted(parts.values()), "esp32", None, target_offset=target_offset)
    assert data is not None
    return data


def fake_build(root: Path, *, boot_app0: bool = True) -> dict[str, tuple[int, bytes]]:
    """A PlatformIO-like build dir under `root` (firmware/.pio/build/esp32cam)."""
    build = root / "firmware" / ".pio" / "build" / "esp32cam"
    build.mkdir(parents=True)
    parts = build_parts()
    if not boot_app0:
        del parts["boot_app0.bin"]
    for name, (_, data) in parts.items():
        (build / name).write_bytes(data)
    return parts
