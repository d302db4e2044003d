"""The device registry as a Qt service, merged with the throwaway demo registry."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from app.devices.adaptation import AdaptPolicy, adapt_policy
from app.devices.lookup import Lookup, credentials_lookup, first_known
from app.devices.registry import Device, Registry, RegistryError
from app.protocol.session import Credentials
from app.receiver.adapt import Pins

log = logging.getLogger(__name__)

REGISTRY_FIX = (
    "Until it can be read, every camera is refused. Restore the file from a backup or "
    "repair it, then restart SecureCam. If it cannot be repaired, move it aside and add the "
    "cameras again: each one then gets a new key."
)


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """What the UI may know about a device: never its key."""

    name: str
    fingerprint: str
    allow_plain: bool
    demo: bool
    adapt: bool = True  # the app may adapt its quality to the link
    pins: Pins = field(default_factory=Pins)  # settings adaptation never changes


class DevicesService(QObject):
    """Registered devices for the sidebar, and the receiver's credential lookup and
    adaptive-quality policy (`adapt_policy`).

    Demo devices live in their own registry so a demo never writes to the user's.
    `registry_problem` says why the user's registry cannot be read (None while it can);
    `registryProblemChanged` fires when that changes, and each new problem is logged once with
    the file, the problem and the fix (REGISTRY_FIX). The registry is checked on creation.
    """

    devicesChanged = Signal()
    registryProblemChanged = Signal()

    def __init__(self, registry: Registry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self._user_lookup = credentials_lookup(registry)
        self._lookup: Lookup = self._user_lookup
        self._policy: AdaptPolicy = adapt_policy(registry)
        self._demo: Registry | None = None
        self.registry_problem: str | None = None
        self.check_registry()

    def check_registry(self) -> str | None:
        """Read the user's registry now; returns (and records) the problem, or None."""
        try:
            self.registry.list()
        except RegistryError as exc:
            self._note_problem(str(exc))
        else:
            self._note_problem(None)
        return self.registry_problem

    def _note_problem(self, problem: str | None) -> None:
        if problem == self.registry_problem:
            return
        self.registry_problem = problem
        if problem is None:
            log.info("the device registry %s can be read again", self.registry.path)
        else:
            log.error("%s. %s", problem, REGISTRY_FIX)
        self.registryProblemChanged.emit()

    def set_demo_registry(self, demo: Registry | None) -> None:
        self._demo = demo
        self._lookup = (
            self._user_lookup
            if demo is None
            else first_known(credentials_lookup(demo), self._user_lookup)
        )
        registries = [self.registry] if demo is None else [demo, self.registry]
        self._policy = adapt_policy(*registries)
        self.devicesChanged.emit()

    def lookup(self, name: str) -> Credentials | None:
        """The demo registry's credentials for `name`, else the user's."""
        return self._lookup(name)

    def adapt_policy(self, name: str) -> tuple[bool, Pins]:
        """Whether the app may adapt `name`'s quality to the link, and what the user pinned
        (the receiver's Adapter policy): the demo registry's answer, else the user's."""
        return self._policy(name)

    def entries(self) -> list[DeviceEntry]:
        out: dict[str, DeviceEntry] = {}
        try:
            for device in self.registry.list():
                out[device.name] = _entry(device, demo=False)
        except RegistryError as exc:
            self._note_problem(str(exc))
        else:
            self._note_problem(None)
        if self._demo is not None:
            for device in self._demo.list():
                out[device.name] = _entry(device, demo=True)
        return [out[name] for name in sorted(out)]

    def is_demo(self, name: str) -> bool:
        return self._demo is not None and self._demo.lookup(name) is not None

    def add(self, name: str) -> Device:
        """Register a device with a fresh key; raises ValueError or RegistryError."""
        device = self.registry.add(name)
        self.devicesChanged.emit()
        return device

    def remove(self, name: str) -> None:
        self.registry.remove(name)
        self.devicesChanged.emit()

    def rename(self, old: str, new: str) -> None:
        self.registry.rename(old, new)
        self.devicesChanged.emit()

    def set_allow_plain(self, name: str, allow: bool) -> None:
        self._registry_of(name).set_allow_plain(name, allow)
        self.devicesChanged.emit()

    def set_adapt(self, name: str, adapt: bool) -> None:
        """Let the app adapt the device's quality to the link, or not (it then goes back to
        its own settings); persisted. Raises RegistryError."""
        self._registry_of(name).set_adapt(name, adapt)
        self.devicesChanged.emit()

    def _registry_of(self, name: str) -> Registry:
        return self._demo if self.is_demo(name) and self._demo is not None else self.registry


def _entry(device: Device, *, demo: bool) -> DeviceEntry:
    return DeviceEntry(
        device.name, device.key.fingerprint, device.allow_plain, demo, device.adapt, device.pins
    )
