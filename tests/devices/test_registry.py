"""The device registry: keys, persistence, private atomic writes, corruption, change detection."""

import hashlib
import json
import logging
import os
import stat
import threading

import pytest

from app import jsonfile
from app.devices.registry import (
    Device,
    DeviceExists,
    DeviceKey,
    Registry,
    RegistryError,
    UnknownDevice,
)
from app.protocol.framesize import FrameSize
from app.receiver.adapt import Pins

KEY_BYTES = bytes(range(32))
KEY_HEX = KEY_BYTES.hex()


@pytest.fixture
def umask_zero():
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# -- DeviceKey ------------------------------------------------------------------------------


def test_generated_keys_are_32_random_bytes():
    a, b = DeviceKey.generate(), DeviceKey.generate()
    assert len(a.raw) == 32
    assert a != b


def test_key_text_round_trips_as_64_lowercase_hex():
    key = DeviceKey.generate()
    text = key.to_text()
    assert len(text) == 64
    assert text == text.lower()
    assert bytes.fromhex(text) == key.raw
    assert DeviceKey.from_text(text) == key


@pytest.mark.parametrize(
    "text",
    [
        KEY_HEX.upper(),
        f"  {KEY_HEX}\n",
        ":".join(KEY_HEX[i : i + 2] for i in range(0, 64, 2)),
        " ".join(KEY_HEX[i : i + 8] for i in range(0, 64, 8)),
        "\t" + ":".join(KEY_HEX[i : i + 2] for i in range(0, 64, 2)).upper() + " \r\n",
    ],
    ids=["upper", "whitespace", "colons", "spaces", "mixed"],
)
def test_key_text_accepts_case_whitespace_and_separators(text):
    assert DeviceKey.from_text(text).raw == KEY_BYTES


@pytest.mark.parametrize(
    "text",
    [
        "",
        KEY_HEX[:-1],
        KEY_HEX + "a",
        KEY_HEX[:-1] + "g",
        "0x" + KEY_HEX[2:],
        KEY_HEX[:32] + "-" + KEY_HEX[33:],
        "é" * 64,
    ],
    ids=["empty", "short", "long", "non-hex", "0x-prefix", "dash", "non-ascii"],
)
def test_bad_key_text_is_rejected_without_echoing_it(text):
    with pytest.raises(ValueError) as info:
        DeviceKey.from_text(text)
    message = str(info.value)
    assert "64 hex digits" in message
    if text:
        assert text not in message
        assert text.strip()[:16] not in message


def test_key_must_be_exactly_32_bytes():
    for size in (0, 16, 31, 33, 64):
        with pytest.raises(ValueError, match="exactly 32 bytes"):
            DeviceKey(bytes(size))
    with pytest.raises(TypeError):
        DeviceKey(KEY_HEX)  # type: ignore[arg-type]


def test_fingerprint_is_sha256_of_domain_and_key_in_four_groups():
    digest = hashlib.sha256(b"securecam-fp-v1:" + KEY_BYTES).hexdigest()[:16]
    expected = f"{digest[0:4]}-{digest[4:8]}-{digest[8:12]}-{digest[12:16]}"
    key = DeviceKey(KEY_BYTES)
    assert key.fingerprint == expected
    # Known answer the firmware's C implementation must reproduce.
    assert key.fingerprint == "e4a5-37e2-d346-a02b"
    assert DeviceKey.from_text(KEY_HEX.upper()).fingerprint == expected


def test_fingerprint_is_deterministic_and_differs_between_keys():
    key = DeviceKey.generate()
    assert DeviceKey(key.raw).fingerprint == key.fingerprint
    assert DeviceKey.generate().fingerprint != key.fingerprint


def test_keys_compare_by_value():
    assert DeviceKey(KEY_BYTES) == DeviceKey(bytes(KEY_BYTES))
    assert DeviceKey(KEY_BYTES) != DeviceKey(bytes(32))
    assert DeviceKey(KEY_BYTES) != KEY_BYTES


def _assert_no_key_material(text, key):
    assert key.to_text() not in text
    assert key.to_text().upper() not in text
    assert repr(key.raw) not in text
    assert str(key.raw) not in text
    assert key.raw.hex(":") not in text


def test_key_repr_and_str_show_only_the_fingerprint():
    key = DeviceKey(KEY_BYTES)
    for text in (repr(key), str(key), f"{key}", f"{key!r}"):
        assert key.fingerprint in text
        _assert_no_key_material(text, key)


