"""`securecam sim`'s options: frame sizes named as `provision` and `device set` name them."""

from __future__ import annotations

import pytest

from app.cli import build_parser, main
from app.cli_common import frame_size_names
from app.protocol.framesize import FrameSize

SIM = ["sim", "--device", "cam1"]
PROVISION = ["provision", "--port", "/dev/null", "--name", "cam1", "--wifi-ssid", "HomeNet"]


def test_a_bad_size_is_one_line_listing_every_valid_name(capsys):
    with pytest.raises(SystemExit) as info:
        main([*SIM, "--size", "huge"])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        "securecam sim: error: argument --size: 'huge' is not a frame size: choose one of "
        "qqvga, qvga, cif, hvga, vga, svga, xga, hd, sxga, uxga\n"
    )


def test_the_help_lists_every_size_and_the_default(capsys):
    with pytest.raises(SystemExit):
        main(["sim", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"--size SIZE frame size: {frame_size_names()} (default vga)" in text


@pytest.mark.parametrize("size", list(FrameSize), ids=lambda size: size.name.lower())
def test_sim_provision_and_device_set_take_the_same_names(size):
    parser = build_parser()
    for name in (size.name.lower(), size.name, size.name.capitalize()):
        sim = parser.parse_args([*SIM, "--size", name])
        provision = parser.parse_args([*PROVISION, "--frame-size", name])
        pinned = parser.parse_args(["device", "set", "cam1", "--pin-size", name])
        assert sim.size is provision.frame_size is pinned.pin_size is size


def test_the_default_size_is_vga():
    assert build_parser().parse_args(SIM).size is FrameSize.VGA
