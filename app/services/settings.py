"""Persistent settings: listen address, limits, demo count, Share and window layout."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QByteArray, QSettings

from app.protocol.endpoints import DEFAULT_PORT, DEFAULT_SHARE_PORT
from app.protocol.limits import Limits

# Every IPv4 interface (see app.protocol.endpoints.WILDCARD_HOSTS): cameras on the LAN reach it.
DEFAULT_HOST = "0.0.0.0"


@dataclass
class ReceiverSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_connections: int = Limits().max_connections
    max_frame_mib: float = Limits().max_frame_bytes / (1024 * 1024)
    handshake_timeout_s: float = Limits().handshake_timeout_s
    idle_timeout_s: float = Limits().idle_timeout_s
    demo_count: int = 1

    def limits(self) -> Limits:
        return Limits(
            max_frame_bytes=int(self.max_frame_mib * 1024 * 1024),
            handshake_timeout_s=self.handshake_timeout_s,
            idle_timeout_s=self.idle_timeout_s,
            max_connections=self.max_connections,
        )


@dataclass
class ShareSettings:
    """The viewer server: whether it starts with the app, and where it listens."""

    enabled: bool = False  # share on at start (the switch's last position)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_SHARE_PORT  # 0: any free port


_Section = TypeVar("_Section", ReceiverSettings, ShareSettings)


def _convert(raw: object, default: object) -> object:
    """`raw` as read from the INI file, in the type of `default`; raises ValueError/TypeError."""
    if isinstance(default, bool):
        # The INI format gives "true"/"false" back as text, and bool("false") is True.
        text = str(raw).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"not a boolean: {raw!r}")
    convert: Callable[[object], object] = type(default)
    return convert(raw)


class Settings:
    """An INI file in the config directory, so `--config-dir` and tests isolate it too."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "settings.ini"
        self._qt = QSettings(str(self.path), QSettings.Format.IniFormat)

    def receiver(self) -> ReceiverSettings:
        return self._read("receiver", ReceiverSettings())

    def save_receiver(self, settings: ReceiverSettings) -> None:
        self._write("receiver", settings)

    def share(self) -> ShareSettings:
        """The [share] section; a port outside 0-65535 falls back to the default."""
        settings = self._read("share", ShareSettings())
        if not 0 <= settings.port <= 65535:
            settings.port = DEFAULT_SHARE_PORT
        return settings

    def save_share(self, settings: ShareSettings) -> None:
        self._write("share", settings)

    def _read(self, section: str, defaults: _Section) -> _Section:
        for field in fields(defaults):
            default = getattr(defaults, field.name)
            raw = self._qt.value(f"{section}/{field.name}", default)
            # A hand-edited bad value falls back to the default, not a crash.
            with contextlib.suppress(TypeError, ValueError):
                setattr(defaults, field.name, _convert(raw, default))
        return defaults

    def _write(self, section: str, settings: ReceiverSettings | ShareSettings) -> None:
        for field in fields(settings):
            self._qt.setValue(f"{section}/{field.name}", getattr(settings, field.name))
        self._qt.sync()

    def recording_folder(self) -> Path | None:
        """The folder last recorded to, if any."""
        value = self._qt.value("recording/folder")
        return Path(value) if isinstance(value, str) and value else None

    def save_recording_folder(self, folder: Path) -> None:
        self._qt.setValue("recording/folder", str(folder))
        self._qt.sync()

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        geometry = self._qt.value("window/geometry")
        state = self._qt.value("window/state")
        return (
            geometry if isinstance(geometry, QByteArray) else None,
            state if isinstance(state, QByteArray) else None,
        )

    def theme(self) -> str | None:
        """The window's theme (an app.ui.theme.Theme value), None if never chosen."""
        value = self._qt.value("window/theme")
        return value if isinstance(value, str) else None

    def save_theme(self, theme: str) -> None:
        self._qt.setValue("window/theme", theme)
        self._qt.sync()

    def wall(self) -> tuple[str | None, list[str]]:
        """The camera wall's layout (a WallLayout value, None if never chosen) and the
        order the user dragged the cameras into."""
        layout = self._qt.value("window/wall_layout")
        order = self._qt.value("window/wall_order")
        return (
            layout if isinstance(layout, str) else None,
            [n for n in order if isinstance(n, str)] if isinstance(order, list) else [],
        )

    def save_wall(self, layout: str, order: list[str]) -> None:
        self._qt.setValue("window/wall_layout", layout)
        self._qt.setValue("window/wall_order", order)
        self._qt.sync()

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self._qt.setValue("window/geometry", geometry)
        self._qt.setValue("window/state", state)
        self._qt.sync()
