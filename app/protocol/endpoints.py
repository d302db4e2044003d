"""Where cameras reach the receiver and viewers reach Share: the one home of the ports, the path
and the URL rules."""

from __future__ import annotations

DEFAULT_PORT = 8888
DEFAULT_SHARE_PORT = 8443  # the viewer server's (HTTPS)
CAMERA_PATH = "/camera"
# Addresses that mean "every interface" when listening; nobody can connect to them as such.
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})


def connect_host(listen_host: str | None) -> str:
    """The address a client on this computer uses to reach a receiver listening on `listen_host`.

    A wildcard (all interfaces) is reached through loopback; any other address as it is.
    """
    if listen_host is None or listen_host in WILDCARD_HOSTS:
        return "127.0.0.1"
    return listen_host


def camera_url(host: str, port: int) -> str:
    """ws://HOST:PORT/camera, with an IPv6 address in brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"ws://{host}:{port}{CAMERA_PATH}"


def local_camera_url(listen_host: str | None, port: int) -> str:
    """The URL a camera on this computer (a demo, the simulator) uses for this receiver."""
    return camera_url(connect_host(listen_host), port)
