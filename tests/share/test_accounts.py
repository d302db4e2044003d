"""Viewer accounts: scrypt passwords, player tokens, grants, expiry, generations, the file."""

import base64
import hashlib
import json
import logging
import os
import stat
import threading
from datetime import UTC, datetime, timedelta

import pytest

from app import jsonfile
from app.errors import SecureCamError
from app.share.accounts import (
    ALL,
    MIN_PASSWORD_LENGTH,
    Issued,
    UnknownViewer,
    Viewer,
    ViewerError,
    ViewerExists,
    ViewerStore,
    WeakPassword,
    hash_token,
)

GOOD = "correct horse battery"
OTHER = "another long password"


@pytest.fixture
def store(tmp_path):
    return ViewerStore(tmp_path / "cfg")


@pytest.fixture
def scrypt_calls(monkeypatch):
    """Every hashlib.scrypt call's cost parameters, in order (the real function still runs)."""
    calls = []
    real = hashlib.scrypt

    def counting(password, *, salt, n, r, p, maxmem=0, dklen=64):
        calls.append((n, r, p, maxmem, dklen, len(salt)))
        return real(password, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=dklen)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


def doc(store):
    return json.loads(store.path.read_text())


def past():
    return datetime.now(UTC) - timedelta(seconds=1)


# -- passwords --------------------------------------------------------------------------------


def test_add_generates_a_strong_password_that_verifies(store):
    issued = store.add("alice", cameras=["cam1"])
    assert isinstance(issued.password, str)
    assert len(issued.password) >= 24
    assert issued.viewer.name == "alice"
    assert store.verify_password("alice", issued.password) == issued.viewer
    assert store.verify_password("alice", issued.password + "x") is None
    assert store.add("bob").password != issued.password


def test_the_stored_hash_is_self_describing_scrypt_with_a_32_byte_salt(store):
    store.add("alice", password=GOOD)
    stored = doc(store)["viewers"]["alice"]["password"]
    kind, n, r, p, salt, digest = stored.split("$")
    assert (kind, n, r, p) == ("scrypt", str(2**15), "8", "1")
    assert len(base64.b64decode(salt)) == 32
    assert len(base64.b64decode(digest)) == 32
    assert GOOD not in store.path.read_text()


def test_the_same_password_gets_a_different_salt_each_time(store):
    store.add("alice", password=GOOD)
    store.add("bob", password=GOOD)
    viewers = doc(store)["viewers"]
    assert viewers["alice"]["password"] != viewers["bob"]["password"]


def test_a_chosen_password_needs_twelve_characters_and_the_error_never_shows_it(store):
    short = "x" * (MIN_PASSWORD_LENGTH - 1)
    with pytest.raises(WeakPassword) as caught:
        store.add("alice", password=short)
    assert short not in str(caught.value)
    assert "11 characters" in str(caught.value)
    assert store.lookup("alice") is None
    store.add("alice", password="y" * MIN_PASSWORD_LENGTH)
    with pytest.raises(WeakPassword):
        store.set_password("alice", "z" * 5)
    assert store.verify_password("alice", "y" * MIN_PASSWORD_LENGTH) is not None


def test_passwords_are_compared_after_unicode_normalization(store):
    composed, decomposed = "caf\u00e9 au lait!!", "cafe\u0301 au lait!!"
    store.add("alice", password=composed)
    assert store.verify_password("alice", decomposed) is not None


def test_set_password_replaces_the_old_one(store):
    store.add("alice", password=GOOD)
    issued = store.set_password("alice", OTHER)
    assert issued.password is None
    assert store.verify_password("alice", GOOD) is None
    assert store.verify_password("alice", OTHER) is not None
    generated = store.set_password("alice").password
    assert generated is not None and len(generated) >= 24
    assert store.verify_password("alice", OTHER) is None
    assert store.verify_password("alice", generated) is not None


# -- no timing oracle for names: the same scrypt work whatever the outcome --------------------


def test_every_verification_costs_exactly_one_scrypt_of_the_same_parameters(store, scrypt_calls):
    store.add("alice", password=GOOD, cameras=ALL)
    store.add("old", password=GOOD, expires=past())
    scrypt_calls.clear()
    outcomes = {
        "right password": store.verify_password("alice", GOOD),
        "wrong password": store.verify_password("alice", OTHER),
        "unknown name": store.verify_password("nobody", GOOD),
        "invalid name": store.verify_password("../../etc", GOOD),
        "empty password": store.verify_password("alice", ""),
        "expired account": store.verify_password("old", GOOD),
    }
    assert outcomes["right password"] is not None
    assert [k for k, v in outcomes.items() if v is not None] == ["right password"]
    assert len(scrypt_calls) == len(outcomes)
    assert len(set(scrypt_calls)) == 1
    n, r, p, maxmem, dklen, salt_size = scrypt_calls[0]
    assert (n, r, p, dklen, salt_size) == (2**15, 8, 1, 32, 32)
    assert maxmem >= 128 * n * r * p + 1024 * r  # enough for OpenSSL to run it


