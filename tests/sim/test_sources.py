"""Frame sources of the simulated camera: synthetic scene, prerendered frames, JPEG directory."""

from __future__ import annotations

import io
import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.protocol.framesize import (
    FrameSize,
    jpeg_buffer_bytes,
    jpeg_quality_in_force,
    jpeg_worst_bytes,
)
from app.sim.camera import jpeg_quality
from app.sim.sources import (
    _WALK_FRAMES,
    DirectorySource,
    FrameSource,
    PrerenderedSource,
    SourceError,
    SyntheticSource,
    jpeg_dimensions,
    open_source,
    write_sample_frames,
)


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(decode(data).convert("RGB"), dtype=np.int16)


def jpeg_bytes(width: int, height: int, colour: tuple[int, int, int], **save_args) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "JPEG", **save_args)
    return buf.getvalue()


# --------------------------------------------------------------------------- synthetic

DEFAULT_QUALITY = jpeg_quality(12)  # what a simulated camera uses unless told otherwise
NOW = 1_700_000_000.0


def below_overlay(source: SyntheticSource, frame: np.ndarray) -> np.ndarray:
    """The frame without the rows of the overlay bar and above it."""
    return frame[source._bar_top + source._bar_height :]


def time_free(source: SyntheticSource) -> np.ndarray:
    """True where the pixels depend on nothing but the seed and the frame number: all but the
    overlay bar and the clock."""
    mask = np.ones((source.height, source.width), dtype=bool)
    mask[source._bar_top : source._bar_top + source._bar_height] = False
    cx, cy, r = source._view.clock
    mask[int(cy - r) - 2 : int(cy + r) + 3, int(cx - r) - 2 : int(cx + r) + 3] = False
    return mask


def walk_extremes(source: SyntheticSource) -> list[int]:
    """Frame numbers at which the walker is at either end of the path, either way round."""
    period = 2 * _WALK_FRAMES
    start = -source._walk_offset % period
    return [start, start + 1, start + _WALK_FRAMES, start + _WALK_FRAMES + 1, start + period - 1]


@pytest.mark.parametrize("size", list(FrameSize), ids=lambda size: size.name.lower())
def test_synthetic_frames_are_jpegs_of_the_requested_size_at_either_end_of_the_walk(
    size: FrameSize,
):
    for seed in (0, 1):  # the odd seed sees the room mirrored
        source = SyntheticSource(size, seed=seed, label="cam")
        for number in walk_extremes(source):
            assert source.render(number, NOW).shape == (size.height, size.width, 3)
    data = source.next_frame()
    image = decode(data)
    assert image.format == "JPEG"
    assert image.size == (size.width, size.height)
    assert (source.width, source.height) == (size.width, size.height)
    assert data.endswith(b"\xff\xd9")


def test_vga_frames_at_the_default_quality_stay_between_15_and_60_kb_like_an_esp32_cam():
    source = SyntheticSource(FrameSize.VGA, quality=DEFAULT_QUALITY, label="cam-01")
    sizes = [len(source.next_frame()) for _ in range(30)]
    assert all(15 * 1024 <= n <= 60 * 1024 for n in sizes), sizes


def test_frames_shrink_as_the_esp32_quality_number_rises_like_a_real_jpeg():
    def typical(quality: int) -> int:
        return len(SyntheticSource(FrameSize.VGA, quality=jpeg_quality(quality)).next_frame())

    q12, q20, q30 = typical(12), typical(20), typical(30)
    assert q12 > q20 > q30
    # The sensor grain and texture make the bytes follow the quality, not only the edges.
    assert q12 > 1.3 * q30


