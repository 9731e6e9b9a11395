"""The fan-out methods of InvoiceClient: many invoices at once, through one bounded loop."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from . import _protocol, errors
from ._args import check_directory, check_items, check_on_error, check_retries, invoice_ref
from ._fanout import OnError, Outcome, bounded_map
from ._models import Invoice, InvoiceDetail, PdfDownload

T = TypeVar("T")
R = TypeVar("R")
InvoiceRef = int | Invoice | InvoiceDetail


class BulkMethods:
    """``map``, ``invoice_details`` and ``download_pdfs``, mixed into InvoiceClient."""

    _max_concurrency: int
    _max_connections: int

    if TYPE_CHECKING:  # provided by InvoiceClient

        async def invoice(
            self, invoice_id: int, *, max_retries: int | None = None
        ) -> InvoiceDetail: ...

        async def _download(
            self,
            ref: tuple[int, str | None],
            directory: Path,
            *,
            skip_existing: bool,
            retries: int | None,
        ) -> PdfDownload: ...

    # --- many invoices at once ---------------------------------------------------------------

    def _limit(self, concurrency: object) -> int:
        if concurrency is None:
            return self._max_concurrency
        limit = _protocol.check_positive_int("concurrency", concurrency)
        # Above max_concurrency is fine (that is only the default); above max_connections the
        # client-wide bound would cap it silently.
        if limit > self._max_connections:
            raise errors.ConfigurationError(
                f"concurrency={limit} is above the client's max_connections="
                f"{self._max_connections}; raise max_connections on the client"
            )
        return limit

    @overload
    def map(
        self,
        fn: Callable[[T], Awaitable[R]],
        items: Iterable[T] | AsyncIterable[T],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        on_error: Literal["raise"] = "raise",
    ) -> AsyncGenerator[R, None]: ...

    @overload
    def map(
        self,
        fn: Callable[[T], Awaitable[R]],
        items: Iterable[T] | AsyncIterable[T],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        on_error: Literal["yield"],
    ) -> AsyncGenerator[Outcome[T, R], None]: ...

    def map(
        self,
        fn: Callable[[T], Awaitable[R]],
        items: Iterable[T] | AsyncIterable[T],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        on_error: OnError = "raise",
    ) -> AsyncGenerator[Any, None]:
        """Run ``await fn(item)`` for every item, at most ``concurrency`` at once.

        This is the loop behind :meth:`invoice_details` and :meth:`download_pdfs`, for your own
        coroutines. ``items`` may be any iterable or async iterable, of any length: an item is
        pulled only when a slot is free, so memory does not grow with the input.

        Results are yielded as they complete, or in input order with ``ordered=True``.
        With ``on_error="raise"`` (the default) the first error cancels the calls in flight,
        waits for them, and is raised after the results completed before it. With
        ``on_error="yield"`` each item gives an :class:`Outcome` (``.item``, ``.result``,
        ``.error``) and one failure does not stop the rest.

        Wrap the iterator in ``contextlib.aclosing()`` to stop early: leaving the ``async
        with`` block cancels and awaits the calls in flight. Cancelling the consuming task
        does the same.

        ``concurrency`` defaults to the client's ``max_concurrency`` and may be anything from
        1 to the client's ``max_connections``, which bounds all its requests together.

        Raises ConfigurationError at once for a bad argument (such as a ``concurrency`` above
        ``max_connections``).
        """
        limit = self._limit(concurrency)
        mode = check_on_error(on_error)
        check_items(items, "items")
        return bounded_map(fn, items, limit=limit, ordered=ordered, on_error=mode)

    @overload
    def invoice_details(
        self,
        ids: Iterable[InvoiceRef] | AsyncIterable[InvoiceRef],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        on_error: Literal["raise"] = "raise",
        max_retries: int | None = None,
    ) -> AsyncGenerator[InvoiceDetail, None]: ...

    @overload
    def invoice_details(
        self,
        ids: Iterable[InvoiceRef] | AsyncIterable[InvoiceRef],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        on_error: Literal["yield"],
        max_retries: int | None = None,
    ) -> AsyncGenerator[Outcome[InvoiceRef, InvoiceDetail], None]: ...

    def invoice_details(
        self,
        ids: Iterable[InvoiceRef] | AsyncIterable[InvoiceRef],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        on_error: OnError = "raise",
        max_retries: int | None = None,
    ) -> AsyncGenerator[Any, None]:
        """The detail of every invoice in ``ids``, at most ``concurrency`` requests at once.

        ``ids`` holds invoice ids (or Invoice objects), from any iterable or async iterable,
        e.g. ``(inv.id async for inv in client.unpaid_invoices())``. Ordering, failure policy
        and early stop as :meth:`map`; a bad id raises (or is yielded as) ConfigurationError
        before its request.
        """

        async def fetch(ref: InvoiceRef) -> InvoiceDetail:
            return await self.invoice(invoice_ref(ref)[0], max_retries=max_retries)

        check_items(ids, "ids")
        return self.map(fetch, ids, concurrency=concurrency, ordered=ordered, on_error=on_error)

    @overload
    def download_pdfs(
        self,
        ids: Iterable[InvoiceRef] | AsyncIterable[InvoiceRef],
        directory: str | os.PathLike[str],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        on_error: Literal["raise"] = "raise",
        skip_existing: bool = False,
        max_retries: int | None = None,
    ) -> AsyncGenerator[PdfDownload, None]: ...

    @overload
    def download_pdfs(
        self,
        ids: Iterable[InvoiceRef] | AsyncIterable[InvoiceRef],
        directory: str | os.PathLike[str],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        on_error: Literal["yield"],
        skip_existing: bool = False,
        max_retries: int | None = None,
    ) -> AsyncGenerator[Outcome[InvoiceRef, PdfDownload], None]: ...

    def download_pdfs(
        self,
        ids: Iterable[InvoiceRef] | AsyncIterable[InvoiceRef],
        directory: str | os.PathLike[str],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        on_error: OnError = "raise",
        skip_existing: bool = False,
        max_retries: int | None = None,
    ) -> AsyncGenerator[Any, None]:
        """Stream the PDF of every invoice in ``ids`` into ``directory``; yields PdfDownload.

        Each file is written as :meth:`download_pdf` writes it (temp file, checks, fsync,
        rename; mode 0o600), so an error or a cancellation leaves no partial file. Pass
        Invoice objects to name files after their numbers. With ``skip_existing=True`` an
        invoice whose file is already there (a complete PDF, since files only appear whole)
        is not fetched again. Ordering, failure policy and early stop as :meth:`map`.
        """
        folder = check_directory(directory)

        retries = check_retries(max_retries)

        async def fetch(ref: InvoiceRef) -> PdfDownload:
            return await self._download(
                invoice_ref(ref), folder, skip_existing=skip_existing, retries=retries
            )

        check_items(ids, "ids")
        return self.map(fetch, ids, concurrency=concurrency, ordered=ordered, on_error=on_error)
