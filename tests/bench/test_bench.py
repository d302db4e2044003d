"""`python -m app.bench`: its entry point in `make test`, its full report in `make bench-test`.

Structure and sanity only, never speed: a benchmark measures the machine, so none of these
tests asserts how fast anything ran. The `bench`-marked tests run every section for a short
window (a minute or more of CPU on a busy machine) and are left out of the default run.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import scaled

ROOT = Path(__file__).resolve().parents[2]


def run_bench(json_path: Path, *options: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.bench", *options, "--json", str(json_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(timeout),
    )


def test_the_entry_point_runs_a_tiny_workload_to_the_end(tmp_path):
    """What `make bench` starts, with the smallest workload that still goes through each step."""
    path = tmp_path / "bench.json"
    run = run_bench(
        path,
        "--quick",
        "--skip-gui",
        "--cameras",
        "1",
        "--suites",
        "plain",
        "--seconds",
        "0.3",
        "--warmup",
        "0",
        "--quiet",
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    for heading in ("SecureCam benchmark", "1. Core cost per frame", "2. Receiver", "Targets"):
        assert heading in run.stdout
    result = json.loads(path.read_text())
    assert result["version"] == 1
    assert result["core"]["figures"] and result["gui"] is None
    (config,) = result["fleet"]["configs"]
    assert (config["cameras"], config["suite"]) == (1, "plain")
    assert config["connected"] == 1 and config["camera_errors"] == []
    assert config["frames_rejected"] == 0


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    run = run_bench(
        path,
        "--quick",
        "--skip-gui",  # the app window has its own run in test_gui_bench.py
        "--seconds",
        "0.5",
        "--warmup",
        "0.3",
        "--cameras",
        "1,2",
        timeout=300,
    )
    return run, path


@pytest.mark.bench
def test_runs_cleanly_and_writes_json(bench):
    run, path = bench
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert path.exists()
    result = json.loads(path.read_text())
    assert result["version"] == 1
    assert result["duration_s"] > 0
    for section in ("machine", "cpus", "core", "fleet", "targets"):
        assert section in result


@pytest.mark.bench
def test_report_is_printed(bench):
    run, _ = bench
    out = run.stdout
    for heading in ("SecureCam benchmark", "1. Core cost per frame", "2. Receiver", "Targets"):
        assert heading in out
    assert "psk" not in out.lower()


@pytest.mark.bench
def test_core_figures_are_complete_and_positive(bench):
    result = json.loads(bench[1].read_text())
    figures = result["core"]["figures"]
    expected = {
        "vga_receive_noise",
        "vga_decrypt",
        "vga_receive_plain",
        "vga_receive_noise_idle",
        "vga_receive_plain_idle",
        "vga_seal",
        "uxga_receive_noise",
        "uxga_receive_plain",
        "handshake",
    }
    assert expected <= set(figures)
    for key, figure in figures.items():
        assert figure["samples"] > 0, key
        assert 0 < figure["min_us"] <= figure["median_us"] <= figure["p99_us"], key
        if figure["bytes"] is not None:
            assert figure["mb_per_s"] > 0, key
    assert result["core"]["vga_frame_bytes"] > 10_000
    assert figures["vga_receive_noise"]["chunks"] == 1
    assert figures["uxga_receive_noise"]["chunks"] > 1
    assert "target_met" in figures["vga_receive_noise"]


@pytest.mark.bench
def test_every_fleet_configuration_ran_and_received_frames(bench):
    fleet = json.loads(bench[1].read_text())["fleet"]
    configs = {(c["cameras"], c["suite"]): c for c in fleet["configs"]}
    assert set(configs) == {(1, "plain"), (1, "noise"), (2, "plain"), (2, "noise")}
    for (cameras, _), config in configs.items():
        assert config["connected"] == cameras
        assert config["frames_received"] > 0
        assert config["frames_sent"] > 0
        assert config["frames_consumed"] > 0
        assert config["expected_frames_per_s"] == cameras * 25
        assert config["frames_dropped"] >= 0 and config["frames_skipped"] >= 0
        assert config["frames_rejected"] == 0
        assert config["receiver_cpu_percent"] >= 0
        assert config["camera_errors"] == []
        latency = config["latency"]["capture_to_decrypted_ms"]
        assert latency["count"] > 0
        assert latency["p50"] <= latency["p95"] <= latency["p99"]
        # On the shared clock a frame is always decrypted after its capture. The receiver's
        # figure places the capture with its clock-offset estimate, which may be off by up to
        # the error the report gives (itself within RTT/2): on a busy machine the estimate can
        # put a capture after its own decryption, so it may be below zero by that much.
        assert config["latency"]["true_capture_to_decrypted_ms"]["p50"] > 0
        error_ms = config["latency"]["clock_offset_error_us"]["max"] / 1000
        assert latency["p50"] >= -error_ms
    assert sum(c["receiver_cpu_percent"] for c in configs.values()) > 0
    assert {r["cameras"] for r in fleet["ratios"]} == {1, 2}
    for ratio in fleet["ratios"]:
        # Ratios of estimated latencies are None when the plain one is not above zero (see
        # above); those of the true latencies always exist.
        assert ratio["true_latency_p50_ratio"] > 0
        assert {"latency_p50_ratio", "cpu_ratio"} <= set(ratio)


@pytest.mark.bench
def test_targets_are_listed(bench):
    targets = json.loads(bench[1].read_text())["targets"]
    names = " ".join(t["name"] for t in targets)
    assert "150 µs" in names and "1.10" in names and "32 cameras" in names
    for target in targets:
        assert target["met"] in (True, False, None)


def test_bad_options_are_refused():
    run = subprocess.run(
        [sys.executable, "-m", "app.bench", "--cameras", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    assert run.returncode == 2
    assert "camera counts" in run.stderr
