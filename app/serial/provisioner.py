"""Provision a SecureCam camera over USB serial: registry entry, Wi-Fi, server, name and key.

`provision` is the one procedure behind `securecam provision` and the setup wizard
(docs/PROVISIONING.md section 9). It is all or nothing on the app's side: if any step fails or
is cancelled after the device was registered, the registry entry is removed again (or, with
`replace=True`, the previous entry is put back), and a port it opened is always closed.

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
from dataclasses import dataclass
from enum import Enum

from app.devices.registry import Device, DeviceExists, DeviceKey, Registry, RegistryError
from app.protocol.framesize import FrameSize
from app.protocol.hello import is_valid_device_id
from app.serial.improv import (
    DEFAULT_BAUDRATE,
    CameraConfig,
    DeviceInfo,
    ErrorCode,
    ExtensionError,
    ImprovClient,
    ImprovError,
    ImprovProtocolError,
    ImprovTimeout,
    Network,
    SerialLike,
    encode_config_fields,
    encode_wifi_settings,
)

log = logging.getLogger(__name__)

DEFAULT_SERVER_PORT = 8888  # app.receiver.server.DEFAULT_PORT, without importing the server
DEFAULT_FRAME_SIZE = FrameSize.VGA
DEFAULT_JPEG_QUALITY = 12
DEFAULT_FPS_CAP = 25
CONSOLE_TIMEOUT = 10.0  # a camera reset by opening the port boots in about a second
COMMAND_TIMEOUT = 5.0
WIFI_TIMEOUT = 30.0
SCAN_TIMEOUT = 30.0

PortArg = str | SerialLike | ImprovClient


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


class ProvisionError(Exception):
    """Provisioning failed; the message is for the user and never contains the key.

    `rollback_failed` is True when the registry could not be put back as it was (the message
    then says what to remove by hand).
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
    from app.serial.improv import open_port

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
                f"it printed {heard} line(s) of other output: is SecureCam firmware flashed?"
                if heard
                else "nothing was received: wrong port, camera not powered, or held in reset"
            )
            raise ConsoleTimeout(
                f"no SecureCam console answered on {port_name} within {timeout:g} s ({hint})"
            )
        try:
            client.request_state(timeout=min(1.0, remaining))
            return
        except ImprovTimeout:
            continue
        except ImprovError as exc:
            # Boot noise may corrupt a request: "invalid RPC" means try again.
            if exc.code in (ErrorCode.INVALID_RPC, ErrorCode.UNKNOWN):
                continue
            raise ProvisionError(
                f"the device on {port_name} is not a SecureCam camera: {exc}"
            ) from None
        except ImprovProtocolError as exc:
            raise ProvisionError(f"the device on {port_name} answered garbage: {exc}") from exc


def _port_name(port: PortArg) -> str:
    if isinstance(port, str):
        return port
    inner = port.port if isinstance(port, ImprovClient) else port
    return str(getattr(inner, "port", None) or getattr(inner, "name", None) or "the port")


def scan_networks(
    port: PortArg,
    *,
    timeout: float = SCAN_TIMEOUT,
    console_timeout: float = CONSOLE_TIMEOUT,
    cancel: threading.Event | None = None,
) -> list[Network]:
    """The Wi-Fi networks the camera sees, strongest first, one entry per SSID.

    Opens (and closes) the port when given a path. Raises ProvisionError subclasses.
    """
    port_name = _port_name(port)
    with _client(port, command_timeout=COMMAND_TIMEOUT) as client:
        _wait_for_console(client, console_timeout, cancel, port_name)
        _check_cancel(cancel)
        try:
            networks = client.scan(timeout=timeout)
        except ImprovTimeout:
            raise ProvisionError(
                f"the camera did not finish its Wi-Fi scan in {timeout:g} s"
            ) from None
        except (ImprovError, ImprovProtocolError) as exc:
            raise ProvisionError(f"Wi-Fi scan failed: {exc}") from exc
    best: dict[str, Network] = {}
    for network in networks:
        if network.ssid and (network.ssid not in best or network.rssi > best[network.ssid].rssi):
            best[network.ssid] = network
    return sorted(best.values(), key=lambda n: -n.rssi)


