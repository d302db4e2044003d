"""SecureCam: encrypted, authenticated, low-latency streaming from ESP32-CAM modules."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("securecam")  # the one version, from pyproject.toml
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"
