"""InvoiceClient: the public face that composes protocol, session, paging and files."""

from __future__ import annotations

import contextlib
import os
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
)
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeVar, overload

import aiohttp

from . import _protocol
from ._args import (
    check_base_url,
    check_concurrency,
    check_directory,
    check_filter,
    check_flag,
    check_invoice_id,
    check_invoice_number,
    check_items,
    check_limits,
    check_non_negative_int,
    check_on_error,
    check_positive_int,
    check_positive_seconds,
    check_retries,
    invoice_ref,
)
from ._converter import structure_detail
from ._fanout import Outcome, bounded_map
from ._logging import forget_token, remember_token
from ._models import Invoice, InvoiceDetail, OnError, PdfDownload
from ._paging import paginate
from ._pdfs import PdfFetcher
from ._protocol import Page
from ._retry import DEFAULT_MAX_RETRY_AFTER, Retrier
from ._session import HttpSession, borrowed_pool_size
from ._stats import ClientStats
from ._throttle import Throttle
from ._wire import invoices, list_page

DEFAULT_MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024
DEFAULT_MAX_PDF_BYTES: Final = 256 * 1024 * 1024
TOKEN_ENV: Final = _protocol.TOKEN_ENV_VAR

T = TypeVar("T")
R = TypeVar("R")
InvoiceRef = int | Invoice | InvoiceDetail


