"""Where SecureCam keeps its files: `--config-dir`, else $SECURECAM_HOME, else the platform's."""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "SECURECAM_HOME"


def config_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The directory holding the device registry and settings (not created here)."""
    if override:
        return Path(override).expanduser()
    if env := os.environ.get(ENV_HOME):
        return Path(env).expanduser()
    import platformdirs  # only for the platform's default: a command-line start-up skips it

    return Path(platformdirs.user_config_dir("securecam", appauthor=False))


def log_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The directory for rotating log files: inside the config dir when that is overridden."""
    if override or os.environ.get(ENV_HOME):
        return config_dir(override) / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir("securecam", appauthor=False))


def config_dir_problem(override: str | os.PathLike[str] | None = None) -> str | None:
    """Why the config directory cannot be used as one, in a line that says what to do; None
    if it is a directory or could be created as one (a missing directory is not a problem).

    The path is named as the user gave it: ``--config-dir X`` or ``$SECURECAM_HOME (X)``.
    Only a file where a directory must be is caught here; permissions are left to the
    commands, whose errors name the file they could not read or write.
    """
    path = config_dir(override)
    if override:
        given = f"--config-dir {os.fspath(override)}"
    elif os.environ.get(ENV_HOME):
        given = f"${ENV_HOME} ({os.environ[ENV_HOME]})"
    else:
        given = f"the config directory {path}"
    for ancestor in (path, *path.parents):
        if ancestor.is_dir():
            return None
        if ancestor.exists():
            where = "is" if ancestor == path else f"is inside {ancestor}, which is"
            return (
                f"{given} {where} a file, not a directory: give a directory "
                "(a missing one is created)"
            )
    return None
