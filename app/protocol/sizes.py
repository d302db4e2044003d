"""Sizes the Noise specification and its AES-GCM cipher fix, without loading the cipher.

They live here rather than in noise.py (which re-exports them) so the record layer, and with
it the device registry and the `securecam` command line, load without pycryptodome.
"""

from __future__ import annotations

TAGLEN = 16  # AES-GCM's authentication tag
MAX_MESSAGE = 65535  # the largest Noise message, tag included