def test_uxga_frames_fit_the_jpeg_buffer_at_its_floor_yet_overwhelm_a_2_mbit_link():
    floor = jpeg_quality_in_force(FrameSize.UXGA, 12)  # the lowest quality number UXGA runs at
    source = SyntheticSource(FrameSize.UXGA, quality=jpeg_quality(floor), label="cam-01")
    sizes = [len(source.next_frame()) for _ in range(3)]
    assert max(sizes) < jpeg_worst_bytes(FrameSize.UXGA, floor) <= jpeg_buffer_bytes(FrameSize.UXGA)
    # The adaptive-quality tests rely on this: 25 fps of them need far more than 2 Mbit/s.
    assert min(sizes) * 8 * 25 > 3 * 2_000_000


def test_frame_bytes_grow_with_resolution():
    def typical(size: FrameSize) -> int:
        return len(SyntheticSource(size).next_frame())

    qvga, vga, uxga = typical(FrameSize.QVGA), typical(FrameSize.VGA), typical(FrameSize.UXGA)
    assert qvga < vga / 2
    assert uxga > vga * 3


@pytest.mark.parametrize("size", [FrameSize.QQVGA, FrameSize.VGA], ids=["qqvga", "vga"])
def test_the_picture_below_the_overlay_changes_every_frame_at_the_same_time(size: FrameSize):
    source = SyntheticSource(size)
    frames = [below_overlay(source, source.render(n, NOW)) for n in range(2 * _WALK_FRAMES + 2)]
    for number, (before, after) in enumerate(itertools.pairwise(frames)):
        assert not np.array_equal(before, after), f"frames {number} and {number + 1}"


def test_someone_walks_across_the_room_and_back():
    source = SyntheticSource(FrameSize.VGA)
    still = time_free(source)
    still[source._view.window[1] : source._view.window[3]] = False  # the clouds move too
    background = source._view.background.astype(np.int16)

    def walker_x(number: int) -> float:
        changed = (np.abs(source.render(number, NOW) - background).max(axis=-1) > 40) & still
        assert changed.sum() > 2000  # a person, not a speck
        return float(np.nonzero(changed)[1].mean())

    there = [walker_x(n) for n in (5, 60, 115)]
    back = [walker_x(n) for n in (125, 180, 235)]
    assert there == sorted(there) and there[-1] - there[0] > source.width / 2
    assert back == sorted(back, reverse=True) and back[0] - back[-1] > source.width / 2


def test_the_wall_clock_shows_the_local_time():
    source = SyntheticSource(FrameSize.VGA)
    cx, cy, r = source._view.clock

    def grey(frame: np.ndarray, dx: float, dy: float) -> float:
        return float(frame[round(cy + dy * r), round(cx + dx * r)].mean())

    def at(hour: int, minute: int, second: int = 0) -> np.ndarray:
        return source.render(1, time.mktime((2026, 1, 5, hour, minute, second, 0, 0, -1)))

    three, nine, half_past = at(3, 0), at(9, 0), at(9, 30)
    # The hour hand points right at three, left at nine; the face shows where it is not.
    assert grey(three, 0.35, 0) < 100 < 180 < grey(three, -0.35, 0)
    assert grey(nine, -0.35, 0) < 100 < 180 < grey(nine, 0.35, 0)
    # The minute hand points up on the hour and down at half past (beside the axis, the thin
    # second hand, up at :00, does not reach the face's pixels).
    assert grey(nine, 0, -0.6) < 100 < 180 < grey(nine, 0.15, 0.6)
    assert grey(half_past, 0, 0.6) < 100 < 180 < grey(half_past, 0.15, -0.6)


def test_only_the_overlay_and_the_clock_depend_on_the_time():
    source = SyntheticSource(FrameSize.QVGA, seed=3, label="cam")
    still = time_free(source)
    earlier, later = source.render(42, NOW), source.render(42, NOW + 4000.5)
    assert np.array_equal(earlier[still], later[still])
    assert not np.array_equal(earlier, later)


def test_frame_number_counts_calls():
    source = SyntheticSource(FrameSize.QVGA)
    assert source.frame_number == 0
    for expected in range(1, 4):
        source.next_frame()
        assert source.frame_number == expected


