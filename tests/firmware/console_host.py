"""The host-built camera console (`securecam-console --pty`) as a test peer."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.waiting import scaled

SSID = "HomeNet"
PASSWORD = "correct horse battery"


class HostConsole:
    """One securecam-console process serving a pty, its configuration in `config`.

    It joins only `SSID` with `PASSWORD`; `networks` is what its Wi-Fi scan reports.
    """

    def __init__(self, binary: Path, config: Path, *extra: str, networks: str) -> None:
        self.config = config
        self.proc = subprocess.Popen(
            [
                str(binary),
                "--pty",
                "--boot-noise",
                "--config",
                str(config),
                "--networks",
                networks,
                "--wifi",
                f"{SSID}:{PASSWORD}",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().decode()
        assert first.startswith("PTY /dev/"), first
        self.path = first.split(" ", 1)[1].strip()
        self.stderr = b""

    def stored(self) -> dict[str, bytes]:
        """The console's config file: NVS key -> value bytes."""
        if not self.config.exists():
            return {}
        lines = self.config.read_text().splitlines()
        assert lines[0] == "securecam-config 1"
        return {k: bytes.fromhex(v) for k, _, v in (line.partition("=") for line in lines[1:])}

    def stop(self) -> bytes:
        self.proc.terminate()
        _, self.stderr = self.proc.communicate(timeout=scaled(10))
        return self.stderr
