"""Snapshot names, folder and writing: dated names, the Pictures folder, no file clobbered."""

from datetime import datetime

from app.services.snapshots import default_folder, default_name, write_new


def test_the_name_carries_the_device_and_the_time():
    when = datetime(2026, 12, 3, 12, 15, 30)
    assert default_name("front-door", when) == "front-door_2026-12-03_12-15-30.jpg"


def test_the_folder_is_pictures_else_home(tmp_path, monkeypatch):
    home = tmp_path / "user"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    assert default_folder() == home  # no Pictures folder yet
    (home / "Pictures").mkdir()
    assert default_folder() == home / "Pictures"


def test_write_new_never_replaces_a_file(tmp_path):
    path = tmp_path / "cam_2026-12-03_12-15-30.jpg"
    assert write_new(path, b"one") == path
    second = write_new(path, b"two")
    third = write_new(path, b"three")
    assert second == tmp_path / "cam_2026-12-03_12-15-30-2.jpg"
    assert third == tmp_path / "cam_2026-12-03_12-15-30-3.jpg"
    assert [p.read_bytes() for p in (path, second, third)] == [b"one", b"two", b"three"]
