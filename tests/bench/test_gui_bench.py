"""The app window benchmark: its quickest run in `make bench-test`, its logic in every run.

Structure and sanity only, never speed. The `bench`-marked tests start the app window with
simulated cameras for a short window and are left out of the default run.
"""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.bench.gui import GuiSettings, gui_cpus, orchestrate, run_gui
from app.bench.host import CpuPlan
from app.bench.report import render_gui
from app.bench.results import BenchReport, GuiError, GuiRun, from_json, to_json
from tests.waiting import scaled

ROOT = Path(__file__).resolve().parents[2]
SAVED = Path(__file__).parent / "data" / "quick-report.json"


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


def _saved() -> BenchReport:
    return from_json(BenchReport, json.loads(SAVED.read_text()))


def _row(cameras: int, holds: bool) -> GuiRun:
    row = _saved().gui.configs[0]
    assert isinstance(row, GuiRun)
    return dataclasses.replace(row, cameras=cameras, holds=holds, process_s=None)


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

    monkeypatch.setattr(orchestrate, "run_one", fake)
    plan = CpuPlan({0}, {1}, True, "")
    section = run_gui(GuiSettings(), plan)
    assert calls == ran
    assert section.largest_holding == largest
    assert section.largest_holding_all_below == contiguous
    assert section.stopped_after == stopped
    assert section.cpus.app == [0] and section.cpus.cameras == [1]


def test_pin_modes():
    plan = CpuPlan({0}, {1}, True, "")
    assert gui_cpus(plan, "one")[:2] == ({0}, {1})
    assert gui_cpus(plan, "shared")[:2] == ({0, 1}, {1})
    single = CpuPlan({0}, {0}, True, "")
    assert gui_cpus(single, "one")[:2] == ({0}, {0})


def _child(monkeypatch, returncode: int, stdout: str, stderr: str) -> None:
    def run(*args, **kwargs):
        return subprocess.CompletedProcess(args, returncode, stdout=stdout, stderr=stderr)

    monkeypatch.setattr(orchestrate.subprocess, "run", run)


def test_a_crashing_run_becomes_an_error_row(monkeypatch):
    _child(monkeypatch, 1, "", "boom\n")
    row = orchestrate.run_one(3, GuiSettings(), {0}, {1})
    assert isinstance(row, GuiError)
    assert row.cameras == 3 and row.holds is False
    assert "boom" in row.error
    gui = _saved().gui
    gui = dataclasses.replace(
        gui, configs=[row], largest_holding=None, largest_holding_all_below=None
    )
    lines = render_gui(gui)
    assert any("ERROR" in line for line in lines)


def test_a_child_row_is_read_with_its_run_time_and_stderr(monkeypatch):
    printed = _row(2, True)
    _child(monkeypatch, 0, "starting\n" + json.dumps(to_json(printed)) + "\n", "a warning\n")
    row = orchestrate.run_one(2, GuiSettings(), {0}, {1})
    assert isinstance(row, GuiRun) and row.holds and row.error is None
    assert row.process_s is not None and row.stderr_tail == ["a warning"]
    assert row.latency == printed.latency


def test_a_child_that_fails_after_its_row_is_an_error(monkeypatch):
    _child(monkeypatch, 1, json.dumps(to_json(_row(2, True))) + "\n", "")
    row = orchestrate.run_one(2, GuiSettings(), {0}, {1})
    assert row.error == "exit status 1"
    assert any("ERROR: exit status 1" in line for line in render_gui(_gui_with(row)))


def test_a_child_error_row_keeps_its_message(monkeypatch):
    printed = json.dumps({"cameras": 2, "holds": False, "error": "no camera connected"})
    _child(monkeypatch, 2, printed + "\n", "")
    row = orchestrate.run_one(2, GuiSettings(), {0}, {1})
    assert isinstance(row, GuiError) and row.error == "no camera connected"


def _gui_with(row):
    return dataclasses.replace(_saved().gui, configs=[row])


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
