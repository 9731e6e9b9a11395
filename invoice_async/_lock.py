"""One writer at a time: OS locks (``flock``) that a second writer meets at once.

A :class:`WriteLock` locks a sidecar file (mode 0o600) and writes the holder's pid into it,
so the second writer's message can name the first. The kernel drops the lock when its holder
exits, however it exits (SIGKILL included), so there is never a stale lock to clean up. The
sidecar file stays; only the lock on it matters. :func:`lock_directory` locks a folder
itself, creating no file in it. Linux (and any POSIX system with ``flock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from ._nofollow import open_file
from .errors import StoreLockedError


class WriteLock:
    """An exclusive, non-blocking lock on ``path`` (a sidecar file), holding this pid.

    ``busy`` is the message of the StoreLockedError a second writer gets; ``{pid}`` in it is
    replaced by the holder's pid (or "pid unknown").
    """

    def __init__(self, path: Path, *, busy: str, names: str) -> None:
        self.path = path
        self._busy = busy
        self._names = names  # what the lock protects, for StoreLockedError.path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise StoreLockedError at once if another writer holds it."""
        if self._fd is not None:
            return
        # Not following a symbolic link, and only a regular file (StoreError otherwise).
        fd = open_file(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask, and for a file made by an older run
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            where = "pid unknown" if pid is None else f"pid {pid}"
            raise StoreLockedError(
                self._busy.replace("{pid}", where), path=self._names, pid=pid
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let the lock go (a no-op when not held)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the file releases the flock

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def lock_directory(directory: Path, *, busy: str) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` itself (no file is created in it).

    Raises StoreLockedError with the message ``busy`` at once if another process holds it.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreLockedError(busy, path=str(directory)) from None
        yield
    finally:
        os.close(fd)


def folder_lock(out_dir: Path) -> WriteLock:
    """The lock an export takes on its output folder: ``OUT_DIR/.invoice-async.lock``."""
    return WriteLock(
        out_dir / ".invoice-async.lock",
        busy=f"another export is using {out_dir} " + "({pid})",
        names=str(out_dir),
    )
