"""This computer's LAN addresses, and the URLs a camera must be configured with.

Everything here asks the operating system through QNetworkInterface: no network traffic.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from PySide6.QtNetwork import QAbstractSocket, QHostAddress, QNetworkInterface

from app.protocol.endpoints import WILDCARD_HOSTS, camera_url

# The WILDCARD_HOSTS by family: asyncio binds "" to both, and "::" to IPv6 only (IPV6_V6ONLY).
_ANY_IPV4 = "0.0.0.0"
_ANY_IPV6 = "::"

LOOPBACK_NOTE = (
    "This address only reaches this computer: it works for a simulated camera here, "
    "not for an ESP32-CAM."
)

_IPV4 = QAbstractSocket.NetworkLayerProtocol.IPv4Protocol
_IPV6 = QAbstractSocket.NetworkLayerProtocol.IPv6Protocol
_Flag = QNetworkInterface.InterfaceFlag


def lan_addresses() -> list[str]:
    """Non-loopback IPv4 addresses of interfaces that are up and running, then global IPv6.

    Link-local IPv4 (169.254.x.x, a failed DHCP) comes after the other IPv4 addresses; IPv6
    link-local and temporary (privacy) addresses are left out. No duplicates.
    """
    candidates: list[tuple[QNetworkInterface.InterfaceFlag, QHostAddress, bool]] = []
    for interface in QNetworkInterface.allInterfaces():
        for entry in interface.addressEntries():
            candidates.append((interface.flags(), entry.ip(), entry.isTemporary()))
    return select_addresses(candidates)


def select_addresses(
    candidates: Iterable[tuple[QNetworkInterface.InterfaceFlag, QHostAddress, bool]],
) -> list[str]:
    """The filtering and ordering of `lan_addresses`, over (interface flags, ip, temporary)."""
    ipv4: list[str] = []
    ipv4_link_local: list[str] = []
    ipv6: list[str] = []
    for flags, ip, temporary in candidates:
        if not (flags & _Flag.IsUp and flags & _Flag.IsRunning) or flags & _Flag.IsLoopBack:
            continue
        if ip.isLoopback() or ip.isNull():
            continue
        if ip.protocol() == _IPV4:
            (ipv4_link_local if ip.isLinkLocal() else ipv4).append(ip.toString())
        elif ip.protocol() == _IPV6 and ip.isGlobal() and not ip.isLinkLocal() and not temporary:
            ipv6.append(_without_scope(ip.toString()))
    return list(dict.fromkeys([*ipv4, *ipv4_link_local, *ipv6]))


def camera_urls(port: int, host: str = _ANY_IPV4) -> list[str]:
    """The ws://ADDR:PORT/camera URLs a camera can connect to, best first; never empty.

    A receiver bound to one address is reachable only there; one bound to 0.0.0.0 (IPv4),
    "::" (IPv6) or "" (both) at every LAN address of that family. With no LAN address at all,
    the loopback URL is returned: `camera_url_note` says it suits simulated cameras only.
    """
    host = host.strip()
    if host not in WILDCARD_HOSTS:
        return [camera_url(host, port)]
    addresses = lan_addresses()
    if host == _ANY_IPV4:
        addresses = [a for a in addresses if ":" not in a]
    elif host == _ANY_IPV6:
        addresses = [a for a in addresses if ":" in a]
    if not addresses:
        addresses = ["::1" if host == _ANY_IPV6 else "127.0.0.1"]
    return [camera_url(address, port) for address in addresses]


def camera_url_note(url: str) -> str | None:
    """A caveat to show next to `url` (loopback addresses reach this computer only), or None."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or QHostAddress(host).isLoopback():
        return LOOPBACK_NOTE
    return None


def _without_scope(address: str) -> str:
    return address.split("%", 1)[0]
