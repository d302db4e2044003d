"""setup_logging: the "app" tree and websockets' warnings, to stderr and a private rotating file."""

import io
import logging
import re
import stat
import sys
from pathlib import Path

import pytest

from app.logs import add_handler, remove_handler, setup_logging, teardown_logging

log = logging.getLogger("app.test")


def file_handlers():
    return [h for h in logging.getLogger("app").handlers if hasattr(h, "baseFilename")]


def test_console_shows_the_app_at_info_and_websockets_at_warning(capsys):
    setup_logging()
    log.debug("a debug line")
    log.info("camera porch connected")
    logging.getLogger("websockets.server").info("connection open")
    logging.getLogger("websockets.server").warning("websockets warns")
    err = capsys.readouterr().err
    assert "INFO app.test: camera porch connected" in err
    assert "WARNING websockets.server: websockets warns" in err
    assert "a debug line" not in err and "connection open" not in err


def test_verbose_adds_the_app_debug_lines(capsys):
    setup_logging(verbose=True)
    log.debug("a debug line")
    logging.getLogger("websockets.server").debug("a frame")
    err = capsys.readouterr().err
    assert "DEBUG app.test: a debug line" in err
    assert "a frame" not in err


def test_quiet_console_shows_warnings_but_not_info_while_other_handlers_get_info(capsys):
    class Keep(logging.Handler):
        def __init__(self):
            super().__init__()
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    keep = Keep()
    setup_logging(quiet=True)
    add_handler(keep)
    try:
        log.info("device cam1 added")
        log.warning("the registry looks hand-edited")
    finally:
        remove_handler(keep)
    err = capsys.readouterr().err
    assert "WARNING app.test: the registry looks hand-edited" in err
    assert "device cam1 added" not in err
    assert keep.messages == ["device cam1 added", "the registry looks hand-edited"]


def test_verbose_wins_over_quiet(capsys):
    setup_logging(quiet=True, verbose=True)
    log.info("an info line")
    log.debug("a debug line")
    err = capsys.readouterr().err
    assert "INFO app.test: an info line" in err and "DEBUG app.test: a debug line" in err


def test_a_new_module_needs_no_setup_of_its_own(capsys):
    setup_logging()
    logging.getLogger("app.some.new.module").info("heard")
    assert "INFO app.some.new.module: heard" in capsys.readouterr().err


def test_console_writes_to_the_stderr_of_the_moment(monkeypatch):
    setup_logging()
    later = io.StringIO()
    monkeypatch.setattr(sys, "stderr", later)  # as pytest's capture does between tests
    log.warning("after the swap")
    assert "after the swap" in later.getvalue()


def test_a_second_call_replaces_the_first(tmp_path, capsys):
    setup_logging(log_dir=tmp_path)
    setup_logging(log_dir=tmp_path)
    log.warning("once")
    assert capsys.readouterr().err.count("once") == 1
    assert len(file_handlers()) == 1
    teardown_logging()
    assert logging.getLogger("app").handlers == []
    assert logging.getLogger("websockets").handlers == []


def test_the_file_is_private_and_keeps_its_format(tmp_path):
    directory = tmp_path / "logs"
    path = setup_logging(console=False, log_dir=directory, verbose=True)
    assert path == directory / "securecam.log"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    log.info("written to the file")
    log.debug("not written")
    logging.getLogger("websockets.server").warning("websockets warns")
    for handler in file_handlers():
        handler.flush()
    text = path.read_text()
    assert "INFO app.test [MainThread]: written to the file" in text
    assert "WARNING websockets.server [MainThread]: websockets warns" in text
    assert "not written" not in text


def test_the_file_rotates(tmp_path):
    path = setup_logging(console=False, log_dir=tmp_path / "logs", max_bytes=300, backups=2)
    for i in range(40):
        log.info("line %02d of the rotation test", i)
    teardown_logging()
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["securecam.log", "securecam.log.1", "securecam.log.2"]
    assert all(p.stat().st_size <= 300 for p in path.parent.iterdir())
    assert "line 39" in path.read_text()


def test_an_unwritable_log_dir_raises_after_the_console_is_set_up(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):
        setup_logging(log_dir=blocker / "logs")
    log.error("still heard")
    assert "ERROR app.test: still heard" in capsys.readouterr().err


def test_every_module_logs_under_its_own_name():
    """A logger named by hand could fall outside the collected tree: its records would be lost."""
    root = Path(__file__).resolve().parents[1] / "app"
    named = [
        f"{path.relative_to(root.parent)}:{number}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"getLogger\(\s*[rbf]?[\"']", line)
    ]
    assert named == []
