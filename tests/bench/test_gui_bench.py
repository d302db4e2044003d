"""The app window benchmark: its quickest run in `make bench-test`, its logic in every run.

Structure and sanity only, never speed. The `bench`-marked tests start the app window with
simulated cameras for a short window and are left out of the default run.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.bench import gui
from app.bench.throughput import CpuPlan
from tests.waiting import scaled

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    path = tmp_path_factory.mktemp("gui-bench") / "bench.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.bench",
            "--skip-core",
            "--skip-fleet",
            "--gui-cameras",
            "1,2",
            "--gui-seconds",
            "1",
            "--gui-warmup",
            "0.5",
            "--json",
            str(path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(300),
    )
    return run, path


@pytest.mark.bench
def test_runs_cleanly_and_reports(bench):
    run, path = bench
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    out = run.stdout
    for heading in ("SecureCam benchmark", "3. Desktop app window", "Targets", "holds"):
        assert heading in out
    assert "psk" not in out.lower()
    result = json.loads(path.read_text())
    assert result["core"] is None and result["fleet"] is None
    assert any("app window" in t["name"] for t in result["targets"])


@pytest.mark.bench
def test_every_camera_count_ran_in_its_own_process_and_painted(bench):
    section = json.loads(bench[1].read_text())["gui"]
    assert section["settings"]["cameras"] == [1, 2]
    assert section["settings"]["window_size"] == [1600, 1000]
    assert "note" in section["cpus"]
    configs = {c["cameras"]: c for c in section["configs"]}
    assert set(configs) == {1, 2}
    for cameras, c in configs.items():
        assert "error" not in c, c.get("error")
        assert c["connected"] == cameras and c["connected_at_end"] == cameras
        assert c["expected_frames_per_s"] == cameras * 25
        assert c["frames_received"] > 0 and c["frames_painted"] > 0
        assert c["frames_received_per_s"] > 0 and c["frames_painted_per_s"] > 0
        assert c["frames_lost"] >= 0
        for key in (
            "received_minus_painted",
            "never_painted",
            "decoder_dropped",
            "unpainted_at_paint",
            "decode_failed",
            "mailbox_dropped",
            "camera_skipped",
        ):
            assert key in c["drops"], key
        assert c["drops"]["decode_failed"] == 0
        followed = c["followed"]
        assert followed["painted"] + followed["never_painted"] == followed["decrypted_in_window"]
        assert c["frames_lost"] == followed["never_painted"]
        assert c["camera_skip_limit"] >= 0 and c["drops"]["camera_skipped"] >= 0
        assert c["gc_pauses"]["total_ms"] >= 0 and c["gc_tracked_objects"]["count"] > 0
        latency = c["latency"]
        painted = latency["capture_to_painted_ms"]
        assert painted["count"] > 0
        assert painted["p50"] <= painted["p95"] <= painted["p99"]
        # The same frames, each decrypted before it was painted: whatever the clock-offset
        # estimate's error (up to RTT/2, so the estimated figures may even be below zero on a
        # busy machine), it shifts both figures alike. Only the shared clock's are sure > 0.
        assert latency["capture_to_decrypted_ms"]["p50"] <= painted["p50"]
        assert latency["true_capture_to_painted_ms"]["p50"] > 0
        for stage in latency["breakdown_ms"].values():
            assert stage["count"] > 0
        assert c["loop_lag_ms"]["count"] > 0 and c["loop_lag_ms"]["max"] >= 0
        assert c["fine_loop_lag_ms"]["count"] > 0
        assert c["process_cpu_percent"] > 0
        assert 0 < c["ui_thread_cpu_percent"] <= c["process_cpu_percent"] + 1
        assert c["camera_process_cpu_percent"] >= 0
        assert c["window_size"] == [1600, 1000]
        assert c["tile_sizes"] and all(w > 0 and h > 0 for w, h in c["tile_sizes"])
        assert isinstance(c["holds"], bool)
        assert c["camera_errors"] == []
    assert section["largest_holding"] in (None, 1, 2)


def _row(cameras: int, holds: bool) -> dict:
    return {"cameras": cameras, "holds": holds}


@pytest.mark.parametrize(
    ("fails", "ran", "largest", "contiguous", "stopped"),
    [
        (set(), [1, 4, 8, 16, 24, 32], 32, 32, None),
        ({24, 32}, [1, 4, 8, 16, 24], 16, 16, 24),
        ({16, 24, 32}, [1, 4, 8, 16, 24], 8, 8, 24),  # 16 failing alone does not stop
        ({4}, [1, 4, 8, 16, 24, 32], 32, 1, None),
        ({32}, [1, 4, 8, 16, 24, 32], 24, 24, None),  # the last count is not "stopped after"
    ],
)
def test_stops_after_the_first_failure_above_the_target(
    monkeypatch, fails, ran, largest, contiguous, stopped
):
    calls = []

    def fake(cameras, settings, app, cams):
        calls.append(cameras)
        return _row(cameras, cameras not in fails)

    monkeypatch.setattr(gui, "run_one", fake)
    plan = CpuPlan({0}, {1}, True, "")
    section = gui.run_gui(gui.GuiSettings(), plan)
    assert calls == ran
    assert section["largest_holding"] == largest
    assert section["largest_holding_all_below"] == contiguous
    assert section["stopped_after"] == stopped
    assert section["cpus"]["app"] == [0] and section["cpus"]["cameras"] == [1]


def test_pin_modes():
    plan = CpuPlan({0}, {1}, True, "")
    assert gui.gui_cpus(plan, "one")[:2] == ({0}, {1})
    assert gui.gui_cpus(plan, "shared")[:2] == ({0, 1}, {1})
    single = CpuPlan({0}, {0}, True, "")
    assert gui.gui_cpus(single, "one")[:2] == ({0}, {0})


def test_a_crashing_run_becomes_an_error_row(monkeypatch):
    def crash(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, stdout="", stderr="boom\n")

    monkeypatch.setattr(gui.subprocess, "run", crash)
    row = gui.run_one(3, gui.GuiSettings(), {0}, {1})
    assert row["cameras"] == 3 and row["holds"] is False
    assert "boom" in row["error"]
    lines = gui.render_gui(
        {
            "settings": {**_settings(), "cameras": [3]},
            "cpus": {"app": [0], "cameras": [1], "note": "test"},
            "configs": [row],
            "largest_holding": None,
            "largest_holding_all_below": None,
            "stopped_after": None,
        }
    )
    assert any("ERROR" in line for line in lines)


def _settings() -> dict:
    return {
        "seconds": 1.0,
        "warmup_s": 0.5,
        "fps": 25.0,
        "frame_size": "vga",
        "window_size": [1600, 1000],
        "target_cameras": 16,
        "latency_p99_target_ms": 100.0,
    }


def test_bad_camera_count_is_refused():
    run = subprocess.run(
        [sys.executable, "-m", "app.bench.gui", "--cameras", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    assert run.returncode == 2
    assert "--cameras" in run.stderr