def test_device_repr_and_str_do_not_leak_the_key():
    key = DeviceKey(KEY_BYTES)
    device = Device("cam1", key)
    for text in (repr(device), str(device), f"{device}"):
        assert "cam1" in text
        assert key.fingerprint in text
        _assert_no_key_material(text, key)


def test_device_rejects_invalid_names():
    with pytest.raises(ValueError, match="invalid device name"):
        Device("bad name", DeviceKey.generate())


# -- Registry: round trips --------------------------------------------------------------------


def test_empty_registry_lists_nothing_and_creates_no_files(tmp_path):
    registry = Registry(tmp_path / "cfg")
    assert registry.list() == []
    assert registry.lookup("cam1") is None
    assert not (tmp_path / "cfg").exists()


def test_added_device_persists_for_a_fresh_registry(tmp_path):
    key = DeviceKey(KEY_BYTES)
    added = Registry(tmp_path).add("cam1", key=key, allow_plain=True)
    loaded = Registry(tmp_path).get("cam1")
    assert loaded == added
    assert loaded.key == key
    assert loaded.allow_plain is True
    assert loaded.created.endswith("Z")
    assert loaded.created.startswith(added.created[:4])


def test_file_has_the_documented_format(tmp_path):
    device = Registry(tmp_path).add("cam1", key=DeviceKey(KEY_BYTES))
    doc = json.loads((tmp_path / "devices.json").read_text())
    assert doc == {
        "version": 1,
        "devices": {"cam1": {"key": KEY_HEX, "allow_plain": False, "created": device.created}},
    }


def test_add_generates_a_distinct_key_per_device(tmp_path):
    registry = Registry(tmp_path)
    a, b = registry.add("a"), registry.add("b")
    assert a.key != b.key
    assert a.allow_plain is False


def test_list_is_sorted_by_name(tmp_path):
    registry = Registry(tmp_path)
    for name in ("zeta", "Alpha", "beta", "0cam"):
        registry.add(name)
    assert [d.name for d in Registry(tmp_path).list()] == ["0cam", "Alpha", "beta", "zeta"]


def test_add_refuses_a_duplicate_name_and_keeps_the_original(tmp_path):
    registry = Registry(tmp_path)
    original = registry.add("cam1")
    with pytest.raises(DeviceExists, match="cam1"):
        registry.add("cam1")
    assert Registry(tmp_path).get("cam1").key == original.key


@pytest.mark.parametrize("name", ["", "-cam", "cam 1", "cam/1", "x" * 33, "kamera-ü"])
def test_add_refuses_names_that_cannot_go_on_the_wire(tmp_path, name):
    with pytest.raises(ValueError, match="invalid device name"):
        Registry(tmp_path).add(name)
    assert not (tmp_path / "devices.json").exists()


def test_get_unknown_device_raises_unknown_device_naming_it(tmp_path):
    Registry(tmp_path).add("cam1")
    with pytest.raises(UnknownDevice, match="cam9") as info:
        Registry(tmp_path).get("cam9")
    assert isinstance(info.value, RegistryError)
    assert info.value.name == "cam9"


def test_remove_persists_and_unknown_remove_raises(tmp_path):
    registry = Registry(tmp_path)
    registry.add("cam1")
    registry.add("cam2")
    removed = registry.remove("cam1")
    assert removed.name == "cam1"
    assert [d.name for d in Registry(tmp_path).list()] == ["cam2"]
    with pytest.raises(UnknownDevice):
        registry.remove("cam1")


def test_rename_keeps_key_policy_and_creation_time(tmp_path):
    registry = Registry(tmp_path)
    original = registry.add("old", allow_plain=True)
    renamed = registry.rename("old", "new")
    fresh = Registry(tmp_path)
    assert fresh.lookup("old") is None
    assert fresh.get("new") == renamed
    assert (renamed.key, renamed.allow_plain, renamed.created) == (
        original.key,
        original.allow_plain,
        original.created,
    )


def test_rename_refuses_unknown_source_existing_target_and_bad_name(tmp_path):
    registry = Registry(tmp_path)
    registry.add("a")
    registry.add("b")
    with pytest.raises(UnknownDevice, match="'x'"):
        registry.rename("x", "y")
    with pytest.raises(DeviceExists, match="'b'"):
        registry.rename("a", "b")
    with pytest.raises(ValueError, match="invalid device name"):
        registry.rename("a", "bad name")
    assert [d.name for d in Registry(tmp_path).list()] == ["a", "b"]