def test_tokens_cost_no_scrypt(store, scrypt_calls):
    store.add("alice", password=GOOD)
    scrypt_calls.clear()
    token = store.new_token("alice")
    assert store.viewer_for_token(token) is not None
    assert store.viewer_for_token("sc_nope") is None
    assert scrypt_calls == []


# -- tokens -----------------------------------------------------------------------------------


def test_a_token_is_returned_once_and_only_its_sha256_is_stored(store):
    store.add("alice", password=GOOD)
    token = store.new_token("alice")
    assert token.startswith("sc_")
    assert len(token) >= 3 + 43
    assert token not in store.path.read_text()
    assert doc(store)["viewers"]["alice"]["token"] == hashlib.sha256(token.encode()).hexdigest()
    assert store.get("alice").token_hash == hash_token(token)
    assert store.get("alice").has_token
    assert store.viewer_for_token(token).name == "alice"


def test_a_new_token_replaces_the_old_one(store):
    store.add("alice", password=GOOD)
    store.add("bob", password=GOOD)
    first = store.new_token("alice")
    bobs = store.new_token("bob")
    second = store.new_token("alice")
    assert second != first
    assert store.viewer_for_token(first) is None
    assert store.viewer_for_token(second).name == "alice"
    assert store.viewer_for_token(bobs).name == "bob"


def test_unknown_empty_and_odd_tokens_match_nobody(store):
    store.add("alice", password=GOOD)  # no token: its empty hash must not match anything
    assert store.viewer_for_token("") is None
    assert store.viewer_for_token("sc_" + "A" * 43) is None
    assert store.viewer_for_token("\udcff") is None
    assert store.viewer_for_token(hash_token("x")) is None


def test_a_password_change_drops_the_token(store):
    store.add("alice", password=GOOD)
    token = store.new_token("alice")
    store.set_password("alice", OTHER)
    assert store.viewer_for_token(token) is None
    assert not store.get("alice").has_token


def test_a_token_of_a_removed_viewer_stops_working_even_if_the_name_returns(store):
    store.add("alice", password=GOOD)
    token = store.new_token("alice")
    store.remove("alice")
    assert store.viewer_for_token(token) is None
    store.add("alice", password=GOOD)
    assert store.viewer_for_token(token) is None


# -- grants -----------------------------------------------------------------------------------


def test_cameras_are_a_sorted_set_of_device_names_or_all(store):
    alice = store.add("alice", password=GOOD, cameras=["cam2", "cam1", "cam2"]).viewer
    assert alice.cameras == ("cam1", "cam2")
    assert alice.can_watch("cam1") and not alice.can_watch("cam3")
    bob = store.add("bob", password=GOOD, cameras=ALL).viewer
    assert bob.cameras is ALL
    assert bob.can_watch("anything")
    carol = store.add("carol", password=GOOD).viewer
    assert carol.cameras == ()
    assert not carol.can_watch("cam1")
    viewers = doc(store)["viewers"]
    assert viewers["alice"]["cameras"] == {"only": ["cam1", "cam2"]}
    assert viewers["bob"]["cameras"] == {"all": True}
    assert viewers["carol"]["cameras"] == {"only": []}
    # A "*" camera is not a wildcard: it is not even a valid name.
    with pytest.raises(ValueError, match="invalid device name"):
        store.add("dave", password=GOOD, cameras=["*"])
    with pytest.raises(TypeError):
        store.add("dave", password=GOOD, cameras="cam1")


def test_set_cameras_changes_the_grant(store):
    store.add("alice", password=GOOD, cameras=["cam1"])
    assert store.set_cameras("alice", ALL).cameras is ALL
    assert store.set_cameras("alice", ["cam3"]).cameras == ("cam3",)
    assert ViewerStore(store.directory).get("alice").cameras == ("cam3",)


# -- generations ------------------------------------------------------------------------------


