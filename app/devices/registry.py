"""The device registry: each camera's name, pre-shared key, suite policy and quality adaptation,
in one private file.

`devices.json` in the config directory holds
`{"version": 1, "devices": {NAME: {"key": HEX, "allow_plain": bool, "created": ISO}}}`.
An entry may also hold `"adapt": false` (the app never changes the camera's settings to suit
the link) and `"pins": {"frame_size": "VGA", "quality": 12, "fps_cap": 10}` (any of the three:
settings the user fixed, which adaptation never changes). Both are written only when they are
not the default (adapt on, nothing pinned), so files written before they existed stay valid.
Writes are atomic (temp file, fsync, rename, fsync of the directory) and serialized across
processes with `flock`, so the CLI can edit the registry while the receiver is reading it.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from app.errors import SecureCamError
from app.jsonfile import JsonFile
from app.protocol.framesize import JPEG_QUALITY_MAX, JPEG_QUALITY_MIN, FrameSize
from app.protocol.hello import is_valid_device_id, validate_device_id
from app.protocol.records import NO_FPS_CAP
from app.receiver.adapt import Pins

log = logging.getLogger(__name__)

KEY_SIZE = 32
REGISTRY_FILE = "devices.json"
FORMAT_VERSION = 1
# The firmware computes the same fingerprint in C: change nothing here without changing it there.
_FINGERPRINT_DOMAIN = b"securecam-fp-v1:"
_HEX_KEY = re.compile(r"[0-9A-Fa-f]{64}")
_KEY_SEPARATORS = str.maketrans("", "", ": ")
FPS_CAP_MIN = 1
FPS_CAP_MAX = NO_FPS_CAP - 1  # 254: 255 on the wire means "no cap"
_PIN_FIELDS = ("frame_size", "quality", "fps_cap")


class RegistryError(SecureCamError):
    """The registry cannot be read or written, or a request contradicts its contents."""


class UnknownDevice(RegistryError):
    """No device has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no device named {name!r}")
        self.name = name


class DeviceExists(RegistryError):
    """A device with this name is already registered."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a device named {name!r} already exists")
        self.name = name


class DeviceKey:
    """A device's 32-byte Noise pre-shared key; repr and str show only its fingerprint."""

    __slots__ = ("_fingerprint", "_raw")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes | bytearray):
            raise TypeError("a device key is built from bytes")
        if len(raw) != KEY_SIZE:
            raise ValueError(f"a device key is exactly {KEY_SIZE} bytes, got {len(raw)}")
        self._raw = bytes(raw)
        digest = hashlib.sha256(_FINGERPRINT_DOMAIN + self._raw).digest()[:8].hex()
        self._fingerprint = "-".join(digest[i : i + 4] for i in range(0, 16, 4))

    @classmethod
    def generate(cls) -> DeviceKey:
        """A fresh key from the operating system's CSPRNG."""
        return cls(secrets.token_bytes(KEY_SIZE))

    @classmethod
    def from_text(cls, text: str) -> DeviceKey:
        """Parse 64 hex digits (any case; ':' or ' ' separators and surrounding whitespace ok).

        The ValueError raised for bad input never contains the input: it may be a real key.
        """
        if not isinstance(text, str):
            raise TypeError("a device key text must be a str")
        digits = text.strip().translate(_KEY_SEPARATORS)
        if len(digits) != 2 * KEY_SIZE:
            raise ValueError(f"a device key is {2 * KEY_SIZE} hex digits, got {len(digits)}")
        if not _HEX_KEY.fullmatch(digits):
            raise ValueError("a device key is 64 hex digits: found a character outside 0-9, a-f")
        return cls(bytes.fromhex(digits))

    def to_text(self) -> str:
        """64 lowercase hex digits: the form the firmware configuration accepts."""
        return self._raw.hex()

    @property
    def raw(self) -> bytes:
        return self._raw

    @property
    def fingerprint(self) -> str:
        """First 8 bytes of SHA-256(b"securecam-fp-v1:" + key) as `xxxx-xxxx-xxxx-xxxx`."""
        return self._fingerprint

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeviceKey):
            return NotImplemented
        return hmac.compare_digest(self._raw, other._raw)

    def __repr__(self) -> str:
        return f"DeviceKey(fingerprint={self._fingerprint!r})"

    def __str__(self) -> str:
        return self._fingerprint


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_pins(pins: Pins) -> None:
    """Raise ValueError, saying what is allowed, unless every pinned setting is one a camera
    accepts: a FrameSize, a JPEG quality of 4-63, a frame-rate cap of 1-254."""
    if pins.frame_size is not None and not isinstance(pins.frame_size, FrameSize):
        raise ValueError(f"a pinned frame size must be a FrameSize, got {pins.frame_size!r}")
    for what, value, low, high in (
        ("quality", pins.quality, JPEG_QUALITY_MIN, JPEG_QUALITY_MAX),
        ("frame-rate cap", pins.fps_cap, FPS_CAP_MIN, FPS_CAP_MAX),
    ):
        if value is not None and (type(value) is not int or not low <= value <= high):
            raise ValueError(f"a pinned {what} must be {low}-{high}, got {value!r}")


