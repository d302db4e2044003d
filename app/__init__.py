"""SecureCam: encrypted, authenticated, low-latency streaming from ESP32-CAM modules."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """`app.__version__`, looked up on first use: importlib.metadata costs a command-line
    start-up more than argparse does, and most commands never print the version."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("securecam")  # the one version, from pyproject.toml
    except PackageNotFoundError:  # run from a checkout that was never installed
        value = "0+unknown"
    globals()["__version__"] = value
    return value