def test_set_allow_plain_persists_both_ways(tmp_path):
    registry = Registry(tmp_path)
    registry.add("cam1")
    assert registry.set_allow_plain("cam1", True).allow_plain is True
    assert Registry(tmp_path).get("cam1").allow_plain is True
    assert registry.set_allow_plain("cam1", False).allow_plain is False
    assert Registry(tmp_path).get("cam1").allow_plain is False
    with pytest.raises(UnknownDevice):
        registry.set_allow_plain("cam9", True)


def test_a_new_device_adapts_and_pins_nothing_and_its_entry_says_neither(tmp_path):
    device = Registry(tmp_path).add("cam1")
    assert device.adapt is True
    assert device.pins == Pins()
    entry = json.loads((tmp_path / "devices.json").read_text())["devices"]["cam1"]
    assert set(entry) == {"key", "allow_plain", "created"}


def test_adaptation_and_pins_persist_and_are_stored_only_when_not_default(tmp_path):
    registry = Registry(tmp_path)
    registry.add("cam1", key=DeviceKey(KEY_BYTES))
    changed = registry.set_adaptation(
        "cam1", adapt=False, frame_size=FrameSize.VGA, quality=20, fps_cap=10
    )
    assert changed.adapt is False
    assert changed.pins == Pins(FrameSize.VGA, 20, 10)
    assert Registry(tmp_path).get("cam1") == changed
    entry = json.loads((tmp_path / "devices.json").read_text())["devices"]["cam1"]
    assert entry["adapt"] is False
    assert entry["pins"] == {"frame_size": "VGA", "quality": 20, "fps_cap": 10}

    registry.set_adaptation("cam1", adapt=True, frame_size=None, quality=None, fps_cap=None)
    entry = json.loads((tmp_path / "devices.json").read_text())["devices"]["cam1"]
    assert set(entry) == {"key", "allow_plain", "created"}
    assert Registry(tmp_path).get("cam1").pins == Pins()


def test_set_adaptation_keeps_what_it_is_not_given(tmp_path):
    registry = Registry(tmp_path)
    registry.add("cam1")
    registry.set_pins("cam1", Pins(FrameSize.SVGA, 15, 12))
    registry.set_adapt("cam1", False)
    assert registry.set_adaptation("cam1", quality=None).pins == Pins(FrameSize.SVGA, None, 12)
    device = registry.set_adaptation("cam1", fps_cap=5)
    assert device.pins == Pins(FrameSize.SVGA, None, 5)
    assert device.adapt is False
    assert registry.set_adapt("cam1", True).pins == Pins(FrameSize.SVGA, None, 5)


def test_rename_keeps_adaptation_and_pins(tmp_path):
    registry = Registry(tmp_path)
    registry.add("cam1")
    registry.set_adaptation("cam1", adapt=False, quality=30)
    renamed = registry.rename("cam1", "cam2")
    assert (renamed.adapt, renamed.pins) == (False, Pins(quality=30))


@pytest.mark.parametrize(
    ("pins", "message"),
    [
        ({"quality": 3}, "quality must be 4-63"),
        ({"quality": 64}, "quality must be 4-63"),
        ({"fps_cap": 0}, "frame-rate cap must be 1-254"),
        ({"fps_cap": 255}, "frame-rate cap must be 1-254"),
        ({"frame_size": 5}, "frame size must be a FrameSize"),
    ],
)
def test_a_pinned_value_no_camera_takes_is_refused_before_writing(tmp_path, pins, message):
    registry = Registry(tmp_path)
    registry.add("cam1")
    before = (tmp_path / "devices.json").read_bytes()
    with pytest.raises(ValueError, match=message):
        registry.set_adaptation("cam1", **pins)
    assert (tmp_path / "devices.json").read_bytes() == before


def test_set_adaptation_of_an_unknown_device_raises(tmp_path):
    with pytest.raises(UnknownDevice):
        Registry(tmp_path).set_adapt("cam9", False)


def test_a_file_without_adaptation_fields_reads_as_the_defaults(tmp_path):
    (tmp_path / "devices.json").write_text(
        json.dumps(
            {
                "version": 1,
                "devices": {"cam1": {"key": KEY_HEX, "allow_plain": False, "created": "x"}},
            }
        )
    )
    device = Registry(tmp_path).get("cam1")
    assert (device.adapt, device.pins) == (True, Pins())


def test_pinned_frame_sizes_are_read_in_any_case(tmp_path):
    entry = {"key": KEY_HEX, "allow_plain": False, "created": "x", "pins": {"frame_size": "svga"}}
    (tmp_path / "devices.json").write_text(json.dumps({"version": 1, "devices": {"cam1": entry}}))
    assert Registry(tmp_path).get("cam1").pins == Pins(frame_size=FrameSize.SVGA)


