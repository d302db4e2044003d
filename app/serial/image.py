"""What a flash image is, and whether it may be written where it is about to be written.

`check` runs before any serial port opens (`app.serial.flasher.load_images` and
`Flasher.flash` call it), so a README, a file of random bytes, an image for another chip or
an image at the wrong offset is refused with one line that names the file. Pure: no serial
port, no Qt.

The flash layout is the project's (firmware/partitions.csv, firmware/README.md "Flash")::

    0x1000    bootloader.bin   second-stage bootloader: an ESP32 image, RAM segments only
    0x8000    partitions.bin   the partition table: 32-byte entries starting 0xAA 0x50
    0xe000    boot_app0.bin    otadata (0x2000 bytes, erased but for two 32-byte records)
    0x10000   firmware.bin     app0: an ESP32 image with flash-mapped segments
    0x1f0000                   app1

A merged image (``esptool merge_bin``, as firmware/scripts/merge_image.py makes it) holds
them from 0x0 (0xFF up to the bootloader at 0x1000) and is written at 0x0; one merged with
``--target-offset 0x1000`` starts with the bootloader and is written at 0x1000. When a
partition table is written too (as a file of the set, or inside a merged image) its app and
otadata partitions replace the defaults above.

ESP images are parsed with esptool's own `LoadFirmwareImage`; the chip id (extended header,
file offset 12) must be the ESP32's, and the checksum and SHA-256 digest must match, as
``esptool image-info`` checks them. Sizes must fit the flash: the size the board reports
when known, else the one in the bootloader's (or app's) header, else the ESP32-CAM's 4 MB.
Once a board is connected, its chip (esptool's image chip id: ESP32 0, ESP32-S2 2, ESP32-C3 5,
ESP32-S3 9, ...) must be the one the images are built for, and its flash at least as large as
the bootloader's header says.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from esptool.bin_image import ESP32FirmwareImage, LoadFirmwareImage
from esptool.targets import CHIP_DEFS
from esptool.targets.esp32 import ESP32ROM
from esptool.util import FatalError

from app.errors import SecureCamError

MB = 1024 * 1024
DEFAULT_FLASH_SIZE = 4 * MB  # the AI-Thinker ESP32-CAM
SECTOR = 0x1000

ESP_IMAGE_MAGIC = 0xE9
ESP32_CHIP_ID = ESP32ROM.IMAGE_CHIP_ID  # 0x0000
CHIP_ID_OFFSET = 12  # byte 4 of the 16-byte extended header that follows the 8-byte header
APPEND_DIGEST_OFFSET = 23  # its last byte: 0 or 1 (esptool raises a bare RuntimeError else)
BOOTLOADER_OFFSET = ESP32ROM.BOOTLOADER_FLASH_OFFSET  # 0x1000
PARTITION_TABLE_OFFSET = 0x8000
PARTITION_TABLE_MAGIC = b"\xaa\x50"
PARTITION_TABLE_MAX = 0xC00  # ESP-IDF: 95 entries and the MD5 record
PARTITION_MD5_MAGIC = b"\xeb\xeb"
OTADATA_SIZE = 0x2000
OTA_RECORD = 32  # one esp_ota_select_entry_t at the start of each otadata sector

TYPE_APP, TYPE_DATA = 0x00, 0x01
SUBTYPE_OTADATA = 0x00

_ELF_MAGIC = b"\x7fELF"
_FLASH_SIZES = {code >> 4: name for name, code in ESP32ROM.FLASH_SIZES.items()}
_CHIP_NAMES = {
    rom.IMAGE_CHIP_ID: rom.CHIP_NAME
    for rom in CHIP_DEFS.values()
    if getattr(rom, "IMAGE_CHIP_ID", None) is not None
}


class ImageError(SecureCamError):
    """An image is unusable; the message is one line that names the file and the problem.

    `app.serial.flasher` turns it into a `FlashInputError` for the user.
    """


class Kind(Enum):
    MERGED = "a merged image"
    BOOTLOADER = "a bootloader image"
    PARTITION_TABLE = "a partition table"
    OTADATA = "OTA data"
    APP = "an app image"


@dataclass(frozen=True)
class Partition:
    """One partition table entry."""

    label: str
    type: int
    subtype: int
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


# firmware/partitions.csv
DEFAULT_PARTITIONS: tuple[Partition, ...] = (
    Partition("nvs", TYPE_DATA, 0x02, 0x9000, 0x5000),
    Partition("otadata", TYPE_DATA, SUBTYPE_OTADATA, 0xE000, OTADATA_SIZE),
    Partition("app0", TYPE_APP, 0x10, 0x10000, 0x1E0000),
    Partition("app1", TYPE_APP, 0x11, 0x1F0000, 0x1E0000),
    Partition("spiffs", TYPE_DATA, 0x82, 0x3D0000, 0x20000),
    Partition("coredump", TYPE_DATA, 0x03, 0x3F0000, 0x10000),
)


@dataclass(frozen=True)
class Inspected:
    """What one file is. `base`: the flash address a merged image starts at;
    `flash_size`: bytes, from the (bootloader's) header; `partitions`: a table's entries."""

    kind: Kind
    base: int = 0
    flash_size: int | None = None
    partitions: tuple[Partition, ...] = ()


def inspect(data: bytes, name: str) -> Inspected:
    """Say what `data` (the file `name`) is, checking it is whole and made for the ESP32.

    Raises:
        ImageError: it is none of the kinds above, for another chip, truncated or damaged.
    """
    if not data:
        raise ImageError(f"{name} is empty")
    if data[:2] == PARTITION_TABLE_MAGIC:
        return Inspected(Kind.PARTITION_TABLE, partitions=_partition_table(data, name))
    if _is_otadata(data):
        return Inspected(Kind.OTADATA)
    if data[0] == ESP_IMAGE_MAGIC:
        image = _esp_image(data, name)
        table_at = PARTITION_TABLE_OFFSET - BOOTLOADER_OFFSET
        if not _is_app(image) and data[table_at : table_at + 2] == PARTITION_TABLE_MAGIC:
            return _merged(data, name, BOOTLOADER_OFFSET)
        kind = Kind.APP if _is_app(image) else Kind.BOOTLOADER
        return Inspected(kind, flash_size=_header_flash_size(image))
    if (
        len(data) > BOOTLOADER_OFFSET
        and data[BOOTLOADER_OFFSET] == ESP_IMAGE_MAGIC
        and data[:BOOTLOADER_OFFSET].count(0xFF) == BOOTLOADER_OFFSET
    ):
        return _merged(data, name, 0x0)
    if data.startswith(_ELF_MAGIC):
        raise ImageError(
            f"{name} is an ELF file, not an ESP32 image (first byte 0x7F, expected 0xE9):"
            " flash the .bin built from it"
        )
    raise ImageError(f"{name} is not an ESP32 image (first byte 0x{data[0]:02X}, expected 0xE9)")


def check(
    images: Sequence[tuple[int, bytes, str]],
    flash_size: int | None = None,
    chip_id: int | None = None,
) -> None:
    """Check that every ``(offset, data, name)`` is an ESP32 image or table that belongs
    at its offset, fits the flash and its partition, and overlaps no other.

    `flash_size` is the size the board reported, if known; otherwise the size in the
    bootloader's (or app's) header is used, or the ESP32-CAM's 4 MB. `chip_id` is the
    connected board's image chip id (esptool's ``IMAGE_CHIP_ID``), if known.

    Raises:
        ImageError: the first problem found, in one line naming the file.
    """
    found = [(offset, data, name, inspect(data, name)) for offset, data, name in images]
    if chip_id is not None and chip_id != ESP32_CHIP_ID and found:
        raise ImageError(
            f"{found[0][2]} is built for the ESP32, but the board is {chip_name(chip_id)}:"
            " flash it to an ESP32 board (the AI-Thinker ESP32-CAM)"
        )
    tables = [i.partitions for *_, i in found if i.partitions]
    partitions = tables[0] if tables else DEFAULT_PARTITIONS
    size, where = _flash_size(found, flash_size)
    for offset, data, name, info in found:
        _check_placement(offset, len(data), name, info, partitions)
        end = offset + len(data)
        if end > size:
            raise ImageError(
                f"{name} ({len(data)} bytes at {offset:#x}) ends at {end:#x},"
                f" beyond the {size // MB} MB flash {where}"
            )
        for partition in info.partitions:
            if partition.end > size:
                raise ImageError(
                    f"{name}: partition {partition.label} ends at {partition.end:#x},"
                    f" beyond the {size // MB} MB flash {where}"
                )
    spans = sorted((offset, offset + len(data), name) for offset, data, name, _ in found)
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        if end > start:
            raise ImageError(f"{first} (up to {end:#x}) overlaps {second} (from {start:#x})")


def chip_name(chip_id: int) -> str:
    """ "an ESP32-S3" for 9: the chip with that image chip id, with its article."""
    name = _CHIP_NAMES.get(chip_id)
    return f"an {name}" if name else f"a chip with image chip id {chip_id}"


# -- placement ----------------------------------------------------------------------------


def _check_placement(
    offset: int, length: int, name: str, info: Inspected, partitions: Sequence[Partition]
) -> None:
    if offset % SECTOR:
        raise ImageError(
            f"{name}: offset {offset:#x} is not a multiple of the flash sector size (0x1000)"
        )
    if info.kind is Kind.MERGED:
        where: list[int] = [info.base]
    elif info.kind is Kind.BOOTLOADER:
        where = [BOOTLOADER_OFFSET]
    elif info.kind is Kind.PARTITION_TABLE:
        where = [PARTITION_TABLE_OFFSET]
    elif info.kind is Kind.OTADATA:
        where = [p.offset for p in partitions if _is_otadata_partition(p)]
    else:
        where = [p.offset for p in partitions if p.type == TYPE_APP]
    if offset not in where:
        places = " or ".join(f"{at:#x}" for at in where) or "(none in the partition table)"
        raise ImageError(
            f"{name} is {info.kind.value} and must be written at {places}, not at {offset:#x}"
        )
    if info.kind is Kind.BOOTLOADER and offset + length > PARTITION_TABLE_OFFSET:
        raise ImageError(
            f"{name} ({length} bytes at {offset:#x}) runs into the partition table at 0x8000"
        )
    if info.kind is Kind.APP:
        partition = next(p for p in partitions if p.offset == offset and p.type == TYPE_APP)
        if length > partition.size:
            raise ImageError(
                f"{name} ({length} bytes) is larger than its partition {partition.label}"
                f" ({partition.size} bytes at {partition.offset:#x})"
            )


def _flash_size(
    found: Sequence[tuple[int, bytes, str, Inspected]], reported: int | None
) -> tuple[int, str]:
    """The flash size to check against, and words saying where it comes from."""
    headers = [
        (info.flash_size, name, info.kind is Kind.APP)
        for *_, name, info in found
        if info.flash_size is not None
    ]
    # the bootloader's header (alone or in a merged image) decides, else an app's
    headers.sort(key=lambda header: header[2])
    declared = headers[0][:2] if headers else None
    if reported is None:
        if declared is None:
            return DEFAULT_FLASH_SIZE, "of an ESP32-CAM"
        return declared[0], f"that {declared[1]}'s header sets"
    if declared is not None and declared[0] > reported:
        raise ImageError(
            f"{declared[1]} is built for {declared[0] // MB} MB of flash,"
            f" but the board has {reported // MB} MB"
        )
    return reported, "the board has"


def _is_otadata_partition(partition: Partition) -> bool:
    return partition.type == TYPE_DATA and partition.subtype == SUBTYPE_OTADATA


# -- kinds --------------------------------------------------------------------------------


def _esp_image(data: bytes, name: str) -> ESP32FirmwareImage:
    """Parse an ESP32 image with esptool and verify chip id, checksum and digest."""
    if len(data) <= APPEND_DIGEST_OFFSET:
        raise ImageError(f"{name} is not a valid ESP32 image (truncated header)")
    (chip_id,) = struct.unpack_from("<H", data, CHIP_ID_OFFSET)
    if chip_id != ESP32_CHIP_ID:
        chip = _CHIP_NAMES.get(chip_id)
        what = f"an {chip} image" if chip else "an image for an unknown chip"
        raise ImageError(f"{name} is {what} (chip id {chip_id}), not for the ESP32 (chip id 0)")
    bad_header = f"{name} is not a valid ESP32 image (truncated or bad header)"
    if data[APPEND_DIGEST_OFFSET] not in (0, 1):
        raise ImageError(bad_header)
    try:
        image = LoadFirmwareImage("esp32", data)
    except FatalError as exc:
        raise ImageError(f"{name} is not a valid ESP32 image ({exc})") from None
    except (struct.error, ValueError, TypeError):
        raise ImageError(bad_header) from None
    if image.checksum != image.calculate_checksum():
        raise ImageError(f"{name} is a damaged ESP32 image (checksum mismatch)")
    if image.append_digest and image.stored_digest != image.calc_digest:
        raise ImageError(f"{name} is a damaged ESP32 image (SHA-256 digest mismatch)")
    return image


def _is_app(image: ESP32FirmwareImage) -> bool:
    """An app maps segments from flash (IROM/DROM); the bootloader runs from RAM only."""
    return any(image.is_flash_addr(segment.addr) for segment in image.segments)


def _header_flash_size(image: ESP32FirmwareImage) -> int | None:
    name = _FLASH_SIZES.get(image.flash_size_freq >> 4)
    return None if name is None else int(name.removesuffix("MB")) * MB


def _merged(data: bytes, name: str, base: int) -> Inspected:
    """A merged image starting at flash address `base`: check what it holds."""
    boot_at = BOOTLOADER_OFFSET - base
    bootloader = _esp_image(data[boot_at:], f"{name} (its bootloader at 0x1000)")
    if _is_app(bootloader):
        raise ImageError(f"{name} holds an app image at 0x1000 where the bootloader belongs")
    table_at = PARTITION_TABLE_OFFSET - base
    if len(data) <= table_at:
        partitions: tuple[Partition, ...] = ()
    elif data[table_at : table_at + 2] != PARTITION_TABLE_MAGIC:
        raise ImageError(f"{name} is a merged image without a partition table at 0x8000")
    else:
        table = data[table_at : table_at + PARTITION_TABLE_MAX]
        partitions = _partition_table(table, f"{name} (its partition table)")
    for partition in partitions:
        if partition.type != TYPE_APP:
            continue
        content = data[partition.offset - base : partition.end - base]
        if not content or content.count(0xFF) == len(content):
            continue  # not part of this image, or erased
        label = f"{name} (its app at {partition.offset:#x})"
        if not _is_app(_esp_image(content, label)):
            raise ImageError(f"{label} is not an app image")
    return Inspected(
        Kind.MERGED, base, flash_size=_header_flash_size(bootloader), partitions=partitions
    )


def _partition_table(data: bytes, name: str) -> tuple[Partition, ...]:
    """The entries of a compiled ESP-IDF partition table (gen_esp32part.py's format)."""
    rest = data[PARTITION_TABLE_MAX:]
    if len(data) > SECTOR or rest.count(0xFF) != len(rest):
        raise ImageError(f"{name} is longer than a partition table ({PARTITION_TABLE_MAX:#x})")
    partitions = []
    for at in range(0, min(len(data), PARTITION_TABLE_MAX), 32):
        entry = data[at : at + 32]
        if entry[:2] == PARTITION_TABLE_MAGIC and len(entry) == 32:
            _, type_, subtype, offset, size, label, _flags = struct.unpack("<2sBBII16sI", entry)
            text = label.rstrip(b"\0").decode("ascii", "replace")
            partitions.append(Partition(text, type_, subtype, offset, size))
        elif entry[:2] == PARTITION_MD5_MAGIC:
            if entry[16:] != hashlib.md5(data[:at]).digest():
                raise ImageError(f"{name} is a damaged partition table (MD5 mismatch)")
        elif entry.count(0xFF) == len(entry):
            break
        else:
            raise ImageError(f"{name} is not a valid partition table (bad entry at {at:#x})")
    return tuple(partitions)


def _is_otadata(data: bytes) -> bool:
    """Erased otadata (boot_app0.bin): 0x2000 bytes of 0xFF but for the two OTA records."""
    if len(data) != OTADATA_SIZE:
        return False
    filler = data[OTA_RECORD:SECTOR] + data[SECTOR + OTA_RECORD :]
    return filler.count(0xFF) == len(filler)
