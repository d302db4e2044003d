"""Frame sizes and the JPEG buffer limit: the Python rule, its agreement with the firmware core's
(libsecurecam_core.so through ctypes) and with the table in docs/JPEG-BUFFER.md."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import pytest

from app.protocol.framesize import (
    JPEG_BUFFER_NO_PSRAM,
    JPEG_BUFFER_PSRAM,
    JPEG_QUALITY_MAX,
    JPEG_QUALITY_MIN,
    FrameSize,
    jpeg_buffer_bytes,
    jpeg_quality_in_force,
    jpeg_worst_bytes,
    min_jpeg_quality,
)

ROOT = Path(__file__).resolve().parents[2]
BUFFERS = (JPEG_BUFFER_PSRAM, JPEG_BUFFER_NO_PSRAM)
QUALITIES = range(JPEG_QUALITY_MIN, JPEG_QUALITY_MAX + 1)
_U8, _U32 = ctypes.c_uint8, ctypes.c_uint32


@pytest.fixture(scope="module")
def core(firmware_build: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(firmware_build / "libsecurecam_core.so"))
    signatures = {
        "sc_config_frame_pixels": ([_U8], _U32),
        "sc_config_jpeg_buffer_bytes": ([_U8], _U32),
        "sc_config_jpeg_worst_bytes": ([_U8, _U8], _U32),
        "sc_config_min_jpeg_quality": ([_U8, _U32], _U8),
        "sc_config_jpeg_quality_in_force": ([_U8, _U8, _U32], _U8),
    }
    for name, (argtypes, restype) in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, restype
    return lib


def test_the_buffers_are_what_the_driver_allocates_for_the_init_size() -> None:
    assert jpeg_buffer_bytes(FrameSize.UXGA) == JPEG_BUFFER_PSRAM == 384_000
    assert jpeg_buffer_bytes(FrameSize.CIF) == JPEG_BUFFER_NO_PSRAM == 23_680


@pytest.mark.parametrize("buffer", BUFFERS)
def test_every_quality_from_the_floor_up_fits_and_the_one_below_does_not(buffer: int) -> None:
    usable = buffer // 1024 * 1024  # the driver holds whole 1,024-byte DMA pieces only
    for size in FrameSize:
        lowest = min_jpeg_quality(size, buffer)
        if lowest is None:
            assert jpeg_worst_bytes(size, JPEG_QUALITY_MAX) > usable
            continue
        assert all(jpeg_worst_bytes(size, q) <= usable for q in range(lowest, 64))
        if lowest > JPEG_QUALITY_MIN:
            assert jpeg_worst_bytes(size, lowest - 1) > usable


def test_a_quality_below_the_floor_is_raised_to_it_and_others_are_kept() -> None:
    assert jpeg_quality_in_force(FrameSize.UXGA, 4) == 17
    assert jpeg_quality_in_force(FrameSize.UXGA, 12) == 17
    assert jpeg_quality_in_force(FrameSize.UXGA, 20) == 20
    assert jpeg_quality_in_force(FrameSize.VGA, 4) == 4
    assert jpeg_quality_in_force(FrameSize.CIF, 12, JPEG_BUFFER_NO_PSRAM) == 18
    assert jpeg_quality_in_force(FrameSize.VGA, 99) == JPEG_QUALITY_MAX


def test_a_quality_outside_the_scale_has_no_worst_case() -> None:
    with pytest.raises(ValueError, match="4-63"):
        jpeg_worst_bytes(FrameSize.VGA, 3)


def test_the_documented_table_is_what_the_rule_computes() -> None:
    text = (ROOT / "docs" / "JPEG-BUFFER.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\w+) \d+×\d+ \| ([\d,]+) \| (.+) \|$", text, re.MULTILINE)
    assert [name for name, _, _ in rows] == [size.name for size in FrameSize]
    for name, pixels, rest in rows:
        size = FrameSize[name]
        assert int(pixels.replace(",", "")) == size.pixels
        cells = [cell.strip().replace(",", "") for cell in rest.split("|")]
        for buffer, (floor, worst) in zip(BUFFERS, (cells[0:2], cells[2:4]), strict=True):
            lowest = min_jpeg_quality(size, buffer)
            if floor == "—":
                # Sizes a board without PSRAM does not offer (it caps them at CIF).
                assert buffer == JPEG_BUFFER_NO_PSRAM and size > FrameSize.CIF
                continue
            assert lowest == int(floor), name
            assert jpeg_worst_bytes(size, lowest) == int(worst), name


def test_c_core_and_python_agree_on_pixels_buffers_and_worst_case_bytes(
    core: ctypes.CDLL,
) -> None:
    for size in FrameSize:
        assert core.sc_config_frame_pixels(size) == size.pixels
        assert core.sc_config_jpeg_buffer_bytes(size) == jpeg_buffer_bytes(size)
        for quality in QUALITIES:  # every entry of the C table against the Python formula
            assert core.sc_config_jpeg_worst_bytes(size, quality) == jpeg_worst_bytes(
                size, quality
            ), (size.name, quality)


def test_c_core_and_python_agree_on_the_floor_for_every_size_and_buffer(
    core: ctypes.CDLL,
) -> None:
    # Both real buffers, then a sweep that does not fall on DMA-piece boundaries.
    for buffer in (*BUFFERS, *range(0, 1_200_000, 4_099)):
        for size in FrameSize:
            want = min_jpeg_quality(size, buffer) or 0  # C says 0 for "nothing fits"
            assert core.sc_config_min_jpeg_quality(size, buffer) == want, (size.name, buffer)


def test_c_core_and_python_agree_on_the_quality_in_force(core: ctypes.CDLL) -> None:
    for buffer in BUFFERS:
        for size in FrameSize:
            for quality in range(0, 70):
                assert core.sc_config_jpeg_quality_in_force(
                    size, quality, buffer
                ) == jpeg_quality_in_force(size, quality, buffer), (size.name, quality)
