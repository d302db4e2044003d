"""Where snapshots go and what they are called; writing them without clobbering a file."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QStandardPaths


def default_folder() -> Path:
    """The user's Pictures folder if it exists, else the home folder."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    if location and Path(location).is_dir():
        return Path(location)
    return Path.home()


def default_name(device: str, when: datetime | None = None) -> str:
    """`DEVICE_YYYY-MM-DD_HH-MM-SS.jpg` (local time), e.g. `front-door_2026-12-03_12-15-30.jpg`.

    Device names are 1-32 of letters, digits, '.', '_' and '-', so the name is safe as is.
    """
    when = when or datetime.now()
    return f"{device}_{when:%Y-%m-%d_%H-%M-%S}.jpg"


def write_new(path: Path, data: bytes | memoryview) -> Path:
    """Write `data` to `path`, or to `STEM-2.SUFFIX`, `-3`… if it exists; returns the path used.

    Never replaces a file: each candidate is created exclusively. Raises OSError.
    """
    for number in itertools.count(1):
        candidate = path if number == 1 else path.with_name(f"{path.stem}-{number}{path.suffix}")
        try:
            with candidate.open("xb") as handle:
                handle.write(data)
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable")
