"""Where SecureCam keeps its files: `--config-dir`, else $SECURECAM_HOME, else the platform's."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_HOME = "SECURECAM_HOME"


def config_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The directory holding the device registry and settings (not created here)."""
    if override:
        return Path(override).expanduser()
    if env := os.environ.get(ENV_HOME):
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir("securecam", appauthor=False))


def log_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The directory for rotating log files: inside the config dir when that is overridden."""
    if override or os.environ.get(ENV_HOME):
        return config_dir(override) / "logs"
    return Path(platformdirs.user_log_dir("securecam", appauthor=False))
