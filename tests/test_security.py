"""The token stays ours and hostile answers or input are refused: real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web

from invoice_async import Invoice, InvoiceClient, errors
from invoice_async._converter import structure_invoice
from invoice_async._logging import redact
from invoice_async.testing import FakeI3DServer
from tests._leaks import frames_text
from tests._samples import LIST_ITEM
from tests._servers import serve

TOKEN = "sekrit-Tq7Zp2-do-not-leak"
PDF = b"%PDF-1.4\n" + b"x" * 1000 + b"\n%%EOF\n"


Answer = Callable[[], web.StreamResponse]


def recording_app(seen: list[dict[str, str]], routes: dict[str, Answer]) -> web.Application:
    """An app answering ``routes`` (path -> answer factory), recording each request's headers."""

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append({"path": request.path, **request.headers})
        return routes[request.path]()

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    return app


# --- the token goes only to the API's origin -------------------------------------------------


def pdf_answer() -> web.StreamResponse:
    return web.Response(body=PDF, content_type="application/pdf")


def redirect(location: str) -> web.StreamResponse:
    return web.Response(status=302, headers={"Location": location})


@pytest.mark.parametrize("borrowed", [False, True], ids=["own-session", "borrowed-session"])
async def test_a_redirect_to_another_origin_does_not_carry_the_token(
    tmp_path: Path, borrowed: bool
) -> None:
    storage_seen: list[dict[str, str]] = []
    api_seen: list[dict[str, str]] = []
    storage = recording_app(storage_seen, {"/files/7.pdf": pdf_answer})
    async with serve(storage) as storage_url:
        api = recording_app(
            api_seen,
            {
                "/v3/account/invoice/7/pdf": lambda: redirect(f"{storage_url}/files/7.pdf"),
                "/v3/account/invoice/8/pdf": lambda: redirect("/files/8.pdf"),  # same origin
                "/files/8.pdf": pdf_answer,
            },
        )
        async with serve(api) as api_url, contextlib.AsyncExitStack() as stack:
            session = None
            if borrowed:
                session = await stack.enter_async_context(aiohttp.ClientSession())
            client = await stack.enter_async_context(
                InvoiceClient(TOKEN, base_url=api_url, session=session)
            )
            cross = await client.download_pdf(7, tmp_path)
            same = await client.download_pdf(8, tmp_path)
    assert cross.read_bytes() == PDF == same.read_bytes()
    assert [r["path"] for r in storage_seen] == ["/files/7.pdf"]
    assert "PRIVATE-TOKEN" not in storage_seen[0]  # the other origin never saw it
    assert all(TOKEN not in value for value in storage_seen[0].values())
    assert [r.get("PRIVATE-TOKEN") for r in api_seen] == [TOKEN, TOKEN, TOKEN]  # API hops keep it


# --- the token never shows --------------------------------------------------------------------


async def test_debug_logs_errors_and_reprs_never_hold_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level: ours and aiohttp's
    server = FakeI3DServer(token=TOKEN, count=30, page_cap=10)
    server.fail_next("503", endpoint="detail")  # a retried request
    failures: list[BaseException] = []
    async with server as base_url:
        async with InvoiceClient(TOKEN, base_url=base_url, max_retry_after=0.001) as client:
            listed = [inv async for inv in client.invoices()]
            await client.invoice(listed[0].id)
            for failing in (client.invoice(999_999), client.invoice_pdf(999_999)):
                try:
                    await failing
                except errors.InvoiceAsyncError as exc:
                    failures.append(exc)
            texts = [repr(client), str(vars(client))]
        async with InvoiceClient("wrong-" + TOKEN[:4], base_url=base_url) as other:
            try:
                await other.invoice(1)
            except errors.AuthenticationError as exc:
                failures.append(exc)
        server_url = base_url
    async with InvoiceClient(TOKEN, base_url=server_url, max_retries=1) as client:
        try:
            await client.invoice(1)  # the server is gone: a transport error, retried
        except errors.TransportError as exc:
            failures.append(exc)
    cut_short = FakeI3DServer(token=TOKEN, count=3)
    cut_short.fail_next("truncated", endpoint="detail")  # fails while the body is read
    async with cut_short as base_url, InvoiceClient(TOKEN, base_url=base_url) as client:
        try:
            await client.invoice(1, max_retries=0)
        except errors.TransportError as exc:
            failures.append(exc)
    try:
        InvoiceClient(TOKEN, page_size=0)  # a bad argument after the token
    except errors.ConfigurationError as exc:
        failures.append(exc)
    assert len(listed) == 30
    assert len(failures) == 6
    assert all(f.__cause__ is None and f.__context__ is None for f in failures[3:5])
    assert any("retry" in r.getMessage().lower() for r in caplog.records)
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(vars(record))
    for failure in failures:
        assert TOKEN not in frames_text(failure)
    assert all(TOKEN not in text for text in texts)
    assert all(TOKEN not in record.query + record.path for record in server.log)