def test_the_generation_grows_on_every_change_that_must_end_sessions(store):
    g1 = store.add("alice", password=GOOD, cameras=["cam1"]).viewer.generation
    g2 = store.set_password("alice", OTHER).viewer.generation
    g3 = store.set_cameras("alice", ["cam1", "cam2"]).generation
    store.new_token("alice")
    g4 = store.get("alice").generation
    assert g1 < g2 < g3 < g4
    # Neither a read nor an unchanged grant changes it.
    before = store.path.stat()
    store.list()
    store.verify_password("alice", OTHER)
    assert store.set_cameras("alice", ["cam2", "cam1"]).generation == g4
    assert store.get("alice").generation == g4
    after = store.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_re_added_viewer_never_reuses_an_earlier_generation(store):
    seen = {store.add("alice", password=GOOD).viewer.generation}
    seen.add(store.set_password("alice", OTHER).viewer.generation)
    store.remove("alice")
    readded = store.add("alice", password=GOOD).viewer.generation
    assert readded > max(seen)
    other = store.add("bob", password=GOOD).viewer.generation
    assert other not in seen | {readded}
    assert doc(store)["generation"] == max(seen | {readded, other})


# -- expiry -----------------------------------------------------------------------------------


def test_an_expired_viewer_fails_verification_and_token_lookup(store):
    soon = datetime.now(UTC) + timedelta(hours=1)
    alice = store.add("alice", password=GOOD, expires=soon).viewer
    assert alice.expires == soon.replace(microsecond=0)
    assert ViewerStore(store.directory).get("alice") == alice
    assert not alice.is_expired()
    assert alice.is_expired(soon + timedelta(seconds=1))
    assert store.verify_password("alice", GOOD) is not None
    store.remove("alice")
    store.add("alice", password=GOOD, expires=past())
    token = store.new_token("alice")
    assert store.get("alice").is_expired()
    assert store.verify_password("alice", GOOD) is None
    assert store.viewer_for_token(token) is None
    assert [v.name for v in store.list()] == ["alice"]  # still listed, to be removed or renewed


def test_expiry_is_stored_as_utc_and_must_be_aware(store):
    tz = datetime.now(UTC).astimezone().tzinfo
    local = datetime(2040, 6, 1, 12, 0, 0, tzinfo=tz)
    store.add("alice", password=GOOD, expires=local)
    assert ViewerStore(store.directory).get("alice").expires == local
    assert doc(store)["viewers"]["alice"]["expires"].endswith("Z")
    with pytest.raises(ValueError, match="timezone-aware"):
        store.add("bob", password=GOOD, expires=datetime(2040, 1, 1))
    assert doc(store)["viewers"]["alice"]["expires"] is not None
    assert store.get("alice").created.tzinfo is not None


# -- names and errors -------------------------------------------------------------------------


def test_errors_form_one_family_under_securecam_error(store):
    assert issubclass(ViewerError, SecureCamError)
    for cls in (UnknownViewer, ViewerExists, WeakPassword):
        assert issubclass(cls, ViewerError)
    store.add("alice", password=GOOD)
    with pytest.raises(ViewerExists, match="'alice' already exists"):
        store.add("alice", password=OTHER)
    assert store.verify_password("alice", GOOD) is not None
    for call in (
        lambda: store.get("bob"),
        lambda: store.remove("bob"),
        lambda: store.set_password("bob", OTHER),
        lambda: store.set_cameras("bob", ALL),
        lambda: store.new_token("bob"),
    ):
        with pytest.raises(UnknownViewer, match="no viewer named 'bob'"):
            call()
    assert store.lookup("bob") is None


@pytest.mark.parametrize("name", ["", "-x", "a b", "a/b", "x" * 33, "é"])
def test_viewer_names_follow_the_device_name_rule(store, name):
    with pytest.raises(ValueError, match="invalid viewer name"):
        store.add(name, password=GOOD)
    assert not store.path.exists()


# -- secrets stay out of reprs, logs and messages ---------------------------------------------


def test_no_secret_reaches_a_repr_or_a_log(store, caplog):
    caplog.set_level(logging.DEBUG)
    issued = store.add("alice", cameras=["cam1"])
    token = store.new_token("alice")
    viewer = store.get("alice")
    changed = store.set_password("alice")
    store.set_cameras("alice", ALL)
    store.verify_password("alice", changed.password)
    store.verify_password("alice", "wrong password here")
    store.viewer_for_token(token)
    store.remove("alice")
    secrets_ = [issued.password, changed.password, token, viewer.password_hash, viewer.token_hash]
    salt = viewer.password_hash.split("$")[4]
    texts = [repr(viewer), str(viewer), repr(issued), repr(changed), caplog.text]
    for text in texts:
        for secret in [*secrets_, salt]:
            assert secret not in text
    assert "alice" in caplog.text
    assert "Viewer(name='alice'" in repr(viewer)
    assert "generation=" in repr(viewer)


def test_issued_hides_its_password():
    viewer = Viewer("a", "h", ALL, None, datetime.now(UTC), 1)
    assert "secret-value" not in repr(Issued(viewer, "secret-value"))


# -- the file ---------------------------------------------------------------------------------


