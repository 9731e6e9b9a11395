"""One sync of a store: list everything, then fetch only what is needed. The async driver of
the steps in ``_sync_steps`` (each runs on the store's thread).

1. List (``invoices`` or ``unpaid_invoices``), writing a batch of rows per transaction while
   the next batch is read; the positions give the list order.
2. Mark what the listing missed: removed, or (unpaid scope) departed, whose detail is fetched
   once to tell paid from removed.
3. Details, then PDFs, of the listed invoices that lack a current one, through the client's
   bounded fan-out. Each fetched row is committed before its slot is freed for the next
   request (rows finished together share one transaction), so a kill loses at most what was
   in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, Final, ParamSpec, Protocol, TypeVar

import attrs

from . import _sync_steps as steps
from . import errors
from ._client import InvoiceClient
from ._files import PDF_NAMES, remove_stale_temp_files
from ._group_writer import GroupWriter
from ._lock import lock_directory
from ._logging import logger, redact
from ._models import Invoice, InvoiceDetail
from ._store_db import Database

T = TypeVar("T")
P = ParamSpec("P")


class StoreAccess(Protocol):
    """What a sync needs of the store (``_store.InvoiceStore``): its file, its one worker
    thread, and how it remembers a PDF folder. A protocol, so this module does not import the
    store that imports it."""

    @property
    def path(self) -> Path:
        """The store's file."""
        ...

    def _submit(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]: ...

    async def _call(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T: ...

    def _folder_text(self, folder: Path) -> str: ...


Progress = Callable[[str, int, int | None], object]
"""``progress(phase, done, total)``: how far a sync is; ``total`` is None while unknown."""

_BATCH: Final = 500  # listed invoices per transaction
_PAGE: Final = 500  # ids of work to do read at a time


@attrs.frozen(kw_only=True)
class SyncSummary:
    """What one :meth:`InvoiceStore.sync` found and fetched. Frozen.

    Attributes:
        listed: invoices in the list now.
        new: listed invoices the store's copy did not hold (first seen, or back again).
        changed: listed invoices whose list fields changed (not counted as paid).
        paid: invoices whose payment status became paid (in the unpaid scope, those that
            left the list paid, as their detail says).
        removed: invoices that left the list (and, in the unpaid scope, were not paid).
        unchanged: listed invoices with no change.
        details_fetched: details fetched and stored.
        pdfs_fetched: PDFs downloaded and stored.
        failures: ``(invoice_id, error text)`` of each invoice whose detail or PDF failed;
            the text starts with what failed (``"detail: "``, ``"pdf: "``). The next sync
            tries them again.
    """

    listed: int = 0
    new: int = 0
    changed: int = 0
    paid: int = 0
    removed: int = 0
    unchanged: int = 0
    details_fetched: int = 0
    pdfs_fetched: int = 0
    failures: tuple[tuple[int, str], ...] = ()

    @property
    def complete(self) -> bool:
        """True when nothing failed."""
        return not self.failures


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise errors.ConfigurationError(f"{name} must be True or False, got {value!r}")
    return value


@attrs.frozen
class SyncJob:
    """The checked arguments of one sync."""

    client: InvoiceClient
    details: bool
    pdf_dir: Path | None
    unpaid: bool
    filter: str | None
    concurrency: int | None
    progress: Progress
    verify: bool

    @classmethod
    def checked(
        cls,
        client: object,
        *,
        details: object,
        pdf_dir: object,
        unpaid: object,
        filter: object,
        concurrency: object,
        progress: object,
        verify: object,
    ) -> SyncJob:
        """The job, or ConfigurationError for a bad argument (before any request)."""
        if not isinstance(client, InvoiceClient):
            raise errors.ConfigurationError(f"client must be an InvoiceClient, got {client!r}")
        if filter is not None and not isinstance(filter, str):
            raise errors.ConfigurationError(f"filter must be text or None, got {filter!r}")
        if concurrency is not None and (
            not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1
        ):
            raise errors.ConfigurationError(f"concurrency must be >= 1, got {concurrency!r}")
        if concurrency is not None and concurrency > client.max_connections:
            raise errors.ConfigurationError(
                f"concurrency={concurrency} is above the client's max_connections="
                f"{client.max_connections}; raise max_connections on the client"
            )
        if progress is not None and not callable(progress):
            raise errors.ConfigurationError(f"progress must be callable, got {progress!r}")
        folder = None
        if pdf_dir is not None:
            if not isinstance(pdf_dir, str | os.PathLike) or not str(pdf_dir):
                raise errors.ConfigurationError(f"pdf_dir must be a folder, got {pdf_dir!r}")
            folder = Path(pdf_dir)  # that it is a folder is checked on the store's thread
        checking = _flag("verify", verify)
        if checking and folder is None:
            raise errors.ConfigurationError("verify=True checks PDFs: pass pdf_dir too")
        return cls(
            client=client,
            details=_flag("details", details),
            pdf_dir=folder,
            unpaid=_flag("unpaid", unpaid),
            filter=filter,
            concurrency=concurrency,
            progress=progress if progress is not None else _no_progress,
            verify=checking,
        )


def _no_progress(phase: str, done: int, total: int | None) -> None:
    return None


def now() -> str:
    """The time, as the store writes it: ISO 8601 UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _failure(invoice_id: int, what: str, error: Exception) -> tuple[int, str]:
    if isinstance(error, errors.StoreError):
        raise error  # the store failing is not one invoice failing: the sync stops
    # Redacted once more (errors are, when made): the text goes into the store and the
    # manifest, files that outlive the client.
    return invoice_id, redact(f"{what}: {type(error).__name__}: {error}")


async def run_sync(store: StoreAccess, job: SyncJob) -> SyncSummary:
    """Run ``job`` on ``store`` (open, locked); see :meth:`InvoiceStore.sync`."""
    client = job.client
    listing = (client.unpaid_invoices if job.unpaid else client.invoices)(job.filter)
    try:
        folder = None
        if job.pdf_dir is not None:
            folder = await store._call(_folder_text, store, job.pdf_dir)
        await store._call(Database.begin_run, job.unpaid, job.filter, folder, now())
    except BaseException:
        await listing.aclose()
        raise
    failures: list[tuple[int, str]] = []
    status = "failed"
    try:
        await _list(store, listing, job)
        if job.unpaid:
            await _departures(store, job, failures)
        if job.details:
            await _details(store, job, failures)
        if job.pdf_dir is not None:
            await _pdfs(store, job, job.pdf_dir, failures)
        status = "partial" if failures else "complete"
    except BaseException as exc:
        if not isinstance(exc, Exception):  # cancelled, or Ctrl-C
            status = "interrupted"
        raise
    finally:
        counts = await store._call(Database.finish_run, status, failures, now())
        logger.debug("sync of %s: %s, %s", store.path, status, counts)
    return SyncSummary(**counts, failures=tuple(failures))


def _folder_text(db: Database, store: StoreAccess, folder: Path) -> str:
    """On the store's thread: how the store remembers the PDF folder ``folder``;
    ConfigurationError when it is there but no folder."""
    if folder.exists() and not folder.is_dir():
        raise errors.ConfigurationError(f"pdf_dir {str(folder)!r} is not a folder")
    return store._folder_text(folder)


async def _list(store: StoreAccess, listing: AsyncGenerator[Invoice, None], job: SyncJob) -> None:
    """Listed invoices into the store, a batch per transaction, while the next is read."""
    batch: list[Invoice] = []
    writing: asyncio.Future[None] | None = None
    position = 0
    job.progress("invoices", 0, None)
    try:
        async with contextlib.aclosing(listing):
            async for invoice in listing:
                batch.append(invoice)
                job.progress("invoices", position + len(batch), None)
                if len(batch) == _BATCH:
                    if writing is not None:
                        await writing
                    writing = store._submit(steps.apply_listing, position, batch, now())
                    position, batch = position + len(batch), []
    finally:  # what was listed is written, even when the listing failed
        if writing is not None:
            await writing
        if batch:
            await store._call(steps.apply_listing, position, batch, now())
    await store._call(steps.finish_listing, job.unpaid, now())
    job.progress("invoices", position + len(batch), position + len(batch))


async def _work(
    store: StoreAccess, page: Callable[..., Sequence[tuple[int, T]]]
) -> AsyncIterator[T]:
    """The items of ``page(database, after, limit)``, read a page at a time (keyset)."""
    after = -1
    while rows := await store._call(page, after, _PAGE):
        for _, item in rows:
            yield item
        after = rows[-1][0]


async def _fan_out(
    job: SyncJob,
    phase: str,
    what: str,
    fetch: Callable[[Any], Awaitable[None]],
    items: AsyncIterator[Any],
    total: int,
    failures: list[tuple[int, str]],
) -> None:
    """``fetch`` every item through the client's fan-out, recording what fails."""
    done = 0
    job.progress(phase, 0, total)
    outcomes = job.client.map(fetch, items, concurrency=job.concurrency, on_error="yield")
    async with contextlib.aclosing(outcomes):
        async for outcome in outcomes:
            if outcome.error is not None:
                item = outcome.item
                failures.append(
                    _failure(item if isinstance(item, int) else item.id, what, outcome.error)
                )
            done += 1
            job.progress(phase, done, total)


async def _departures(store: StoreAccess, job: SyncJob, failures: list[tuple[int, str]]) -> None:
    """Unpaid scope: the detail of each invoice that left the list, once: paid or removed."""
    total = await store._call(steps.count_departed)
    if not total:
        return
    writer: GroupWriter[tuple[int, InvoiceDetail | None]] = GroupWriter(
        lambda rows: store._call(steps.save_departures, rows, now())
    )

    async def check(invoice_id: int) -> None:
        try:
            detail: InvoiceDetail | None = await job.client.invoice(invoice_id)
        except errors.NotFoundError:
            detail = None
        await writer.save((invoice_id, detail))

    try:
        items = _work(store, steps.departed_page)
        await _fan_out(job, "departed", "detail", check, items, total, failures)
    finally:
        await writer.close()


async def _details(store: StoreAccess, job: SyncJob, failures: list[tuple[int, str]]) -> None:
    total = await store._call(steps.count_needed_details)
    writer: GroupWriter[tuple[int, InvoiceDetail]] = GroupWriter(
        lambda rows: store._call(steps.save_details, rows, now())
    )

    async def fetch(invoice_id: int) -> None:
        await writer.save((invoice_id, await job.client.invoice(invoice_id)))

    try:
        items = _work(store, steps.needed_details_page)
        await _fan_out(job, "details", "detail", fetch, items, total, failures)
    finally:
        await writer.close()


async def _pdfs(
    store: StoreAccess, job: SyncJob, folder: Path, failures: list[tuple[int, str]]
) -> None:
    held = contextlib.ExitStack()  # the folder's lock, taken and let go on the store's thread
    try:
        await store._call(_claim_folder, held, folder)
        await _check_files(store, job, folder)
        total = await store._call(steps.count_needed_pdfs)
        writer: GroupWriter[tuple[int, str, int, str]] = GroupWriter(
            lambda rows: store._call(steps.save_pdfs, folder, rows, now())
        )

        async def fetch(invoice: Invoice) -> None:
            path = await job.client.download_pdf(invoice, folder)
            size, digest = await asyncio.to_thread(steps.file_digest, path)
            await writer.save((invoice.id, path.name, size, digest))

        try:
            items = _work(store, steps.needed_pdfs_page)
            await _fan_out(job, "pdfs", "pdf", fetch, items, total, failures)
        finally:
            await writer.close()
    finally:  # queued after the claim, so it runs after it even if this was cancelled
        await store._call(_release_folder, held)


def _claim_folder(db: Database, held: contextlib.ExitStack, folder: Path) -> None:
    """On the store's thread: make the PDF folder, lock it (until ``held`` is closed), and
    remove the temp files a run killed mid-file left (none is ours: we hold the lock)."""
    folder.mkdir(parents=True, exist_ok=True)
    held.enter_context(lock_directory(folder, busy=f"another sync is writing PDFs into {folder}"))
    remove_stale_temp_files(folder, PDF_NAMES)


def _release_folder(db: Database, held: contextlib.ExitStack) -> None:
    held.close()


async def _check_files(store: StoreAccess, job: SyncJob, folder: Path) -> None:
    """Mark stale the PDF rows whose file is gone or has another size (or sha256)."""
    total = await store._call(steps.count_pdf_rows) if job.verify else None
    after, done = 0, 0
    while True:
        last, checked = await store._call(steps.check_pdf_files, folder, job.verify, after, _PAGE)
        if last is None:
            return
        after, done = last, done + checked
        if total is not None:
            job.progress("verify", done, total)
