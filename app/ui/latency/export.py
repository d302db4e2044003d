"""Latency export: every timeline as CSV, and the latency tabs as one PNG."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QWidget

from app.protocol.timeline import FrameTimeline, Stage
from app.receiver.stats import DeviceStats
from app.ui.plots import natural_key

CSV_COLUMNS = (
    "device",
    "suite",  # noise or plain
    "seq",
    "size",
    "clock_offset_us",
    "device_capture_us",  # device clock
    "device_send_us",  # device clock
    "capture_us",  # the rest on the app clock
    "sent_us",
    "first_rx_us",
    "last_rx_us",
    "decrypted_us",
    "decoded_us",
    "painted_us",
    *(f"{stage.value}_ms" for stage in Stage),
    "capture_to_decrypted_ms",
    "capture_to_painted_ms",
)
PNG_SIZE = QSize(1000, 340)  # of each tab, when none is on screen to take the size from
PNG_GAP = 6  # pixels between the tabs


def _text(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def csv_row(t: FrameTimeline) -> list[str]:
    """One CSV row (CSV_COLUMNS order): integers in µs, durations in ms, '' where unknown."""
    stamps = (
        t.clock_offset_us,
        t.device_capture_us,
        t.device_send_us,
        t.capture_us,
        t.sent_us,
        t.first_rx_us,
        t.last_rx_us,
        t.decrypted_us,
        t.decoded_us,
        t.painted_us,
    )
    return [
        t.device,
        t.suite.name.lower(),
        str(t.seq),
        str(t.size),
        *(_text(v) for v in stamps),
        *(_text(t.stage_ms(stage)) for stage in Stage),
        _text(t.to_decrypted_ms),
        _text(t.to_painted_ms),
    ]


def write_csv(path: Path, stats: Mapping[str, DeviceStats]) -> int:
    """Write every timeline of every device's ring (header first, devices by name).

    Returns the data rows written; raises OSError.
    """
    written = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for name in sorted(stats, key=natural_key):
            for timeline in list(stats[name].timelines):
                writer.writerow(csv_row(timeline))
                written += 1
    return written


def write_png(path: Path, pages: Sequence[QWidget], size: QSize = PNG_SIZE) -> None:
    """Grab `pages` one above the other into a PNG; a page not on screen is laid out at `size`.

    Raises OSError if the file cannot be written.
    """
    shots = []
    for page in pages:
        if not page.isVisible():
            page.resize(size)
            if page.layout() is not None:
                page.layout().activate()
        shots.append(page.grab())
    width = max(shot.width() for shot in shots)
    height = sum(shot.height() for shot in shots) + PNG_GAP * (len(shots) - 1)
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("#9e9e9e"))  # shows between the tabs
    painter = QPainter(image)
    top = 0
    for shot in shots:
        painter.drawPixmap(0, top, shot)
        top += shot.height() + PNG_GAP
    painter.end()
    if not image.save(str(path), "PNG"):
        raise OSError(f"cannot write {path}")
