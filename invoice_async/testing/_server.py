"""The fake i3D.net API v3 billing server: an aiohttp.web application and its owner object."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from importlib.resources import files

from aiohttp import web

from ._endpoints import Endpoints, _Answer, _error
from ._faults import FAULT_KINDS, FaultKind, FaultPicker, FaultRoutes, Faults, ListQuirks, settings
from ._invoices import (
    DEFAULT_TOKEN,
    DateStyle,
    FakeInvoice,
    make_invoices,
)
from ._ratelimit import RateLimit, RateLimiter
from ._table import InvoiceTable
from ._wire import ROUTES, RequestRecord

__all__ = ["OPENAPI_PATH", "FakeI3DServer"]

_PREFIX = "/v3/account/invoice"
OPENAPI_PATH = "/openapi.yaml"
"""Where the fake server serves the OpenAPI document it holds to (no token needed)."""


async def _openapi_document(request: web.Request) -> web.Response:
    text = (files(__package__) / "openapi.yaml").read_text(encoding="utf-8")
    return web.Response(text=text, content_type="application/yaml")


class FakeI3DServer(Endpoints):
    """An in-process fake of the i3D.net API v3 billing endpoints, with their quirks.

    Use ``async with FakeI3DServer() as base_url:`` (binds 127.0.0.1 on a free port), or
    :meth:`start`/:meth:`stop`, or run :attr:`app` yourself. Every keyword has a default:

    * ``token``: the required ``PRIVATE-TOKEN`` (``None``: no token required).
    * ``invoices``, else ``count`` invoices from :func:`make_invoices` with ``seed``.
    * ``latency``: seconds slept before every answer; ``pdf_size``: bytes per PDF (or a
      function of the invoice id).
    * ``wrap_detail``: answer details as ``[ {...} ]``; ``detail_date_style``: ``"iso"`` or
      ``"unix"`` strings for ``creationDate``/``dueDate``.
    * ``forbidden_ids`` (403), ``malformed_json_ids`` (broken JSON detail with 200),
      ``non_pdf_ids`` (HTML instead of a PDF with 200).
    * ``faults``: a :class:`Faults` (seeded random faults on some routes, and the
      ``Retry-After`` of 429/503 faults); ``fault_rate``, ``fault_seed``, ``fault_kinds``,
      ``fault_routes`` (or its old name ``fault_paths``) and ``retry_after`` are shortcuts.
    * ``lists``: a :class:`ListQuirks` (a page cap, and lists that misbehave); ``page_cap``,
      ``ignore_ranged_data``, ``stuck_at_offset``, ``duplicate_ids`` and ``page_token_loop``
      are shortcuts.
    * ``clock``: time source for arrival times and Retry-After bookkeeping.
    * ``rate_limit``: a :class:`RateLimit` (token bucket or fixed window) judged as each
      request arrives; a refused request is answered 429 with its Retry-After after the
      latency (a round trip), before the list hook, faults and the token check, and is counted
      in :attr:`rate_limited`. With ``headers=True`` every answer carries ``RateLimit-*``.
    * ``on_list_request(server, k)``: called before answering the k-th list request (1-based,
      after the latency, before faults and the token check), e.g. to mutate after request k.
    * ``on_request(server, route)``: called as each request arrives, after the counters are
      updated (e.g. to stop a client process at the k-th PDF request).
    * ``host``/``port``: where :meth:`start` binds (port 0: a free one).

    Order of each answer: latency, rate limit (429), list hook, fault, token check (401), then
    the endpoint (405 with ``Allow`` for a billing path asked with another method than GET or
    HEAD). :data:`OPENAPI_PATH` serves the OpenAPI document of the billing endpoints, which
    the server holds to (``invoice_async/testing/openapi.yaml``; checked by Schemathesis).
    The ``filter`` is a case-sensitive literal substring. ``/number/{invoiceNumber}`` is one
    path segment: a ``/`` in the number must be sent as ``%2F`` (a bare one gets a 404).
    """

    def __init__(
        self,
        *,
        token: str | None = DEFAULT_TOKEN,
        invoices: Sequence[FakeInvoice] | None = None,
        count: int = 100,
        seed: int = 0,
        faults: Faults | None = None,
        lists: ListQuirks | None = None,
        page_cap: int | None = None,
        latency: float = 0.0,
        pdf_size: int | Callable[[int], int] = 4096,
        wrap_detail: bool = True,
        detail_date_style: DateStyle = "iso",
        forbidden_ids: Collection[int] = (),
        malformed_json_ids: Collection[int] = (),
        non_pdf_ids: Collection[int] = (),
        fault_rate: float | None = None,
        fault_seed: int | None = None,
        fault_kinds: Collection[FaultKind] | None = None,
        fault_routes: FaultRoutes = None,
        fault_paths: FaultRoutes = None,
        retry_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        rate_limit: RateLimit | None = None,
        on_list_request: Callable[[FakeI3DServer, int], None] | None = None,
        on_request: Callable[[FakeI3DServer, str], None] | None = None,
        ignore_ranged_data: bool | None = None,
        stuck_at_offset: int | None = None,
        duplicate_ids: bool | None = None,
        page_token_loop: bool | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        faults = settings(
            Faults,
            faults,
            rate=fault_rate,
            seed=fault_seed,
            kinds=fault_kinds,
            routes=fault_routes if fault_routes is not None else fault_paths,
            retry_after=retry_after,
        )
        lists = settings(
            ListQuirks,
            lists,
            page_cap=page_cap,
            ignore_ranged_data=ignore_ranged_data,
            stuck_at_offset=stuck_at_offset,
            duplicate_ids=duplicate_ids,
            page_token_loop=page_token_loop,
        )
        self.token = token
        """The token the server requires in ``PRIVATE-TOKEN`` (``None``: none required)."""
        self.page_cap, self.latency, self.pdf_size = lists.page_cap, latency, pdf_size
        self.wrap_detail, self.detail_date_style = wrap_detail, detail_date_style
        self.forbidden_ids, self.malformed_json_ids = set(forbidden_ids), set(malformed_json_ids)
        self.non_pdf_ids, self.on_list_request = set(non_pdf_ids), on_list_request
        self.retry_after, self.fault_rate = faults.retry_after, faults.rate
        self.fault_kinds = tuple(kind for kind in FAULT_KINDS if kind in faults.kinds)
        self._faults = FaultPicker(faults, ROUTES)
        self._clock, self._host, self._port = clock, host, port
        self.ignore_ranged_data, self.stuck_at_offset = (
            lists.ignore_ranged_data,
            lists.stuck_at_offset,
        )
        self.duplicate_ids, self.page_token_loop = lists.duplicate_ids, lists.page_token_loop
        self._tokens_handed_out = 0
        self.on_request = on_request
        """Called as ``on_request(server, route)`` when any request arrives (counters updated)."""
        self._store = InvoiceTable(
            make_invoices(count, seed=seed) if invoices is None else invoices, seed=seed
        )
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.not_before = float("-inf")
        """Clock time before which a request counts as early (set by 429/503 answers)."""
        self.log: list[RequestRecord] = []
        """Every answered request, in the order the answers finished."""
        self.requests_per_route: Counter[str] = Counter()
        """Requests by route name (``"list"``, ``"unpaid"``, ``"detail"``, ...)."""
        self.requests_per_raw_path: Counter[str] = Counter()
        """Requests by raw path (without query)."""
        self.early_requests = 0
        """Requests that arrived before a Retry-After the server sent had elapsed."""
        self.in_flight = 0
        """Requests being handled now (from handler entry until the body is sent)."""
        self.max_in_flight = 0
        """The largest :attr:`in_flight` seen."""
        self.list_requests = 0
        """List requests (both list routes) received; the ``k`` of ``on_list_request``."""
        self._limiter = None if rate_limit is None else RateLimiter(rate_limit)
        self.rate_limited = 0
        """Requests the ``rate_limit`` refused (answered 429)."""
        self.ignored_retry_after = 0
        """Requests that arrived more than 50 ms after a ``rate_limit`` 429 was sent, before its
        Retry-After ran out (sent by a client that knew)."""
        self.app = self._make_app()
        """The aiohttp.web.Application serving the billing routes."""

    # ----------------------------------------------------------------- data and mutations
    @property
    def invoices(self) -> list[FakeInvoice]:
        """Every current invoice, in list order (newest first)."""
        return list(self._store.ordered("list"))

    @property
    def unpaid_invoices(self) -> list[FakeInvoice]:
        """The invoices of the unpaid list (unpaid, not credit), newest first."""
        return list(self._store.ordered("unpaid"))

    def insert_at_head(self, n: int = 1) -> list[FakeInvoice]:
        """Add ``n`` new unpaid invoices with the highest ids and newest dates; return them.

        They appear at the head of both lists, so offsets a reader already used shift by ``n``.
        """
        return self._store.insert_at_head(n)

    def pay(self, n: int = 1) -> list[FakeInvoice]:
        """Mark the first ``n`` invoices of the unpaid list paid (they leave it); return them."""
        return self._store.pay(n)

    def change(self, ids: Iterable[int]) -> list[FakeInvoice]:
        """Change these invoices' list fields: a new ``invoiceHash`` and 1.00 more before VAT
        (the totals follow; a paid one stays paid). Their PDFs stay the same. Return them."""
        return self._store.change(ids)

    def remove(self, ids: Iterable[int]) -> list[FakeInvoice]:
        """Delete these invoices: they leave both lists, and their detail and PDF answer 404.
        Return them. An unknown id raises ValueError (and nothing is removed)."""
        return self._store.remove(ids)

    # ---------------------------------------------------------------- faults and stats
    def fail_next(self, kind: FaultKind, *, endpoint: str | None = None, count: int = 1) -> None:
        """Answer the next ``count`` requests (to ``endpoint`` only, if given) with fault ``kind``.

        ``endpoint`` is a route name or endpoint kind (see :data:`ROUTES`). Queued faults go
        before random ones and use no random draw.
        """
        self._faults.force(kind, endpoint, count)

    @property
    def requests_per_path(self) -> Counter[str]:
        """The old name of :attr:`requests_per_route` (the same counter)."""
        return self.requests_per_route

    def reset_stats(self) -> None:
        """Clear the log and every counter, including the count passed to ``on_list_request``."""
        self.log = []
        self.requests_per_route.clear()
        self.requests_per_raw_path.clear()
        self.early_requests = self.list_requests = 0
        self.rate_limited = self.ignored_retry_after = 0
        self.max_in_flight = self.in_flight

    # ------------------------------------------------------------------------- the app
    def _make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(OPENAPI_PATH, _openapi_document)
        not_allowed = self._handler("other", self._answer_not_allowed)
        for name, path, answer in (
            ("list", "", self._answer_list),
            ("unpaid", "/unpaid", self._answer_list),
            ("detail_by_number", "/number/{number}", self._answer_detail),
            ("detail", "/{invoice_id}", self._answer_detail),
            ("pdf", "/{invoice_id}/pdf", self._answer_pdf),
        ):
            resource = app.router.add_resource(_PREFIX + path, name=name)
            for method in ("GET", "HEAD"):
                resource.add_route(method, self._handler(name, answer))
            resource.add_route("*", not_allowed)  # 405: a known path, another method
        app.router.add_route("*", "/{tail:.*}", self._handler("other", self._answer_other))
        return app

    def _handler(
        self, route: str, answer: Callable[[web.Request, str], _Answer]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, route, answer)

        return handle

    async def _serve(
        self, request: web.Request, route: str, answer: Callable[[web.Request, str], _Answer]
    ) -> web.StreamResponse:
        arrived = self._clock()
        early = arrived < self.not_before
        self.early_requests += int(early)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        raw_path = request.raw_path.partition("?")[0]
        self.requests_per_route[route] += 1
        self.requests_per_raw_path[raw_path] += 1
        if self.on_request is not None:
            self.on_request(self, route)
        refused_by = None  # the rate limit, when it refuses this request
        if self._limiter is not None:
            self.ignored_retry_after += self._limiter.ignores_retry_after(arrived)
            if not self._limiter.admit(arrived):
                refused_by = self._limiter
        sent = request.headers.get("PRIVATE-TOKEN")
        token_ok = self.token is None or (
            sent is not None
            and secrets.compare_digest(sent.encode(errors="surrogateescape"), self.token.encode())
        )
        fault: FaultKind | None = None
        status = 0  # logged when the request is cancelled before an answer (server stopping)
        ids: tuple[int, ...] = ()
        try:
            if self.latency > 0:
                await asyncio.sleep(self.latency)
            if refused_by is not None:
                status = 429
                return await self._send(request, self._refusal(refused_by), None)
            if ROUTES[route] == "list":
                self.list_requests += 1
                if self.on_list_request is not None:
                    self.on_list_request(self, self.list_requests)
            fault = self._faults.pick(route, raw_path, self.fault_rate)
            if fault in ("500", "503", "429"):
                result = self._fault_answer(int(fault))
            elif not token_ok:
                result = _error(401, "Unauthorized", "PRIVATE-TOKEN", "missing or invalid API key")
            else:
                result = answer(request, route)
            status, ids = result.status, result.ids
            return await self._send(request, result, fault)
        except Exception:
            status = 500  # a bug or a raising on_list_request hook: aiohttp answers 500
            raise
        finally:
            self.in_flight -= 1
            self.log.append(
                RequestRecord(
                    method=request.method,
                    path=raw_path,
                    route=route,
                    query=request.rel_url.raw_query_string,
                    ranged_data=request.headers.get("RANGED-DATA"),
                    status=status,
                    fault=fault,
                    arrived_at=arrived,
                    token_ok=token_ok,
                    early=early,
                    ids=ids,
                )
            )

    def _fault_answer(self, status: int) -> _Answer:
        messages = {500: "Internal server error", 503: "Service unavailable"}
        result = _error(status, messages.get(status, "Too many requests"))
        if status != 500:
            seconds = self.retry_after
            text = str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.6f}"
            result.headers["Retry-After"] = text.rstrip("0").rstrip(".") if "." in text else text
            self.not_before = self._clock() + seconds
        return result

    def _refusal(self, limiter: RateLimiter) -> _Answer:
        self.rate_limited += 1
        limiter.refusal_sent(self._clock())
        result = _error(429, "Rate limit exceeded")
        result.headers["Retry-After"] = limiter.retry_after_text
        return result

    async def start(self) -> str:
        """Serve on ``host`` (default 127.0.0.1) and ``port`` (default 0: a free one).

        Return the base URL, e.g. ``"http://127.0.0.1:54321"``.
        """
        if self._runner is not None:
            raise RuntimeError("server already started")
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._base_url = f"http://{host}:{port}"
        return self._base_url

    async def stop(self) -> None:
        """Stop serving and close every connection (a no-op when not started)."""
        runner, self._runner, self._base_url = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    @property
    def base_url(self) -> str:
        """The base URL while started, like ``"http://127.0.0.1:54321"``."""
        if self._base_url is None:
            raise RuntimeError("server not started")
        return self._base_url

    async def __aenter__(self) -> str:
        """Start the server and return its base URL."""
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the server."""
        await self.stop()

    def __repr__(self) -> str:
        """Show the address and size, never the token."""
        return f"<FakeI3DServer {self._base_url or 'stopped'} invoices={len(self._store.by_id)}>"
