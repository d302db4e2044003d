"""What `securecam flash` and the setup wizard refuse to write, and what they accept."""

from __future__ import annotations

import random

import pytest
from esptool.bin_image import ESP32S3FirmwareImage

from app.serial import image
from app.serial.image import DEFAULT_PARTITIONS, ImageError, Kind, check, inspect
from tests.serial import images

FLASH_2MB = 0x10
README = b"# SecureCam\n\nEncrypted streaming from ESP32-CAM modules.\n"


def refused(*placed: tuple[int, bytes, str], flash_size: int | None = None) -> str:
    with pytest.raises(ImageError) as info:
        check(list(placed), flash_size)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_default_layout_is_the_firmware_partition_table():
    assert [
        (p.label, p.type, p.subtype, p.offset, p.size) for p in DEFAULT_PARTITIONS
    ] == images.project_partitions()


def test_a_complete_build_at_its_offsets_is_accepted():
    parts = images.build_parts()
    check([(offset, data, name) for name, (offset, data) in parts.items()])
    kinds = {name: inspect(data, name).kind for name, (_, data) in parts.items()}
    assert kinds == {
        "bootloader.bin": Kind.BOOTLOADER,
        "partitions.bin": Kind.PARTITION_TABLE,
        "boot_app0.bin": Kind.OTADATA,
        "firmware.bin": Kind.APP,
    }


def test_esptool_merged_images_are_recognized_and_placed():
    at_zero = images.merged()
    info = inspect(at_zero, "securecam-esp32cam.bin")
    assert (info.kind, info.base, info.flash_size) == (Kind.MERGED, 0, 4 * image.MB)
    assert info.partitions == DEFAULT_PARTITIONS
    check([(0x0, at_zero, "securecam-esp32cam.bin")])
    from_bootloader = images.merged(target_offset=0x1000)
    assert inspect(from_bootloader, "m.bin").base == 0x1000
    check([(0x1000, from_bootloader, "m.bin")])
    assert refused((0x0, from_bootloader, "m.bin")) == (
        "m.bin is a merged image and must be written at 0x1000, not at 0x0"
    )


@pytest.mark.parametrize(
    ("offset", "data", "name", "expected"),
    [
        (
            0x0,
            README,
            "README.md",
            "README.md is not an ESP32 image (first byte 0x23, expected 0xE9)",
        ),
        (
            0x0,
            b"\xfd" + random.Random(3).randbytes(5000),
            "noise.bin",
            "noise.bin is not an ESP32 image (first byte 0xFD, expected 0xE9)",
        ),
        (0x0, b"\x7fELF" + bytes(60), "firmware.elf", "firmware.elf is an ELF file"),
        (
            0x10000,
            images.merged(),
            "merged.bin",
            "merged.bin is a merged image and must be written at 0x0, not at 0x10000",
        ),
        (
            0x0,
            images.app(),
            "firmware.bin",
            "firmware.bin is an app image and must be written at 0x10000 or 0x1f0000, not at 0x0",
        ),
        (
            0x1000,
            images.app(),
            "firmware.bin",
            "firmware.bin is an app image and must be written at 0x10000 or 0x1f0000, not at"
            " 0x1000",
        ),
        (
            0x0,
            images.bootloader(),
            "bootloader.bin",
            "bootloader.bin is a bootloader image and must be written at 0x1000, not at 0x0",
        ),
        (
            0x10000,
            images.bootloader(),
            "bootloader.bin",
            "must be written at 0x1000, not at 0x10000",
        ),
        (
            0x0,
            images.partition_table(),
            "partitions.bin",
            "partitions.bin is a partition table and must be written at 0x8000, not at 0x0",
        ),
        (
            0x10000,
            images.otadata(),
            "boot_app0.bin",
            "boot_app0.bin is OTA data and must be written at 0xe000",
        ),
        (
            0x10800,
            images.app(),
            "firmware.bin",
            "offset 0x10800 is not a multiple of the flash sector size",
        ),
        (
            0x10000,
            images.app(image_class=ESP32S3FirmwareImage),
            "s3.bin",
            "s3.bin is an ESP32-S3 image (chip id 9), not for the ESP32 (chip id 0)",
        ),
        (
            0x1000,
            images.bootloader(image_class=ESP32S3FirmwareImage),
            "s3-bootloader.bin",
            "is an ESP32-S3 image (chip id 9)",
        ),
        (
            0x10000,
            images.app()[:-100],
            "short.bin",
            "short.bin is not a valid ESP32 image (End of file",
        ),
        (0x10000, b"", "empty.bin", "empty.bin is empty"),
    ],
)
def test_refused_with_one_line_naming_the_file(offset, data, name, expected):
    assert expected in refused((offset, data, name))


