"""Talking to cameras over USB serial: Improv Wi-Fi provisioning and SecureCam's extension."""
