"""`securecam viewer ...` through the real entry point, in-process and as a subprocess."""

import argparse
import logging
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cli import main
from app.devices.registry import Registry
from app.share.accounts import ALL, ViewerStore
from app.share.viewer_cli import expiry
from tests.waiting import scaled

REPO = Path(__file__).resolve().parents[2]
SECRET_LINE = re.compile(r"^    (\S+)$", re.MULTILINE)
GOOD = "correct horse battery"


@pytest.fixture
def cfg(tmp_path):
    return tmp_path / "cfg"


def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def secret_in(out):
    """The one indented secret line of an add, passwd or token output."""
    found = SECRET_LINE.findall(out)
    assert len(found) == 1, out
    return found[0]


def password_file(tmp_path, text, mode=0o600, name="pw"):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return path


def one_error_line(err, prefix="securecam"):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prefix}"), err
    assert "Traceback" not in err
    return lines[0]


# -- add ----------------------------------------------------------------------------------------


def test_add_generates_a_password_and_prints_it_once(capsys, caplog, cfg):
    caplog.set_level(logging.DEBUG)
    code, out, err = run(
        capsys, "viewer", "add", "alice", "--cameras", "cam1,cam2", "--config-dir", cfg
    )
    assert code == 0, err
    password = secret_in(out)
    assert len(password) >= 24
    assert out.count(password) == 1
    assert "only this once" in out
    assert password not in err + caplog.text
    viewer = ViewerStore(cfg).verify_password("alice", password)
    assert viewer is not None
    assert viewer.cameras == ("cam1", "cam2")
    assert "cam1, cam2" in out
    assert "expires never" in out


def test_add_reads_the_password_file_without_its_trailing_newline(capsys, cfg, tmp_path):
    pw = password_file(tmp_path, GOOD + "\n")
    code, out, err = run(
        capsys, "viewer", "add", "alice", "--all", "--password-file", pw, "--config-dir", cfg
    )
    assert code == 0, err
    assert GOOD not in out + err
    assert SECRET_LINE.findall(out) == []
    store = ViewerStore(cfg)
    assert store.verify_password("alice", GOOD) is not None
    assert store.get("alice").cameras is ALL
    # Only one newline goes: inner and leading spaces are part of the password.
    crlf = password_file(tmp_path, " " + GOOD + "\r\n", name="crlf")
    assert (
        run(capsys, "viewer", "passwd", "alice", "--password-file", crlf, "--config-dir", cfg)[0]
        == 0
    )
    assert store.verify_password("alice", " " + GOOD) is not None
    assert store.verify_password("alice", GOOD) is None


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_password_file_others_can_access_is_refused(capsys, cfg, tmp_path, mode):
    pw = password_file(tmp_path, GOOD, mode)
    code, out, err = run(
        capsys, "viewer", "add", "alice", "--password-file", pw, "--config-dir", cfg
    )
    assert code == 2
    line = one_error_line(err, "securecam viewer add: error:")
    assert f"mode {mode:04o}" in line
    assert "chmod 600" in line
    assert GOOD not in out + err
    assert ViewerStore(cfg).lookup("alice") is None


def test_password_file_problems_are_usage_errors_without_the_password(capsys, cfg, tmp_path):
    cases = {
        "missing": tmp_path / "nope",
        "short": password_file(tmp_path, "short pass\n", name="short"),
        "empty": password_file(tmp_path, "", name="empty"),
        "binary": tmp_path / "binary",
        "huge": password_file(tmp_path, "x" * 5000, name="huge"),
    }
    cases["binary"].write_bytes(b"\xff\xfe password bytes")
    cases["binary"].chmod(0o600)
    for what, path in cases.items():
        code, _, err = run(
            capsys, "viewer", "add", "alice", "--password-file", path, "--config-dir", cfg
        )
        assert code == 2, what
        line = one_error_line(err, "securecam viewer add: error: argument --password-file:")
        assert "short pass" not in line
        assert "x" * 20 not in line
    assert (
        "too short (10 characters)"
        in run(
            capsys, "viewer", "add", "a", "--password-file", cases["short"], "--config-dir", cfg
        )[2]
    )
    assert not (cfg / "viewers.json").exists()


def test_add_without_cameras_grants_none_and_says_how_to_grant(capsys, cfg):
    code, out, _ = run(capsys, "viewer", "add", "alice", "--config-dir", cfg)
    assert code == 0
    assert ViewerStore(cfg).get("alice").cameras == ()
    assert "no cameras" in out
    assert "securecam viewer cameras alice --cameras" in out


