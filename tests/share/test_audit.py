"""The audit log: one JSON line per decision, appended, private, and never a secret."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from app.share.audit import AuditEvent, AuditLog, safe_name


def entries(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_entries_are_appended_as_json_lines_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "share-audit.log"
    path.parent.mkdir()
    path.write_text(json.dumps({"event": "earlier"}) + "\n")  # never rewritten
    path.chmod(0o600)
    audit = AuditLog(path)
    audit.record(AuditEvent.LOGIN, "192.0.2.7", viewer="alice")
    audit.record(AuditEvent.REFUSED, "192.0.2.8", camera="door", reason="no credentials")
    lines = entries(path)
    assert lines[0] == {"event": "earlier"}
    assert lines[1]["event"] == "login" and lines[1]["viewer"] == "alice"
    assert lines[2]["reason"] == "no credentials" and lines[2]["camera"] == "door"
    assert lines[2]["address"] == "192.0.2.8" and str(lines[2]["time"]).endswith("+00:00")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert audit.counts[AuditEvent.REFUSED] == 1


def test_a_new_file_is_created_0600_in_a_0700_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "share-audit.log"
    AuditLog(path).record(AuditEvent.LOGOUT, "::1", viewer="bob")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_refusals_are_warnings_on_the_app_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app.share.audit")
    audit = AuditLog(None)
    audit.record(AuditEvent.LOGIN_REFUSED, "192.0.2.9", viewer="eve", reason="wrong password")
    audit.record(AuditEvent.STREAM_START, "192.0.2.9", viewer="bob", camera="door")
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert levels[0][0] == logging.WARNING and "eve" in levels[0][1]
    assert levels[1][0] == logging.INFO and "door" in levels[1][1]


def test_a_name_that_is_not_a_plain_name_is_quoted_and_cut() -> None:
    assert safe_name("front-door_2.a") == "front-door_2.a"
    hostile = "x" * 100 + "\n{fake}"
    assert safe_name(hostile) == repr("x" * 40)
    assert safe_name("a\nb") == repr("a\nb")
    assert safe_name(None) is None


def test_a_write_error_is_reported_once_and_decisions_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    audit = AuditLog(blocker / "share-audit.log")  # its folder is a file: cannot be written
    audit.record(AuditEvent.LOGIN, "::1", viewer="a")
    audit.record(AuditEvent.LOGIN, "::1", viewer="b")
    assert audit.write_error is not None and "cannot write the audit log" in audit.write_error
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert audit.counts[AuditEvent.LOGIN] == 2
