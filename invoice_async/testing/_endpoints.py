"""The fake server's endpoints: what it answers to a list, a detail and a PDF request, and
how an answer is sent (whole, or cut short or reset by a fault)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

import attrs
from aiohttp import web

from ._fake_pdfs import iter_pdf_chunks
from ._faults import FaultKind
from ._invoices import DateStyle, FakeInvoice, encode_json, to_detail_item
from ._ratelimit import RateLimiter
from ._table import InvoiceTable
from ._wire import _is_digits, error_object, read_ranged_data

_CHUNK = 65_536


@attrs.frozen(slots=True)
class _Answer:
    status: int
    chunks: Iterable[bytes]
    length: int
    content_type: str = "application/json"
    headers: dict[str, str] = attrs.field(factory=dict)
    ids: tuple[int, ...] = ()


def _json(status: int, value: Any) -> _Answer:
    body = encode_json(value)
    return _Answer(status, (body,), len(body))


def _error(status: int, message: str, prop: str = "", detail: str = "") -> _Answer:
    return _json(status, error_object(status, message, [(prop, detail)] if prop else []))


class Endpoints:
    """The answers of the billing routes, from the server's settings and its invoice table
    (``FakeI3DServer`` holds both)."""

    _store: InvoiceTable
    _tokens_handed_out: int
    page_cap: int | None
    ignore_ranged_data: bool
    stuck_at_offset: int | None
    duplicate_ids: bool
    page_token_loop: bool
    forbidden_ids: set[int]
    malformed_json_ids: set[int]
    non_pdf_ids: set[int]
    wrap_detail: bool
    detail_date_style: DateStyle
    pdf_size: int | Callable[[int], int]
    _limiter: RateLimiter | None
    _clock: Callable[[], float]

    def _answer_list(self, request: web.Request, route: str) -> _Answer:
        ranged = request.headers.get("RANGED-DATA", "").strip()  # empty: as if not sent
        window = (0, 25) if not ranged or self.ignore_ranged_data else read_ranged_data(ranged)
        if window is None:
            return _error(400, "Invalid RANGED-DATA header", "RANGED-DATA", "malformed")
        start, results = window
        if self.stuck_at_offset is not None:
            start = min(start, self.stuck_at_offset)
        if self.page_cap is not None:
            results = min(results, self.page_cap)
        text, headers = request.query.get("filter", ""), {}
        if self.page_token_loop:
            self._tokens_handed_out += 1
            headers["PAGE-TOKEN"] = f"loop-{self._tokens_handed_out}"
            if "PAGE-TOKEN" in request.headers:
                start, results = 0, 1
        repeat = 1 if self.duplicate_ids and start == 0 else None
        body, ids = self._store.window(route, text, start, results, repeat=repeat)
        return _Answer(200, (body,), len(body), headers=headers, ids=ids)

    def _find(self, request: web.Request, route: str) -> FakeInvoice | _Answer:
        if route == "detail_by_number":
            segment = request.raw_path.partition("?")[0].rsplit("/", 1)[-1]
            found = self._store.by_number.get(unquote(segment))
            if found is not None and found.id in self.forbidden_ids:
                return _error(403, "Forbidden", "invoiceNumber", "not accessible with this key")
            return found or _error(404, "Entity not found", "invoiceNumber", "unknown invoice")
        raw_id = request.match_info["invoice_id"]
        if not (raw_id.isascii() and raw_id.isdigit()):
            return _error(400, "Invalid invoiceId", "invoiceId", "must be a positive integer")
        if not _is_digits(raw_id):  # any number of digits is an id, just not one of ours
            return _error(404, "Entity not found", "invoiceId", "unknown invoice")
        if int(raw_id) in self.forbidden_ids:
            return _error(403, "Forbidden", "invoiceId", "not accessible with this key")
        return self._store.by_id.get(int(raw_id)) or _error(
            404, "Entity not found", "invoiceId", "unknown invoice"
        )

    def _answer_detail(self, request: web.Request, route: str) -> _Answer:
        found = self._find(request, route)
        if isinstance(found, _Answer):
            return found
        if found.id in self.malformed_json_ids:
            body = f'{"[" if self.wrap_detail else ""}{{"id": {found.id},'.encode()
            return _Answer(200, (body,), len(body))
        item = to_detail_item(found, date_style=self.detail_date_style)
        return _json(200, [item] if self.wrap_detail else item)

    def _answer_pdf(self, request: web.Request, route: str) -> _Answer:
        found = self._find(request, route)
        if isinstance(found, _Answer):
            return found
        if found.id in self.non_pdf_ids:
            body = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"
            return _Answer(200, (body,), len(body), "text/html")
        size = self.pdf_size(found.id) if callable(self.pdf_size) else self.pdf_size
        headers = {"Content-Disposition": f'attachment; filename="invoice-{found.id}.pdf"'}
        chunks = iter_pdf_chunks(found.id, size, chunk_size=_CHUNK)
        return _Answer(200, chunks, size, "application/pdf", headers)

    def _answer_other(self, request: web.Request, route: str) -> _Answer:
        return _error(404, "Route not found", "path", request.path)

    def _answer_not_allowed(self, request: web.Request, route: str) -> _Answer:
        """A billing path asked with a method it does not take: 405 with ``Allow``."""
        result = _error(405, "Method not allowed", "method", request.method)
        result.headers["Allow"] = "GET, HEAD"
        return result

    async def _send(
        self, request: web.Request, result: _Answer, fault: FaultKind | None
    ) -> web.StreamResponse:
        resp = web.StreamResponse(status=result.status, headers=result.headers)
        if self._limiter is not None:
            resp.headers.update(self._limiter.headers(self._clock()))
        resp.content_type = result.content_type
        if result.content_type != "application/pdf":
            resp.charset = "utf-8"
        resp.content_length = result.length
        partial = fault in ("reset", "truncated")
        if partial:
            resp.force_close()
        try:
            await resp.prepare(request)
            budget = result.length // 2 if partial else result.length
            if request.method == "HEAD":
                budget = 0
            for chunk in result.chunks:
                if budget <= 0:
                    break
                await resp.write(chunk[:budget])
                budget -= len(chunk)
            if fault == "reset" and request.transport is not None:
                sock = request.transport.get_extra_info("socket")
                if sock is not None:  # RST instead of FIN: a real connection reset
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                request.transport.abort()
            else:
                await resp.write_eof()
        except ConnectionError:
            pass  # the client went away; aiohttp closes the connection
        return resp

    # ----------------------------------------------------------------------- lifecycle
