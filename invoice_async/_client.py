"""InvoiceClient: the public face that composes protocol, session, paging and files.

It holds every public method of the client with its docstring, each an argument check and
one call into the module that does the work, so it may reach 450 lines (the other modules
stay under 400).
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable
from pathlib import Path
from ssl import SSLContext
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, overload

import aiohttp

from . import _args, _protocol
from ._fanout import Outcome, bounded_map
from ._listing import fetch_detail, list_invoices
from ._logging import forget_token, remember_token
from ._models import Invoice, InvoiceDetail, OnError, PdfDownload
from ._pdfs import PdfFetcher
from ._retry import DEFAULT_MAX_RETRY_AFTER, Retrier
from ._session import HttpSession, borrowed_pool_size
from ._stats import ClientStats
from ._timekeeper import Timekeeper

T = TypeVar("T")
R = TypeVar("R")
InvoiceRef = int | Invoice | InvoiceDetail


class InvoiceClient:
    """Async client for the i3D.net API v3 billing endpoints.

    Use it as ``async with InvoiceClient(token) as client: ...`` or call ``await
    client.close()`` when done. All arguments are checked here, before any request, and a bad
    one raises :class:`errors.ConfigurationError`.

    Args (each explained in the README's "Library" section, defaults there too):
        token: the API key; None reads the ``I3D_API_TOKEN`` environment variable.
        base_url: ``https``, or ``http`` to loopback or with ``allow_insecure_http``.
        page_size: items asked per ``RANGED-DATA`` window.
        max_concurrency: only the default ``concurrency`` of the fan-outs (8, at most
            ``max_connections``); a call may pass a higher one.
        max_connections: the most requests in flight for the whole client, and its pool's
            size: 100, or a borrowed ``session``'s pool size (never above it).
        timeout, max_retries: per request: seconds, body included; retries of a failure.
        session: an ``aiohttp.ClientSession`` to borrow, never closed nor changed.
        allow_insecure_http: allow plain ``http`` (and ``ssl=False``) to any host.
        max_response_bytes, max_detail_bytes, max_pdf_bytes: the largest answer of any
            kind, of a detail (1 MiB), of a PDF; a list answer is held to ``page_size`` x
            16 KiB and 4 x ``page_size`` items (JSON decodes to many times its size).
        max_per_second: a fixed ceiling on request starts per second.
        adaptive: learn the API's rate limit from its 429s and ``RateLimit-*`` headers (the
            default); False: only ``max_per_second`` paces.
        read_ahead: list windows in flight while one is consumed (4, at most
            ``max_connections``; 1: none).
        deadline: seconds from the first request after which nothing starts or waits.
        max_retry_after: the longest ``Retry-After`` honoured, in seconds.
        trust_env, ssl: honour ``HTTP(S)_PROXY``/``NO_PROXY``; an ``ssl.SSLContext`` (a
            corporate CA). Neither goes with ``session`` (ConfigurationError).

    Retries: which failures are tried again, and how long each wait is, are said once, in
    the README's "Retries, Retry-After and the deadline" (the rules: ``_retry.py``).
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str = _protocol.DEFAULT_BASE_URL,
        page_size: int = _args.DEFAULT_PAGE_SIZE,
        max_concurrency: int | None = None,
        max_connections: int | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        session: aiohttp.ClientSession | None = None,
        allow_insecure_http: bool = False,
        max_response_bytes: int = _args.DEFAULT_MAX_RESPONSE_BYTES,
        max_detail_bytes: int = _args.DEFAULT_MAX_DETAIL_BYTES,
        max_pdf_bytes: int = _args.DEFAULT_MAX_PDF_BYTES,
        max_per_second: float | None = None,
        read_ahead: int | None = None,
        deadline: float | None = None,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        adaptive: bool = True,
        trust_env: bool = False,
        ssl: SSLContext | Literal[False] | None = None,
    ) -> None:
        # The raw token leaves this frame's locals at once: a traceback of any error raised
        # below (which error reporters record with its locals) holds only the Secret.
        secret = _protocol.Secret(
            token if token is not None else os.environ.get(_protocol.TOKEN_ENV_VAR)
        )
        del token
        secret.check()
        pool = None if session is None else borrowed_pool_size(session)
        self._settings = settings = _args.check_settings(
            base_url=base_url,
            allow_insecure_http=allow_insecure_http,
            page_size=page_size,
            max_concurrency=max_concurrency,
            max_connections=max_connections,
            read_ahead=read_ahead,
            timeout=timeout,
            max_retries=max_retries,
            max_response_bytes=max_response_bytes,
            max_detail_bytes=max_detail_bytes,
            max_pdf_bytes=max_pdf_bytes,
            max_per_second=max_per_second,
            deadline=deadline,
            max_retry_after=max_retry_after,
            adaptive=adaptive,
            pool=pool,
            trust_env=trust_env,
            ssl=ssl,
        )
        s = settings
        self._time = Timekeeper(
            s.max_per_second, adaptive=s.adaptive, max_retry_after=s.max_retry_after
        )
        self._time.set_deadline(s.deadline)
        self._retrier = Retrier(
            self._time, max_retries=s.max_retries, max_retry_after=s.max_retry_after
        )
        self._secret = secret
        remember_token(secret.reveal())  # the invoice_async logger redacts it
        self._http = HttpSession(settings, token=secret, time=self._time, session=session)
        self._pdfs = PdfFetcher(self._http, self._retrier, max_bytes=settings.max_pdf_bytes)

    def __repr__(self) -> str:
        s = self._settings
        return (
            f"InvoiceClient(base_url={s.base_url!r}, page_size={s.page_size}, "
            f"max_concurrency={s.max_concurrency}, max_connections={s.max_connections}, "
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
        return self._settings.max_concurrency

    @property
    def max_connections(self) -> int:
        """The most requests this client has in flight at once (fan-outs, read-ahead and
        single calls together); its own connection pool has this many connections."""
        return self._settings.max_connections

    @property
    def stats(self) -> ClientStats:
        """A snapshot of this client's counters: requests, retries, 429s, pauses."""
        return ClientStats(
            requests=self._http.requests,
            retries=self._retrier.retries,
            rate_limited=self._http.rate_limited,
            pauses=self._time.pauses,
            paused_seconds=self._time.paused_seconds,
            rate=self._time.rate,
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

        Each invoice comes once, even while the list changes (README, "Paging"); close the
        iterator (``contextlib.aclosing``) to stop early. Raises ConfigurationError at once for
        a bad argument; while iterating, the errors of :mod:`invoice_async.errors`.
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
        text = _args.check_filter(filter)
        size = self._settings.page_size if page_size is None else page_size
        size = _args.check_positive_int("page_size", size)
        retries = _args.check_retries(max_retries)
        path, query = _protocol.list_path(unpaid=unpaid), _protocol.filter_query(text)
        read_ahead = self._settings.read_ahead
        return list_invoices(self._http, self._retrier, path, query, size, read_ahead, retries)

    # --- one invoice ------------------------------------------------------------------------

    async def invoice(self, invoice_id: int, *, max_retries: int | None = None) -> InvoiceDetail:
        """The detail of the invoice with this id.

        Raises ConfigurationError for a bad id (before any request), NotFoundError when there
        is no such invoice, and the other errors of :mod:`invoice_async.errors`.
        """
        path = _protocol.detail_path(_args.check_invoice_id(invoice_id))
        return await self._detail(path, _args.check_retries(max_retries))

    async def invoice_by_number(
        self, invoice_number: str, *, max_retries: int | None = None
    ) -> InvoiceDetail:
        """The detail of the invoice with this number (e.g. ``"2024/0001"``).

        The number travels as one percent-encoded path segment, so '/' and the like cannot
        change the route. Raises as :meth:`invoice`.
        """
        number = _args.check_invoice_number(invoice_number)
        path = _protocol.detail_by_number_path(number)
        return await self._detail(path, _args.check_retries(max_retries))

    async def _detail(self, path: str, retries: int | None) -> InvoiceDetail:
        most = self._settings.max_detail_bytes
        return await fetch_detail(self._http, self._retrier, path, retries, most)

    # --- PDFs -------------------------------------------------------------------------------

    async def invoice_pdf(self, invoice_id: int, *, max_retries: int | None = None) -> bytes:
        """The invoice's PDF, in memory. It is checked: ``%PDF-`` magic, type and length.

        For many or large PDFs prefer :meth:`download_pdf`, which streams to disk.
        """
        checked_id = _args.check_invoice_id(invoice_id)
        return await self._pdfs.read(checked_id, retries=_args.check_retries(max_retries))

    async def download_pdf(
        self,
        invoice: InvoiceRef,
        directory: str | os.PathLike[str],
        *,
        max_retries: int | None = None,
    ) -> Path:
        """Stream the invoice's PDF into ``directory`` and return the file's path.

        ``invoice`` is an id, or an Invoice / InvoiceDetail (whose number then names the file:
        ``2024-0001_7.pdf``; an id alone gives ``invoice_7.pdf``; a model's id is checked as
        an id is, and a bad one is a ConfigurationError before any request). The body goes to
        a temp file in ``directory``, is checked and synced to disk (fdatasync), then renamed:
        the final name only ever holds a whole, valid PDF. Files are created with mode 0o600.
        A body cut short is retried.
        """
        ref, folder, retries = (
            _args.invoice_ref(invoice),
            _args.check_directory(directory),
            max_retries,
        )
        download = await self._pdfs.download(
            ref, folder, skip_existing=False, retries=_args.check_retries(retries)
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
        """Run ``await fn(item)`` for every item, at most ``concurrency`` at once: the loop
        behind :meth:`invoice_details` and :meth:`download_pdfs`, for your own coroutines.

        ``items``: any iterable or async iterable, of any length; an item is pulled only when
        a slot is free. Results come as they complete, or in input order (``ordered=True``).
        ``on_error="raise"`` (the default): the first error cancels and awaits the calls in
        flight and is raised after the results completed before it; ``"yield"``: an
        :class:`Outcome` per item. ``contextlib.aclosing()`` (or cancelling the consumer)
        stops early, cancelling and awaiting the calls in flight. ``concurrency``: the
        client's ``max_concurrency`` by default, at most its ``max_connections``.

        Raises ConfigurationError at once for a bad argument.
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
        limit, mode, source = _args.check_fan_out(
            self._settings, concurrency, on_error, items, name
        )
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
        retries = _args.check_retries(max_retries)

        async def fetch(ref: InvoiceRef) -> InvoiceDetail:
            return await self._detail(_protocol.detail_path(_args.invoice_ref(ref)[0]), retries)

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
        folder, retries = _args.check_directory(directory), _args.check_retries(max_retries)

        async def fetch(ref: InvoiceRef) -> PdfDownload:
            return await self._pdfs.download(
                _args.invoice_ref(ref), folder, skip_existing=skip_existing, retries=retries
            )

        return self._fan_out(fetch, ids, "ids", concurrency, ordered, on_error)
