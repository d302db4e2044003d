"""Persistent settings: listen address, limits, demo count and window layout."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from app.protocol.endpoints import DEFAULT_PORT
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


class Settings:
    """An INI file in the config directory, so `--config-dir` and tests isolate it too."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "settings.ini"
        self._qt = QSettings(str(self.path), QSettings.Format.IniFormat)

    def receiver(self) -> ReceiverSettings:
        defaults = ReceiverSettings()
        values = {}
        for field in fields(ReceiverSettings):
            default = getattr(defaults, field.name)
            raw = self._qt.value(f"receiver/{field.name}", default)
            try:
                values[field.name] = type(default)(raw)
            except (TypeError, ValueError):
                values[field.name] = default  # a hand-edited bad value falls back, not crashes
        return ReceiverSettings(**values)

    def save_receiver(self, settings: ReceiverSettings) -> None:
        for field in fields(ReceiverSettings):
            self._qt.setValue(f"receiver/{field.name}", getattr(settings, field.name))
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

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self._qt.setValue("window/geometry", geometry)
        self._qt.setValue("window/state", state)
        self._qt.sync()
