"""The camera settings, described once, and what is derived from the description: the range
check, the `securecam provision` options and the read-back comparison."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from app.devices.registry import Registry
from app.paths import config_dir
from app.protocol.framesize import JPEG_BUFFER_NO_PSRAM, FrameSize
from app.serial import camera_settings, provision_cli
from app.serial.camera_settings import CameraSettings


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="securecam")
    provision_cli.add_parser(root.add_subparsers(dest="command"))
    return root


REQUIRED = ["provision", "--port", "/dev/null", "--name", "cam", "--wifi-ssid", "HomeNet"]


def test_defaults_and_description():
    assert CameraSettings() == CameraSettings(FrameSize.VGA, jpeg_quality=12, fps_cap=25)
    CameraSettings().check()
    names = [name for name, _ in camera_settings.described()]
    assert names == [field.name for field in dataclasses.fields(CameraSettings)]
    described = dict(camera_settings.described())
    assert described["jpeg_quality"].describe() == "JPEG quality 4-63, lower is better"
    assert described["fps_cap"].describe() == "frame-rate cap 1-254, 255 for none"
    assert described["frame_size"].describe() == (
        "frame size: qqvga, qvga, cif, hvga, vga, svga, xga, hd, sxga, uxga"
    )
    assert described["frame_size"].show(FrameSize.SVGA) == "svga"
    assert described["frame_size"].parse("SVGA") is described["frame_size"].parse("6")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"frame_size": 0}, "frame size: qqvga, "),
        ({"frame_size": 11}, "frame size: qqvga, "),
        ({"jpeg_quality": 3}, "JPEG quality: 4-63"),
        ({"jpeg_quality": 64}, "JPEG quality: 4-63"),
        ({"fps_cap": 0}, "frame-rate cap: 1-254, 255 for none"),
        ({"fps_cap": 256}, "frame-rate cap: 1-254, 255 for none"),
    ],
)
def test_check_names_the_setting_out_of_range(changes, message):
    with pytest.raises(ValueError, match=message):
        CameraSettings(**changes).check()


def test_differences_name_each_setting_that_differs():
    want = CameraSettings(FrameSize.SVGA, 10, 15)
    assert camera_settings.differences(want, want) == []
    assert camera_settings.differences(CameraSettings(99, 10, 20), want) == [
        ("frame size", 99, FrameSize.SVGA),
        ("frame-rate cap", 20, 15),
    ]


def test_provision_options_are_derived_from_the_settings(capsys):
    args = parser().parse_args(REQUIRED)
    assert provision_cli.camera(args) == CameraSettings()
    given = ["--frame-size", "svga", "--quality", "10", "--fps", "255"]
    args = parser().parse_args([*REQUIRED, *given])
    assert provision_cli.camera(args) == CameraSettings(FrameSize.SVGA, 10, 255)
    with pytest.raises(SystemExit):
        parser().parse_args(["provision", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for _, setting in camera_settings.described():
        assert setting.option in help_text and setting.describe() in help_text
    assert "JPEG quality 4-63, lower is better (default 12)" in help_text
    assert "frame-rate cap 1-254, 255 for none (default 25)" in help_text
    assert "frame size: qqvga, qvga, cif, hvga, vga, svga, xga, hd, sxga, uxga (default vga)" in (
        help_text
    )


def test_a_bad_option_value_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        parser().parse_args([*REQUIRED, "--frame-size", "huge"])
    assert info.value.code == 2
    assert "'huge' is not a frame size: choose one of qqvga, qvga" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("settings", "note"),
    [
        (CameraSettings(), None),  # VGA at 12 fits
        (CameraSettings(FrameSize.UXGA, 17), None),  # exactly the floor
        (CameraSettings(FrameSize.UXGA, 12), "at uxga the camera raises JPEG quality 12 to 17"),
        (CameraSettings(FrameSize.XGA, 4), "at xga the camera raises JPEG quality 4 to 5"),
        (CameraSettings(99, 4), None),  # a size this app does not name: nothing to say
    ],
)
def test_quality_note_says_when_the_camera_will_raise_the_quality(settings, note):
    got = settings.quality_note()
    if note is None:
        assert got is None
    else:
        assert got is not None and got.startswith(note)
        assert "384,000-byte buffer" in got and "or a smaller frame size" in got


def test_the_note_for_a_board_without_psram_uses_its_buffer():
    note = CameraSettings(FrameSize.CIF, 12).quality_note(JPEG_BUFFER_NO_PSRAM)
    assert note is not None and note.startswith("at cif the camera raises JPEG quality 12 to 18")
    assert CameraSettings(FrameSize.CIF, 12).quality_note() is None  # fits with PSRAM


def test_provision_prints_the_note_and_keeps_the_chosen_quality(capsys):
    # The name is taken, so provisioning stops before the port is opened: the note comes first.
    Registry(config_dir(None)).add("cam")
    args = parser().parse_args([*REQUIRED, "--frame-size", "uxga", "--quality", "12"])
    assert provision_cli.camera(args) == CameraSettings(FrameSize.UXGA, 12)
    assert provision_cli.run(args) == 1
    out, err = capsys.readouterr()
    assert "Note: at uxga the camera raises JPEG quality 12 to 17" in out
    assert "already registered" in err
