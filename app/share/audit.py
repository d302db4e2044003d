"""The share audit log: one line per access decision, appended, never rewritten.

`share-audit.log` in the user log directory holds one JSON object per line:
``{"time": ISO-UTC, "event": EVENT, "address": IP, "viewer": NAME|null, "camera": NAME|null,
"reason": TEXT|null}``. Each entry is also logged on the "app.share.audit" logger, so the
window's log dock and the main log file show it. The fields are typed values the server
chose (names it validated, enum reasons), never a password, a token or a cookie: a name that
failed validation is logged as its `repr`, cut to 40 characters.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

log = logging.getLogger(__name__)

AUDIT_FILE = "share-audit.log"
_MAX_NAME = 40


class AuditEvent(Enum):
    """What happened; the value is the file's `event` field."""

    LOGIN = "login"
    LOGIN_REFUSED = "login refused"
    LOGOUT = "logout"
    TOKEN_USED = "token used"
    REFUSED = "refused"
    STREAM_START = "stream start"
    STREAM_STOP = "stream stop"
    REVOKED = "revoked"

    @property
    def is_refusal(self) -> bool:
        return self in (AuditEvent.LOGIN_REFUSED, AuditEvent.REFUSED, AuditEvent.REVOKED)


def safe_name(name: object) -> str | None:
    """A name as it may appear in the log: short, and quoted when it is not a plain name."""
    if name is None:
        return None
    text = str(name)
    if text.isascii() and text.replace("-", "").replace("_", "").replace(".", "").isalnum():
        return text[:_MAX_NAME]
    return repr(text[:_MAX_NAME])


class AuditLog:
    """Appends entries to `path` (0600, created with its folder 0700); thread-safe.

    A write error is logged once and the entry still goes to the logger: the server keeps
    deciding, and the user learns the file is not being written. `counts` tallies the
    entries per event since start, for the Share panel and the benchmarks.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.counts: Counter[AuditEvent] = Counter()
        self.write_error: str | None = None
        self._lock = threading.Lock()

    def record(
        self,
        event: AuditEvent,
        address: str,
        *,
        viewer: str | None = None,
        camera: str | None = None,
        reason: str | None = None,
    ) -> None:
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event.value,
            "address": address,
            "viewer": safe_name(viewer),
            "camera": safe_name(camera),
            "reason": reason,
        }
        level = logging.WARNING if event.is_refusal else logging.INFO
        log.log(
            level,
            "%s from %s%s%s%s",
            event.value,
            address,
            f" viewer={entry['viewer']}" if viewer is not None else "",
            f" camera={entry['camera']}" if camera is not None else "",
            f": {reason}" if reason else "",
        )
        with self._lock:
            self.counts[event] += 1
            if self.path is not None:
                self._append(json.dumps(entry, ensure_ascii=True) + "\n")

    def _append(self, line: str) -> None:
        assert self.path is not None
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, line.encode("ascii"))
            finally:
                os.close(fd)
        except OSError as exc:
            problem = f"cannot write the audit log {self.path}: {exc.strerror or exc}"
            if problem != self.write_error:
                log.error("%s", problem)
            self.write_error = problem
        else:
            self.write_error = None