def test_overlay_changes_with_frame_number_time_and_label():
    source = SyntheticSource(FrameSize.VGA, label="front-door")
    unlabelled = SyntheticSource(FrameSize.VGA)
    now = time.time()
    bar = slice(source._bar_top, source._bar_top + source._bar_height)

    def overlay(src: SyntheticSource, number: int, when: float) -> np.ndarray:
        return src.render(number, when)[bar]

    assert np.array_equal(overlay(source, 7, now), overlay(source, 7, now))
    assert not np.array_equal(overlay(source, 7, now), overlay(source, 8, now))
    assert not np.array_equal(overlay(source, 7, now), overlay(source, 7, now + 0.001))
    assert not np.array_equal(overlay(source, 7, now), overlay(unlabelled, 7, now))
    # The overlay is text: bright glyph pixels on the dark bar.
    assert (overlay(source, 7, now) > 200).any()


def test_render_is_deterministic_per_seed_and_differs_between_seeds():
    now = 1_700_000_000.0
    a = SyntheticSource(FrameSize.QVGA, seed=1).render(5, now)
    b = SyntheticSource(FrameSize.QVGA, seed=1).render(5, now)
    c = SyntheticSource(FrameSize.QVGA, seed=2).render(5, now)
    assert a.shape == (240, 320, 3)
    assert a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("quality", [0, 101])
def test_synthetic_rejects_quality_outside_1_to_100(quality: int):
    with pytest.raises(ValueError, match="quality"):
        SyntheticSource(FrameSize.VGA, quality=quality)


def test_every_source_satisfies_the_frame_source_protocol(tmp_path: Path):
    write_sample_frames(tmp_path, 1, FrameSize.QVGA)
    sources = [
        SyntheticSource(FrameSize.QVGA),
        PrerenderedSource([b"\xff\xd8\xff\xd9"], 1, 1),
        DirectorySource(tmp_path),
    ]
    for source in sources:
        assert isinstance(source, FrameSource)


# --------------------------------------------------------------------------- prerendered


def test_prerendered_cycles_through_frames_in_order():
    source = PrerenderedSource([b"a", b"b", b"c"], 640, 480)
    assert [source.next_frame() for _ in range(7)] == [b"a", b"b", b"c", b"a", b"b", b"c", b"a"]
    assert (source.width, source.height) == (640, 480)


def test_prerendered_rejects_an_empty_frame_list():
    with pytest.raises(ValueError, match="at least one frame"):
        PrerenderedSource([], 640, 480)


def test_prerendered_synthetic_renders_count_distinct_frames_once():
    source = PrerenderedSource.synthetic(FrameSize.QVGA, count=5, seed=3)
    assert (source.width, source.height) == (320, 240)
    first_round = [source.next_frame() for _ in range(5)]
    assert len(set(first_round)) == 5
    assert [source.next_frame() for _ in range(5)] == first_round
    assert decode(first_round[0]).size == (320, 240)


# --------------------------------------------------------------------------- directory


def test_directory_returns_each_files_bytes_exactly_in_name_order_and_loops(tmp_path: Path):
    contents = {
        "b.jpg": jpeg_bytes(64, 48, (0, 255, 0)),
        "a.jpg": jpeg_bytes(64, 48, (255, 0, 0)),
        "c.jpeg": jpeg_bytes(64, 48, (0, 0, 255)),
    }
    for name, data in contents.items():  # written out of order on purpose
        (tmp_path / name).write_bytes(data)
    source = DirectorySource(tmp_path)
    expected = [contents["a.jpg"], contents["b.jpg"], contents["c.jpeg"]]
    assert [source.next_frame() for _ in range(6)] == expected * 2


def test_directory_order_is_by_file_name_not_number(tmp_path: Path):
    for name in ["frame_9.jpg", "frame_10.jpg"]:
        (tmp_path / name).write_bytes(jpeg_bytes(8, 8, (0, 0, 0), comment=name.encode()))
    source = DirectorySource(tmp_path)
    assert [p.name for p in source.files] == ["frame_10.jpg", "frame_9.jpg"]


