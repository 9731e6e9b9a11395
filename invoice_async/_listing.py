"""Reading invoices: the windows of a list endpoint, fetched through the session and the
retrier, paged by the pager and turned into Invoice models; and one invoice's detail."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import AsyncGenerator
from typing import Any

from . import _protocol, errors
from ._converter import structure_detail
from ._models import Invoice, InvoiceDetail
from ._paging import paginate
from ._protocol import Page
from ._retry import Retrier
from ._session import HttpSession
from ._wire import invoices, list_page


async def list_invoices(
    http: HttpSession,
    retrier: Retrier,
    path: str,
    query: str,
    page_size: int,
    read_ahead: int,
    retries: int | None,
) -> AsyncGenerator[Invoice, None]:
    """Every invoice of the list at ``path``: its windows through the session and the
    retrier, paged by :func:`~._paging.paginate`, each item an Invoice (the fast path typed
    whole windows; the converter the rest). Raises what a request or the pager raised."""
    limit = (_protocol.list_answer_bytes(page_size), "page_size x 16 KiB")

    async def fetch(window: _protocol.Window, page_token: str | None, ahead: bool) -> Page:
        headers = _protocol.list_headers(window, page_token)

        async def once() -> Page:
            answer = await http.get_body(path, query=query, headers=headers, limit=limit)
            return list_page(answer.body, answer.headers, url=answer.url, page_size=window.results)

        # A window asked ahead is tried once: it may never be needed (the pager asks
        # again, with retries, if it is). Its Retry-After still pauses the client.
        return await retrier.call(once, retries=0 if ahead else retries)

    pages = paginate(fetch, page_size=page_size, read_ahead=read_ahead)
    items: list[Any] | None = None
    item: Any = None
    try:
        async with contextlib.aclosing(pages):
            async for items, url in pages:
                for item in invoices(items, url=url):  # wire structs or raw items, as models
                    yield item
    except errors.InvoiceAsyncError as exc:
        # As in the retrier: no frame of the traceback keeps a raw answer (the frames
        # below have ended; this one lets go of its items before the error goes on).
        traceback.clear_frames(exc.__traceback__)
        items = item = None
        raise


async def fetch_detail(
    http: HttpSession, retrier: Retrier, path: str, retries: int | None, max_bytes: int
) -> InvoiceDetail:
    """The detail at ``path``: one answer of at most ``max_bytes`` (``max_detail_bytes``),
    retried as the retrier says, and converted."""
    limit = (max_bytes, "max_detail_bytes")

    async def once() -> InvoiceDetail:
        answer = await http.get_json(path, limit=limit)
        raw = _protocol.expect_single(answer.payload, url=answer.url)
        return structure_detail(raw, url=answer.url)

    return await retrier.call(once, retries=retries)
