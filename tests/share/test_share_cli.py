"""`securecam share ...` through the real entry point, in-process and once as a subprocess."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.share import certs
from tests.share.test_certs import make_pair
from tests.waiting import scaled

REPO = Path(__file__).resolve().parents[2]
FINGERPRINT = re.compile(r"SHA-256 ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})$", re.MULTILINE)


@pytest.fixture
def cfg(tmp_path):
    return tmp_path / "cfg"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def shown_fingerprint(out):
    found = FINGERPRINT.findall(out)
    assert len(found) == 1, out
    return found[0]


def test_info_makes_the_certificate_on_first_use_and_shows_it(capsys, cfg):
    code, out, err = run(capsys, "share", "info", "--config-dir", cfg)
    assert code == 0, err
    assert "Made a new self-signed certificate" in out
    cert = certs.load(cfg)
    assert shown_fingerprint(out) == cert.fingerprint
    assert "127.0.0.1" in out and "localhost" in out
    assert str(cfg / "share-cert.pem") in out and str(cfg / "share-key.pem") in out
    assert re.search(r"Valid: +\d{4}-\d\d-\d\d \d\d:\d\d UTC to \d{4}-\d\d-\d\d", out)
    assert "days left" in out
    assert "PRIVATE KEY" not in out + err
    for name in ("share-cert.pem", "share-key.pem"):
        assert stat.S_IMODE((cfg / name).stat().st_mode) == 0o600


def test_info_again_shows_the_same_fingerprint_without_making_one(capsys, cfg):
    _, first, _ = run(capsys, "--config-dir", cfg, "share", "info")
    code, out, _ = run(capsys, "--config-dir", cfg, "share", "info")
    assert code == 0
    assert "Made a new" not in out
    assert shown_fingerprint(out) == shown_fingerprint(first)


def test_info_says_what_is_not_covered_and_how_to_renew(capsys, cfg):
    certs.load_or_create(cfg, addresses=[])  # made before this computer had its addresses
    lan = [a for a in certs.current_addresses() if a not in certs.current_addresses([])]
    if not lan:
        pytest.skip("this computer has no LAN address")
    code, out, _ = run(capsys, "share", "info", "--config-dir", cfg)
    assert code == 0
    assert re.search(rf"Not covered: .*{re.escape(lan[0])}", out)
    assert "securecam share renew" in out
    code, out, _ = run(capsys, "share", "renew", "--config-dir", cfg)
    assert code == 0
    assert "new fingerprint" in out and "Not covered" not in out


def test_install_cert_and_renew_guard_the_users_certificate(capsys, cfg, tmp_path):
    mine_cert, mine_key = make_pair(tmp_path)
    code, out, err = run(
        capsys, "share", "install-cert", "--config-dir", cfg, "--cert", mine_cert, "--key", mine_key
    )
    assert code == 0, err
    assert "installed by you" in out and "cam.example" in out
    installed = shown_fingerprint(out)
    code, out, err = run(capsys, "share", "renew", "--config-dir", cfg)
    assert code == 1
    assert err.count("\n") == 1 and "--force" in err
    assert certs.load(cfg).fingerprint == installed
    code, out, _ = run(capsys, "share", "renew", "--force", "--config-dir", cfg)
    assert code == 0
    assert shown_fingerprint(out) != installed


@pytest.mark.parametrize("problem", ["mismatch", "readme", "missing"])
def test_install_cert_errors_are_one_line_naming_the_file(capsys, cfg, tmp_path, problem):
    mine_cert, mine_key = make_pair(tmp_path, "mine")
    _, other_key = make_pair(tmp_path, "other")
    readme = tmp_path / "README.md"
    readme.write_text("# hello\n")
    cert_file, key_file, named = {
        "mismatch": (mine_cert, other_key, other_key),
        "readme": (readme, mine_key, readme),
        "missing": (tmp_path / "gone.pem", mine_key, tmp_path / "gone.pem"),
    }[problem]
    code, out, err = run(
        capsys, "share", "install-cert", "--config-dir", cfg, "--cert", cert_file, "--key", key_file
    )
    assert code == 1
    assert out == ""
    assert err.startswith("securecam: error: ") and err.count("\n") == 1
    assert str(named) in err
    assert not (cfg / "share-cert.pem").exists()


def test_install_cert_needs_both_files(capsys, cfg, tmp_path):
    mine_cert, _ = make_pair(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["share", "install-cert", "--config-dir", str(cfg), "--cert", str(mine_cert)])
    assert exit_.value.code == 2
    assert "--key" in capsys.readouterr().err


def test_a_corrupt_stored_key_is_a_one_line_error(capsys, cfg):
    certs.load_or_create(cfg, addresses=[])
    (cfg / "share-key.pem").write_text("garbage\n")
    code, _, err = run(capsys, "share", "info", "--config-dir", cfg)
    assert code == 1
    assert err == f"securecam: error: {cfg / 'share-key.pem'} is not a PEM or DER private key\n"


def test_share_without_an_action_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["share"])
    assert exit_.value.code == 2


def test_share_info_as_a_subprocess_uses_securecam_home(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "SECURECAM_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "app", "share", "info"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    assert result.returncode == 0, result.stderr
    assert shown_fingerprint(result.stdout) == certs.load(home).fingerprint