def test_the_file_is_private_and_beside_the_device_registry(tmp_path):
    cfg = tmp_path / "cfg"
    store = ViewerStore(cfg)
    old = os.umask(0o022)
    try:
        store.add("alice", password=GOOD)
    finally:
        os.umask(old)
    assert store.path == cfg / "viewers.json"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o700
    assert sorted(p.name for p in cfg.iterdir()) == [".viewers.lock", "viewers.json"]
    inode = store.path.stat().st_ino
    store.new_token("alice")
    assert store.path.stat().st_ino != inode  # replaced whole, never edited in place
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_no_file_means_no_viewers(store):
    assert store.list() == []
    assert store.verify_password("alice", GOOD) is None
    assert store.viewer_for_token("sc_x") is None
    assert not store.directory.exists()


def test_another_store_sees_changes_and_unchanged_files_are_not_parsed_again(store, monkeypatch):
    store.add("alice", password=GOOD)
    parsed = []
    real_parse = ViewerStore._parse

    def counting(self, data):
        parsed.append(self)
        return real_parse(self, data)

    monkeypatch.setattr(ViewerStore, "_parse", counting)
    reader = ViewerStore(store.directory)
    assert reader.lookup("alice") is not None
    assert reader.lookup("alice") is not None
    reader.list()
    assert len(parsed) == 1
    token = store.new_token("alice")
    assert reader.viewer_for_token(token).name == "alice"
    store.remove("alice")
    assert reader.lookup("alice") is None


def test_concurrent_writers_through_separate_stores_lose_no_update(tmp_path):
    directory = tmp_path / "cfg"
    ViewerStore(directory).add("alice", password=GOOD)
    ViewerStore(directory).add("bob", password=GOOD)
    errors = []
    tokens = {}

    def writer(name, camera_prefix):
        store = ViewerStore(directory)  # its own lock descriptor, like another process
        try:
            for i in range(25):
                store.set_cameras(name, [f"{camera_prefix}{i}"])
                tokens[name] = store.new_token(name)
            store.add(f"{name}-2", password=GOOD)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=("alice", "a")),
        threading.Thread(target=writer, args=("bob", "b")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    final = ViewerStore(directory)
    assert [v.name for v in final.list()] == ["alice", "alice-2", "bob", "bob-2"]
    assert final.get("alice").cameras == ("a24",)
    assert final.get("bob").cameras == ("b24",)
    assert final.viewer_for_token(tokens["alice"]).name == "alice"
    assert final.viewer_for_token(tokens["bob"]).name == "bob"
    # 2 adds + 2 x 25 x (grant + token) + 2 adds: every change got its own generation.
    assert doc(final)["generation"] == 104
    assert len({v.generation for v in final.list()}) == 4


CORRUPT = {
    "not json": b"{",
    "not utf-8": b"\xff",
    "a list": b"[]",
    "no version": b'{"generation": 0, "viewers": {}}',
    "version 2": b'{"version": 2, "generation": 0, "viewers": {}}',
    "no generation": b'{"version": 1, "viewers": {}}',
}


@pytest.mark.parametrize("data", CORRUPT.values(), ids=CORRUPT.keys())
def test_a_corrupt_file_is_refused_not_trusted(store, data):
    store.directory.mkdir()
    store.path.write_bytes(data)
    with pytest.raises(ViewerError, match="corrupt"):
        store.verify_password("alice", GOOD)
    with pytest.raises(ViewerError, match="corrupt"):
        store.add("alice", password=GOOD)
    assert store.path.read_bytes() == data


def _tamper(store, **changes):
    data = doc(store)
    data["viewers"]["alice"].update(changes)
    store.path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("password", "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "="),
        ("password", "plain-text-password"),
        ("cameras", "*"),
        ("cameras", {"only": ["*"]}),
        ("generation", 0),
        ("generation", 10**6),
        ("token", "not-a-hash"),
        ("expires", "tomorrow"),
        ("created", None),
    ],
)
def test_a_tampered_entry_is_refused_and_the_message_quotes_no_hash(store, field, value):
    store.add("alice", password=GOOD)
    stored_hash = store.get("alice").password_hash
    _tamper(store, **{field: value})
    with pytest.raises(ViewerError, match="corrupt") as caught:
        ViewerStore(store.directory).list()
    assert "'alice'" in str(caught.value)
    assert stored_hash not in str(caught.value)
    if field == "password":
        assert value not in str(caught.value)


def test_a_failed_write_leaves_the_file_as_it_was(store, monkeypatch):
    store.add("alice", password=GOOD)
    before = store.path.read_bytes()

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jsonfile.os, "replace", failing_replace)
    with pytest.raises(ViewerError, match=r"cannot write viewer accounts .*No space"):
        store.new_token("alice")
    monkeypatch.undo()
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in store.directory.iterdir()) == [".viewers.lock", "viewers.json"]
