"""Share: republish the decrypted camera streams to authorised viewers on the LAN.

`accounts` (who may watch what), `certs` (the TLS certificate), `sessions` (the page's JWT
cookie), `limits`, `audit` (every access decision), `hub` (fan-out, latest-frame-wins per
viewer), `server` (HTTPS/WSS on aiohttp), `sharing` (all of it assembled for one config dir),
and `web/` (the page: plain HTML, CSS and JavaScript). Off by default; docs/SHARE.md.
"""
