"""Shared fixtures for the Share tests: a real viewer server over real TLS on loopback.

`ShareRig` runs a `Receiver` with `DemoFleet` cameras and a `Sharing` (the viewer server as the
app assembles it, from a temporary config dir) on *its own event loop in a background
thread*. Any test talks to it over the network only: an asyncio test with aiohttp on its own
loop, a synchronous test driving Chromium through selenium, or ffmpeg in a subprocess.

Fixtures:

- `share_rig` (module scope): one rig per test module with two demo cameras (demo-1,
  demo-2), generous login limits (so failed logins in one test do not lock out the next),
  and two accounts: `alice` (all cameras) and `bob` (demo-1 only), passwords in
  `rig.passwords`. Tests that change accounts should add their own: `rig.add_viewer(...)`.
- `make_share_rig` (function scope): a factory, `make_share_rig(cameras=0, limits=...,
  size=FrameSize.XGA, fps=...)`, for a dedicated rig with its own `ShareLimits` (rate
  limits, caps, deadlines) or bigger frames; no accounts; stopped after the test.

Both need no event loop of the test's: a synchronous test (selenium, a subprocess) uses them
as they are. Frames are QVGA unless asked (cheap on a busy machine).

What a rig offers (all usable from any thread):

- `rig.base` (``https://localhost:PORT``), `rig.port`, `rig.ws_url`, `rig.cert_path`,
  `rig.ssl_context()` (trusts only the generated certificate), `async with rig.client() as
  client` (an aiohttp session on `rig.base` that keeps no cookies: pass them with
  `rig.cookie(value)`; it waits for its TLS sockets to close on leaving), `rig.origin` (the
  page's own Origin header);
- `rig.add_viewer(name, cameras)` -> password, `rig.new_token(name)` -> token, `rig.store`
  (the `ViewerStore` the server reads), `rig.session_key()` (the server's JWT key);
- `await rig.login(client, name, password)` -> the session cookie's value;
- `rig.audit_entries()`, `rig.audit_mark()` / `rig.audit_since(mark)`, `rig.audit_text()`;
- `rig.accepted[camera]`: the JPEGs the receiver accepted, newest last (a bounded deque of
  (number, jpeg)), and `rig.accepted_count[camera]`;
- `rig.secrets`: every password, token and cookie the rig issued (tests add crafted ones);
  `rig.assert_no_secrets(*texts)` checks none appears in the given texts;
- `await rig.on_loop(fn)`: the result of calling `fn()` on the rig's loop (to read the
  server's state, `rig.server`, or call its methods without racing it); `await rig.run(coro)`
  awaits a coroutine there;
- `rig.sharing`, `rig.server`, `rig.receiver`, `rig.fleet`.

Helpers for the wire format: `read_frame(data)` splits a /ws binary message into its header
and JPEG; `read_mjpeg_part(response)` reads one part of a stream.mjpeg response. And
`await eventually(check, timeout)`: `wait_until` for an async predicate (e.g. an HTTP poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from app.devices.lookup import credentials_lookup
from app.protocol.endpoints import local_camera_url
from app.protocol.framesize import FrameSize
from app.receiver.events import FrameArrived, ReceiverEvent
from app.receiver.server import Receiver
from app.share.accounts import ALL, AllCameras
from app.share.audit import AUDIT_FILE
from app.share.limits import ShareLimits
from app.share.server import BOUNDARY, COOKIE, ShareServer
from app.share.sessions import KEY_FILE
from app.share.sharing import Sharing
from app.sim.demo import DemoFleet
from tests.waiting import scaled

T = TypeVar("T")

# Generous login limits: one module's failed logins must not lock out its other tests.
RELAXED = ShareLimits(failures_per_address=10_000, failures_per_account=10_000)
_KEEP_FRAMES = 100  # per camera, in `ShareRig.accepted`


class ShareRig:
    """A receiver, demo cameras and the viewer server on their own loop in a thread."""

    def __init__(
        self,
        root: Path,
        *,
        cameras: int = 2,
        limits: ShareLimits | None = None,
        size: FrameSize = FrameSize.QVGA,
        fps: float = 25.0,
    ) -> None:
        self.root = root
        self.config_dir = root / "config"
        self.log_dir = root / "logs"
        self.fleet = DemoFleet(cameras, size=size, fps=fps) if cameras else None
        names = list(self.fleet.names) if self.fleet else []
        self.camera_names = names
        self.sharing = Sharing(
            self.config_dir,
            self.log_dir,
            lambda: names,
            host="127.0.0.1",
            port=0,
            limits=limits or RELAXED,
            addresses=["127.0.0.1"],
        )
        self.store = self.sharing.store
        self.audit_path = self.log_dir / AUDIT_FILE
        self.passwords: dict[str, str] = {}
        self.secrets: set[str] = set()
        self.accepted: dict[str, deque[tuple[int, bytes]]] = {
            name: deque(maxlen=_KEEP_FRAMES) for name in names
        }
        self.accepted_count: dict[str, int] = dict.fromkeys(names, 0)
        self.receiver: Receiver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="share rig", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ShareRig:
        self._thread.start()
        if not self._ready.wait(scaled(30)):
            raise AssertionError("the share rig did not start within 30 s")
        if self._failure is not None:
            raise self._failure
        return self

    def close(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(scaled(30))
        assert not self._thread.is_alive(), "the share rig did not stop within 30 s"

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test that started it
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        receiver = None
        if self.fleet is not None:
            receiver = Receiver(credentials_lookup(self.fleet.registry), host="127.0.0.1", port=0)
            receiver.add_listener(self._accepted)
            await receiver.start()
            self.receiver = receiver
            self.sharing.attach(receiver)
        await self.sharing.start()
        try:
            if self.fleet is not None and receiver is not None:
                self.fleet.start(local_camera_url("127.0.0.1", receiver.port))
            self._ready.set()
            await self._stop.wait()
        finally:
            await self.sharing.stop()
            if self.fleet is not None:
                await self.fleet.stop()
            if receiver is not None:
                await receiver.stop()

    def _accepted(self, event: ReceiverEvent) -> None:
        if isinstance(event, FrameArrived):
            camera = event.frame.device
            self.accepted_count[camera] += 1
            self.accepted[camera].append((self.accepted_count[camera], bytes(event.frame.jpeg)))

    # -- the server --------------------------------------------------------------------------

    @property
    def server(self) -> ShareServer:
        server = self.sharing.server
        assert server is not None, "the share server is not running"
        return server

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def base(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def origin(self) -> dict[str, str]:
        return {"Origin": self.base}

    @property
    def ws_url(self) -> str:
        return f"wss://localhost:{self.port}/ws"

    @property
    def cert_path(self) -> Path:
        certificate = self.sharing.certificate
        assert certificate is not None
        return Path(certificate.cert_path)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_path))

    @contextlib.asynccontextmanager
    async def client(self, **kwargs: Any) -> AsyncIterator[aiohttp.ClientSession]:
        """An HTTPS client for this server that keeps no cookies of its own.

        On leaving, it waits for its sockets to be closed: a TLS connection closes only after
        its close_notify exchange, which a test that ends at once would cut short (and its
        socket would then be reported unclosed in whichever test collects it).
        """
        sockets: list[socket.socket] = []

        def tracked(addr_info: Any) -> socket.socket:
            family, kind, proto, _, _ = addr_info
            sock = socket.socket(family=family, type=kind, proto=proto)
            sockets.append(sock)
            return sock

        connector = aiohttp.TCPConnector(ssl=self.ssl_context(), socket_factory=tracked)
        async with aiohttp.ClientSession(
            base_url=self.base, connector=connector, cookie_jar=aiohttp.DummyCookieJar(), **kwargs
        ) as session:
            yield session
        deadline = time.monotonic() + scaled(5)
        while any(sock.fileno() != -1 for sock in sockets) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    @staticmethod
    def cookie(value: str) -> dict[str, str]:
        return {"Cookie": f"{COOKIE}={value}"}

    async def on_loop(self, fn: Callable[[], T]) -> T:
        """`fn()` called on the rig's loop, for reading or poking the server without races."""

        async def call() -> T:
            return fn()

        return await self.run(call())

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await `coroutine` on the rig's loop."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return await asyncio.wrap_future(future)

    # -- accounts ----------------------------------------------------------------------------

    def add_viewer(self, name: str, cameras: list[str] | AllCameras = ALL) -> str:
        password = f"{name}-password-{len(self.passwords):04d}-x"
        self.store.add(name, password=password, cameras=cameras)
        self.passwords[name] = password
        self.secrets.add(password)
        return password

    def new_token(self, name: str) -> str:
        token = self.store.new_token(name)
        self.secrets.add(token)
        return token

    def session_key(self) -> bytes:
        return (self.config_dir / KEY_FILE).read_bytes()

    async def login(self, client: aiohttp.ClientSession, name: str, password: str) -> str:
        """Log in as the page does; the session cookie's value."""
        async with client.post(
            "/api/login", json={"name": name, "password": password}, headers=self.origin
        ) as response:
            assert response.status == 200, await response.text()
            morsel = response.cookies[COOKIE]
        self.secrets.add(morsel.value)
        return morsel.value

    # -- the audit log -----------------------------------------------------------------------

    def audit_text(self) -> str:
        try:
            return self.audit_path.read_text()
        except FileNotFoundError:
            return ""

    def audit_entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit_text().splitlines()]

    def audit_mark(self) -> int:
        return len(self.audit_text().splitlines())

    def audit_since(self, mark: int) -> list[dict[str, Any]]:
        return self.audit_entries()[mark:]

    def assert_no_secrets(self, *texts: str) -> None:
        for text in (self.audit_text(), *texts):
            for secret in self.secrets:
                assert secret not in text, "a secret reached the audit log or the logs"