# --- hostile input: a clear error, and nothing sent ------------------------------------------

Call = Callable[[InvoiceClient, Path], Awaitable[object]]
INVOICE = structure_invoice(LIST_ITEM)


class SneakyInt(int):
    """An int that formats as a path of its own choosing."""

    def __format__(self, spec: str) -> str:
        return "../../../tmp/x"

    __str__ = __repr__ = lambda self: "../../../tmp/x"


def model(**changes: Any) -> Invoice:
    """The sample Invoice with fields changed as ``attrs.evolve`` allows (no validation)."""
    return attrs.evolve(INVOICE, **changes)


HOSTILE_INPUT: list[tuple[str, Call, str]] = [
    ("negative id", lambda c, d: c.invoice(-5), "invoice id"),
    ("id as text", lambda c, d: c.invoice("7"), "invoice id"),  # type: ignore[arg-type]
    ("id as bool", lambda c, d: c.invoice_pdf(True), "invoice id"),
    ("number '..'", lambda c, d: c.invoice_by_number(".."), "invoice number"),
    ("number with CR/LF", lambda c, d: c.invoice_by_number("a\r\nX-Evil: 1"), "control"),
    ("number of 300 chars", lambda c, d: c.invoice_by_number("9" * 300), "longer"),
    ("filter with CR/LF", lambda c, d: anext(c.invoices(filter="a\r\nX-Evil: 1")), "filter"),
    ("page size 0", lambda c, d: anext(c.invoices(page_size=0)), "page_size"),
    ("concurrency 0", lambda c, d: anext(c.invoice_details([1], concurrency=0)), "concurrency"),
    ("missing directory", lambda c, d: c.download_pdf(1, d / "nope"), "does not exist"),
    ("filter with a lone surrogate", lambda c, d: anext(c.invoices(filter="a\udcff")), "filter"),
    ("number with a lone surrogate", lambda c, d: c.invoice_by_number("7\udcff"), "number"),
    ("int subclass id", lambda c, d: c.invoice(SneakyInt(7)), "invoice id"),
    ("int subclass PDF id", lambda c, d: c.download_pdf(SneakyInt(7), d), "invoice id"),
    # Models: attrs.evolve puts anything into a frozen model; its id is checked all the same.
    ("model with a traversal id", lambda c, d: c.download_pdf(model(id="/../../tmp/x"), d),
     "invoice id"),
    ("model with id True", lambda c, d: c.download_pdf(model(id=True), d), "invoice id"),
    ("model with id -7", lambda c, d: anext(c.download_pdfs([model(id=-7)], d)), "invoice id"),
    ("model with an int subclass id", lambda c, d: c.download_pdf(model(id=SneakyInt(7)), d),
     "invoice id"),
    ("detail of a model with id 0", lambda c, d: anext(c.invoice_details([model(id=0)])),
     "invoice id"),
    ("model with a number that is not text", lambda c, d: c.download_pdf(model(
     invoice_number=["../x"]), d), "invoice number"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "call", "message"), HOSTILE_INPUT, ids=[h[0] for h in HOSTILE_INPUT]
)
async def test_hostile_input_is_refused_before_anything_is_sent(
    tmp_path: Path, name: str, call: Call, message: str
) -> None:
    server = FakeI3DServer(token=TOKEN, count=3)
    async with server as base_url, InvoiceClient(TOKEN, base_url=base_url) as client:
        with pytest.raises(errors.ConfigurationError, match=message):
            await call(client, tmp_path)
    assert server.log == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"token": "tok\r\nX-Evil: 1"}, "control"),
        ({"base_url": "http://api.i3d.net"}, "plain http"),
        ({"base_url": "https://user:pw@api.i3d.net"}, "credentials"),
        ({"max_pdf_bytes": -1}, "max_pdf_bytes"),
        ({"max_response_bytes": 0}, "max_response_bytes"),
    ],
)
def test_hostile_client_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=message):
        InvoiceClient(**{"token": TOKEN, **kwargs})


