"""One private JSON document in one file, shared safely by several processes.

The device registry and the viewer accounts are both stored this way. Reads take no lock,
because the file is only ever replaced whole, and they re-parse only when the file's
(inode, mtime, size) stamp changed. Every change is a read-modify-write of the file as it is
on disk, under an exclusive `flock` on `.<stem>.lock` beside it. The new version is written to
a 0600 temporary file, fsynced, renamed over the old one, and the directory is fsynced, so a
crash leaves the old file or the new one, never half of either.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
# (inode, mtime_ns, size): inode too, because every write replaces the file and a same-size
# rewrite within one mtime tick would otherwise look unchanged.
Stamp = tuple[int, int, int]


class JsonFile(Generic[T]):
    """`path`'s document as a `T`.

    `parse(bytes) -> T` raises the owner's error for a corrupt file; `dump(T) -> bytes` gives the
    whole new file; `empty()` is the document of a missing file; `copy(T)` must make a copy
    that compares equal, so an unchanged document is not rewritten. `error(message)` builds the
    owner's exception for a file that cannot be read or written; `what` names the file in it.
    """

    def __init__(
        self,
        path: Path,
        *,
        parse: Callable[[bytes], T],
        dump: Callable[[T], bytes],
        empty: Callable[[], T],
        copy: Callable[[T], T],
        error: Callable[[str], Exception],
        what: str,
    ) -> None:
        self.path = path
        self.directory = path.parent
        self._lock_path = self.directory / f".{path.stem}.lock"
        self._parse, self._dump, self._empty, self._copy = parse, dump, empty, copy
        self._error, self._what = error, what
        # One tuple, so a reader never sees a stamp paired with another version's document.
        self._cache: tuple[Stamp | None, T] | None = None

    def read(self) -> T:
        """The current document (re-parsed only if the file changed); raises the owner's error."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            stamp = None
        except OSError as exc:
            raise self._failed("read", exc) from None
        else:
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        cache = self._cache
        if cache is not None and cache[0] == stamp:
            return cache[1]
        stamp, document = self._load()
        self._cache = (stamp, document)
        return document

    def update(self, change: Callable[[T], R]) -> R:
        """Apply `change` (which edits the document in place) under the lock; write if changed."""
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(exclusive_lock(self._lock_path))
            except OSError as exc:
                raise self._failed("write", exc) from None
            # Re-read under the lock: another process may have written since our last read.
            stamp, document = self._load()
            before = self._copy(document)
            result = change(document)
            if document != before:
                try:
                    stamp = self._write(document)
                except OSError as exc:
                    raise self._failed("write", exc) from None
            self._cache = (stamp, document)
            return result

    def _load(self) -> tuple[Stamp | None, T]:
        """Read and parse the file; the stamp comes from the same open file as the bytes."""
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                data = f.read()
        except FileNotFoundError:
            return None, self._empty()
        except OSError as exc:
            raise self._failed("read", exc) from None
        return (st.st_ino, st.st_mtime_ns, st.st_size), self._parse(data)

    def _write(self, document: T) -> Stamp:
        st = write_private(self.path, self._dump(document))
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _failed(self, doing: str, exc: OSError) -> Exception:
        return self._error(f"cannot {doing} {self._what} {self.path}: {exc.strerror or exc}")


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive `flock` on `lock_path` (made 0600, its folder 0700, if missing).

    Raises OSError if the lock file cannot be made or opened.
    """
    lock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def write_private(path: Path, data: bytes) -> os.stat_result:
    """Replace `path` with `data`, atomically and durably, 0600 from the first byte.

    Returns the new file's stat; raises OSError, leaving the old file and no temporary behind.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            # A umask can only clear bits, but an odd one (0o200) could still leave 0400.
            os.fchmod(f.fileno(), 0o600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            st = os.fstat(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # Makes the rename itself durable, not just the new file's contents.
    dir_fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return st
