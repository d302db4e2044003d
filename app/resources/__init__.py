"""Files the app loads at run time, shipped inside the package as package data.

They are found with `importlib.resources`, relative to this package, never to a checkout,
so an installed copy (`pip install .`) finds them exactly as a checkout does.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

BOOT_MODE_DIAGRAM = "esp32cam-boot-mode.svg"  # IO0 to GND for download mode, then RESET
PHOTOS = "photos"  # real photographs for the Table 1 reproduction; sources in its README.md


def resource(name: str) -> Traversable:
    """The packaged file `name` (read it with `read_bytes()`; it may not be a real path)."""
    return files(__name__).joinpath(name)


def read_resource(name: str) -> bytes:
    """The contents of the packaged file `name`. Raises FileNotFoundError if there is none."""
    return resource(name).read_bytes()


def photos() -> list[tuple[str, bytes]]:
    """The packaged photographs (`PHOTOS`), as (file name, JPEG bytes), in file-name order."""
    folder = resource(PHOTOS)
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".jpg")), key=lambda f: f.name)
    return [(f.name, f.read_bytes()) for f in files]