def test_directory_ignores_non_jpeg_hidden_and_non_regular_entries(tmp_path: Path):
    wanted = {"one.JPG": jpeg_bytes(16, 16, (1, 2, 3)), "two.JpEg": jpeg_bytes(16, 16, (4, 5, 6))}
    for name, data in wanted.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / ".hidden.jpg").write_bytes(jpeg_bytes(16, 16, (7, 8, 9)))
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / "frame.png").write_bytes(b"\x89PNG")
    (tmp_path / "jpg").write_bytes(b"no suffix")
    (tmp_path / "subdir.jpg").mkdir()
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "missing.jpg")
    source = DirectorySource(tmp_path)
    assert [p.name for p in source.files] == ["one.JPG", "two.JpEg"]
    assert {source.next_frame() for _ in range(4)} == set(wanted.values())


def test_directory_reports_width_and_height_from_the_first_files_header(tmp_path: Path):
    (tmp_path / "a.jpg").write_bytes(jpeg_bytes(123, 45, (10, 20, 30)))
    (tmp_path / "b.jpg").write_bytes(jpeg_bytes(640, 480, (10, 20, 30)))
    source = DirectorySource(tmp_path)
    assert (source.width, source.height) == (123, 45)


def test_directory_reads_files_lazily_one_per_frame(tmp_path: Path):
    first, second = write_sample_frames(tmp_path, 2, FrameSize.QQVGA)
    source = DirectorySource(tmp_path)
    replacement = jpeg_bytes(160, 120, (200, 100, 0))
    second.write_bytes(replacement)  # after construction: only a lazy reader sees it
    assert source.next_frame() == first.read_bytes()
    assert source.next_frame() == replacement


def test_missing_directory_is_a_clear_error(tmp_path: Path):
    with pytest.raises(SourceError, match="does not exist"):
        DirectorySource(tmp_path / "nope")


def test_a_file_path_is_not_a_directory(tmp_path: Path):
    path = tmp_path / "frame.jpg"
    path.write_bytes(jpeg_bytes(8, 8, (0, 0, 0)))
    with pytest.raises(SourceError, match="not a directory"):
        DirectorySource(path)


def test_directory_without_jpegs_is_a_clear_error(tmp_path: Path):
    with pytest.raises(SourceError, match=r"no \.jpg/\.jpeg files"):
        DirectorySource(tmp_path)
    (tmp_path / "readme.txt").write_text("hi")
    (tmp_path / ".x.jpg").write_bytes(jpeg_bytes(8, 8, (0, 0, 0)))
    with pytest.raises(SourceError, match=r"no \.jpg/\.jpeg files"):
        DirectorySource(tmp_path)


def test_oversized_file_is_rejected_at_construction(tmp_path: Path):
    small = jpeg_bytes(8, 8, (0, 0, 0))
    (tmp_path / "a.jpg").write_bytes(small)
    (tmp_path / "b.jpg").write_bytes(small + b"\0" * 100)
    with pytest.raises(SourceError, match=r"b\.jpg.*over the"):
        DirectorySource(tmp_path, max_bytes=len(small) + 50)
    assert DirectorySource(tmp_path, max_bytes=len(small) + 100).files


def test_default_limit_is_2_mib(tmp_path: Path):
    data = jpeg_bytes(8, 8, (0, 0, 0))
    (tmp_path / "a.jpg").write_bytes(data + b"\0" * (2 * 1024 * 1024 + 1 - len(data)))
    with pytest.raises(SourceError, match="2097152-byte"):
        DirectorySource(tmp_path)


def test_file_that_grows_past_the_limit_after_construction_is_an_error(tmp_path: Path):
    small = jpeg_bytes(8, 8, (0, 0, 0))
    (tmp_path / "a.jpg").write_bytes(small)
    source = DirectorySource(tmp_path, max_bytes=len(small))
    (tmp_path / "a.jpg").write_bytes(small + b"\0")
    with pytest.raises(SourceError, match="grew over"):
        source.next_frame()