# -- Registry: private, atomic writes ----------------------------------------------------------


def test_files_are_private_even_with_umask_zero(tmp_path, umask_zero):
    directory = tmp_path / "nested" / "cfg"
    registry = Registry(directory)
    registry.add("cam1")
    registry.set_allow_plain("cam1", True)
    assert mode(directory) == 0o700
    assert mode(directory / "devices.json") == 0o600
    assert mode(directory / ".devices.lock") == 0o600


def test_existing_permissive_file_becomes_private_on_next_write(tmp_path, umask_zero):
    registry = Registry(tmp_path)
    registry.add("cam1")
    os.chmod(tmp_path / "devices.json", 0o644)
    registry.add("cam2")
    assert mode(tmp_path / "devices.json") == 0o600


def test_writes_leave_no_temporary_files(tmp_path):
    registry = Registry(tmp_path)
    registry.add("a")
    registry.add("b")
    registry.rename("b", "c")
    registry.set_allow_plain("a", True)
    registry.remove("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".devices.lock", "devices.json"]


def test_failed_replace_keeps_the_old_file_and_removes_the_temp_file(tmp_path, monkeypatch):
    registry = Registry(tmp_path)
    registry.add("cam1")
    before = (tmp_path / "devices.json").read_bytes()

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jsonfile.os, "replace", failing_replace)
    with pytest.raises(RegistryError, match="cannot write device registry"):
        registry.add("cam2")
    monkeypatch.undo()
    assert (tmp_path / "devices.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".devices.lock", "devices.json"]
    assert [d.name for d in Registry(tmp_path).list()] == ["cam1"]


def test_concurrent_writers_through_separate_registries_lose_no_update(tmp_path):
    names = [f"cam{t}-{i}" for t in range(6) for i in range(8)]
    errors = []

    def writer(thread):
        registry = Registry(tmp_path)  # its own lock file descriptor, like another process
        try:
            for name in names:
                if name.startswith(f"cam{thread}-"):
                    registry.add(name)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [d.name for d in Registry(tmp_path).list()] == sorted(names)


# -- Registry: corrupt or unreadable files ----------------------------------------------------

CORRUPT = {
    "not-json": b"{not json",
    "not-utf8": b"\xff\xfe{}",
    "list": b"[]",
    "no-version": b'{"devices": {}}',
    "future-version": b'{"version": 2, "devices": {}}',
    "devices-list": b'{"version": 1, "devices": []}',
    "bad-name": b'{"version": 1, "devices": {"bad name": {}}}',
    "entry-not-object": b'{"version": 1, "devices": {"cam1": 5}}',
    "short-key": json.dumps(
        {
            "version": 1,
            "devices": {"cam1": {"key": KEY_HEX[:-2], "allow_plain": False, "created": "x"}},
        }
    ).encode(),
    "missing-key": b'{"version": 1, "devices": {"cam1": {"allow_plain": false, "created": "x"}}}',
    "allow-plain-string": json.dumps(
        {"version": 1, "devices": {"cam1": {"key": KEY_HEX, "allow_plain": "no", "created": "x"}}}
    ).encode(),
    "missing-created": json.dumps(
        {"version": 1, "devices": {"cam1": {"key": KEY_HEX, "allow_plain": False}}}
    ).encode(),
}


def _with(**fields) -> bytes:
    entry = {"key": KEY_HEX, "allow_plain": False, "created": "x", **fields}
    return json.dumps({"version": 1, "devices": {"cam1": entry}}).encode()


CORRUPT.update(
    {
        "adapt-string": _with(adapt="no"),
        "pins-list": _with(pins=["VGA"]),
        "pin-unknown": _with(pins={"resolution": "VGA"}),
        "pin-size-unknown": _with(pins={"frame_size": "XL"}),
        "pin-size-number": _with(pins={"frame_size": 5}),
        "pin-quality-high": _with(pins={"quality": 64}),
        "pin-quality-text": _with(pins={"quality": "12"}),
        "pin-quality-bool": _with(pins={"quality": True}),
        "pin-fps-zero": _with(pins={"fps_cap": 0}),
        "pin-fps-uncapped": _with(pins={"fps_cap": 255}),
    }
)


@pytest.mark.parametrize("content", CORRUPT.values(), ids=CORRUPT.keys())
def test_corrupt_file_raises_naming_the_path_and_is_never_overwritten(tmp_path, content):
    path = tmp_path / "devices.json"
    path.write_bytes(content)
    registry = Registry(tmp_path)
    for attempt in (
        registry.list,
        lambda: registry.get("cam1"),
        lambda: registry.lookup("cam1"),
        lambda: registry.add("cam2"),
        lambda: registry.remove("cam1"),
        lambda: registry.rename("cam1", "cam3"),
        lambda: registry.set_allow_plain("cam1", True),
        lambda: registry.set_adapt("cam1", False),
    ):
        with pytest.raises(RegistryError) as info:
            attempt()
        assert str(path) in str(info.value)
        assert "corrupt" in str(info.value)
        assert KEY_HEX[:16] not in str(info.value)
        assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) in (
        ["devices.json"],
        [".devices.lock", "devices.json"],
    )


