"""The camera settings SecureCam gives a camera when it provisions it, described once.

`CameraSettings` is their one home. Each field carries a `Setting` (its label, limits,
command-line option and parser), and everything else is derived from it: the range check,
the `securecam provision` options (app/serial/provision_cli.py), the setup wizard's fields
(app/ui/setup_wizard/camera_fields.py) and the comparison of what the camera reports back
(app/serial/provisioner.py). Only the wire format lives elsewhere: the codec
(app/serial/improv_codec.py, `encode_camera`/`decode_camera`) gives each field its
SC_SET_CONFIG tag and reads it from SC_GET_CONFIG (docs/PROVISIONING.md section 5).

Adding a setting: a field here with its `Setting`, then its tag and one line each in
`encode_camera` and `decode_camera` (and the firmware's side). Nothing else changes.

Pure: no serial port, no Qt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from app.protocol.framesize import (
    JPEG_BUFFER_PSRAM,
    JPEG_QUALITY_MAX,
    JPEG_QUALITY_MIN,
    FrameSize,
    min_jpeg_quality,
)
from app.protocol.records import NO_FPS_CAP

_SETTING = "setting"  # the key of a field's `Setting` in its dataclass metadata


@dataclass(frozen=True, slots=True)
class Setting:
    """How one camera setting is named, bounded and parsed.

    `label` names it in messages and (capitalised) in the wizard; `option` is its
    `securecam provision` option; `choices`, an enum, makes it a choice (shown by lower-case
    member name), else `low`..`high` bound an integer; `limits` says the range in words when
    the bounds alone would mislead; `hint` follows the range in help texts; `parse` reads the
    option's text.
    """

    label: str
    option: str
    hint: str = ""
    low: int = 0
    high: int = 0
    limits: str = ""
    choices: type[IntEnum] | None = None
    parse: Callable[[str], Any] = int

    def allows(self, value: object) -> bool:
        """Whether `value` is within this setting's choices or bounds."""
        if self.choices is not None:
            return value in {member.value for member in self.choices}
        return isinstance(value, int) and self.low <= value <= self.high

    def range_text(self) -> str:
        """The allowed values in words: "4-63", or "qqvga, qvga, ... uxga" for a choice."""
        if self.choices is not None:
            return ", ".join(member.name.lower() for member in self.choices)
        return self.limits or f"{self.low}-{self.high}"

    def describe(self) -> str:
        """One line for a help text: label, range and hint ("JPEG quality 4-63, lower is
        better"; "frame size: qqvga, ..., uxga")."""
        if self.choices is not None:
            return f"{self.label}: {self.range_text()}"
        return f"{self.label} {self.range_text()}" + (f", {self.hint}" if self.hint else "")

    def show(self, value: object) -> str:
        """`value` as a person types it: a choice by its lower-case name, else as is."""
        return value.name.lower() if isinstance(value, IntEnum) else str(value)


def _frame_size(text: str) -> FrameSize:
    """A frame size by name ("vga", any case) or by its wire code ("5")."""
    text = text.strip()
    return FrameSize(int(text)) if text.isdigit() else FrameSize.parse(text)


@dataclass(frozen=True, slots=True)
class CameraSettings:
    """The picture a camera sends: resolution, JPEG quality, frame-rate cap.

    The defaults are what a camera gets unless told otherwise. Values are not checked on
    construction (a camera may report a frame size this app does not name, kept as its
    code); `check` checks them, and the codec does before encoding.
    """

    frame_size: FrameSize | int = field(
        default=FrameSize.VGA,
        metadata={
            _SETTING: Setting("frame size", "--frame-size", choices=FrameSize, parse=_frame_size)
        },
    )
    jpeg_quality: int = field(
        default=12,
        metadata={
            _SETTING: Setting(
                "JPEG quality",
                "--quality",
                hint="lower is better",
                low=JPEG_QUALITY_MIN,
                high=JPEG_QUALITY_MAX,
            )
        },
    )
    fps_cap: int = field(
        default=25,
        metadata={
            _SETTING: Setting(
                "frame-rate cap",
                "--fps",
                low=1,
                high=NO_FPS_CAP,
                limits=f"1-{NO_FPS_CAP - 1}, {NO_FPS_CAP} for none",
            )
        },
    )

    def quality_note(self, buffer_bytes: int = JPEG_BUFFER_PSRAM) -> str | None:
        """A hint when the camera will raise this JPEG quality at this frame size, else None.

        The camera's JPEG buffer (`buffer_bytes`, by default a board with PSRAM) cannot hold
        the largest frames below a floor per size (docs/JPEG-BUFFER.md). This is not an error:
        the setting is kept as chosen, and the camera applies the floor and reports it in STATUS.
        """
        try:
            size = FrameSize(self.frame_size)
        except ValueError:
            return None
        lowest = min_jpeg_quality(size, buffer_bytes)
        if lowest is None or not JPEG_QUALITY_MIN <= self.jpeg_quality < lowest:
            return None
        return (
            f"at {size.name.lower()} the camera raises JPEG quality {self.jpeg_quality} to "
            f"{lowest}, the best whose largest frames fit its {buffer_bytes:,}-byte buffer; "
            f"choose {lowest} or more, or a smaller frame size, to stream what you set"
        )

    def check(self) -> None:
        """Raise ValueError naming the first setting out of its range ("JPEG quality: 4-63")."""
        for name, setting in described():
            if not setting.allows(getattr(self, name)):
                raise ValueError(f"{setting.label}: {setting.range_text()}")


def described() -> Iterator[tuple[str, Setting]]:
    """Each camera setting's field name and `Setting`, in the dataclass's order."""
    for item in dataclasses.fields(CameraSettings):
        yield item.name, item.metadata[_SETTING]


def differences(got: CameraSettings, want: CameraSettings) -> list[tuple[str, object, object]]:
    """(label, got, want) for every setting where `got` differs from `want`."""
    return [
        (setting.label, getattr(got, name), getattr(want, name))
        for name, setting in described()
        if getattr(got, name) != getattr(want, name)
    ]
