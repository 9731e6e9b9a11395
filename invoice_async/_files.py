"""Files on disk: safe names for PDFs, and atomic writes (temp file, fdatasync, rename)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
import unicodedata
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO, Final

from . import errors
from ._nofollow import open_file
from ._protocol import PDF_MAGIC

MAX_STEM_LENGTH: Final = 80
_UNSAFE_RE: Final = re.compile(r"[^A-Za-z0-9._-]+")
TEMP_SUFFIX: Final = ".part"
PDF_NAMES: Final = r"[A-Za-z0-9._-]+_[0-9]+\.pdf"
"""The names ``pdf_file_name`` gives, as a regular expression."""
# mkstemp's names: prefix, 8 characters of [a-z0-9_] (CPython's tempfile), suffix.
_TEMP_NAME: Final = r"\.(?:{names})\.[a-z0-9_]{{8}}" + re.escape(TEMP_SUFFIX)


def safe_stem(text: str) -> str:
    """``text`` reduced to ASCII letters, digits, '.', '_', '-'; never '', '.' or '..'.

    Separators, control characters and anything else become '-'; leading dots and dashes go
    (no hidden files, no '..'); the result has at most MAX_STEM_LENGTH characters.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    stem = _UNSAFE_RE.sub("-", ascii_text).lstrip(".-")[:MAX_STEM_LENGTH].rstrip(".-")
    return stem or "invoice"


def pdf_file_name(invoice_id: int, invoice_number: str | None) -> str:
    """The PDF's file name: the safe invoice number, then the id, so two names never collide.

    ``pdf_file_name(7, "2024/0001") == "2024-0001_7.pdf"``; with no number, ``"invoice_7.pdf"``.
    """
    stem = safe_stem(invoice_number) if invoice_number else "invoice"
    return f"{stem}_{invoice_id}.pdf"


def complete_pdf_size(path: Path) -> int | None:
    """The size of the PDF at ``path`` if a whole one is there, else None.

    Files only ever appear whole (see ``write_atomically``); the magic is checked too, and
    only a regular file counts (a symbolic link is not followed), so a file put there by
    something else is fetched again rather than trusted.
    """
    try:  # a symbolic link or a FIFO there is not a PDF of ours: fetched again
        with os.fdopen(open_file(path), "rb") as file:
            head = file.read(len(PDF_MAGIC))
            size = os.fstat(file.fileno()).st_size
    except (OSError, errors.StoreError):
        return None
    return size if head == PDF_MAGIC else None


# The data must be on disk before the rename makes the file visible; its size is the only
# metadata that matters, and fdatasync covers it (and skips the times), where it exists.
_sync_data = getattr(os, "fdatasync", os.fsync)


@contextlib.contextmanager
def _temp_file_beside(target: Path) -> Iterator[tuple[int, str]]:
    """A temp file (fd, name) beside ``target``, mode 0o600, removed if the block fails."""
    fd, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX
    )
    try:
        yield fd, temp_name
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


async def sync_in_a_thread(fd: int) -> None:
    """Sync a file's data (fdatasync, else fsync) in a worker thread, off the event loop.

    Measured against syncing in the loop and against one ``syncfs`` per batch of files in a
    folder, this was the fastest (benchmarks/README.md, P4): the syncs of the files being
    written at once overlap, and the loop goes on receiving meanwhile.
    """
    await asyncio.to_thread(_sync_data, fd)


async def write_atomically(
    target: Path,
    chunks: AsyncIterable[bytes],
    *,
    sync: Callable[[int], Awaitable[None]] = sync_in_a_thread,
) -> int:
    """Write ``chunks`` to ``target`` all or nothing; returns the number of bytes written.

    The bytes go to a temp file beside ``target`` (mode 0o600), which is synced (``sync``:
    its data is on disk when it returns), then renamed over ``target``. On any failure or
    cancellation the temp file is removed and ``target`` is untouched. Chunk writes go to the
    page cache without a thread hop.
    """
    size = 0
    with _temp_file_beside(target) as (fd, temp_name):
        with os.fdopen(fd, "wb") as file:
            async for chunk in chunks:
                file.write(chunk)
                size += len(chunk)
            file.flush()
            await sync(file.fileno())
        os.replace(temp_name, target)
    return size


@contextlib.contextmanager
def atomic_text(target: Path) -> Iterator[IO[str]]:
    """A text file that appears at ``target`` whole when the block succeeds, else not at all."""
    with _temp_file_beside(target) as (fd, temp_name):
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as file:
            yield file
            file.flush()
            _sync_data(file.fileno())
        os.replace(temp_name, target)


def remove_stale_temp_files(directory: Path, names: str) -> None:
    """Remove the temp files that a killed run left beside its final files: exactly the
    names ``_temp_file_beside`` makes (``.<name>.<8 random>.part``) for a final name that
    the regular expression ``names`` matches, and only regular files (a user's
    ``.thesis.part``, a folder, a symbolic link are left alone)."""
    pattern = re.compile(_TEMP_NAME.format(names=names))
    with os.scandir(directory) as entries:
        for entry in entries:
            if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
