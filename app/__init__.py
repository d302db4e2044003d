"""SecureCam: encrypted, authenticated, low-latency streaming from ESP32-CAM modules."""

__version__ = "0.1.0"