def describe_pins(pins: Pins) -> str:
    """'size VGA, quality 12, fps 10' for what is pinned ('auto' for the rest); 'none'."""
    if pins == Pins():
        return "none"
    return ", ".join(
        (
            f"size {pins.frame_size.name if pins.frame_size is not None else 'auto'}",
            f"quality {pins.quality if pins.quality is not None else 'auto'}",
            f"fps {pins.fps_cap if pins.fps_cap is not None else 'auto'}",
        )
    )


@dataclass(frozen=True, slots=True)
class Device:
    """A registered camera; `allow_plain` lets it stream unencrypted (latency comparison only).

    `adapt` lets the app step the camera's frame size, JPEG quality and frame rate down when
    the link cannot carry them (and back up); `pins` are settings the user fixed, never adapted.
    """

    name: str
    key: DeviceKey
    allow_plain: bool = False
    created: str = field(default_factory=_utc_now)  # ISO-8601 UTC
    adapt: bool = True
    pins: Pins = field(default_factory=Pins)

    def __post_init__(self) -> None:
        validate_device_id(self.name)
        if not isinstance(self.key, DeviceKey):
            raise TypeError("Device.key must be a DeviceKey")
        if not isinstance(self.pins, Pins):
            raise TypeError("Device.pins must be a Pins")
        validate_pins(self.pins)