async def test_an_invoice_number_cannot_change_the_route() -> None:
    server = FakeI3DServer(token=TOKEN, count=3)
    async with server as base_url, InvoiceClient(TOKEN, base_url=base_url) as client:
        with pytest.raises(errors.NotFoundError):
            await client.invoice_by_number("../../x")
    assert server.log[0].path == "/v3/account/invoice/number/..%2F..%2Fx"


# --- hostile answers: a clear error, and nothing written -------------------------------------


def json_bomb(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


HOSTILE_ANSWERS: list[tuple[str, Answer, str, type[Exception]]] = [
    ("JSON over the size limit", lambda: web.Response(body=b"[" + b"1," * 40_000 + b"1]",
     content_type="application/json"), "detail", errors.InvalidResponseError),
    ("JSON bomb (deep nesting)", lambda: web.Response(body=json_bomb(200_000),
     content_type="application/json"), "detail", errors.InvalidResponseError),
    ("huge number of cents", lambda: web.json_response([{"id": 1, "vatAmount": "9" * 100_000}]),
     "detail", errors.InvalidResponseError),
    ("two objects for one detail", lambda: web.json_response([{"id": 1}, {"id": 2}]), "detail",
     errors.InvalidResponseError),
    ("an object for a list", lambda: web.json_response({"id": 1}), "list",
     errors.InvalidResponseError),
    ("HTML for a list", lambda: web.Response(text="<html>login</html>", content_type="text/html"),
     "list", errors.InvalidResponseError),
    ("PDF over the size limit", lambda: web.Response(body=b"%PDF-" + b"x" * 70_000,
     content_type="application/pdf"), "pdf", errors.InvalidResponseError),
    ("PDF with an HTML type", lambda: web.Response(body=PDF, content_type="text/html"), "pdf",
     errors.InvalidResponseError),
    ("PDF without the magic", lambda: web.Response(body=b"<html>" + PDF,
     content_type="application/pdf"), "pdf", errors.InvalidResponseError),
    ("empty PDF", lambda: web.Response(body=b"", content_type="application/pdf"), "pdf",
     errors.InvalidResponseError),
    ("negative Content-Length", lambda: web.Response(body=PDF, content_type="application/pdf",
     headers={"Content-Length": "-5"}), "pdf", errors.TransportError),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "answer", "endpoint", "error"), HOSTILE_ANSWERS, ids=[h[0] for h in HOSTILE_ANSWERS]
)
async def test_hostile_answers_raise_a_clear_error_and_write_nothing(
    tmp_path: Path,
    name: str,
    answer: Answer,
    endpoint: str,
    error: type[Exception],
) -> None:
    seen: list[dict[str, str]] = []
    path = {
        "detail": "/v3/account/invoice/1",
        "list": "/v3/account/invoice",
        "pdf": "/v3/account/invoice/1/pdf",
    }[endpoint]
    async with serve(recording_app(seen, {path: answer})) as base_url:
        client = InvoiceClient(
            TOKEN,
            base_url=base_url,
            max_response_bytes=64_000,
            max_pdf_bytes=64_000,
            max_retries=0,
            read_ahead=1,
        )
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "detail": lambda: client.invoice(1),
            "list": lambda: anext(client.invoices()),
            "pdf": lambda: client.download_pdf(1, tmp_path),
        }
        async with client:
            with pytest.raises(error):
                await calls[endpoint]()
    assert list(tmp_path.iterdir()) == []
    assert len(seen) == 1


