"""`python -m app.bench.board`: a short run of every section, structure only (pytest -m bench)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
