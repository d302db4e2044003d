"""Provision a SecureCam camera over USB serial: registry entry, Wi-Fi, server, name and key.

`provision` is the one procedure behind `securecam provision` and the setup wizard
(docs/PROVISIONING.md section 9); what the camera is given is one `ProvisionRequest`. It is
all or nothing on the app's side: if any step fails or is cancelled after the device was
registered, the registry entry is removed again (or, with `replace=True`, the previous entry
is put back), and a port it opened is always closed.

The key is never logged, never put in an exception and never passed to `on_step`: only its
fingerprint is, and the camera's copy is checked by comparing fingerprints.

Blocking; the wizard runs it in a worker thread and cancels it with a `threading.Event`
(checked between steps and while waiting for the console; a Wi-Fi attempt in progress is
finished first).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum

from app.devices.registry import Device, DeviceExists, DeviceKey, Registry, RegistryError
from app.errors import UserError
from app.protocol.endpoints import DEFAULT_PORT
from app.protocol.hello import is_valid_device_id
from app.serial import camera_settings
from app.serial.camera_settings import CameraSettings
from app.serial.improv import DEFAULT_BAUDRATE, ImprovClient, SerialLike, open_port
from app.serial.improv_codec import (
    DEVICE_NAME_RULE,
    CameraConfig,
    ConfigUpdate,
    DeviceInfo,
    ErrorCode,
    ExtensionError,
    ImprovError,
    ImprovErrorState,
    ImprovTimeout,
    Network,
    encode_config,
    encode_wifi_settings,
)

log = logging.getLogger(__name__)

PortArg = str | SerialLike | ImprovClient

GUIDANCE_WIFI = (
    "Check the password, and that the network is 2.4 GHz (the ESP32 cannot use 5 GHz) and in range."
)


@dataclass(frozen=True, slots=True)
class ProvisionRequest:
    """What a camera is given: its name, the Wi-Fi network, the receiver and its picture.

    `name` is the device's registry name too. The password never appears in the repr.
    """

    name: str
    ssid: str
    password: str = field(repr=False)
    server_host: str
    server_port: int = DEFAULT_PORT
    camera: CameraSettings = field(default_factory=CameraSettings)


@dataclass(frozen=True, slots=True)
class ProvisionTimeouts:
    """Seconds to wait: for the console to answer at all (a camera reset by opening the port
    boots in about a second), for each command, for joining Wi-Fi, for a Wi-Fi scan."""

    console: float = 10.0
    command: float = 5.0
    wifi: float = 30.0
    scan: float = 30.0


DEFAULT_TIMEOUTS = ProvisionTimeouts()


class Step(Enum):
    """The stages `on_step` reports, in order (ROLLBACK only after a failure)."""

    CHECK = "check"
    OPEN = "open"
    CONSOLE = "console"
    INFO = "info"
    REGISTER = "register"
    WIFI = "wifi"
    CONFIGURE = "configure"
    VERIFY = "verify"
    REBOOT = "reboot"
    DONE = "done"
    ROLLBACK = "rollback"


StepCallback = Callable[[Step, str], None]


class ProvisionError(UserError):
    """Provisioning failed: `message` says what happened, `guidance` (maybe empty) what to
    do. Neither ever holds the key or the Wi-Fi password.

    `rollback_failed` is True when the registry could not be put back as it was (the message
    then says what to check by hand).
    """

    rollback_failed: bool = False


class ProvisionCancelled(ProvisionError):
    """The `cancel` event was set; nothing was left registered."""


class NameTaken(ProvisionError):
    """The name is registered already and `replace` was not given; nothing was touched."""


class ConsoleTimeout(ProvisionError):
    """No SecureCam console answered on the port."""


class WifiConnectError(ProvisionError):
    """The camera could not join the Wi-Fi network (password, 5 GHz, range)."""


class VerificationError(ProvisionError):
    """The configuration the camera reports back is not the one that was sent."""


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    """What was provisioned: never the key, only its fingerprint."""

    device_name: str
    fingerprint: str
    server_url: str
    device_info: DeviceInfo  # as read before provisioning (its name is the old one)
    config: CameraConfig  # as read back after provisioning
    replaced: bool  # an existing registry entry of that name was replaced
    rebooted: bool


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise ProvisionCancelled("provisioning cancelled")


@contextmanager
def _client(
    port: PortArg, *, command_timeout: float, baudrate: int = DEFAULT_BAUDRATE
) -> Iterator[ImprovClient]:
    """An ImprovClient for `port`; a port opened here (by path) is closed on exit."""
    if isinstance(port, ImprovClient):
        yield port
        return
    if not isinstance(port, str):
        yield ImprovClient(port, timeout=command_timeout)
        return
    try:
        client = open_port(port, baudrate=baudrate, timeout=command_timeout, exclusive=True)
    except Exception as exc:  # serial.SerialException and OSError
        raise ProvisionError(f"cannot open serial port {port}: {_reason(exc)}") from exc
    try:
        yield client
    finally:
        try:
            client.close()
        except Exception as exc:  # closing must not hide the real outcome
            log.warning("closing serial port %s failed: %s", port, exc)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _wait_for_console(
    client: ImprovClient, timeout: float, cancel: threading.Event | None, port_name: str
) -> None:
    """Ask for the Improv state until the console answers; boot noise is skipped."""
    deadline = time.monotonic() + timeout
    while True:
        _check_cancel(cancel)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            heard = len(client.reader.lines)
            hint = (
                f"It printed {heard} line(s) of other output: is SecureCam firmware flashed?"
                if heard
                else "Nothing was received: wrong port, camera not powered, or held in reset."
            )
            raise ConsoleTimeout(
                f"no SecureCam console answered on {port_name} within {timeout:g} s", hint
            )
        try:
            client.request_state(timeout=min(1.0, remaining))
            return
        except ImprovTimeout:
            continue
        except ImprovErrorState as exc:
            # Boot noise may corrupt a request: "invalid RPC" means try again.
            if exc.code in (ErrorCode.INVALID_RPC, ErrorCode.UNKNOWN):
                continue
            raise ProvisionError(
                f"the device on {port_name} is not a SecureCam camera: {exc}"
            ) from None
        except ImprovError as exc:
            raise ProvisionError(f"the device on {port_name} answered garbage: {exc}") from exc


def _port_name(port: PortArg) -> str:
    if isinstance(port, str):
        return port
    inner = port.port if isinstance(port, ImprovClient) else port
    return str(getattr(inner, "port", None) or getattr(inner, "name", None) or "the port")


def scan_networks(
    port: PortArg,
    *,
    timeouts: ProvisionTimeouts = DEFAULT_TIMEOUTS,
    cancel: threading.Event | None = None,
) -> list[Network]:
    """The Wi-Fi networks the camera sees, strongest first, one entry per SSID.

    Opens (and closes) the port when given a path. Raises ProvisionError subclasses.
    """
    port_name = _port_name(port)
    with _client(port, command_timeout=timeouts.command) as client:
        _wait_for_console(client, timeouts.console, cancel, port_name)
        _check_cancel(cancel)
        try:
            networks = client.scan(timeout=timeouts.scan)
        except ImprovTimeout:
            raise ProvisionError(
                f"the camera did not finish its Wi-Fi scan in {timeouts.scan:g} s"
            ) from None
        except ImprovError as exc:
            raise ProvisionError(f"Wi-Fi scan failed: {exc}") from exc
    best: dict[str, Network] = {}
    for network in networks:
        if network.ssid and (network.ssid not in best or network.rssi > best[network.ssid].rssi):
            best[network.ssid] = network
    return sorted(best.values(), key=lambda n: -n.rssi)


def check_request(request: ProvisionRequest) -> None:
    """Check everything about `request` that can be checked without the camera.

    Raises:
        ProvisionError: naming the first bad field (the device's own rules).
    """
    if not is_valid_device_id(request.name):
        raise ProvisionError(DEVICE_NAME_RULE)
    try:
        encode_wifi_settings(request.ssid, request.password)
        encode_config(_update(request))
    except ValueError as exc:
        raise ProvisionError(str(exc)) from None


def _update(request: ProvisionRequest, key: DeviceKey | None = None) -> ConfigUpdate:
    """What SC_SET_CONFIG sends for `request` (the key once it is registered)."""
    return ConfigUpdate(
        server_host=request.server_host,
        server_port=request.server_port,
        device_name=request.name,
        key=key,
        camera=request.camera,
    )


def provision(
    port: PortArg,
    request: ProvisionRequest,
    *,
    registry: Registry,
    replace: bool = False,
    reboot: bool = True,
    on_step: StepCallback | None = None,
    cancel: threading.Event | None = None,
    timeouts: ProvisionTimeouts = DEFAULT_TIMEOUTS,
) -> ProvisionResult:
    """Register `request.name` with a fresh key and give the camera on `port` everything in
    `request`.

    `port` is a device path (opened at 115200 baud, exclusively, and always closed again), an
    open pyserial-like object or an ImprovClient (left open).

    Steps: check the request and that the name is free (refused before the port is touched,
    unless `replace`), wait for the console, read its device information, register the
    device, send the Wi-Fi settings (Improv), then server, name, key and camera settings
    (extension), read the configuration back and compare it (the key by fingerprint), and
    reboot the camera (unless not `reboot`) so it starts with it.

    Raises:
        ProvisionError: (NameTaken, ConsoleTimeout, WifiConnectError, VerificationError,
            ProvisionCancelled) with the registry as it was before the call.
    """
    name = request.name

    def step(which: Step, message: str) -> None:
        log.debug("provision %s: %s", name, message)
        if on_step is not None:
            on_step(which, message)

    # -- check everything that can be checked without the camera --------------------------
    step(Step.CHECK, "checking the settings")
    check_request(request)
    try:
        previous = registry.lookup(name)
    except RegistryError as exc:
        raise ProvisionError(str(exc)) from exc
    if previous is not None and not replace:
        raise NameTaken(
            f"a device named {name!r} is already registered",
            "Choose another name, or replace it (its current key then stops working).",
        )
    _check_cancel(cancel)

    port_name = _port_name(port)
    step(Step.OPEN, f"opening {port_name}")
    with _client(port, command_timeout=timeouts.command) as client:
        step(Step.CONSOLE, "waiting for the camera's console")
        _wait_for_console(client, timeouts.console, cancel, port_name)
        try:
            info = client.device_info()
        except ImprovError as exc:
            raise ProvisionError(f"reading the camera's device information failed: {exc}") from None
        step(Step.INFO, f"found {info.firmware} {info.version} on {info.hardware}")
        if info.firmware != "securecam-fw":
            raise ProvisionError(
                f"the device on {port_name} runs {info.firmware!r}, not SecureCam firmware"
            )
        _check_cancel(cancel)

        # -- from here on the registry holds the new device: undo it on any failure --------
        device = _register(registry, name, previous)
        step(
            Step.REGISTER,
            f"{'replaced' if previous else 'registered'} device {name!r} "
            f"with a new key (fingerprint {device.key.fingerprint})",
        )
        try:
            config = _configure(client, device, request, timeouts.wifi, cancel, step)
        except BaseException as exc:
            step(Step.ROLLBACK, f"undoing the registration of {name!r}")
            problem = _unregister(registry, device, previous)
            if problem is not None:
                if isinstance(exc, ProvisionError):
                    exc.rollback_failed = True
                    exc.message = f"{exc.message}; {problem}"
                    exc.args = (exc.message,)
                log.error("%s", problem)
            else:
                log.warning("provisioning %s failed; registry entry undone", name)
            if isinstance(exc, ProvisionError) or not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and friends pass through, after the rollback
            raise ProvisionError(f"provisioning failed: {_reason(exc)}") from exc

        rebooted = False
        if reboot:
            step(Step.REBOOT, "restarting the camera with its new configuration")
            try:
                client.reboot()
                rebooted = True
            except ImprovError as exc:
                # Everything is stored and verified: the camera uses it at its next start.
                log.warning("camera %s did not confirm the reboot: %s", name, exc)
                step(Step.REBOOT, "the camera did not confirm the restart: power-cycle it")

    server_url = config.server_url or ""
    step(Step.DONE, f"camera {name!r} provisioned: it streams to {server_url}")
    log.info(
        "provisioned camera %s (fingerprint %s) for %s", name, device.key.fingerprint, server_url
    )
    return ProvisionResult(
        device_name=name,
        fingerprint=device.key.fingerprint,
        server_url=server_url,
        device_info=info,
        config=config,
        replaced=previous is not None,
        rebooted=rebooted,
    )


def _register(registry: Registry, name: str, previous: Device | None) -> Device:
    try:
        if previous is not None:
            registry.remove(name)
        try:
            return registry.add(name, key=DeviceKey.generate())
        except BaseException:
            if previous is not None:
                registry.add(name, key=previous.key, allow_plain=previous.allow_plain)
            raise
    except DeviceExists as exc:
        raise ProvisionError(f"a device named {name!r} was registered meanwhile") from exc
    except RegistryError as exc:
        raise ProvisionError(str(exc)) from exc


def _unregister(registry: Registry, device: Device, previous: Device | None) -> str | None:
    """Undo `_register`; None when done, else a message saying what to fix by hand."""
    try:
        current = registry.lookup(device.name)
        if current is not None and current.key == device.key:
            registry.remove(device.name)
        if previous is not None:
            registry.add(previous.name, key=previous.key, allow_plain=previous.allow_plain)
    except RegistryError as exc:
        what = "restoring the previous" if previous is not None else "removing the new"
        return (
            f"{what} registry entry for {device.name!r} failed too ({exc}): check it with "
            f"`securecam device show {device.name}` (new key's fingerprint "
            f"{device.key.fingerprint})"
        )
    return None


def _configure(
    client: ImprovClient,
    device: Device,
    request: ProvisionRequest,
    wifi_timeout: float,
    cancel: threading.Event | None,
    step: StepCallback,
) -> CameraConfig:
    """Wi-Fi, then the extension settings, then the read-back check; the verified config."""
    ssid = request.ssid
    _check_cancel(cancel)
    step(Step.WIFI, f"joining Wi-Fi network {ssid!r} (this can take a while)")
    try:
        client.provision_wifi(ssid, request.password, timeout=wifi_timeout)
    except ImprovErrorState as exc:
        if exc.code == ErrorCode.UNABLE_TO_CONNECT:
            raise WifiConnectError(
                f"the camera could not connect to Wi-Fi network {ssid!r}", GUIDANCE_WIFI
            ) from None
        raise ProvisionError(f"sending the Wi-Fi settings failed: {exc}") from None
    except ImprovTimeout:
        raise WifiConnectError(
            f"the camera did not report on joining Wi-Fi network {ssid!r} within "
            f"{wifi_timeout:g} s",
            GUIDANCE_WIFI,
        ) from None
    except ImprovError as exc:
        raise ProvisionError(f"sending the Wi-Fi settings failed: {exc}") from None

    _check_cancel(cancel)
    step(
        Step.CONFIGURE, f"setting server {request.server_host}:{request.server_port}, name and key"
    )
    try:
        client.set_config(_update(request, device.key))
    except ExtensionError as exc:  # its detail names the field, never the value
        raise ProvisionError(f"the camera refused its configuration: {exc}") from None
    except ImprovErrorState as exc:
        if exc.code == ErrorCode.UNKNOWN_RPC:
            raise ProvisionError(
                "the camera does not know SecureCam's configuration commands",
                "Flash the camera with up-to-date SecureCam firmware.",
            ) from None
        raise ProvisionError(f"configuring the camera failed: {exc}") from None
    except ImprovError as exc:  # a timeout or garbage
        raise ProvisionError(f"configuring the camera failed: {_reason(exc)}") from None

    _check_cancel(cancel)
    step(Step.VERIFY, "reading the configuration back")
    try:
        config = client.get_config()
    except ImprovError as exc:
        raise VerificationError(f"reading the configuration back failed: {_reason(exc)}") from None
    expected: list[tuple[str, object, object]] = [
        ("Wi-Fi network", config.wifi_ssid, ssid),
        ("server host", config.server_host, request.server_host),
        ("server port", config.server_port, request.server_port),
        ("device name", config.device_name, device.name),
    ]
    for label, got, want in expected + camera_settings.differences(config.camera, request.camera):
        if got != want:
            raise VerificationError(f"the camera reports {label} {got!r}, not {want!r}")
    if config.key_fingerprint != device.key.fingerprint:
        raise VerificationError(
            "the camera's key fingerprint "
            f"{config.key_fingerprint or '(no key)'} does not match the registry's "
            f"{device.key.fingerprint}"
        )
    step(Step.VERIFY, f"the camera holds the key with fingerprint {config.key_fingerprint}")
    return config
