"""Share: republish the decrypted camera streams to authorised viewers on the LAN.

Viewer accounts and tokens (`accounts`), the TLS certificate (`certs`), and later the HTTPS
viewer server. Off by default; see docs/SHARE.md once the server lands.
"""