def test_unreadable_registry_raises_registry_error_naming_the_path(tmp_path):
    (tmp_path / "devices.json").mkdir()
    with pytest.raises(RegistryError, match="cannot read device registry") as info:
        Registry(tmp_path).list()
    assert str(tmp_path / "devices.json") in str(info.value)
    with pytest.raises(RegistryError):
        Registry(tmp_path).add("cam1")


def test_registry_directory_that_is_a_file_raises_registry_error(tmp_path):
    (tmp_path / "cfg").write_text("not a directory")
    with pytest.raises(RegistryError):
        Registry(tmp_path / "cfg").add("cam1")


# -- Registry: lookup change detection --------------------------------------------------------


def test_lookup_returns_none_for_unknown_names(tmp_path):
    registry = Registry(tmp_path)
    registry.add("cam1")
    assert registry.lookup("cam2") is None
    assert registry.lookup("") is None
    assert registry.lookup("CAM1") is None  # names are exact, as on the wire


def test_lookup_sees_changes_made_by_another_registry(tmp_path):
    receiver, cli = Registry(tmp_path), Registry(tmp_path)
    assert receiver.lookup("cam1") is None

    added = cli.add("cam1")
    assert receiver.lookup("cam1") == added

    cli.set_allow_plain("cam1", True)
    assert receiver.lookup("cam1").allow_plain is True

    # Same length, so the file size does not change: still noticed.
    cli.rename("cam1", "cam2")
    assert receiver.lookup("cam1") is None
    assert receiver.lookup("cam2").key == added.key

    cli.remove("cam2")
    assert receiver.lookup("cam2") is None


def test_lookup_does_not_reread_an_unchanged_file(tmp_path):
    registry = Registry(tmp_path)
    device = registry.add("cam1")
    assert registry.lookup("cam1") == device
    path = tmp_path / "devices.json"
    st = os.stat(path)
    # Overwrite in place with same-size garbage and restore the mtime: the stamp is unchanged,
    # so a lookup that re-read the file would now raise.
    with open(path, "r+b") as f:
        f.write(b"\0" * st.st_size)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert registry.lookup("cam1") == device
    with pytest.raises(RegistryError):
        Registry(tmp_path).lookup("cam1")  # a fresh instance reads the file and finds the garbage


def test_lookup_notices_a_deleted_file(tmp_path):
    registry = Registry(tmp_path)
    registry.add("cam1")
    assert registry.lookup("cam1") is not None
    (tmp_path / "devices.json").unlink()
    assert registry.lookup("cam1") is None


# -- logging ----------------------------------------------------------------------------------


def test_changes_are_logged_with_name_and_fingerprint_but_never_the_key(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="app.devices.registry")
    registry = Registry(tmp_path)
    device = registry.add("cam1", key=DeviceKey(KEY_BYTES))
    registry.set_allow_plain("cam1", True)
    registry.rename("cam1", "cam2")
    registry.remove("cam2")
    records = [r for r in caplog.records if r.name == "app.devices.registry"]
    assert len(records) == 4
    for record in records:
        message = record.getMessage()
        assert device.key.fingerprint in message
        _assert_no_key_material(message, device.key)
    assert "cam1" in records[0].getMessage()
    assert records[1].levelno == logging.WARNING


def test_adaptation_changes_are_logged_once_each(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="app.devices.registry")
    registry = Registry(tmp_path)
    registry.add("cam1")
    caplog.clear()
    registry.set_adaptation("cam1", adapt=False, frame_size=FrameSize.VGA)
    registry.set_adaptation("cam1", adapt=False, frame_size=FrameSize.VGA)  # no change
    messages = [r.getMessage() for r in caplog.records if r.name == "app.devices.registry"]
    assert messages == [
        "device cam1: quality adaptation off",
        "device cam1: pinned settings: size VGA, quality auto, fps auto",
    ]