class InvoiceClient:
    """Async client for the i3D.net API v3 billing endpoints.

    Use it as ``async with InvoiceClient(token) as client: ...`` or call ``await
    client.close()`` when done. All arguments are checked here, before any request, and a bad
    one raises :class:`errors.ConfigurationError`.

    Args:
        token: the API key; None reads the ``I3D_API_TOKEN`` environment variable.
        base_url: the API's base URL; ``https`` unless the host is loopback or
            ``allow_insecure_http`` is set.
        page_size: items asked per ``RANGED-DATA`` window.
        max_concurrency: the default ``concurrency`` of :meth:`map`, :meth:`invoice_details`
            and :meth:`download_pdfs`, and nothing more (a call may pass a higher one); at most
            ``max_connections``; by default 8, or ``max_connections`` if smaller.
        max_connections: the most requests this client has in flight at once: fan-outs,
            read-ahead and single calls together. It sizes the client's own connection pool.
            By default 100, or the pool size of a borrowed ``session`` (an unlimited pool
            counts as 100); above a borrowed pool's size it is a ConfigurationError.
        timeout: seconds allowed for each request, body included.
        max_retries: how often a failed idempotent request is tried again.
        session: an ``aiohttp.ClientSession`` to borrow. It is used as it is: never closed, and
            never changed (the token is added to each request, not to the session).
        allow_insecure_http: allow a plain ``http`` base URL to a non-loopback host.
        max_response_bytes: the largest JSON answer accepted.
        max_pdf_bytes: the largest PDF accepted.
        max_per_second: if set, a fixed ceiling: the whole client starts at most this many
            requests per second.
        adaptive: learn the API's rate limit (the default): after a 429, or a 503 with
            ``Retry-After``, the client paces its requests below the rate that failed and
            raises the pace again while requests succeed; ``RateLimit-*`` headers are followed
            before a 429 comes. False: only ``max_per_second`` paces.
        read_ahead: how many list windows are in flight while one is consumed (1: none);
            at most ``max_connections``; by default 4, or ``max_connections`` if smaller.
        deadline: seconds, from the client's first request, after which no request starts
            and no retry or pause waits (DeadlineExceededError); None for no limit.
        max_retry_after: the longest ``Retry-After`` honoured, in seconds; a longer one is
            cut to this.

    Retries: which failures are tried again, and how long each wait is, are said once, in
    the README's "Retries, Retry-After and the deadline" (the rules: ``_retry.py``).
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str = _protocol.DEFAULT_BASE_URL,
        page_size: int = 100,
        max_concurrency: int | None = None,
        max_connections: int | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        session: aiohttp.ClientSession | None = None,
        allow_insecure_http: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_pdf_bytes: int = DEFAULT_MAX_PDF_BYTES,
        max_per_second: float | None = None,
        read_ahead: int | None = None,
        deadline: float | None = None,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        adaptive: bool = True,
    ) -> None:
        # The raw token leaves this frame's locals at once: a traceback of any error raised
        # below (which error reporters record with its locals) holds only the Secret.
        secret = _protocol.Secret(token if token is not None else os.environ.get(TOKEN_ENV))
        del token
        secret.check()
        self._base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._page_size = check_positive_int("page_size", page_size)
        self._timeout = check_positive_seconds("timeout", timeout)
        self._max_retries = check_non_negative_int("max_retries", max_retries)
        self._max_pdf_bytes = check_positive_int("max_pdf_bytes", max_pdf_bytes)
        max_json = check_positive_int("max_response_bytes", max_response_bytes)
        if max_per_second is not None:
            max_per_second = check_positive_seconds("max_per_second", max_per_second)
        pool = None if session is None else borrowed_pool_size(session)
        self._max_connections, self._max_concurrency, self._read_ahead = check_limits(
            max_connections, max_concurrency, read_ahead, pool
        )
        if deadline is not None:
            deadline = check_positive_seconds("deadline", deadline)
        max_retry_after = check_positive_seconds("max_retry_after", max_retry_after)
        self._throttle = Throttle(
            max_per_second,
            adaptive=check_flag("adaptive", adaptive),
            max_retry_after=max_retry_after,
        )
        self._throttle.set_deadline(deadline)
        self._retrier = Retrier(
            self._throttle, max_retries=self._max_retries, max_retry_after=max_retry_after
        )
        self._secret = secret
        remember_token(secret.reveal())  # the invoice_async logger redacts it
        self._http = HttpSession(
            base_url=self._base_url,
            token=secret,
            timeout=self._timeout,
            connection_limit=self._max_connections,
            max_json_bytes=max_json,
            throttle=self._throttle,
            session=session,
        )
        self._pdfs = PdfFetcher(self._http, self._retrier, max_bytes=self._max_pdf_bytes)

    def __repr__(self) -> str:
        return (
            f"InvoiceClient(base_url={self._base_url!r}, page_size={self._page_size}, "
            f"max_concurrency={self._max_concurrency}, max_connections={self._max_connections}, "
            "token=<redacted>)"
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session this client owns; a borrowed session stays open."""
        if not self._http.closed:
            forget_token(self._secret.reveal())  # once, however often close() is called
        await self._http.close()

    @property
    def max_concurrency(self) -> int:
        """The default ``concurrency`` of :meth:`map`, :meth:`invoice_details` and
        :meth:`download_pdfs`; a call may pass a higher one, up to :attr:`max_connections`."""
        return self._max_concurrency

    @property
    def max_connections(self) -> int:
        """The most requests this client has in flight at once (fan-outs, read-ahead and
        single calls together); its own connection pool has this many connections."""
        return self._max_connections

    @property
    def stats(self) -> ClientStats:
        """A snapshot of this client's counters: requests, retries, 429s, pauses."""
        return ClientStats(
            requests=self._http.requests,
            retries=self._retrier.retries,
            rate_limited=self._http.rate_limited,
            pauses=self._throttle.pauses,
            paused_seconds=self._throttle.paused_seconds,
            rate=self._throttle.rate,
        )

    # --- listing ----------------------------------------------------------------------------

    def invoices(
        self,
        filter: str | None = None,
        page_size: int | None = None,
        *,
        max_retries: int | None = None,
    ) -> AsyncGenerator[Invoice, None]:
        """Every invoice, in the API's order (newest first), window by window.

        Args:
            filter: only invoices whose description contains this text.
            page_size: items per window; defaults to the client's ``page_size``.
            max_retries: retries of each window; defaults to the client's.

        Each invoice is yielded once, even when the list changes during the read (see the
        README's "Paging" section for what is guaranteed). Up to ``read_ahead`` windows are
        requested ahead; close the iterator (``contextlib.aclosing``) to stop early.

        Raises ConfigurationError at once for a bad argument; while iterating, ApiError,
        InvalidResponseError, TransportError or DeadlineExceededError.
        """
        return self._list(False, filter, page_size, max_retries)

    def unpaid_invoices(
        self,
        filter: str | None = None,
        page_size: int | None = None,
        *,
        max_retries: int | None = None,
    ) -> AsyncGenerator[Invoice, None]:
        """The unpaid invoices (the API leaves credit invoices out); as :meth:`invoices`."""
        return self._list(True, filter, page_size, max_retries)

    def _list(
        self, unpaid: bool, filter: object, page_size: object, max_retries: object
    ) -> AsyncGenerator[Invoice, None]:
        text = check_filter(filter)
        size = self._page_size if page_size is None else page_size
        size = check_positive_int("page_size", size)
        retries = check_retries(max_retries)
        path, query = _protocol.list_path(unpaid=unpaid), _protocol.filter_query(text)
        return self._iterate(path, query, size, retries)

    async def _iterate(
        self, path: str, query: str, page_size: int, retries: int | None
    ) -> AsyncGenerator[Invoice, None]:
        async def fetch(window: _protocol.Window, page_token: str | None, ahead: bool) -> Page:
            headers = _protocol.list_headers(window, page_token)

            async def once() -> Page:
                answer = await self._http.get_body(path, query=query, headers=headers)
                return list_page(answer.body, answer.headers, url=answer.url)

            # A window asked ahead is tried once: it may never be needed (the pager asks
            # again, with retries, if it is). Its Retry-After still pauses the client.
            return await self._retrier.call(once, retries=0 if ahead else retries)

        pages = paginate(fetch, page_size=page_size, read_ahead=self._read_ahead)
        async with contextlib.aclosing(pages):
            async for items, url in pages:
                for invoice in invoices(items, url=url):
                    yield invoice

    # --- one invoice ------------------------------------------------------------------------

    async def invoice(self, invoice_id: int, *, max_retries: int | None = None) -> InvoiceDetail:
        """The detail of the invoice with this id.

        Raises ConfigurationError for a bad id (before any request), NotFoundError when there
        is no such invoice, and the other errors of :mod:`invoice_async.errors`.
        """
        path = _protocol.detail_path(check_invoice_id(invoice_id))
        return await self._detail(path, check_retries(max_retries))

    async def invoice_by_number(
        self, invoice_number: str, *, max_retries: int | None = None
    ) -> InvoiceDetail:
        """The detail of the invoice with this number (e.g. ``"2024/0001"``).

        The number travels as one percent-encoded path segment, so '/' and the like cannot
        change the route. Raises as :meth:`invoice`.
        """
        number = check_invoice_number(invoice_number)
        path = _protocol.detail_by_number_path(number)
        return await self._detail(path, check_retries(max_retries))

    async def _detail(self, path: str, retries: int | None) -> InvoiceDetail:
        async def once() -> InvoiceDetail:
            answer = await self._http.get_json(path)
            raw = _protocol.expect_single(answer.payload, url=answer.url)
            return structure_detail(raw, url=answer.url)

        return await self._retrier.call(once, retries=retries)

    # --- PDFs -------------------------------------------------------------------------------

    async def invoice_pdf(self, invoice_id: int, *, max_retries: int | None = None) -> bytes:
        """The invoice's PDF, in memory. It is checked: ``%PDF-`` magic, type and length.

        For many or large PDFs prefer :meth:`download_pdf`, which streams to disk.
        """
        checked_id = check_invoice_id(invoice_id)
        return await self._pdfs.read(checked_id, retries=check_retries(max_retries))

    async def download_pdf(
        self,
        invoice: InvoiceRef,
        directory: str | os.PathLike[str],
        *,
        max_retries: int | None = None,
    ) -> Path:
        """Stream the invoice's PDF into ``directory`` and return the file's path.

        ``invoice`` is an id, or an Invoice / InvoiceDetail (whose number then names the file:
        ``2024-0001_7.pdf``; an id alone gives ``invoice_7.pdf``). The body goes to a temp file
        in ``directory``, is checked and synced to disk (fdatasync), then renamed: the final
        name only ever holds a whole, valid PDF. Files are created with mode 0o600. A body cut
        short is retried.
        """
        ref, folder, retries = invoice_ref(invoice), check_directory(directory), max_retries
        download = await self._pdfs.download(
            ref, folder, skip_existing=False, retries=check_retries(retries)
        )
        return download.path

    # --- many invoices at once ---------------------------------------------------------------

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
        return self._fan_out(fn, items, "items", concurrency, ordered, on_error)

    def _fan_out(
        self,
        fn: Callable[[Any], Awaitable[Any]],
        items: object,
        name: str,
        concurrency: object,
        ordered: bool,
        on_error: object,
    ) -> AsyncGenerator[Any, None]:
        """The checks every fan-out shares, then the one bounded loop."""
        limit = check_concurrency(
            concurrency, default=self._max_concurrency, ceiling=self._max_connections
        )
        mode = check_on_error(on_error)
        source = check_items(items, name)
        return bounded_map(fn, source, limit=limit, ordered=ordered, on_error=mode)

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
        retries = check_retries(max_retries)

        async def fetch(ref: InvoiceRef) -> InvoiceDetail:
            return await self._detail(_protocol.detail_path(invoice_ref(ref)[0]), retries)

        return self._fan_out(fetch, ids, "ids", concurrency, ordered, on_error)

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

        Each file is written as :meth:`download_pdf` writes it (temp file, checks, fdatasync,
        rename; mode 0o600), so an error or a cancellation leaves no partial file. Pass
        Invoice objects to name files after their numbers. With ``skip_existing=True`` an
        invoice whose file is already there (a complete PDF, since files only appear whole)
        is not fetched again. Ordering, failure policy and early stop as :meth:`map`.
        """
        folder, retries = check_directory(directory), check_retries(max_retries)

        async def fetch(ref: InvoiceRef) -> PdfDownload:
            return await self._pdfs.download(
                invoice_ref(ref), folder, skip_existing=skip_existing, retries=retries
            )

        return self._fan_out(fetch, ids, "ids", concurrency, ordered, on_error)
