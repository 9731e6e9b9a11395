"""P4's choices of how the client syncs each PDF before its rename, beside its own.

The client syncs each file in a worker thread (``invoice_async._files.sync_in_a_thread``).
The choices measured against it, in the same run:

- ``sync_in_the_loop``: the fdatasync runs in the event loop, which waits for the disk;
- ``FolderBatch``: a file waits to join a batch; one ``syncfs`` (in a thread) then makes every
  file of the batch durable at once, since they are all on one filesystem, and files that
  finish meanwhile wait for the next one.

``syncing_with(sync)`` runs the client's downloads with one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
from collections.abc import Awaitable, Callable, Iterator

from invoice_async import _files, _pdfs

Sync = Callable[[int], Awaitable[None]]


async def sync_in_the_loop(fd: int) -> None:
    """fdatasync in the event loop."""
    os.fdatasync(fd)


def _syncfs(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syncfs(fd) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


class FolderBatch:
    """One syncfs for all the files waiting; one batch at a time."""

    def __init__(self) -> None:
        self._waiting: list[tuple[int, asyncio.Future[None]]] = []
        self._running = False

    async def sync(self, fd: int) -> None:
        """Return once a syncfs that began after this call has finished."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((fd, done))
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._run())
        await done

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    # Any file of the batch names the filesystem; each stays open while it waits.
                    await asyncio.to_thread(_syncfs, batch[0][0])
                except OSError as error:
                    for _, done in batch:
                        done.set_exception(error)
                else:
                    for _, done in batch:
                        done.set_result(None)
        finally:
            self._running = False


_PATCHED = "write_atomically"  # the name _pdfs calls it by


@contextlib.contextmanager
def syncing_with(sync: Sync) -> Iterator[None]:
    """The client's PDF downloads sync their files with ``sync`` while the block runs."""
    original = getattr(_pdfs, _PATCHED)
    setattr(_pdfs, _PATCHED, functools.partial(_files.write_atomically, sync=sync))
    try:
        yield
    finally:
        setattr(_pdfs, _PATCHED, original)
