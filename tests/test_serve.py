"""`securecam serve` and `securecam sim` as a user runs them: separate processes, real sockets."""

import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass

import pytest

from app.cli import main
from app.serve import DEFAULT_SHARE_PORT
from app.services.settings import ReceiverSettings, Settings
from app.share import server as share_server
from app.sim.sources import write_sample_frames
from tests.waiting import scaled, wait_until_sync


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def securecam(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_listening(port: int, timeout: float = 10) -> None:
    """Until a connection to `port` succeeds, within `scaled(timeout)` seconds."""

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=scaled(0.2)).close()
        except OSError:
            return False
        return True

    wait_until_sync(listening, timeout, interval=0.05, message=f"something listening on {port}")


def stats_lines(path) -> list[dict]:
    """The complete lines of a `--stats-json` file so far (one still being written is left out)."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines(keepends=True)
    return [json.loads(line) for line in lines if line.endswith("\n")]


@dataclass
class Served:
    url: str
    out: str = ""
    err: str = ""
    returncode: int | None = None


@contextlib.contextmanager
def serving(home, *extra: str, stop: int = signal.SIGTERM):
    """`securecam serve` on a free loopback port until the block ends, then `stop` it."""
    port = free_port()
    process = securecam(
        "serve", "--host", "127.0.0.1", "--port", str(port), "--config-dir", str(home), *extra
    )
    served = Served(f"ws://127.0.0.1:{port}/camera")
    try:
        wait_listening(port)
        yield served
    finally:
        process.send_signal(stop)
        served.out, served.err = process.communicate(timeout=scaled(20))
        served.returncode = process.returncode


def sim(url: str, config, *extra: str) -> tuple[int, str, str]:
    process = securecam(
        "sim", "--url", url, "--device", "cam1", "--config-dir", str(config), *extra
    )
    out, err = process.communicate(timeout=scaled(60))
    return process.returncode, out, err


@pytest.fixture
def home(tmp_path):
    config = tmp_path / "config"
    assert main(["--config-dir", str(config), "device", "add", "cam1"]) == 0
    return config


def test_serve_records_a_directory_stream_bit_exact_and_reports_stats(home, tmp_path):
    frames_dir = tmp_path / "frames"
    sent = write_sample_frames(frames_dir, 12)
    record = tmp_path / "record"
    stats = tmp_path / "stats.jsonl"
    with serving(home, "--stats-json", str(stats), "--record", str(record)) as served:
        code, out, err = sim(
            served.url, home, "--source", str(frames_dir), "--frames", "150", "--fps", "300"
        )
        assert code == 0, err
        assert "sent 150 frames" in out
        # at least one periodic stats line while the device is known
        wait_until_sync(
            lambda: any(not line["final"] for line in stats_lines(stats)),
            message="a periodic stats line",
        )
    assert served.returncode == 0, served.err
    (session,) = (record / "cam1").iterdir()  # DIR/<device>/<session start, UTC>/<seq>.jpg
    recorded = sorted(session.iterdir())
    assert [p.name for p in recorded] == [f"{seq:010d}.jpg" for seq in range(1, 151)]
    assert f"recorded 150 frames in {record}" in served.err
    for seq, path in enumerate(recorded):
        assert path.read_bytes() == sent[seq % len(sent)].read_bytes()
    lines = [json.loads(line) for line in stats.read_text().splitlines()]
    assert len(lines) >= 2 and lines[-1]["final"] is True
    (device,) = lines[-1]["devices"]
    assert device["device"] == "cam1" and device["suite"] == "noise"
    assert device["frames_received"] == 150 and device["frames_rejected"] == 0
    assert device["bytes"] == sum(p.stat().st_size for p in recorded)
    assert set(device["latency_ms"]) >= {"p50", "p95", "p99"}
    assert device["latency_ms"]["p50"] is not None
    for key in ("connected", "frames_dropped", "fps"):
        assert key in device
    assert "cam1" in served.err and "connected" in served.err
    key_text = json.loads((home / "devices.json").read_text())["devices"]["cam1"]["key"]
    assert key_text not in served.err + served.out and key_text not in stats.read_text()


def test_serve_keeps_every_session_and_reports_exactly_the_files_on_disk(home, tmp_path):
    record = tmp_path / "record"

    def on_disk() -> list:
        return [p for p in record.rglob("*.jpg") if p.is_file()]

    with serving(home, "--record", str(record)) as served:
        for session in (1, 2):  # each sim process numbers its frames from 1, like a reboot
            code, _, err = sim(
                served.url, home, "--frames", "20", "--fps", "100", "--size", "qqvga"
            )
            assert code == 0, err
            wait_until_sync(lambda n=20 * session: len(on_disk()) >= n, 20)
    assert served.returncode == 0, served.err
    files = on_disk()
    assert len(files) == 40
    assert f"recorded 40 frames in {record}" in served.err
    first, second = sorted((record / "cam1").iterdir())
    for folder in (first, second):
        assert sorted(p.name for p in folder.iterdir()) == [f"{s:010d}.jpg" for s in range(1, 21)]


def test_serve_says_clearly_when_it_cannot_record(home, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    port = free_port()
    process = securecam(
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config-dir",
        str(home),
        "--record",
        str(blocker / "rec"),
    )
    _, err = process.communicate(timeout=scaled(20))
    assert process.returncode == 1
    assert f"cannot record to {blocker / 'rec'}" in err
    assert "Traceback" not in err


def test_serve_with_demo_cameras_streams_without_any_registered_device(tmp_path):
    stats = tmp_path / "stats.jsonl"

    def both_streaming() -> bool:
        lines = stats_lines(stats)
        devices = lines[-1]["devices"] if lines else []
        return len(devices) == 2 and all(d["frames_received"] > 10 for d in devices)

    with serving(tmp_path / "empty", "--demo", "2", "--stats-json", str(stats)):
        wait_until_sync(both_streaming, 10, message="both demo cameras past 10 frames")
    last = stats_lines(stats)[-1]
    assert last["final"] is True
    assert {d["device"] for d in last["devices"]} == {"demo-1", "demo-2"}
    assert all(d["frames_received"] > 10 for d in last["devices"])
    assert not (tmp_path / "empty" / "devices.json").exists()  # the demo wrote nothing here


def test_serve_says_clearly_when_the_port_is_taken(home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = securecam(
            "serve", "--host", "127.0.0.1", "--port", str(port), "--config-dir", str(home)
        )
        _, err = process.communicate(timeout=scaled(20))
    assert process.returncode == 1
    assert f"port {port} is already in use" in err
    assert "Traceback" not in err


def test_serve_share_says_clearly_when_the_viewer_port_is_taken(home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = securecam(
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--share",
            "--share-host",
            "127.0.0.1",
            "--share-port",
            str(port),
            "--config-dir",
            str(home),
        )
        _, err = process.communicate(timeout=scaled(30))
    assert process.returncode == 1
    assert f"the viewer server's port {port} is already in use" in err
    assert "Traceback" not in err


def test_serve_share_prints_where_viewers_go_and_the_fingerprint(home):
    share_port = free_port()
    with serving(
        home, "--share", "--share-host", "127.0.0.1", "--share-port", str(share_port)
    ) as served:
        wait_listening(share_port)
    assert served.returncode == 0
    assert f"viewers open https://127.0.0.1:{share_port}/" in served.err
    assert re.search(r"fingerprint \(SHA-256\): ([0-9A-F]{2}:){31}[0-9A-F]{2}", served.err)
    assert "no viewers yet: add one with `securecam viewer add NAME`" in served.err


def test_serve_listens_on_the_port_saved_in_the_windows_settings(home):
    port = free_port()
    Settings(home).save_receiver(ReceiverSettings(port=port))  # as the window saves it
    process = securecam("serve", "--host", "127.0.0.1", "--config-dir", str(home))
    try:
        wait_listening(port)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=scaled(20))
    assert process.returncode == 0, err
    assert f"INFO app.serve: port {port}, saved in the window's Settings (--port overrides it)" in (
        err
    )


def test_a_port_given_to_serve_wins_over_the_saved_one(home):
    Settings(home).save_receiver(ReceiverSettings(port=free_port()))
    with serving(home) as served:  # --port: another free port, which it listens on
        pass
    assert served.returncode == 0, served.err
    assert "saved in the window's Settings" not in served.err


def test_the_share_port_default_is_the_share_servers():
    assert DEFAULT_SHARE_PORT == share_server.DEFAULT_SHARE_PORT


def test_sim_for_an_unregistered_device_fails_before_connecting(home, capsys):
    assert main(["sim", "--device", "ghost", "--config-dir", str(home)]) == 1
    assert "no device named 'ghost'" in capsys.readouterr().err


def test_sim_reports_the_receivers_rejection_and_exits_nonzero(home, tmp_path):
    other = tmp_path / "other"
    assert main(["--config-dir", str(other), "device", "add", "cam1"]) == 0  # a different key
    with serving(home, stop=signal.SIGINT) as served:
        code, _, err = sim(served.url, other, "--frames", "5")
    assert code == 1
    assert "rejected cam1" in err and "4004" in err
    assert served.returncode == 0
    assert "auth_failed (4004)" in served.err


def test_sim_rejects_a_bad_source_directory(home, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["sim", "--device", "cam1", "--config-dir", str(home), "--source", str(empty)]) == 1
    assert "securecam: error:" in capsys.readouterr().err


def test_plain_sim_for_a_device_without_allow_plain_is_refused(home):
    with serving(home) as served:
        code, _, err = sim(served.url, home, "--plain", "--frames", "3")
    assert code == 1
    assert "INSECURE" in err or "PLAIN" in err
    assert "4005" in err


@pytest.mark.parametrize("adapt", [True, False])
def test_stats_carry_each_cameras_live_settings_and_pins_win_with_or_without_adaptation(
    home, tmp_path, adapt
):
    assert main(["--config-dir", str(home), "device", "set", "cam1", "--pin-quality", "30"]) == 0
    stats = tmp_path / "stats.jsonl"
    extra = () if adapt else ("--no-adapt",)
    with serving(home, "--stats-json", str(stats), *extra) as served:
        code, _, err = sim(served.url, home, "--frames", "60", "--fps", "30", "--size", "vga")
        assert code == 0, err
    assert served.returncode == 0, served.err
    (device,) = stats_lines(stats)[-1]["devices"]
    # The camera was asked for the pinned quality and said so in its STATUS.
    assert (device["frame_size"], device["quality"], device["fps_cap"]) == ("vga", 30, 30)
    assert device["adapting"] is adapt
    assert device["adapted"] is False  # pins are the user's settings, not an adaptation
    assert set(device["recent_latency_ms"]) >= {"p50", "p95", "p99"}
    assert device["recent_latency_ms"]["p95"] is not None  # the frames of the last 10 s
