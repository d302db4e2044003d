"""A real player (Debian's ffmpeg) reads `securecam serve --share` as a user would set it up.

Everything is a separate process, as a user runs it: `securecam viewer add` and `viewer token`,
`securecam serve --share --demo 1 --record DIR`, and ffmpeg verifying the generated
certificate. The recording holds the frames exactly as the camera sent them, so every frame
ffmpeg writes out must be one of those files, byte for byte.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.waiting import scaled, wait_until_sync


@pytest.fixture
def ffmpeg() -> str:
    """Debian's ffmpeg; missing fails the test (it never skips): .ci/run installs it."""
    path = shutil.which("ffmpeg")
    assert path is not None, "ffmpeg is not installed: `apt-get install ffmpeg` (.ci/run does)"
    return path


def securecam(home: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app", *args, "--config-dir", str(home)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=True,
    )
    return done.stdout


@dataclass
class Served:
    home: Path
    record: Path
    port: int
    token: str
    process: subprocess.Popen[str]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    home, record = tmp_path / "home", tmp_path / "record"
    password = tmp_path / "password"
    password.write_text("correct horse battery staple\n")
    password.chmod(0o600)
    securecam(home, "viewer", "add", "player", "--all", "--password-file", str(password))
    token = re.search(r"sc_[A-Za-z0-9_-]+", securecam(home, "viewer", "token", "player"))
    assert token is not None
    log = tmp_path / "serve.log"
    with open(log, "w") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "serve",
                "--config-dir",
                str(home),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--demo",
                "1",
                "--record",
                str(record),
                "--share",
                "--share-host",
                "127.0.0.1",
                "--share-port",
                "0",
            ],
            stderr=err,
            text=True,
        )
    try:

        def share_port() -> int | None:
            found = re.search(r"sharing on https://[^:]+:(\d+)/", log.read_text())
            return int(found.group(1)) if found else None

        wait_until_sync(lambda: share_port() is not None, 30, message="the share server starts")
        port = share_port()
        assert port is not None
        yield Served(home, record, port, token.group(0), process)
    finally:
        process.terminate()
        process.wait(timeout=scaled(30))


def play(
    ffmpeg: str, served: Served, *output: str, token: bool
) -> subprocess.CompletedProcess[str]:
    """ffmpeg reading demo-1's stream.mjpeg, verifying the generated certificate."""
    headers = ["-headers", f"Authorization: Bearer {served.token}\r\n"] if token else []
    return subprocess.run(
        [
            ffmpeg,
            "-nostdin",
            "-loglevel",
            "error",
            "-tls_verify",
            "1",
            "-ca_file",
            str(served.home / "share-cert.pem"),
            *headers,
            "-f",
            "mpjpeg",
            "-i",
            f"https://localhost:{served.port}/cameras/demo-1/stream.mjpeg",
            *output,
        ],
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )


def test_ffmpeg_reads_the_mjpeg_stream_with_a_bearer_token_byte_for_byte(
    served: Served, tmp_path: Path, ffmpeg: str
) -> None:
    out = tmp_path / "ffmpeg"
    out.mkdir()
    done = play(
        ffmpeg,
        served,
        "-frames:v",
        "12",
        "-c",
        "copy",
        "-f",
        "image2",
        str(out / "%03d.jpg"),
        token=True,
    )
    assert done.returncode == 0, done.stderr
    played = sorted(out.glob("*.jpg"))
    assert len(played) == 12
    served.process.terminate()  # ends the recording, so every frame sent is on disk
    served.process.wait(timeout=scaled(30))
    recorded = {path.read_bytes() for path in served.record.rglob("*.jpg")}
    assert recorded
    assert all(path.read_bytes() in recorded for path in played)
    assert len({path.read_bytes() for path in played}) == 12  # live frames, not one repeated


def test_ffmpeg_without_the_token_is_refused_and_the_refusal_is_audited(
    served: Served, ffmpeg: str
) -> None:
    done = play(ffmpeg, served, "-frames:v", "1", "-f", "null", "-", token=False)
    assert done.returncode != 0
    assert "401" in done.stderr
    audit = served.home / "logs" / "share-audit.log"
    wait_until_sync(lambda: audit.exists() and "no credentials" in audit.read_text(), 10)
    assert served.token not in audit.read_text()