def test_add_warns_about_cameras_not_registered(capsys, cfg):
    Registry(cfg).add("cam1")
    code, _, err = run(
        capsys, "viewer", "add", "alice", "--cameras", "cam1,cam9", "--config-dir", cfg
    )
    assert code == 0
    assert "no camera named 'cam9' is registered" in err
    assert "no camera named 'cam1'" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["viewer", "add", "bad name"], "invalid viewer name 'bad name'"),
        (["viewer", "add", "alice", "--cameras", ""], "name at least one camera"),
        (["viewer", "add", "alice", "--cameras", "cam1,*"], "invalid camera name '*'"),
        (["viewer", "add", "alice", "--cameras", "cam1", "--all"], "not allowed with"),
        (["viewer", "add", "alice", "--expires", "soon"], "'soon' is not Nd, Nh or an ISO date"),
        (["viewer", "add", "alice", "--expires", "2001-01-01"], "not in the future"),
        (["viewer", "add", "alice", "--expires", "0d"], "not in the future"),
        (["viewer", "cameras", "alice"], "one of the arguments --cameras --all is required"),
        (["viewer", "token"], "the following arguments are required: name"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, cfg, argv, message):
    code, _, err = run(capsys, *argv, "--config-dir", cfg)
    assert code == 2
    assert message in one_error_line(err)
    assert not (cfg / "viewers.json").exists()


def test_expires_takes_days_hours_and_iso_dates():
    now = datetime(2030, 1, 1, 12, 0, 0, 500, tzinfo=UTC)
    assert expiry("30d", now=now) == datetime(2030, 1, 31, 12, 0, 0, tzinfo=UTC)
    assert expiry("12h", now=now) == datetime(2030, 1, 2, 0, 0, 0, tzinfo=UTC)
    assert expiry("2030-02-01", now=now) == datetime(2030, 2, 1, tzinfo=UTC)
    assert expiry("2030-02-01T08:30", now=now) == datetime(2030, 2, 1, 8, 30, tzinfo=UTC)
    assert expiry("2030-02-01T08:30+02:00", now=now) == datetime(2030, 2, 1, 6, 30, tzinfo=UTC)
    for bad in ("2030-01-01", "1m", "-1d", "d", "9999999d"):
        with pytest.raises(argparse.ArgumentTypeError):
            expiry(bad, now=now)


def test_add_with_expires_stores_it(capsys, cfg):
    code, out, _ = run(capsys, "viewer", "add", "alice", "--expires", "30d", "--config-dir", cfg)
    assert code == 0
    expires = ViewerStore(cfg).get("alice").expires
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert expires.strftime("%Y-%m-%dT%H:%M:%SZ") in out


def test_a_taken_name_is_a_state_error_exit_1(capsys, cfg):
    run(capsys, "viewer", "add", "alice", "--config-dir", cfg)
    code, out, err = run(capsys, "viewer", "add", "alice", "--config-dir", cfg)
    assert code == 1
    assert one_error_line(err) == "securecam: error: a viewer named 'alice' already exists"
    assert SECRET_LINE.findall(out) == []


# -- list, remove, cameras --------------------------------------------------------------------


def test_list_shows_grants_expiry_and_token_but_never_a_secret(capsys, cfg):
    store = ViewerStore(cfg)
    alice = store.add("alice", cameras=["cam1"])
    store.add("bob", password=GOOD, cameras=ALL, expires=datetime.now(UTC) - timedelta(seconds=1))
    token = store.new_token("alice")
    code, out, err = run(capsys, "viewer", "list", "--config-dir", cfg)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "CAMERAS", "EXPIRES", "TOKEN", "CREATED"]
    assert lines[1].split()[:4] == ["alice", "cam1", "never", "yes"]
    assert lines[2].split()[:5] == ["bob", "all", "cameras", "EXPIRED", lines[2].split()[4]]
    assert lines[2].split()[5] == "no"
    for viewer in store.list():
        assert viewer.password_hash not in out
        assert viewer.password_hash.split("$")[4] not in out
    for secret in (alice.password, GOOD, token, store.get("alice").token_hash, "scrypt"):
        assert secret not in out + err


def test_list_with_no_viewers_says_how_to_add_one(capsys, cfg):
    code, out, _ = run(capsys, "viewer", "list", "--config-dir", cfg)
    assert code == 0
    assert "No viewers." in out
    assert "securecam viewer add NAME" in out


def test_remove_and_unknown_viewers(capsys, cfg):
    run(capsys, "viewer", "add", "alice", "--config-dir", cfg)
    code, out, _ = run(capsys, "viewer", "remove", "alice", "--config-dir", cfg)
    assert code == 0
    assert "Removed viewer 'alice'" in out
    assert ViewerStore(cfg).lookup("alice") is None
    for action in ("remove", "passwd", "token"):
        code, _, err = run(capsys, "viewer", action, "alice", "--config-dir", cfg)
        assert code == 1
        assert one_error_line(err) == "securecam: error: no viewer named 'alice'"