def test_the_tables_hold_at_least_twenty_hostile_cases() -> None:
    assert len(HOSTILE_INPUT) + len(HOSTILE_ANSWERS) >= 20
    assert json.loads(json_bomb(3)) == [[[]]]


def gzip_answer(body: bytes, content_type: str) -> web.StreamResponse:
    return web.Response(
        body=gzip.compress(body),
        headers={"Content-Encoding": "gzip", "Content-Type": content_type},
    )


async def test_a_compressed_answer_is_held_to_the_limit_once_inflated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def read_all(self: aiohttp.ClientResponse) -> bytes:
        raise AssertionError("a compressed body must be streamed against the limit")

    monkeypatch.setattr(aiohttp.ClientResponse, "read", read_all)
    bomb = b"[" + b" " * 5_000_000 + b"]"  # 5 MB of JSON that compresses to a few KB
    seen: list[dict[str, str]] = []
    app = recording_app(
        seen, {"/v3/account/invoice/1": lambda: gzip_answer(bomb, "application/json")}
    )
    async with (
        serve(app) as base_url,
        InvoiceClient(TOKEN, base_url=base_url, max_response_bytes=64_000) as client,
    ):
        with pytest.raises(errors.InvalidResponseError, match="over the limit"):
            await client.invoice(1, max_retries=0)


async def test_a_compressed_pdf_is_checked_on_its_inflated_bytes(tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []
    app = recording_app(
        seen, {"/v3/account/invoice/1/pdf": lambda: gzip_answer(PDF, "application/pdf")}
    )
    async with serve(app) as base_url, InvoiceClient(TOKEN, base_url=base_url) as client:
        path = await client.download_pdf(1, tmp_path)
    assert path.read_bytes() == PDF


async def test_an_error_page_that_echoes_the_token_does_not_pass_it_on() -> None:
    async def echo(request: web.Request) -> web.StreamResponse:
        sent = request.headers.get("PRIVATE-TOKEN", "")
        padding = "x" * (200 - 40)  # the token straddles the 200-character excerpt's end
        page = f"bad gateway; you sent PRIVATE-TOKEN: {sent}; {padding} auth={sent}"
        return web.Response(status=502, text=page)

    app = web.Application()
    app.router.add_get("/v3/account/invoice/1", echo)
    async with serve(app) as base_url, InvoiceClient(TOKEN, base_url=base_url) as client:
        with pytest.raises(errors.ServerError) as info:
            await client.invoice(1, max_retries=0)
    assert "bad gateway; you sent PRIVATE-TOKEN: <redacted>" in str(info.value)
    assert TOKEN not in frames_text(info.value)


async def test_a_timeout_around_a_call_leaves_the_token_in_no_frame() -> None:
    server = FakeI3DServer(token=TOKEN, count=3, latency=0.2)
    async with server as base_url, InvoiceClient(TOKEN, base_url=base_url) as client:

        async def call() -> None:
            async with asyncio.timeout(0.02):  # cancels the request inside aiohttp
                await client.invoice(1)

        with pytest.raises(TimeoutError) as info:
            await call()
    assert TOKEN not in frames_text(info.value)


async def test_closing_a_client_twice_keeps_redacting_for_another_one() -> None:
    first, second = InvoiceClient(TOKEN), InvoiceClient(TOKEN)
    await first.close()
    await first.close()
    assert TOKEN not in redact(f"token {TOKEN}")
    await second.close()
    assert TOKEN in redact(f"token {TOKEN}")  # no live client uses it any more
