import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def firmware_build() -> Path:
    """The host build of the firmware core (make -C firmware/host), built once per session."""
    result = subprocess.run(
        ["make", "-C", str(ROOT / "firmware" / "host")], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.fail(f"firmware host build failed:\n{result.stdout}\n{result.stderr}")
    return ROOT / "firmware" / "host" / "build"
