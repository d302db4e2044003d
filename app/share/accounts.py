"""Viewer accounts: who may watch which cameras, with a scrypt password and an optional token.

`viewers.json` in the config directory (beside `devices.json`, 0600) holds
``{"version": 1, "generation": G, "viewers": {NAME: ENTRY}}`` where ENTRY is
``{"password": "scrypt$N$R$P$SALT$HASH", "cameras": {"all": true} | {"only": [CAMERA, ...]},
"expires": ISO | null, "created": ISO, "generation": INT, "token": SHA256_HEX | null}``
(times are UTC, ``YYYY-MM-DDTHH:MM:SSZ``). Like the device registry, every write replaces
the file atomically under an `flock`, and reads re-parse it only when its inode, mtime or
size changed, so the CLI can edit accounts while the viewer server is checking them.

Secrets: passwords are hashed with scrypt (N=2**15, r=8, p=1, 32-byte salt); a player token
is high-entropy and random, so only its SHA-256 is stored. Neither a password, a token nor a
hash appears in a repr, a log line or an exception message.

Generations: every viewer carries a `generation`, taken from one counter for the whole file
that only ever grows. A password change, a token change, a change of granted cameras and a
removal followed by a re-add all give the viewer a new, higher generation. The viewer server
records the generation a session or stream was authenticated with and ends it as soon as
`ViewerStore.get(name).generation` differs (or the viewer is gone or expired). Because the
counter is file-wide, a re-added name never reuses a generation its earlier account had.

Thread-safe; `verify_password` costs one scrypt (about 0.1 s of CPU, 32 MiB of memory), so
an asyncio server calls it in a worker thread (`asyncio.to_thread`); `hashlib.scrypt`
releases the GIL.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import enum
import hashlib
import hmac
import json
import logging
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from app.errors import SecureCamError
from app.jsonfile import JsonFile
from app.protocol.hello import is_valid_device_id, validate_device_id

log = logging.getLogger(__name__)

VIEWERS_FILE = "viewers.json"
FORMAT_VERSION = 1

MIN_PASSWORD_LENGTH = 12
# scrypt's cost: 128 * N * r bytes = 32 MiB, about 0.1 s on a desktop CPU.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_SIZE = 32
HASH_SIZE = 32
# OpenSSL's default limit (32 MiB) is just below what N=2**15, r=8 needs.
_SCRYPT_MAXMEM = 64 * 1024 * 1024
# What a stored hash may ask for: a tampered file must not make one login cost gigabytes.
_MAX_SCRYPT_N = 2**20
_MAX_SCRYPT_R = 32
_MAX_SCRYPT_P = 16
TOKEN_PREFIX = "sc_"
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class AllCameras(enum.Enum):
    """The grant of every camera, present and future (the `ALL` marker)."""

    ALL = "all"


ALL = AllCameras.ALL
# Either every camera (ALL) or exactly these device names (sorted, no duplicates; may be empty).
Grant = tuple[str, ...] | Literal[AllCameras.ALL]


class ViewerError(SecureCamError):
    """The viewer accounts cannot be read or written, or a request contradicts them."""


class UnknownViewer(ViewerError):
    """No viewer has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no viewer named {name!r}")
        self.name = name


