"""`python -m app.bench.board`: a short run of every section, structure only (pytest -m bench),
and the frames it renders for the host model's --frames-by-setting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.bench.board import setting_dir, write_frames_by_setting
from app.protocol.framesize import FrameSize
from app.sim.sources import jpeg_dimensions
from tests.waiting import scaled


@pytest.mark.bench
def test_quick_run_reports_the_loop_and_the_window_sections(tmp_path: Path) -> None:
    path = tmp_path / "board.json"
    run = subprocess.run(
        [sys.executable, "-m", "app.bench.board", "--quick", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=scaled(180),
    )
    assert run.returncode == 0, run.stderr
    for heading in ("worst loop iteration, wall", "PONG delay worst (link time)", "RTT ms"):
        assert heading in run.stdout
    result = json.loads(path.read_text())
    assert len(result["loop"]) == 1 and result["loop"][0]["pong_wall_ms"]
    assert set(result["window"]) == {"2", "10", "30"}


def test_frames_by_setting_cover_each_quality_the_ladder_asks_for_as_the_camera_applies_it(
    tmp_path: Path,
) -> None:
    written = write_frames_by_setting(tmp_path, sizes=(FrameSize.UXGA, FrameSize.VGA), count=1)
    # From UXGA at 12: the camera's own quality, 20 and 30; UXGA's buffer floor raises 12 to 17.
    assert sorted(written) == [
        (FrameSize.VGA, 12),
        (FrameSize.VGA, 17),
        (FrameSize.VGA, 20),
        (FrameSize.VGA, 30),
        (FrameSize.UXGA, 17),
        (FrameSize.UXGA, 20),
        (FrameSize.UXGA, 30),
    ]
    for (size, quality), [jpeg] in written.items():
        path = setting_dir(tmp_path, size, quality) / "000.jpg"
        assert path == tmp_path / f"{size.width}x{size.height}" / f"q{quality}" / "000.jpg"
        assert path.read_bytes() == jpeg
        assert jpeg_dimensions(jpeg) == (size.width, size.height)
    # A higher quality number gives smaller frames, as on the sensor.
    vga = [len(written[FrameSize.VGA, q][0]) for q in (12, 17, 20, 30)]
    assert vga == sorted(vga, reverse=True)
