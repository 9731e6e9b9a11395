"""InvoiceClient: the public face that composes protocol, session, paging and files."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import aiohttp

from . import _protocol, errors
from ._converter import structure_detail, structure_invoice
from ._files import pdf_file_name, write_atomically
from ._models import Invoice, InvoiceDetail, PdfDownload
from ._paging import iterate_windows
from ._session import HttpSession

DEFAULT_MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024
DEFAULT_MAX_PDF_BYTES: Final = 256 * 1024 * 1024

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
        max_concurrency: the most requests this client has in flight at once, and the
            default bound of its fan-out helpers.
        timeout: seconds allowed for each request, body included.
        max_retries: how often a failed idempotent request is tried again.
        session: an ``aiohttp.ClientSession`` to borrow. It is used as it is: never closed, and
            never changed (the token is added to each request, not to the session).
        allow_insecure_http: allow a plain ``http`` base URL to a non-loopback host.
        max_response_bytes: the largest JSON answer accepted.
        max_pdf_bytes: the largest PDF accepted.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str = _protocol.DEFAULT_BASE_URL,
        page_size: int = 100,
        max_concurrency: int = 8,
        timeout: float = 30.0,
        max_retries: int = 3,
        session: aiohttp.ClientSession | None = None,
        allow_insecure_http: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_pdf_bytes: int = DEFAULT_MAX_PDF_BYTES,
    ) -> None:
        if token is None:
            token = os.environ.get(_protocol.TOKEN_ENV_VAR)
            if token is None:
                raise errors.ConfigurationError(
                    f"no API token: pass one or set {_protocol.TOKEN_ENV_VAR}"
                )
        secret = _protocol.check_token(token)
        self._base_url = _protocol.check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._page_size = _protocol.check_positive_int("page_size", page_size)
        self._max_concurrency = _protocol.check_positive_int("max_concurrency", max_concurrency)
        self._timeout = _protocol.check_positive_seconds("timeout", timeout)
        self._max_retries = _protocol.check_non_negative_int("max_retries", max_retries)
        self._max_pdf_bytes = _protocol.check_positive_int("max_pdf_bytes", max_pdf_bytes)
        max_json = _protocol.check_positive_int("max_response_bytes", max_response_bytes)
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise errors.ConfigurationError("session must be an aiohttp.ClientSession or None")
        self._http = HttpSession(
            base_url=self._base_url,
            token=secret,
            timeout=self._timeout,
            connection_limit=self._max_concurrency,
            max_json_bytes=max_json,
            session=session,
        )

    def __repr__(self) -> str:
        return (
            f"InvoiceClient(base_url={self._base_url!r}, page_size={self._page_size}, "
            f"max_concurrency={self._max_concurrency}, token=<redacted>)"
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
        await self._http.close()

    @property
    def max_concurrency(self) -> int:
        """The most requests this client has in flight at once."""
        return self._max_concurrency

    # --- listing ----------------------------------------------------------------------------

    def invoices(
        self, filter: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[Invoice]:
        """Every invoice, newest first as the API orders them, window by window.

        Args:
            filter: only invoices whose description contains this text.
            page_size: items per window; defaults to the client's ``page_size``.

        Raises ConfigurationError at once for a bad argument; while iterating, ApiError,
        InvalidResponseError or TransportError.
        """
        return self._list(unpaid=False, filter=filter, page_size=page_size)

    def unpaid_invoices(
        self, filter: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[Invoice]:
        """The unpaid invoices (the API leaves credit invoices out); as :meth:`invoices`."""
        return self._list(unpaid=True, filter=filter, page_size=page_size)

    def _list(
        self, *, unpaid: bool, filter: str | None, page_size: int | None
    ) -> AsyncIterator[Invoice]:
        text = _protocol.check_filter(filter)
        size = self._page_size if page_size is None else page_size
        size = _protocol.check_positive_int("page_size", size)
        return self._iterate(_protocol.list_path(unpaid=unpaid), _protocol.filter_query(text), size)

    async def _iterate(self, path: str, query: str, page_size: int) -> AsyncIterator[Invoice]:
        async def fetch(window: _protocol.Window) -> tuple[Sequence[Any], str]:
            answer = await self._http.get_json(
                path, query=query, headers={_protocol.RANGED_DATA_HEADER: window.header()}
            )
            return _protocol.expect_list(answer.payload, url=answer.url), answer.url

        async for items, url in iterate_windows(fetch, page_size):
            for item in items:
                yield structure_invoice(item, url=url)

    # --- one invoice ------------------------------------------------------------------------

    async def invoice(self, invoice_id: int) -> InvoiceDetail:
        """The detail of the invoice with this id.

        Raises ConfigurationError for a bad id (before any request), NotFoundError when there
        is no such invoice, and the other errors of :mod:`invoice_async.errors`.
        """
        path = _protocol.detail_path(_protocol.check_invoice_id(invoice_id))
        return await self._detail(path)

    async def invoice_by_number(self, invoice_number: str) -> InvoiceDetail:
        """The detail of the invoice with this number (e.g. ``"2024/0001"``).

        The number travels as one percent-encoded path segment, so '/' and the like cannot
        change the route. Raises as :meth:`invoice`.
        """
        number = _protocol.check_invoice_number(invoice_number)
        return await self._detail(_protocol.detail_by_number_path(number))

    async def _detail(self, path: str) -> InvoiceDetail:
        answer = await self._http.get_json(path)
        raw = _protocol.expect_single(answer.payload, url=answer.url)
        return structure_detail(raw, url=answer.url)

    # --- PDFs -------------------------------------------------------------------------------

    async def invoice_pdf(self, invoice_id: int) -> bytes:
        """The invoice's PDF, in memory. It is checked: ``%PDF-`` magic, type and length.

        For many or large PDFs prefer :meth:`download_pdf`, which streams to disk.
        """
        path = _protocol.pdf_path(_protocol.check_invoice_id(invoice_id))
        async with self._http.stream(path) as body:
            check = _protocol.PdfCheck(
                url=body.url,
                content_type=body.content_type,
                content_length=body.content_length,
                max_bytes=self._max_pdf_bytes,
            )
            parts = []
            async for chunk in body.chunks():
                check.feed(chunk)
                parts.append(chunk)
            check.finish()
        return b"".join(parts)

    async def download_pdf(self, invoice: InvoiceRef, directory: str | os.PathLike[str]) -> Path:
        """Stream the invoice's PDF into ``directory`` and return the file's path.

        ``invoice`` is an id, or an Invoice / InvoiceDetail (whose number then names the file:
        ``2024-0001_7.pdf``; an id alone gives ``invoice_7.pdf``). The body goes to a temp file
        in ``directory``, is checked and fsynced, then renamed: the final name only ever holds
        a whole, valid PDF. Files are created with mode 0o600.
        """
        download = await self._download(invoice, _check_directory(directory))
        return download.path

    async def _download(self, invoice: InvoiceRef, directory: Path) -> PdfDownload:
        invoice_id, number = _invoice_ref(invoice)
        target = directory / pdf_file_name(invoice_id, number)
        async with self._http.stream(_protocol.pdf_path(invoice_id)) as body:
            check = _protocol.PdfCheck(
                url=body.url,
                content_type=body.content_type,
                content_length=body.content_length,
                max_bytes=self._max_pdf_bytes,
            )

            async def checked() -> AsyncIterator[bytes]:
                async for chunk in body.chunks():
                    check.feed(chunk)
                    yield chunk
                check.finish()

            size = await write_atomically(target, checked())
        return PdfDownload(invoice_id=invoice_id, path=target, size=size)


def _invoice_ref(invoice: object) -> tuple[int, str | None]:
    if isinstance(invoice, Invoice | InvoiceDetail):
        return invoice.id, invoice.invoice_number
    return _protocol.check_invoice_id(invoice), None


def _check_directory(directory: object) -> Path:
    if not isinstance(directory, str | os.PathLike):
        raise errors.ConfigurationError(f"directory must be a path, got {directory!r}")
    path = Path(directory)
    if not path.is_dir():
        raise errors.ConfigurationError(f"directory {str(path)!r} does not exist")
    return path