def provision(
    port: PortArg,
    *,
    registry: Registry,
    name: str,
    ssid: str,
    password: str,
    server_host: str,
    server_port: int = DEFAULT_SERVER_PORT,
    frame_size: FrameSize | int | None = DEFAULT_FRAME_SIZE,
    jpeg_quality: int | None = DEFAULT_JPEG_QUALITY,
    fps_cap: int | None = DEFAULT_FPS_CAP,
    replace: bool = False,
    reboot: bool = True,
    on_step: StepCallback | None = None,
    cancel: threading.Event | None = None,
    timeout: float = CONSOLE_TIMEOUT,
    command_timeout: float = COMMAND_TIMEOUT,
    wifi_timeout: float = WIFI_TIMEOUT,
) -> ProvisionResult:
    """Register `name` with a fresh key and give the camera on `port` everything it needs.

    `port` is a device path (opened at 115200 baud, exclusively, and always closed again), an
    open pyserial-like object or an ImprovClient (left open). Camera settings given as None
    are left as the camera has them. `timeout` bounds the wait for the console to answer.

    Steps: check the settings and that `name` is free (DeviceExists refused before the port
    is touched, unless `replace`), wait for the console, read its device information,
    register the device, send the Wi-Fi settings (Improv), then server, name, key and
    camera settings (extension), read the configuration back and compare it (the key by
    fingerprint), and reboot the camera so it starts with it.

    Raises ProvisionError (NameTaken, ConsoleTimeout, WifiConnectError, VerificationError,
    ProvisionCancelled) with the registry as it was before the call.
    """

    def step(which: Step, message: str) -> None:
        log.debug("provision %s: %s", name, message)
        if on_step is not None:
            on_step(which, message)

    # -- check everything that can be checked without the camera --------------------------
    step(Step.CHECK, "checking the settings")
    if not is_valid_device_id(name):
        raise ProvisionError(
            "device name: 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    try:
        encode_wifi_settings(ssid, password)
        encode_config_fields(
            server_host=server_host,
            server_port=server_port,
            device_name=name,
            frame_size=frame_size,
            jpeg_quality=jpeg_quality,
            fps_cap=fps_cap,
        )
    except ValueError as exc:
        raise ProvisionError(str(exc)) from None
    try:
        previous = registry.lookup(name)
    except RegistryError as exc:
        raise ProvisionError(str(exc)) from exc
    if previous is not None and not replace:
        raise NameTaken(
            f"a device named {name!r} is already registered: choose another name, or "
            "replace it (its current key then stops working)"
        )
    _check_cancel(cancel)

    port_name = _port_name(port)
    step(Step.OPEN, f"opening {port_name}")
    with _client(port, command_timeout=command_timeout) as client:
        step(Step.CONSOLE, "waiting for the camera's console")
        _wait_for_console(client, timeout, cancel, port_name)
        try:
            info = client.device_info()
        except (ImprovError, ImprovProtocolError, ImprovTimeout) as exc:
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
            config = _configure(
                client,
                device,
                ssid=ssid,
                password=password,
                server_host=server_host,
                server_port=server_port,
                frame_size=frame_size,
                jpeg_quality=jpeg_quality,
                fps_cap=fps_cap,
                wifi_timeout=wifi_timeout,
                cancel=cancel,
                step=step,
            )
        except BaseException as exc:
            step(Step.ROLLBACK, f"undoing the registration of {name!r}")
            problem = _unregister(registry, device, previous)
            if problem is not None:
                if isinstance(exc, ProvisionError):
                    exc.rollback_failed = True
                    exc.args = (f"{exc}; {problem}",)
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
            except (ImprovError, ExtensionError, ImprovProtocolError, ImprovTimeout) as exc:
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
    *,
    ssid: str,
    password: str,
    server_host: str,
    server_port: int,
    frame_size: FrameSize | int | None,
    jpeg_quality: int | None,
    fps_cap: int | None,
    wifi_timeout: float,
    cancel: threading.Event | None,
    step: StepCallback,
) -> CameraConfig:
    """Wi-Fi, then the extension settings, then the read-back check; the verified config."""
    _check_cancel(cancel)
    step(Step.WIFI, f"joining Wi-Fi network {ssid!r} (this can take a while)")
    try:
        client.provision_wifi(ssid, password, timeout=wifi_timeout)
    except ImprovError as exc:
        if exc.code == ErrorCode.UNABLE_TO_CONNECT:
            raise WifiConnectError(
                f"the camera could not connect to Wi-Fi network {ssid!r}: check the password, "
                "and that the network is 2.4 GHz (the ESP32 cannot use 5 GHz) and in range"
            ) from None
        raise ProvisionError(f"sending the Wi-Fi settings failed: {exc}") from None
    except ImprovTimeout:
        raise WifiConnectError(
            f"the camera did not report on joining Wi-Fi network {ssid!r} within {wifi_timeout:g} s"
        ) from None
    except ImprovProtocolError as exc:
        raise ProvisionError(f"sending the Wi-Fi settings failed: {exc}") from None

    _check_cancel(cancel)
    step(Step.CONFIGURE, f"setting server {server_host}:{server_port}, name and key")
    try:
        client.set_config(
            server_host=server_host,
            server_port=server_port,
            device_name=device.name,
            key=device.key,
            frame_size=frame_size,
            jpeg_quality=jpeg_quality,
            fps_cap=fps_cap,
        )
    except ExtensionError as exc:  # its detail names the field, never the value
        raise ProvisionError(f"the camera refused its configuration: {exc}") from None
    except ImprovError as exc:
        if exc.code == ErrorCode.UNKNOWN_RPC:
            raise ProvisionError(
                "the camera does not know SecureCam's configuration commands: is its "
                "firmware up to date?"
            ) from None
        raise ProvisionError(f"configuring the camera failed: {exc}") from None
    except (ImprovTimeout, ImprovProtocolError) as exc:
        raise ProvisionError(f"configuring the camera failed: {_reason(exc)}") from None

    _check_cancel(cancel)
    step(Step.VERIFY, "reading the configuration back")
    try:
        config = client.get_config()
    except (ImprovError, ExtensionError, ImprovTimeout, ImprovProtocolError) as exc:
        raise VerificationError(f"reading the configuration back failed: {_reason(exc)}") from None
    expected = {
        "Wi-Fi network": (config.wifi_ssid, ssid),
        "server host": (config.server_host, server_host),
        "server port": (config.server_port, server_port),
        "device name": (config.device_name, device.name),
        "frame size": (config.frame_size, frame_size),
        "JPEG quality": (config.jpeg_quality, jpeg_quality),
        "fps cap": (config.fps_cap, fps_cap),
    }
    for label, (got, want) in expected.items():
        if want is None:
            continue
        if (int(got) != int(want)) if isinstance(want, int) else (got != want):
            raise VerificationError(f"the camera reports {label} {got!r}, not {want!r}")
    if config.key_fingerprint != device.key.fingerprint:
        raise VerificationError(
            "the camera's key fingerprint "
            f"{config.key_fingerprint or '(no key)'} does not match the registry's "
            f"{device.key.fingerprint}"
        )
    step(Step.VERIFY, f"the camera holds the key with fingerprint {config.key_fingerprint}")
    return config
