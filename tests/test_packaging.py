"""An installed copy works like a checkout: the wheel carries every file the app loads.

The wheel is built offline from a copy of just what it is built from (no build isolation, no
index: the dev environment's setuptools builds it), then installed into a bare directory and
imported by a Python that sees nothing else: no site-packages, no checkout, cwd elsewhere.
"""

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from app.resources import BOOT_MODE_DIAGRAM, PHOTOS
from tests.waiting import scaled

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pip(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=scaled(180),
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    shutil.copytree(ROOT / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out), ".", cwd=source)
    (built,) = out.glob("securecam-*.whl")
    return built


def test_the_wheel_carries_the_resources(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert f"app/resources/{BOOT_MODE_DIAGRAM}" in names
    assert "app/resources/__init__.py" in names
    photos = sorted((ROOT / "app" / "resources" / PHOTOS).glob("*.jpg"))
    assert len(photos) == 10
    for photo in [*photos, ROOT / "app" / "resources" / PHOTOS / "README.md"]:
        assert f"app/resources/{PHOTOS}/{photo.name}" in names
    assert not any(name.startswith(("tests/", "resources/", "firmware/")) for name in names)


def test_an_installed_copy_finds_its_resources_and_version(wheel, tmp_path):
    site = tmp_path / "site"
    pip("install", "--no-deps", "--no-index", "--target", str(site), str(wheel), cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = (
        "import app, app.resources as r;"
        "print(app.__file__);"
        "print(app.__version__);"
        f"print(len(r.read_resource({BOOT_MODE_DIAGRAM!r})));"
        "print(sum(len(jpeg) for _, jpeg in r.photos()))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe],  # -S: no site-packages, so no editable checkout
        cwd=elsewhere,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    assert result.returncode == 0, result.stderr
    location, version, size, photo_bytes = result.stdout.split()
    assert Path(location).is_relative_to(site)
    assert version == PROJECT["version"]
    assert int(size) == len((ROOT / "app" / "resources" / BOOT_MODE_DIAGRAM).read_bytes()) > 0
    photos = (ROOT / "app" / "resources" / PHOTOS).glob("*.jpg")
    assert int(photo_bytes) == sum(len(photo.read_bytes()) for photo in photos) > 0
