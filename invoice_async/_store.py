"""InvoiceStore: the SQLite file that holds a local copy of the invoices and the export's state.

The store uses the standard library's ``sqlite3`` on one worker thread of its own (a
single-thread executor): every statement runs on one connection, in the order it was asked,
and the event loop never waits on the disk. aiosqlite does the same with a thread per
connection; owning the thread costs 30 lines and no dependency.

One writer at a time: opening takes an OS lock (``flock``) on ``<store>.lock``, which holds the
writer's pid; a second writer gets StoreLockedError at once. Readers (``sqlite3 store.sqlite``,
a web backend's own connection) read alongside it, thanks to WAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Concatenate, ParamSpec, Self, TypeVar

from . import errors
from ._lock import WriteLock
from ._store_db import Database, check_discardable
from ._store_schema import BadRow
from ._sync import Progress, SyncJob, SyncSummary, run_sync

if TYPE_CHECKING:
    from ._client import InvoiceClient

P = ParamSpec("P")
T = TypeVar("T")
_SIDE_FILES = ("-wal", "-shm", "-journal")


class InvoiceStore:
    """A local copy of your invoices in one SQLite file, kept current by :meth:`sync`.

    ``async with InvoiceStore("invoices.sqlite") as store:`` opens the file (creating it, or
    migrating an older layout) and holds its write lock until the block ends; or call
    ``await store.open()`` and later ``await store.close()``. The schema is documented in the
    README ("The store"); query it with any SQLite client, also while a sync runs.

    Args:
        path: the store's file. Its folder must exist. The file, its ``-wal`` and ``-shm``
            files and ``<path>.lock`` are created with mode 0o600.
        fresh: discard whatever the file held (once the lock is taken) and start over, with
            any scope.

    Raises ConfigurationError for a bad argument; on opening, StoreLockedError when another
    process writes to the store, and StoreError when the file is not a store or was made by
    a newer invoice_async, or when it (its -wal, -shm or lock file) is not a regular file: a
    symbolic link or a FIFO there is refused, never followed. Rows read back are checked as
    if the API had sent them: one the store does not write is a StoreError.
    """

    def __init__(self, path: str | os.PathLike[str], *, fresh: bool = False) -> None:
        if not isinstance(path, str | os.PathLike) or not str(path):
            raise errors.ConfigurationError(f"path must be a file path, got {path!r}")
        if not isinstance(fresh, bool):
            raise errors.ConfigurationError(f"fresh must be True or False, got {fresh!r}")
        self._path = Path(path)
        self._fresh = fresh
        self._lock = WriteLock(
            Path(f"{self._path}.lock"),
            busy=f"another sync or export is using {self._path} " + "({pid})",
            names=str(self._path),
        )
        self._executor: ThreadPoolExecutor | None = None
        self._db: Database | None = None
        self._syncing = False

    def __repr__(self) -> str:
        state = "open" if self._db is not None else "closed"
        return f"<InvoiceStore {str(self._path)!r} {state}>"

    @property
    def path(self) -> Path:
        """The store's file."""
        return self._path

    async def open(self) -> Self:
        """Open the file (creating or migrating it) and take the write lock; returns the store.

        Opening an open store does nothing. Raises StoreLockedError at once when another
        process holds the lock, StoreError when the file cannot be used as a store.
        """
        if self._db is not None:
            return self
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="invoice-async-store")
        try:
            self._db = await self._in_thread(self._open_locked)
        except BaseException:
            await self._shutdown()
            raise
        return self

    def _open_locked(self) -> Database:
        """On the store's thread: check the path, take the lock, discard the file with
        ``fresh``, and open it."""
        if self._path.is_dir() or not self._path.parent.is_dir():
            raise errors.ConfigurationError(
                f"the store {str(self._path)!r} must be a file in an existing folder"
            )
        self._lock.acquire()
        if self._fresh:
            check_discardable(self._path)
            self._discard()
            self._fresh = False  # once: reopening later keeps what this run writes
        return Database(self._path)

    def _discard(self) -> None:
        for suffix in ("", *_SIDE_FILES):
            Path(f"{self._path}{suffix}").unlink(missing_ok=True)

    async def close(self) -> None:
        """Close the file and release the write lock; a closed store may be opened again."""
        db, self._db = self._db, None
        try:
            if db is not None:
                await self._in_thread(db.close)
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        """Release the lock on the store's thread (after whatever it still runs, such as an
        opening that was cancelled: so the lock cannot be taken after it was let go), and
        let the thread end."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._lock.release)
        finally:
            executor.shutdown(wait=False)  # the release still runs if this was cancelled

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # --- running statements on the store's thread ---------------------------------------------

    def _in_thread(
        self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        executor = self._executor
        if executor is None:
            raise errors.StoreError(f"the store {self._path} is not open", path=str(self._path))

        def guarded() -> T:
            try:
                return fn(*args, **kwargs)
            except sqlite3.Error as exc:
                raise errors.StoreError(
                    f"the store {self._path}: {exc}", path=str(self._path)
                ) from exc
            except BadRow as exc:  # read back: checked as if the API had sent it
                raise errors.StoreError(
                    f"the store {self._path} holds {exc}, which invoice_async does not write: "
                    "start it over with fresh=True (--fresh on the command line)",
                    path=str(self._path),
                ) from None

        return asyncio.get_running_loop().run_in_executor(executor, guarded)

    def _submit(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        """Run ``fn(database, *args)`` on the store's thread; the future of its result."""
        db = self._db
        if db is None:
            raise errors.StoreError(f"the store {self._path} is not open", path=str(self._path))
        return self._in_thread(fn, db, *args, **kwargs)

    async def _call(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``await`` of :meth:`_submit`."""
        return await self._submit(fn, *args, **kwargs)

    def _folder_text(self, folder: Path) -> str:
        """How the store remembers a PDF folder: relative to its own folder when inside it
        (so a moved export folder still matches), else absolute."""
        resolved, base = folder.resolve(), self._path.parent.resolve()
        with contextlib.suppress(ValueError):
            return str(resolved.relative_to(base))
        return str(resolved)

    # --- sync ----------------------------------------------------------------------------

    async def sync(
        self,
        client: InvoiceClient,
        *,
        details: bool = True,
        pdf_dir: str | os.PathLike[str] | None = None,
        unpaid: bool = False,
        filter: str | None = None,
        concurrency: int | None = None,
        progress: Progress | None = None,
        verify: bool = False,
    ) -> SyncSummary:
        """Bring the store up to date with the API; returns what changed and what was fetched.

        The whole list is read (cheap); then details and PDFs are fetched only where needed:
        for invoices that are new or whose list fields changed (hash, payment status and
        date, amounts, dates), and wherever the store lacks a detail, a PDF row, or a PDF
        file of the recorded size (``verify=True`` also compares every file's sha256).

        Args:
            client: the client to read the API with.
            details: fetch the details that are needed.
            pdf_dir: the folder for PDFs. Given once, the store remembers it: later syncs
                without it keep the PDFs and fetch none; another folder is a scope change.
            unpaid: keep the unpaid invoices (``client.unpaid_invoices``); an invoice that
                leaves that list has its detail fetched once, to tell paid from removed.
            filter: only invoices whose description contains this text.
            concurrency: requests at once for details and PDFs (the client's default).
            progress: called as ``progress(phase, done, total)`` while it works; phases are
                ``"invoices"`` (total None until the end), ``"departed"``, ``"details"``,
                ``"verify"`` and ``"pdfs"``.
            verify: with ``pdf_dir``, read every PDF and compare its sha256.

        A store keeps one scope (unpaid or not, and the filter) once it holds invoices;
        another one raises ConfigurationError before any request (start it over with
        ``fresh=True``). Invoices that fail are in ``SyncSummary.failures`` and are tried
        again by the next sync; an error of the listing, the API or the store is raised,
        after everything fetched until then is written.
        """
        if self._db is None:
            raise errors.StoreError(f"the store {self._path} is not open", path=str(self._path))
        if self._syncing:
            raise errors.StoreLockedError(
                f"a sync of {self._path} is already running", path=str(self._path)
            )
        job = SyncJob.checked(
            client,
            details=details,
            pdf_dir=pdf_dir,
            unpaid=unpaid,
            filter=filter,
            concurrency=concurrency,
            progress=progress,
            verify=verify,
        )
        self._syncing = True
        try:
            return await run_sync(self, job)
        finally:
            self._syncing = False