def test_cameras_changes_the_grant_and_ends_sessions_only_when_it_changes(capsys, cfg):
    store = ViewerStore(cfg)
    store.add("alice", cameras=["cam1"])
    before = store.get("alice").generation
    code, out, _ = run(capsys, "viewer", "cameras", "alice", "--all", "--config-dir", cfg)
    assert code == 0
    assert store.get("alice").cameras is ALL
    assert store.get("alice").generation > before
    assert "open sessions end" in out
    code, out, _ = run(capsys, "viewer", "cameras", "alice", "--all", "--config-dir", cfg)
    assert "already" in out
    run(capsys, "viewer", "cameras", "alice", "--cameras", "cam2", "--config-dir", cfg)
    assert store.get("alice").cameras == ("cam2",)


# -- passwd and token -------------------------------------------------------------------------


def test_passwd_generates_a_new_password_and_drops_the_token(capsys, caplog, cfg):
    caplog.set_level(logging.DEBUG)
    store = ViewerStore(cfg)
    old = store.add("alice").password
    token = store.new_token("alice")
    code, out, err = run(capsys, "viewer", "passwd", "alice", "--config-dir", cfg)
    assert code == 0, err
    new = secret_in(out)
    assert "only this once" in out
    assert "securecam viewer token alice" in out
    assert store.verify_password("alice", old) is None
    assert store.verify_password("alice", new) is not None
    assert store.viewer_for_token(token) is None
    assert new not in err + caplog.text


def test_token_prints_a_new_token_once_and_replaces_the_old(capsys, caplog, cfg):
    caplog.set_level(logging.DEBUG)
    run(capsys, "viewer", "add", "alice", "--all", "--config-dir", cfg)
    code, out, err = run(capsys, "viewer", "token", "alice", "--config-dir", cfg)
    assert code == 0, err
    first = secret_in(out)
    assert first.startswith("sc_")
    assert "only this once" in out
    assert "Authorization: Bearer" in out and "?token=" in out
    assert first not in err + caplog.text
    second = secret_in(run(capsys, "viewer", "token", "alice", "--config-dir", cfg)[1])
    store = ViewerStore(cfg)
    assert store.viewer_for_token(first) is None
    assert store.viewer_for_token(second).name == "alice"


def test_a_corrupt_accounts_file_is_one_line_exit_1(capsys, cfg):
    cfg.mkdir()
    (cfg / "viewers.json").write_text("{")
    code, _, err = run(capsys, "viewer", "list", "--config-dir", cfg)
    assert code == 1
    assert "viewer accounts" in one_error_line(err) and "corrupt" in err


# -- as a subprocess --------------------------------------------------------------------------


def _securecam(*argv, input=None):
    env = {k: v for k, v in os.environ.items() if k != "SECURECAM_HOME"}
    return subprocess.run(
        [sys.executable, "-m", "app", *map(str, argv)],
        cwd=REPO,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )


def test_viewer_commands_work_as_a_subprocess(tmp_path):
    cfg = tmp_path / "cfg"
    added = _securecam("viewer", "add", "alice", "--cameras", "cam1", "--config-dir", cfg, "-v")
    assert added.returncode == 0, added.stderr
    password = secret_in(added.stdout)
    assert password not in added.stderr  # the INFO log line (-v) names the viewer only
    assert "added viewer alice" in added.stderr
    assert (cfg / "viewers.json").stat().st_mode & 0o777 == 0o600

    stdin = _securecam(
        "--config-dir",
        cfg,
        "viewer",
        "add",
        "bob",
        "--all",
        "--password-file",
        "-",
        input=GOOD + "\n",
    )
    assert stdin.returncode == 0, stdin.stderr

    listed = _securecam("viewer", "list", "--config-dir", cfg)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["NAME", "alice", "bob"]
    assert password not in listed.stdout + listed.stderr
    assert "scrypt" not in listed.stdout

    token = _securecam("viewer", "token", "alice", "--config-dir", cfg)
    assert token.returncode == 0, token.stderr
    issued = secret_in(token.stdout)
    assert issued not in token.stderr

    store = ViewerStore(cfg)
    assert store.verify_password("alice", password).name == "alice"
    assert store.verify_password("bob", GOOD).cameras is ALL
    assert store.viewer_for_token(issued).name == "alice"

    missing = _securecam("viewer", "remove", "carol", "--config-dir", cfg)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == "securecam: error: no viewer named 'carol'"
    usage = _securecam("viewer", "add", "x y", "--config-dir", cfg)
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr + missing.stderr