class ViewerExists(ViewerError):
    """A viewer with this name already exists."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a viewer named {name!r} already exists")
        self.name = name


class WeakPassword(ViewerError):
    """A chosen password is too short; the message never contains it."""


def is_valid_viewer_name(name: str) -> bool:
    """The device-name rule: 1-32 ASCII letters, digits, '.', '_' or '-', starting with a
    letter or digit (safe in URLs, log lines and file names)."""
    return isinstance(name, str) and is_valid_device_id(name)


def validate_viewer_name(name: str) -> str:
    """Return `name`; raises ValueError (naming it) if it breaks `is_valid_viewer_name`."""
    if not is_valid_viewer_name(name):
        raise ValueError(
            f"invalid viewer name {name!r}: use 1-32 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def make_grant(cameras: Iterable[str] | AllCameras) -> Grant:
    """ALL, or the device names sorted and deduplicated; raises ValueError for a bad name."""
    if isinstance(cameras, AllCameras):
        return ALL
    if isinstance(cameras, str):
        raise TypeError("cameras is ALL or an iterable of device names, not one string")
    return tuple(sorted({validate_device_id(c) for c in cameras}))


def describe_grant(grant: Grant) -> str:
    """`all cameras`, `no cameras` or the comma-separated names."""
    if grant is ALL:
        return "all cameras"
    return ", ".join(grant) if grant else "no cameras"


def generate_password() -> str:
    """A strong random password: 24 URL-safe characters, 144 bits."""
    return secrets.token_urlsafe(18)


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _whole_seconds(when: datetime) -> datetime:
    # What the file keeps: the returned viewer equals the one read back.
    return when.astimezone(UTC).replace(microsecond=0)


def _format_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime(_TIME_FORMAT)


@dataclass(frozen=True, slots=True)
class Viewer:
    """A viewer account. `password_hash` and `token_hash` stay out of its repr.

    Attributes:
        name: the login name (the device-name rule).
        password_hash: ``scrypt$N$r$p$SALT_B64$HASH_B64``.
        cameras: ALL, or the device names this viewer may watch.
        expires: when the account stops working (aware, UTC), or None for never.
        created: when the account was added (aware, UTC, whole seconds).
        generation: changes whenever a session authenticated earlier must end (module doc).
        token_hash: SHA-256 (hex) of the player token, or None without one.
    """

    name: str
    password_hash: str = field(repr=False)
    cameras: Grant
    expires: datetime | None
    created: datetime
    generation: int
    token_hash: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        validate_viewer_name(self.name)
        for when in (self.expires, self.created):
            if when is not None and when.utcoffset() is None:
                raise ValueError("viewer times must be timezone-aware (UTC)")

    def can_watch(self, camera: str) -> bool:
        """Whether `camera` is granted (expiry is checked separately: `is_expired`)."""
        return self.cameras is ALL or camera in self.cameras

    def is_expired(self, now: datetime | None = None) -> bool:
        """Whether the account has expired at `now` (default: the current time)."""
        if self.expires is None:
            return False
        return (now if now is not None else datetime.now(UTC)) >= self.expires

    @property
    def has_token(self) -> bool:
        return self.token_hash is not None


@dataclass(frozen=True, slots=True)
class Issued:
    """A changed viewer and the secret generated for it, if any (kept out of the repr)."""

    viewer: Viewer
    password: str | None = field(default=None, repr=False)


# -- passwords and tokens -------------------------------------------------------------------


def _normalize(password: str) -> bytes:
    # NFC so the same password typed on two keyboards (precomposed or combining accents) matches.
    if not isinstance(password, str):
        raise TypeError("a password is a str")
    return unicodedata.normalize("NFC", password).encode("utf-8", "surrogatepass")


def check_password_strength(password: str) -> None:
    """Raise WeakPassword if a chosen password is shorter than MIN_PASSWORD_LENGTH characters."""
    length = len(unicodedata.normalize("NFC", password))
    if length < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"the password is too short ({length} characters): use at least "
            f"{MIN_PASSWORD_LENGTH}, or let SecureCam generate one"
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    # Through the module attribute, so a test can count the calls.
    return hashlib.scrypt(
        password, salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=HASH_SIZE
    )


def hash_password(password: str) -> str:
    """The stored form of `password`: ``scrypt$N$r$p$SALT_B64$HASH_B64`` with a fresh salt."""
    salt = secrets.token_bytes(SALT_SIZE)
    digest = _scrypt(_normalize(password), salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


@dataclass(frozen=True, slots=True)
class _ScryptHash:
    n: int
    r: int
    p: int
    salt: bytes = field(repr=False)
    digest: bytes = field(repr=False)


def _parse_hash(text: object) -> _ScryptHash | None:
    """The parts of a stored hash, or None if it is not one this module would write."""
    if not isinstance(text, str):
        return None
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    if not all(part.isdigit() and part.isascii() for part in parts[1:4]):
        return None
    n, r, p = (int(part) for part in parts[1:4])
    if not (2 <= n <= _MAX_SCRYPT_N and n & (n - 1) == 0):
        return None
    if not (1 <= r <= _MAX_SCRYPT_R and 1 <= p <= _MAX_SCRYPT_P):
        return None
    try:
        if not (_B64.fullmatch(parts[4]) and _B64.fullmatch(parts[5])):
            return None
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except binascii.Error:
        return None
    if not 16 <= len(salt) <= 64 or len(digest) != HASH_SIZE:
        return None
    return _ScryptHash(n, r, p, salt, digest)


# Unknown names are checked against this, at the same cost as a real account (no timing oracle).
_DUMMY_HASH = _ScryptHash(
    SCRYPT_N, SCRYPT_R, SCRYPT_P, secrets.token_bytes(SALT_SIZE), secrets.token_bytes(HASH_SIZE)
)


def _password_matches(password: str, stored: _ScryptHash) -> bool:
    digest = _scrypt(_normalize(password), stored.salt, stored.n, stored.r, stored.p)
    return hmac.compare_digest(digest, stored.digest)


def new_token_text() -> str:
    """A fresh player token: ``sc_`` and 43 URL-safe characters (256 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256 in hex (a 256-bit random token needs no scrypt)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _new_password_hash(password: str | None) -> tuple[str, str | None]:
    """The hash of `password` (checked for strength), or of a generated one, and that one."""
    if password is None:
        generated = generate_password()
        return hash_password(generated), generated
    check_password_strength(password)
    return hash_password(password), None


# -- the store ------------------------------------------------------------------------------


@dataclass(slots=True)
class _State:
    generation: int = 0
    viewers: dict[str, Viewer] = field(default_factory=dict)

    def copy(self) -> _State:
        return _State(self.generation, dict(self.viewers))

    def bump(self) -> int:
        self.generation += 1
        return self.generation


class ViewerStore:
    """The viewer accounts in `directory / "viewers.json"`.

    Reads never take the lock (the file is only ever replaced whole); every change is a
    locked read-modify-write of the file as it is on disk. Every method that reads raises
    ViewerError if the file is corrupt or unreadable: refuse access rather than trust a
    stale copy.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / VIEWERS_FILE
        self._file: JsonFile[_State] = JsonFile(
            self.path,
            parse=self._parse,
            dump=self._dump,
            empty=_State,
            copy=_State.copy,
            error=ViewerError,
            what="viewer accounts",
        )

    # -- reading ---------------------------------------------------------------------------

    def list(self) -> builtins.list[Viewer]:
        """Every viewer, sorted by name (expired ones too)."""
        viewers = self._file.read().viewers
        return [viewers[name] for name in sorted(viewers)]

    def get(self, name: str) -> Viewer:
        """The viewer called `name`; raises UnknownViewer."""
        viewer = self.lookup(name)
        if viewer is None:
            raise UnknownViewer(name)
        return viewer

    def lookup(self, name: str) -> Viewer | None:
        """The viewer called `name` (expired or not), or None."""
        return self._file.read().viewers.get(name)

    def verify_password(self, name: str, password: str) -> Viewer | None:
        """The viewer if `password` is its password and it has not expired, else None.

        Costs exactly one scrypt whatever the outcome (unknown or malformed name, wrong
        password, expired account), so its time does not tell which names exist. Never
        raises for bad credentials; raises ViewerError if the file cannot be read.
        """
        viewer = self.lookup(name)
        stored = _parse_hash(viewer.password_hash) if viewer is not None else None
        matches = _password_matches(password, stored if stored is not None else _DUMMY_HASH)
        if viewer is None or stored is None or not matches or viewer.is_expired():
            return None
        return viewer

    def viewer_for_token(self, token: str) -> Viewer | None:
        """The unexpired viewer whose player token this is, or None.

        The token's SHA-256 is compared with every stored token hash in constant time.
        """
        wanted = hash_token(token).encode("ascii")
        found: Viewer | None = None
        for viewer in self._file.read().viewers.values():
            stored = (viewer.token_hash or "").encode("ascii")
            # compare_digest of unequal lengths is quick but reveals only that none is stored.
            if hmac.compare_digest(wanted, stored) and viewer.token_hash is not None:
                found = viewer
        if found is None or found.is_expired():
            return None
        return found

    # -- changing --------------------------------------------------------------------------

    def add(
        self,
        name: str,
        *,
        password: str | None = None,
        cameras: Iterable[str] | AllCameras = (),
        expires: datetime | None = None,
    ) -> Issued:
        """Add a viewer; without `password`, generate one and return it in `Issued.password`.

        Raises:
            ValueError: a bad viewer or camera name, or a naive `expires`.
            WeakPassword: `password` is shorter than MIN_PASSWORD_LENGTH.
            ViewerExists: the name is taken.
        """
        validate_viewer_name(name)
        grant = make_grant(cameras)
        if expires is not None and expires.utcoffset() is None:
            raise ValueError("expires must be timezone-aware (UTC)")
        password_hash, generated = _new_password_hash(password)

        def change(state: _State) -> Viewer:
            if name in state.viewers:
                raise ViewerExists(name)
            viewer = Viewer(
                name,
                password_hash,
                grant,
                _whole_seconds(expires) if expires is not None else None,
                _utc_now(),
                state.bump(),
            )
            state.viewers[name] = viewer
            return viewer

        viewer = self._file.update(change)
        log.info(
            "added viewer %s (%s, expires %s, generation %d)",
            name,
            describe_grant(grant),
            _format_time(viewer.expires) if viewer.expires else "never",
            viewer.generation,
        )
        return Issued(viewer, generated)

    def remove(self, name: str) -> Viewer:
        """Remove a viewer and return it; raises UnknownViewer."""

        def change(state: _State) -> Viewer:
            if name not in state.viewers:
                raise UnknownViewer(name)
            # The counter stays: a re-add gets a generation above every one this name had.
            return state.viewers.pop(name)

        viewer = self._file.update(change)
        log.info("removed viewer %s", name)
        return viewer

    def set_password(self, name: str, password: str | None = None) -> Issued:
        """Give a viewer a new password (generated and returned when `password` is None).

        Also drops its player token (a token issued before must stop working) and bumps its
        generation. Raises WeakPassword or UnknownViewer.
        """
        password_hash, generated = _new_password_hash(password)

        def change(state: _State) -> Viewer:
            if name not in state.viewers:
                raise UnknownViewer(name)
            viewer = replace(
                state.viewers[name],
                password_hash=password_hash,
                token_hash=None,
                generation=state.bump(),
            )
            state.viewers[name] = viewer
            return viewer

        viewer = self._file.update(change)
        log.info("changed the password of viewer %s (generation %d)", name, viewer.generation)
        return Issued(viewer, generated)

    def set_cameras(self, name: str, cameras: Iterable[str] | AllCameras) -> Viewer:
        """Grant exactly these cameras (or ALL); bumps the generation if the grant changed.

        Raises ValueError for a bad camera name, UnknownViewer.
        """
        grant = make_grant(cameras)
        changed: list[bool] = []

        def change(state: _State) -> Viewer:
            if name not in state.viewers:
                raise UnknownViewer(name)
            viewer = state.viewers[name]
            if viewer.cameras != grant:
                changed.append(True)
                viewer = replace(viewer, cameras=grant, generation=state.bump())
                state.viewers[name] = viewer
            return viewer

        viewer = self._file.update(change)
        if changed:
            log.info(
                "viewer %s may now watch %s (generation %d)",
                name,
                describe_grant(grant),
                viewer.generation,
            )
        return viewer

    def new_token(self, name: str) -> str:
        """A fresh player token for `name`, returned this once; only its hash is stored.

        It replaces the viewer's previous token and bumps its generation, so streams opened
        with the old token end. Raises UnknownViewer.
        """
        token = new_token_text()
        token_hash = hash_token(token)

        def change(state: _State) -> Viewer:
            if name not in state.viewers:
                raise UnknownViewer(name)
            viewer = replace(state.viewers[name], token_hash=token_hash, generation=state.bump())
            state.viewers[name] = viewer
            return viewer

        viewer = self._file.update(change)
        log.info("issued a new player token to viewer %s (generation %d)", name, viewer.generation)
        return token

    # -- file handling ---------------------------------------------------------------------

    def _parse(self, data: bytes) -> _State:
        # Messages may name viewers and fields but never quote a hash.
        try:
            doc = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise self._corrupt("not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise self._corrupt(f"not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise self._corrupt("the top level is not a JSON object")
        version = doc.get("version")
        if type(version) is not int:
            raise self._corrupt("no format version")
        if version != FORMAT_VERSION:
            raise self._corrupt(f"format version {version} is not supported (only 1)")
        generation = doc.get("generation")
        if type(generation) is not int or generation < 0:
            raise self._corrupt('"generation" is not a non-negative integer')
        entries = doc.get("viewers")
        if not isinstance(entries, dict):
            raise self._corrupt('"viewers" is not a JSON object')
        viewers = {name: self._parse_viewer(name, entry) for name, entry in entries.items()}
        for viewer in viewers.values():
            if viewer.generation > generation:
                raise self._corrupt(f"viewer {viewer.name!r} has a generation above the file's")
        return _State(generation, viewers)

    def _parse_viewer(self, name: str, entry: Any) -> Viewer:
        if not is_valid_viewer_name(name):
            raise self._corrupt(f"invalid viewer name {name!r}")
        if not isinstance(entry, dict):
            raise self._corrupt(f"the entry for {name!r} is not a JSON object")
        password = entry.get("password")
        if not isinstance(password, str) or _parse_hash(password) is None:
            raise self._corrupt(f"viewer {name!r} has no valid scrypt password hash")
        grant = self._parse_grant(name, entry.get("cameras"))
        expires = entry.get("expires")
        generation = entry.get("generation")
        if type(generation) is not int or generation < 1:
            raise self._corrupt(f'viewer {name!r}: "generation" is not a positive integer')
        token = entry.get("token")
        if token is not None and not (isinstance(token, str) and _SHA256_HEX.fullmatch(token)):
            raise self._corrupt(f'viewer {name!r}: "token" is not a SHA-256 in hex')
        return Viewer(
            name,
            password,
            grant,
            None if expires is None else self._parse_time(name, "expires", expires),
            self._parse_time(name, "created", entry.get("created")),
            generation,
            token,
        )

    def _parse_grant(self, name: str, value: Any) -> Grant:
        if value == {"all": True}:
            return ALL
        if isinstance(value, dict) and set(value) == {"only"} and isinstance(value["only"], list):
            cameras = value["only"]
            if all(isinstance(c, str) and is_valid_device_id(c) for c in cameras):
                return make_grant(cameras)
        raise self._corrupt(
            f'viewer {name!r}: "cameras" is not {{"all": true}} or {{"only": [...]}}'
        )

    def _parse_time(self, name: str, key: str, value: Any) -> datetime:
        try:
            if not isinstance(value, str):
                raise ValueError
            return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise self._corrupt(f'viewer {name!r}: "{key}" is not a UTC time') from None

    def _dump(self, state: _State) -> bytes:
        doc = {
            "version": FORMAT_VERSION,
            "generation": state.generation,
            "viewers": {name: _entry(state.viewers[name]) for name in sorted(state.viewers)},
        }
        return (json.dumps(doc, indent=2) + "\n").encode("utf-8")

    def _corrupt(self, reason: str) -> ViewerError:
        return ViewerError(f"viewer accounts {self.path} are corrupt: {reason}")


def _entry(viewer: Viewer) -> dict[str, Any]:
    return {
        "password": viewer.password_hash,
        "cameras": {"all": True} if viewer.cameras is ALL else {"only": list(viewer.cameras)},
        "expires": _format_time(viewer.expires) if viewer.expires is not None else None,
        "created": _format_time(viewer.created),
        "generation": viewer.generation,
        "token": viewer.token_hash,
    }