async def eventually(
    check: Callable[[], Awaitable[T]], timeout: float = 5.0, *, message: str = "condition"
) -> T:
    """`wait_until` for an async predicate: awaited until truthy, `scaled(timeout)` at most."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message}: not met within {scaled(timeout):g} s")
        await asyncio.sleep(0.05)


def read_frame(data: bytes) -> tuple[dict[str, Any], bytes]:
    """A /ws binary message: its JSON header and the JPEG."""
    (length,) = struct.unpack(">I", data[:4])
    return json.loads(data[4 : 4 + length]), data[4 + length :]


async def read_mjpeg_part(response: aiohttp.ClientResponse) -> bytes:
    """The next JPEG of a stream.mjpeg response."""
    line = await response.content.readline()
    while line in (b"\r\n", b"\n"):
        line = await response.content.readline()
    if not line:
        raise EOFError("the stream ended")
    assert line.strip() == f"--{BOUNDARY}".encode(), line
    length = None
    while (line := await response.content.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("ascii").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    assert length is not None, "a part without Content-Length"
    return await response.content.readexactly(length)


@contextlib.contextmanager
def running_rig(root: Path, **kwargs: Any) -> Iterator[ShareRig]:
    rig = ShareRig(root, **kwargs)
    try:
        yield rig.start()
    finally:
        rig.close()


@pytest.fixture(scope="module")
def share_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShareRig]:
    with running_rig(tmp_path_factory.mktemp("share")) as rig:
        rig.add_viewer("alice", ALL)
        rig.add_viewer("bob", ["demo-1"])
        yield rig


@pytest.fixture
def make_share_rig(tmp_path: Path) -> Iterator[Callable[..., ShareRig]]:
    stack = contextlib.ExitStack()
    count = 0

    def make(**kwargs: Any) -> ShareRig:
        nonlocal count
        count += 1
        return stack.enter_context(running_rig(tmp_path / f"rig{count}", **kwargs))

    with stack:
        yield make