def test_file_deleted_after_construction_is_an_error(tmp_path: Path):
    (tmp_path / "a.jpg").write_bytes(jpeg_bytes(8, 8, (0, 0, 0)))
    source = DirectorySource(tmp_path)
    (tmp_path / "a.jpg").unlink()
    with pytest.raises(SourceError, match="cannot read frame"):
        source.next_frame()


def test_jpeg_named_file_that_is_not_a_jpeg_is_an_error(tmp_path: Path):
    (tmp_path / "a.jpg").write_bytes(b"GIF89a not really")
    with pytest.raises(SourceError, match="not a JPEG"):
        DirectorySource(tmp_path)


def test_empty_jpeg_file_is_an_error(tmp_path: Path):
    (tmp_path / "a.jpg").write_bytes(b"")
    with pytest.raises(SourceError, match="empty"):
        DirectorySource(tmp_path)


# --------------------------------------------------------------------------- header parsing


@pytest.mark.parametrize(
    "save_args",
    [
        {},
        {"progressive": True},  # SOF2
        {"exif": b"Exif\0\0" + b"\0" * 5000, "comment": b"x" * 300},  # segments before SOF
    ],
    ids=["baseline", "progressive", "app-segments"],
)
def test_jpeg_dimensions_reads_sof_without_decoding(save_args: dict):
    assert jpeg_dimensions(jpeg_bytes(321, 123, (5, 5, 5), **save_args)) == (321, 123)


def test_jpeg_dimensions_rejects_non_jpeg_and_truncated_data():
    with pytest.raises(ValueError, match="SOI"):
        jpeg_dimensions(b"\x89PNG\r\n")
    header_only = jpeg_bytes(8, 8, (0, 0, 0))[:20]
    with pytest.raises(ValueError, match="frame header"):
        jpeg_dimensions(header_only)


# --------------------------------------------------------------------------- helpers


def test_write_sample_frames_round_trips_through_directory_source(tmp_path: Path):
    target = tmp_path / "frames" / "cam"
    paths = write_sample_frames(target, 3, FrameSize.QVGA, seed=4)
    assert [p.name for p in paths] == ["frame_00000.jpg", "frame_00001.jpg", "frame_00002.jpg"]
    source = DirectorySource(target)
    assert (source.width, source.height) == (320, 240)
    assert [source.next_frame() for _ in range(4)] == [
        *(p.read_bytes() for p in paths),
        paths[0].read_bytes(),
    ]
    assert all(decode(p.read_bytes()).size == (320, 240) for p in paths)


def test_write_sample_frames_defaults_to_vga(tmp_path: Path):
    (path,) = write_sample_frames(tmp_path, 1)
    assert decode(path.read_bytes()).size == (640, 480)


def test_open_source_synthetic_renders_at_the_requested_size_with_the_label():
    source = open_source("synthetic", FrameSize.QVGA, label="porch", quality=60)
    assert isinstance(source, SyntheticSource)
    assert (source.width, source.height) == (320, 240)
    assert source.label == "porch"
    assert source.quality == 60
    assert decode(source.next_frame()).size == (320, 240)


def test_open_source_treats_anything_else_as_a_directory(tmp_path: Path):
    write_sample_frames(tmp_path, 2, FrameSize.QQVGA)
    source = open_source(str(tmp_path), FrameSize.VGA)
    assert isinstance(source, DirectorySource)
    # Files are sent as they are: their size wins over the requested one.
    assert (source.width, source.height) == (160, 120)


def test_open_source_with_a_missing_directory_is_a_clear_error(tmp_path: Path):
    with pytest.raises(SourceError, match="does not exist"):
        open_source(str(tmp_path / "synthetic-frames"), FrameSize.VGA)