class Keep(Enum):
    """`Registry.set_adaptation`'s default: leave that setting as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP
T = TypeVar("T")
Change: TypeAlias = T | Keep | None  # a new pinned value, None to unpin, or KEEP


class Registry:
    """The devices registered in `directory / "devices.json"`.

    Reads never take the lock (the file is only ever replaced whole); every change is a
    locked read-modify-write of the file as it is on disk, not of a cached copy.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / REGISTRY_FILE
        self._file: JsonFile[dict[str, Device]] = JsonFile(
            self.path,
            parse=self._parse,
            dump=self._dump,
            empty=dict,
            copy=dict,
            error=RegistryError,
            what="device registry",
        )

    # -- reading ---------------------------------------------------------------------------

    def list(self) -> builtins.list[Device]:
        """Every device, sorted by name."""
        devices = self._file.read()
        return [devices[name] for name in sorted(devices)]

    def get(self, name: str) -> Device:
        """The device called `name`; raises UnknownDevice."""
        device = self.lookup(name)
        if device is None:
            raise UnknownDevice(name)
        return device

    def lookup(self, name: str) -> Device | None:
        """The device called `name`, or None; re-reads the file only when it has changed.

        Raises RegistryError if the file is corrupt or unreadable (callers should refuse the
        connection rather than trust a stale copy).
        """
        return self._file.read().get(name)

    # -- changing --------------------------------------------------------------------------

    def add(self, name: str, *, key: DeviceKey | None = None, allow_plain: bool = False) -> Device:
        """Register a device (a fresh random key unless one is given); raises DeviceExists."""
        validate_device_id(name)
        device = Device(name, key if key is not None else DeviceKey.generate(), allow_plain)

        def change(devices: dict[str, Device]) -> Device:
            if name in devices:
                raise DeviceExists(name)
            devices[name] = device
            return device

        self._file.update(change)
        log.info(
            "added device %s (fingerprint %s, %s)",
            name,
            device.key.fingerprint,
            "plain allowed" if allow_plain else "encrypted only",
        )
        return device

    def remove(self, name: str) -> Device:
        """Unregister a device and return it; raises UnknownDevice."""

        def change(devices: dict[str, Device]) -> Device:
            if name not in devices:
                raise UnknownDevice(name)
            return devices.pop(name)

        device = self._file.update(change)
        log.info("removed device %s (fingerprint %s)", name, device.key.fingerprint)
        return device

    def rename(self, old: str, new: str) -> Device:
        """Give a device a new name, keeping its key; raises UnknownDevice or DeviceExists."""
        validate_device_id(new)

        def change(devices: dict[str, Device]) -> Device:
            if old not in devices:
                raise UnknownDevice(old)
            if new == old:
                return devices[old]
            if new in devices:
                raise DeviceExists(new)
            device = replace(devices.pop(old), name=new)
            devices[new] = device
            return device

        device = self._file.update(change)
        if new != old:
            log.info("renamed device %s to %s (fingerprint %s)", old, new, device.key.fingerprint)
        return device

    def set_allow_plain(self, name: str, allow: bool) -> Device:
        """Allow or refuse unencrypted streams from a device; raises UnknownDevice."""
        before: list[bool] = []

        def change(devices: dict[str, Device]) -> Device:
            if name not in devices:
                raise UnknownDevice(name)
            before.append(devices[name].allow_plain)
            devices[name] = replace(devices[name], allow_plain=allow)
            return devices[name]

        device = self._file.update(change)
        if before[0] != allow:
            log.log(
                logging.WARNING if allow else logging.INFO,
                "device %s (fingerprint %s): plain streams %s",
                name,
                device.key.fingerprint,
                "ALLOWED" if allow else "refused",
            )
        return device

    def set_adaptation(
        self,
        name: str,
        *,
        adapt: bool | Keep = KEEP,
        frame_size: Change[FrameSize] = KEEP,
        quality: Change[int] = KEEP,
        fps_cap: Change[int] = KEEP,
    ) -> Device:
        """Turn quality adaptation on or off and pin or unpin (None) each setting, in one
        atomic change; what is left at KEEP stays as it is.

        Raises UnknownDevice, or ValueError (before anything is written) for a pinned value a
        camera cannot take.
        """
        wanted = Pins(
            None if isinstance(frame_size, Keep) else frame_size,
            None if isinstance(quality, Keep) else quality,
            None if isinstance(fps_cap, Keep) else fps_cap,
        )
        validate_pins(wanted)
        before: list[Device] = []

        def change(devices: dict[str, Device]) -> Device:
            if name not in devices:
                raise UnknownDevice(name)
            old = devices[name]
            before.append(old)
            pins = Pins(
                old.pins.frame_size if isinstance(frame_size, Keep) else frame_size,
                old.pins.quality if isinstance(quality, Keep) else quality,
                old.pins.fps_cap if isinstance(fps_cap, Keep) else fps_cap,
            )
            on = old.adapt if isinstance(adapt, Keep) else adapt
            devices[name] = replace(old, adapt=on, pins=pins)
            return devices[name]

        device = self._file.update(change)
        old = before[0]
        if old.adapt != device.adapt:
            log.info("device %s: quality adaptation %s", name, "on" if device.adapt else "off")
        if old.pins != device.pins:
            log.info("device %s: pinned settings: %s", name, describe_pins(device.pins))
        return device

    def set_adapt(self, name: str, adapt: bool) -> Device:
        """Turn quality adaptation on or off for a device; raises UnknownDevice."""
        return self.set_adaptation(name, adapt=adapt)

    def set_pins(self, name: str, pins: Pins) -> Device:
        """Replace a device's pinned settings; raises UnknownDevice or ValueError."""
        return self.set_adaptation(
            name, frame_size=pins.frame_size, quality=pins.quality, fps_cap=pins.fps_cap
        )

    # -- file handling ---------------------------------------------------------------------

    def _parse(self, data: bytes) -> dict[str, Device]:
        # Messages may name devices and fields but never quote a key: it is the secret.
        try:
            doc = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise self._corrupt("not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise self._corrupt(f"not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise self._corrupt("the top level is not a JSON object")
        version = doc.get("version")
        if type(version) is not int:
            raise self._corrupt("no format version")
        if version != FORMAT_VERSION:
            raise self._corrupt(f"format version {version} is not supported (only 1)")
        entries = doc.get("devices")
        if not isinstance(entries, dict):
            raise self._corrupt('"devices" is not a JSON object')
        devices: dict[str, Device] = {}
        for name, entry in entries.items():
            devices[name] = self._parse_device(name, entry)
        return devices

    def _parse_device(self, name: str, entry: Any) -> Device:
        if not is_valid_device_id(name):
            raise self._corrupt(f"invalid device name {name!r}")
        if not isinstance(entry, dict):
            raise self._corrupt(f"the entry for {name!r} is not a JSON object")
        key_text, allow_plain, created = (entry.get(k) for k in ("key", "allow_plain", "created"))
        if not isinstance(key_text, str):
            raise self._corrupt(f"device {name!r} has no key")
        try:
            key = DeviceKey.from_text(key_text)
        except ValueError:
            raise self._corrupt(f"device {name!r} has a malformed key") from None
        if not isinstance(allow_plain, bool):
            raise self._corrupt(f'device {name!r}: "allow_plain" is not true or false')
        if not isinstance(created, str):
            raise self._corrupt(f'device {name!r}: "created" is not a string')
        adapt = entry.get("adapt", True)
        if not isinstance(adapt, bool):
            raise self._corrupt(f'device {name!r}: "adapt" is not true or false')
        return Device(name, key, allow_plain, created, adapt, self._parse_pins(name, entry))

    def _parse_pins(self, name: str, entry: dict[str, Any]) -> Pins:
        pins = entry.get("pins", {})
        if not isinstance(pins, dict):
            raise self._corrupt(f'device {name!r}: "pins" is not a JSON object')
        unknown = sorted(set(pins) - set(_PIN_FIELDS))
        if unknown:
            raise self._corrupt(
                f"device {name!r}: unknown pinned setting {unknown[0]!r} "
                f"(only {', '.join(_PIN_FIELDS)})"
            )
        size_name = pins.get("frame_size")
        frame_size = None
        if size_name is not None:
            try:
                if not isinstance(size_name, str):
                    raise ValueError("not a name")
                frame_size = FrameSize.parse(size_name)
            except ValueError:
                sizes = ", ".join(size.name for size in FrameSize)
                raise self._corrupt(
                    f"device {name!r}: pinned frame size {size_name!r} is not one of {sizes}"
                ) from None
        result = Pins(frame_size, pins.get("quality"), pins.get("fps_cap"))
        try:
            validate_pins(result)
        except ValueError as exc:
            raise self._corrupt(f"device {name!r}: {exc}") from None
        return result

    def _dump(self, devices: dict[str, Device]) -> bytes:
        doc = {
            "version": FORMAT_VERSION,
            "devices": {name: _entry(devices[name]) for name in sorted(devices)},
        }
        return (json.dumps(doc, indent=2) + "\n").encode("utf-8")

    def _corrupt(self, reason: str) -> RegistryError:
        return RegistryError(f"device registry {self.path} is corrupt: {reason}")


def _entry(device: Device) -> dict[str, Any]:
    """A device's JSON entry: adaptation and pins only when they are not the default."""
    entry: dict[str, Any] = {
        "key": device.key.to_text(),
        "allow_plain": device.allow_plain,
        "created": device.created,
    }
    if not device.adapt:
        entry["adapt"] = False
    pins = device.pins
    pinned: dict[str, Any] = {}
    if pins.frame_size is not None:
        pinned["frame_size"] = pins.frame_size.name
    if pins.quality is not None:
        pinned["quality"] = pins.quality
    if pins.fps_cap is not None:
        pinned["fps_cap"] = pins.fps_cap
    if pinned:
        entry["pins"] = pinned
    return entry