def test_damaged_images_are_refused():
    app = bytearray(images.app())
    app[200] ^= 0xFF  # segment data: the checksum no longer matches
    assert "damaged ESP32 image (checksum mismatch)" in refused((0x10000, bytes(app), "a.bin"))
    app = bytearray(images.app())
    app[2] = 0x03  # flash mode (DOUT): only the SHA-256 digest covers the header
    assert "damaged ESP32 image (SHA-256 digest mismatch)" in refused(
        (0x10000, bytes(app), "a.bin")
    )
    table = bytearray(images.partition_table())
    table[32 + 4] ^= 0x01  # otadata offset: the MD5 record no longer matches
    assert "damaged partition table (MD5 mismatch)" in refused((0x8000, bytes(table), "p.bin"))


def test_malformed_headers_are_refused():
    app = bytearray(images.app())
    app[image.APPEND_DIGEST_OFFSET] = 2  # neither 0 nor 1: esptool would raise RuntimeError
    assert "not a valid ESP32 image (truncated or bad header)" in refused(
        (0x10000, bytes(app), "a.bin")
    )
    assert "not a valid ESP32 image (truncated header)" in refused(
        (0x10000, images.app()[: image.APPEND_DIGEST_OFFSET], "a.bin")
    )


def test_merged_image_contents_are_checked():
    parts = images.build_parts()
    parts["firmware.bin"] = (0x10000, images.app(image_class=ESP32S3FirmwareImage))
    message = refused((0x0, images.merged(parts), "m.bin"))
    assert message.startswith("m.bin (its app at 0x10000) is an ESP32-S3 image")
    parts = images.build_parts()
    parts["bootloader.bin"] = (0x1000, images.app(6000))
    assert "app image at 0x1000 where the bootloader belongs" in refused(
        (0x0, images.merged(parts), "m.bin")
    )


def test_sizes_must_fit_the_partition_and_the_flash():
    big = images.app(0x1E0000 + 0x100)
    assert "is larger than its partition app0 (1966080 bytes at 0x10000)" in refused(
        (0x10000, big, "big.bin")
    )
    bootloader = images.bootloader(0x7800)
    assert "runs into the partition table at 0x8000" in refused((0x1000, bootloader, "bl.bin"))
    # the bootloader's header says 2 MB: app1 at 0x1f0000 does not fit
    small = images.bootloader(flash=FLASH_2MB)
    message = refused((0x1000, small, "bl.bin"), (0x1F0000, images.app(0x20000), "fw.bin"))
    assert message.startswith("fw.bin (")
    assert "beyond the 2 MB flash that bl.bin's header sets" in message
    # so do the partitions of the project's (4 MB) table
    message = refused((0x1000, small, "bl.bin"), (0x8000, images.partition_table(), "p.bin"))
    assert "p.bin: partition app1 ends at 0x3d0000, beyond the 2 MB flash" in message


def test_the_flash_size_the_board_reports_wins():
    parts = images.build_parts()
    placed = [(offset, data, name) for name, (offset, data) in parts.items()]
    check(placed, flash_size=8 * image.MB)
    assert refused(*placed, flash_size=2 * image.MB) == (
        "bootloader.bin is built for 4 MB of flash, but the board has 2 MB"
    )
    assert refused((0x10000, images.app(), "fw.bin"), flash_size=2 * image.MB) == (
        "fw.bin is built for 4 MB of flash, but the board has 2 MB"  # it would not boot
    )
    assert "beyond the 2 MB flash the board has" in refused(
        (0x1F0000, images.app(0x20000, flash=FLASH_2MB), "fw.bin"), flash_size=2 * image.MB
    )


def test_a_partition_table_written_along_decides_where_apps_go():
    rows = [
        ("otadata", 0x01, 0x00, 0xD000, 0x2000),
        ("factory", 0x00, 0x00, 0x20000, 0x100000),
    ]
    table = images.partition_table(rows)
    check([(0x8000, table, "p.bin"), (0x20000, images.app(), "fw.bin")])
    check([(0x8000, table, "p.bin"), (0xD000, images.otadata(), "ota.bin")])
    assert "must be written at 0x20000, not at 0x10000" in refused(
        (0x8000, table, "p.bin"), (0x10000, images.app(), "fw.bin")
    )


def test_overlapping_images_are_refused():
    message = refused((0x0, images.merged(), "m.bin"), (0x10000, images.app(), "fw.bin"))
    assert message.startswith("m.bin (up to 0x") and "overlaps fw.bin (from 0x10000)" in message
