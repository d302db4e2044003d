"""The device registry: each camera's name, pre-shared key and suite policy, in one private file.

`devices.json` in the config directory holds
`{"version": 1, "devices": {NAME: {"key": HEX, "allow_plain": bool, "created": ISO}}}`.
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
from pathlib import Path
from typing import Any

from app.errors import SecureCamError
from app.jsonfile import JsonFile
from app.protocol.hello import is_valid_device_id, validate_device_id

log = logging.getLogger(__name__)

KEY_SIZE = 32
REGISTRY_FILE = "devices.json"
FORMAT_VERSION = 1
# The firmware computes the same fingerprint in C: change nothing here without changing it there.
_FINGERPRINT_DOMAIN = b"securecam-fp-v1:"
_HEX_KEY = re.compile(r"[0-9A-Fa-f]{64}")
_KEY_SEPARATORS = str.maketrans("", "", ": ")


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


@dataclass(frozen=True, slots=True)
class Device:
    """A registered camera; `allow_plain` lets it stream unencrypted (latency comparison only)."""

    name: str
    key: DeviceKey
    allow_plain: bool = False
    created: str = field(default_factory=_utc_now)  # ISO-8601 UTC

    def __post_init__(self) -> None:
        validate_device_id(self.name)
        if not isinstance(self.key, DeviceKey):
            raise TypeError("Device.key must be a DeviceKey")


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
        return Device(name, key, allow_plain, created)

    def _dump(self, devices: dict[str, Device]) -> bytes:
        doc = {
            "version": FORMAT_VERSION,
            "devices": {
                name: {
                    "key": devices[name].key.to_text(),
                    "allow_plain": devices[name].allow_plain,
                    "created": devices[name].created,
                }
                for name in sorted(devices)
            },
        }
        return (json.dumps(doc, indent=2) + "\n").encode("utf-8")

    def _corrupt(self, reason: str) -> RegistryError:
        return RegistryError(f"device registry {self.path} is corrupt: {reason}")
