"""`securecam device ...` through the real entry point, in-process and as a subprocess."""

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.devices.registry import DeviceKey, Registry
from app.protocol.framesize import FrameSize
from app.receiver.adapt import Pins
from tests.waiting import scaled

REPO = Path(__file__).resolve().parents[2]
KEY_LINE = re.compile(r"^\s+([0-9a-f]{64})\s*$", re.MULTILINE)
HEX64 = re.compile(r"[0-9a-fA-F]{64}")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Point every default location into tmp_path so no test can reach the real user config."""
    home = tmp_path / "home"
    monkeypatch.delenv("SECURECAM_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return home


@pytest.fixture
def cfg(tmp_path):
    return tmp_path / "cfg"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def added_key(out):
    keys = KEY_LINE.findall(out)
    assert len(keys) == 1, out
    return keys[0]


def test_add_prints_the_key_with_fingerprint_and_next_step(capsys, cfg):
    code, out, err = run(capsys, "--config-dir", cfg, "device", "add", "cam1")
    assert code == 0
    key = added_key(out)
    assert out.count(key) == 1
    assert key not in err
    stored = Registry(cfg).get("cam1")
    assert stored.key.to_text() == key
    assert stored.allow_plain is False
    assert "cam1" in out
    assert "once" not in out  # `device show --key` prints it again: saying otherwise was false
    assert "camera's configuration" in out
    assert "keep it safe" in out
    assert stored.key.fingerprint in out
    assert "securecam sim --device cam1" in out
    assert "encrypted only" in out


def test_add_names_the_command_that_prints_the_key_again_and_that_command_does(capsys, cfg):
    code, out, _ = run(capsys, "--config-dir", cfg, "device", "add", "cam1")
    assert code == 0
    key = added_key(out)
    (command,) = re.findall(r"`(securecam device [^`]*--key)`", out)
    assert command == "securecam device show cam1 --key"
    assert "`device list` and `device show` hide it" in out
    code, shown, _ = run(capsys, "--config-dir", cfg, *command.split()[1:])
    assert code == 0 and f"Key:           {key}" in shown
    code, listed, _ = run(capsys, "--config-dir", cfg, "device", "list")
    code, hidden, _ = run(capsys, "--config-dir", cfg, "device", "show", "cam1")
    assert key not in listed and key not in hidden


def test_add_never_logs_the_key(capsys, caplog, cfg):
    caplog.set_level(logging.DEBUG)
    code, out, _ = run(capsys, "device", "add", "cam1", "--config-dir", cfg)
    assert code == 0
    key = added_key(out)
    assert "cam1" in caplog.text
    assert key not in caplog.text
    assert HEX64.search(caplog.text) is None


def test_add_with_allow_plain_registers_it_and_warns(capsys, cfg):
    code, out, err = run(capsys, "device", "add", "cam1", "--allow-plain", "--config-dir", cfg)
    assert code == 0
    assert Registry(cfg).get("cam1").allow_plain is True
    assert "plain allowed (INSECURE)" in out
    assert "neither encrypted nor authenticated" in err


def test_list_and_show_hide_the_key_and_show_key_reveals_it(capsys, cfg):
    _, out, _ = run(capsys, "device", "add", "cam1", "--config-dir", cfg)
    key = added_key(out)
    fingerprint = DeviceKey.from_text(key).fingerprint

    code, out, err = run(capsys, "device", "list", "--config-dir", cfg)
    assert code == 0
    assert key not in out + err
    assert HEX64.search(out) is None
    assert fingerprint in out

    code, out, err = run(capsys, "device", "show", "cam1", "--config-dir", cfg)
    assert code == 0
    assert key not in out + err
    assert HEX64.search(out) is None
    assert fingerprint in out
    assert "--key" in out

    code, out, _ = run(capsys, "device", "show", "cam1", "--key", "--config-dir", cfg)
    assert code == 0
    assert key in out
    assert fingerprint in out


def test_list_shows_name_policy_fingerprint_and_created(capsys, cfg):
    registry = Registry(cfg)
    secure = registry.add("cam-b")
    plain = registry.add("cam-a", allow_plain=True)
    code, out, _ = run(capsys, "device", "list", "--config-dir", cfg)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3
    assert "NAME" in lines[0] and "FINGERPRINT" in lines[0]
    for line, device, policy in (
        (lines[1], plain, "plain allowed (INSECURE)"),
        (lines[2], secure, "encrypted only"),
    ):
        assert line.startswith(device.name)
        assert policy in line
        assert device.key.fingerprint in line
        assert device.created in line


def test_list_when_empty_says_so_with_a_hint(capsys, cfg):
    code, out, _ = run(capsys, "device", "list", "--config-dir", cfg)
    assert code == 0
    assert "No devices registered." in out
    assert "securecam device add" in out
    assert not cfg.exists()


def test_set_allow_plain_warns_and_no_allow_plain_restores(capsys, cfg):
    Registry(cfg).add("cam1")
    code, out, err = run(capsys, "device", "set", "cam1", "--allow-plain", "--config-dir", cfg)
    assert code == 0
    assert Registry(cfg).get("cam1").allow_plain is True
    assert "plain allowed (INSECURE)" in out
    assert "neither encrypted nor authenticated" in err
    assert "latency" in err

    code, out, err = run(capsys, "device", "set", "cam1", "--no-allow-plain", "--config-dir", cfg)
    assert code == 0
    assert Registry(cfg).get("cam1").allow_plain is False
    assert "encrypted only" in out
    assert "warning" not in err


@pytest.mark.parametrize(
    "flags",
    [[], ["--allow-plain", "--no-allow-plain"], ["--adapt", "--no-adapt"]],
    ids=["nothing", "both-plain", "both-adapt"],
)
def test_set_needs_something_to_change_and_no_contradiction(capsys, cfg, flags):
    Registry(cfg).add("cam1")
    before = (cfg / "devices.json").read_bytes()
    with pytest.raises(SystemExit) as info:
        main(["device", "set", "cam1", *flags, "--config-dir", str(cfg)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert (cfg / "devices.json").read_bytes() == before


def test_set_turns_adaptation_off_and_pins_settings_in_any_case(capsys, cfg):
    Registry(cfg).add("cam1")
    code, out, _ = run(
        capsys,
        *("device", "set", "cam1", "--no-adapt", "--pin-size", "Vga"),
        *("--pin-quality", "20", "--pin-fps", "10", "--config-dir", cfg),
    )
    assert code == 0
    device = Registry(cfg).get("cam1")
    assert device.adapt is False
    assert device.pins == Pins(FrameSize.VGA, 20, 10)
    assert "quality adaptation off" in out
    assert "size VGA, quality 20, fps 10" in out


def test_set_auto_unpins_only_what_it_names_and_keeps_the_rest(capsys, cfg):
    registry = Registry(cfg)
    registry.add("cam1", allow_plain=True)
    registry.set_adaptation("cam1", adapt=False, frame_size=FrameSize.SVGA, quality=15, fps_cap=5)
    code, _, _ = run(
        capsys, "device", "set", "cam1", "--pin-quality", "AUTO", "--pin-fps", "auto",
        "--config-dir", cfg,
    )  # fmt: skip
    assert code == 0
    device = Registry(cfg).get("cam1")
    assert device.pins == Pins(frame_size=FrameSize.SVGA)
    assert device.adapt is False
    assert device.allow_plain is True
    code, _, _ = run(capsys, "device", "set", "cam1", "--adapt", "--config-dir", cfg)
    assert code == 0
    assert Registry(cfg).get("cam1").adapt is True
    assert Registry(cfg).get("cam1").pins == Pins(frame_size=FrameSize.SVGA)


def test_set_can_change_the_suite_policy_and_adaptation_together(capsys, cfg):
    Registry(cfg).add("cam1")
    code, out, _ = run(
        capsys, "device", "set", "cam1", "--allow-plain", "--no-adapt", "--config-dir", cfg
    )
    assert code == 0
    device = Registry(cfg).get("cam1")
    assert (device.allow_plain, device.adapt) == (True, False)
    assert "plain allowed (INSECURE)" in out
    assert "quality adaptation off" in out


@pytest.mark.parametrize(
    ("option", "value", "listed"),
    [
        ("--pin-size", "xl", "qqvga, qvga, cif, hvga, vga, svga, xga, hd, sxga, uxga, or auto"),
        ("--pin-size", "640x480", "qqvga, qvga, cif"),
        ("--pin-quality", "3", "4 (best) to 63, or auto"),
        ("--pin-quality", "64", "4 (best) to 63, or auto"),
        ("--pin-quality", "high", "4 (best) to 63, or auto"),
        ("--pin-fps", "0", "1 to 254 frames per second, or auto"),
        ("--pin-fps", "255", "1 to 254 frames per second, or auto"),
        ("--pin-fps", "2.5", "1 to 254 frames per second, or auto"),
    ],
)
def test_a_bad_pinned_value_is_one_line_listing_the_valid_ones(capsys, cfg, option, value, listed):
    Registry(cfg).add("cam1")
    before = (cfg / "devices.json").read_bytes()
    with pytest.raises(SystemExit) as info:
        main(["device", "set", "cam1", option, value, "--config-dir", str(cfg)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"securecam device set: error: argument {option}: ")
    assert repr(value) in line
    assert listed in line
    assert (cfg / "devices.json").read_bytes() == before


def test_set_help_shows_each_adaptation_options_default(capsys):
    with pytest.raises(SystemExit):
        main(["device", "set", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--pin-size SIZE|auto", "--pin-quality Q|auto", "--pin-fps N|auto"):
        start = text.rindex(option)  # in the options, after the usage line
        # `set` changes only what it is given; auto is what a new camera starts with
        assert "(default: keep it as it is; a new camera has auto)" in text[start:][:300], option
    assert "--adapt let the app lower" in text
    assert "(the default for a new camera)" in text[text.index("--adapt let") :][:250]


def test_list_and_show_say_whether_a_camera_adapts_and_what_is_pinned(capsys, cfg):
    registry = Registry(cfg)
    registry.add("cam-a")
    registry.add("cam-b")
    registry.set_adaptation("cam-b", adapt=False, frame_size=FrameSize.QVGA)
    code, out, _ = run(capsys, "device", "list", "--config-dir", cfg)
    assert code == 0
    header, cam_a, cam_b = out.splitlines()
    assert "ADAPT" in header and "PINNED" in header
    assert re.search(r"\bon\b", cam_a) and "none" in cam_a
    assert re.search(r"\boff\b", cam_b) and "size QVGA, quality auto, fps auto" in cam_b

    code, out, _ = run(capsys, "device", "show", "cam-b", "--config-dir", cfg)
    assert code == 0
    assert re.search(r"^Adaptation:\s+off\b", out, re.MULTILINE)
    assert re.search(r"^Pinned:\s+size QVGA, quality auto, fps auto$", out, re.MULTILINE)
    code, out, _ = run(capsys, "device", "show", "cam-a", "--config-dir", cfg)
    assert re.search(r"^Adaptation:\s+on\b", out, re.MULTILINE)
    assert re.search(r"^Pinned:\s+none$", out, re.MULTILINE)


def test_remove_and_rename_change_the_registry(capsys, cfg):
    registry = Registry(cfg)
    original = registry.add("cam1")
    registry.add("cam2")

    code, out, _ = run(capsys, "device", "rename", "cam1", "front-door", "--config-dir", cfg)
    assert code == 0
    assert "front-door" in out
    assert Registry(cfg).get("front-door").key == original.key

    code, out, _ = run(capsys, "device", "remove", "cam2", "--config-dir", cfg)
    assert code == 0
    assert "cam2" in out
    assert [d.name for d in Registry(cfg).list()] == ["front-door"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "cam9"], "no device named 'cam9'"),
        (["remove", "cam9"], "no device named 'cam9'"),
        (["rename", "cam9", "cam10"], "no device named 'cam9'"),
        (["set", "cam9", "--allow-plain"], "no device named 'cam9'"),
        (["set", "cam9", "--no-adapt"], "no device named 'cam9'"),
        (["set", "cam9", "--allow-plain", "--pin-fps", "5"], "no device named 'cam9'"),
        (["add", "cam1"], "a device named 'cam1' already exists"),
        (["rename", "cam1", "cam2"], "a device named 'cam2' already exists"),
        (["add", "bad name"], "invalid device name 'bad name'"),
        (["rename", "cam1", "bad/name"], "invalid device name 'bad/name'"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_errors_print_one_line_and_exit_1(capsys, cfg, argv, message):
    registry = Registry(cfg)
    registry.add("cam1")
    registry.add("cam2")
    before = (cfg / "devices.json").read_bytes()
    code, out, err = run(capsys, "device", *argv, "--config-dir", cfg)
    assert code == 1
    assert err.startswith("securecam: error: ")
    assert message in err
    assert "Traceback" not in err
    assert out == ""
    assert (cfg / "devices.json").read_bytes() == before


def test_corrupt_registry_is_reported_and_left_alone(capsys, cfg):
    cfg.mkdir()
    path = cfg / "devices.json"
    path.write_bytes(b"{ definitely not json")
    for argv in (["list"], ["show", "cam1"], ["add", "cam1"], ["remove", "cam1"]):
        code, out, err = run(capsys, "device", *argv, "--config-dir", cfg)
        assert out == ""
        assert code == 1
        assert err.startswith("securecam: error: ")
        assert str(path) in err
        assert "corrupt" in err
        assert "Traceback" not in err
    assert path.read_bytes() == b"{ definitely not json"


@pytest.mark.parametrize(
    "position",
    ["before-command", "after-command", "after-action"],
)
def test_config_dir_works_before_and_after_the_sub_command(capsys, tmp_path, position):
    target = tmp_path / "chosen"
    options = ["--config-dir", str(target)]
    argv = {
        "before-command": [*options, "device", "add", "cam1"],
        "after-command": ["device", *options, "add", "cam1"],
        "after-action": ["device", "add", "cam1", *options],
    }[position]
    code, _, _ = run(capsys, *argv)
    assert code == 0
    assert Registry(target).lookup("cam1") is not None


def test_later_config_dir_overrides_an_earlier_one(capsys, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    code, _, _ = run(capsys, "--config-dir", first, "device", "add", "cam1", "--config-dir", second)
    assert code == 0
    assert Registry(second).lookup("cam1") is not None
    assert not first.exists()


def test_securecam_home_is_used_unless_config_dir_is_given(capsys, tmp_path, monkeypatch):
    home = tmp_path / "securecam-home"
    monkeypatch.setenv("SECURECAM_HOME", str(home))
    code, _, _ = run(capsys, "device", "add", "cam1")
    assert code == 0
    assert Registry(home).lookup("cam1") is not None

    other = tmp_path / "explicit"
    code, _, _ = run(capsys, "device", "add", "cam2", "--config-dir", other)
    assert code == 0
    assert Registry(other).lookup("cam2") is not None
    assert Registry(home).lookup("cam2") is None


def _securecam(*argv, env):
    return subprocess.run(
        [sys.executable, "-m", "app", *map(str, argv)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )


def test_device_commands_work_as_a_subprocess(tmp_path, isolated_home):
    env = {k: v for k, v in os.environ.items() if k != "SECURECAM_HOME"}
    env.update(HOME=str(isolated_home), XDG_CONFIG_HOME=str(isolated_home / ".config"))
    home = tmp_path / "securecam-home"
    cfg = tmp_path / "cfg"

    added = _securecam("device", "add", "cam1", env={**env, "SECURECAM_HOME": str(home)})
    assert added.returncode == 0, added.stderr
    key = added_key(added.stdout)
    assert key not in added.stderr
    assert Registry(home).get("cam1").key.to_text() == key

    listed = _securecam("device", "list", "--config-dir", home, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "cam1" in listed.stdout
    assert key not in listed.stdout + listed.stderr

    shown = _securecam("--config-dir", home, "device", "show", "cam1", "--key", env=env)
    assert shown.returncode == 0, shown.stderr
    assert key in shown.stdout

    missing = _securecam("device", "show", "cam1", "--config-dir", cfg, env=env)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == "securecam: error: no device named 'cam1'"
    assert "Traceback" not in missing.stderr
