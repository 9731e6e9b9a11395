"""What the library keeps on disk is opened without following symbolic links.

Inside OUT_DIR (and beside a store) the library reads and writes only what it makes there:
regular files and real folders. Each file is opened with ``O_NOFOLLOW`` (a symbolic link as
the last part of the path is refused, not followed) and ``O_NONBLOCK`` (a FIFO planted there
cannot hang the open), then checked with ``fstat``; a folder is checked with ``lstat``.
Anything else (a symbolic link, a FIFO, a device, a folder where a file belongs) is refused
with one :class:`~invoice_async.errors.StoreError` that names it. The folder a user names
(OUT_DIR, a store's folder, a ``pdf_dir``) may itself be a symbolic link.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from . import errors

_KINDS: Final = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFDIR: "a folder",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
}


def refusal(path: Path, kind: str, *, expected: str = "file") -> errors.StoreError:
    """The error for ``path`` being ``kind`` where the library keeps a regular file (or a
    folder): one line, naming it."""
    return errors.StoreError(
        f"{path} is {kind}, not a {expected} invoice_async made there: refusing to use it "
        "(move it away, or use another folder)",
        path=str(path),
    )


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def regular_file(path: Path) -> bool:
    """True when a regular file is at ``path``, False when nothing is; StoreError when
    something else is (a symbolic link, even to a regular file, a FIFO, a folder)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(mode):
        raise refusal(path, _kind(mode))
    return True


def real_folder(path: Path) -> bool:
    """True when a real folder is at ``path``, False when nothing is; StoreError when
    something else is (a symbolic link, even to a folder, or a file)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(mode):
        raise refusal(path, _kind(mode), expected="folder")
    return True


def open_file(path: Path, flags: int = os.O_RDONLY, mode: int = 0o600) -> int:
    """A file descriptor of the regular file at ``path``, opened without following a
    symbolic link and without blocking on a FIFO (then set blocking again).

    Raises FileNotFoundError when nothing is there (and ``flags`` lack ``O_CREAT``),
    StoreError when something other than a regular file is, OSError otherwise.
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise refusal(path, "a symbolic link") from None
        if exc.errno == errno.EISDIR:
            raise refusal(path, "a folder") from None
        if exc.errno == errno.ENXIO:  # a FIFO without a reader, opened for writing
            raise refusal(path, "a FIFO") from None
        raise
    try:
        found = os.fstat(fd).st_mode
        if not stat.S_ISREG(found):
            raise refusal(path, _kind(found))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def reading(path: Path) -> Iterator[io.BufferedReader]:
    """The regular file at ``path``, open for reading as :func:`open_file` opens it."""
    with os.fdopen(open_file(path), "rb") as file:
        yield file
