"""Latency export: the CSV of every timeline (suite as its name) and the PNG of the tabs."""

import csv

import pytest
from PySide6.QtGui import QImage

from app.ui.latency.export import CSV_COLUMNS
from tests.ui.latency.timelines import OFFSET, comparison_result


def test_export_csv_writes_every_timeline(dock, three_cameras, tmp_path):
    path = tmp_path / "latency.csv"
    assert dock.export_csv(path) == 2300
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 2301

    known = three_cameras.stats("cam-a").timelines[1]  # painted
    row = dict(zip(CSV_COLUMNS, rows[2], strict=True))
    assert (row["device"], row["suite"], row["seq"], row["size"]) == (
        "cam-a",
        "noise",
        "1",
        "20000",
    )
    assert int(row["capture_us"]) == known.device_capture_us - OFFSET
    assert int(row["sent_us"]) == known.device_send_us - OFFSET
    assert int(row["painted_us"]) == known.painted_us
    assert float(row["network_ms"]) == pytest.approx(
        (known.last_rx_us - known.device_send_us + OFFSET) / 1000
    )
    assert float(row["capture_to_painted_ms"]) == pytest.approx(
        (known.painted_us - known.device_capture_us + OFFSET) / 1000
    )
    stages = sum(float(row[f"{k}_ms"]) for k in ("device", "network", "decrypt", "decode", "paint"))
    assert stages == pytest.approx(float(row["capture_to_painted_ms"]))

    unpainted = dict(zip(CSV_COLUMNS, rows[1], strict=True))  # seq 0: every 5th is unpainted
    assert unpainted["painted_us"] == "" and unpainted["paint_ms"] == ""
    assert {r[1] for r in rows[1:]} == {"noise", "plain"}


def test_export_png_writes_an_image_of_the_plots(dock, three_cameras, comparison, tmp_path):
    comparison.finished.emit(comparison_result())
    path = tmp_path / "latency.png"
    dock.export_png(path)
    image = QImage(str(path))
    assert not image.isNull()
    assert image.width() > 300 and image.height() > 3 * 200
