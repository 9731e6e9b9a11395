"""A hostile API (or a proxy in front of it) echoes the token it received anywhere in its
answer: no exception, log record or file of ours shows it. Real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.http_writer
import orjson
import pytest
from aiohttp import web
from aiohttp.client_middlewares import ClientHandlerType

from invoice_async import InvoiceClient, errors
from invoice_async.testing import make_invoices, parse_ranged_data
from tests._leaks import frames_text
from tests._samples import DETAIL, LIST_ITEM
from tests._servers import header_of, serve, serve_raw

TOKEN = "sekrit-Tq7Zp2-do-not-leak"
ENTRY_POINT = str(Path(sys.executable).parent / "invoice-async")

Respond = Callable[[bytes], bytes]


def echoing(template: str) -> Respond:
    """An answer, as raw bytes, with ``{t}`` replaced by the token the request carried."""

    def respond(head: bytes) -> bytes:
        return template.encode().replace(b"{t}", header_of(head, b"PRIVATE-TOKEN"))

    return respond


# --- aiohttp's own messages quote what the server sent -----------------------------------------

PARSER_ECHOES: list[tuple[str, str]] = [
    ("bad status line", "HTTP/1.1 2{t} OK\r\nContent-Length: 0\r\n\r\n"),
    ("bad header name", "HTTP/1.1 200 OK\r\nX {t}: 1\r\nContent-Length: 0\r\n\r\n"),
    ("bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "{t}\r\n[]\r\n0\r\n\r\n"),
    ("bad HTTP version", "HTTP/{t} 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ("redirect to a non-HTTP URL", "HTTP/1.1 302 Found\r\nLocation: ftp://x/{t}\r\n"
     "Content-Length: 0\r\n\r\n"),
    ("redirect to a broken URL", "HTTP/1.1 302 Found\r\nLocation: http://[{t}\r\n"
     "Content-Length: 0\r\n\r\n"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "answer"), PARSER_ECHOES, ids=[e[0] for e in PARSER_ECHOES])
async def test_aiohttp_messages_that_quote_the_answer_are_redacted(
    name: str, answer: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with (
        serve_raw(echoing(answer)) as base_url,
        InvoiceClient(TOKEN, base_url=base_url, max_retries=1) as client,
    ):
        with pytest.raises(errors.TransportError) as info:
            await client.invoice(1)
    assert "<redacted>" in str(info.value)  # the echo was there, and is gone
    assert "\n" not in str(info.value)  # one line
    assert TOKEN not in frames_text(info.value)
    retries = [r for r in caplog.records if "retry 1 of 1" in r.getMessage()]
    assert len(retries) == 1  # the retry's log line quotes the same message
    assert all(TOKEN not in r.getMessage() and TOKEN not in repr(vars(r)) for r in caplog.records)


# --- our own messages quote what the server sent -----------------------------------------------


def with_echo(**detail: Any) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A detail answer whose fields ``detail`` holds, ``"{t}"`` standing for the token."""

    async def handle(request: web.Request) -> web.StreamResponse:
        sent = request.headers.get("PRIVATE-TOKEN", "")
        fields = {k: v.replace("{t}", sent) if isinstance(v, str) else v for k, v in detail.items()}
        return web.json_response([{**DETAIL, **fields}])

    return handle


async def test_a_field_value_that_echoes_the_token_is_redacted_in_the_error() -> None:
    app = web.Application()
    app.router.add_get("/v3/account/invoice/1", with_echo(paymentTerm="{t}", vatAmount="1{t}"))
    async with serve(app) as base_url, InvoiceClient(TOKEN, base_url=base_url) as client:
        with pytest.raises(errors.InvalidResponseError) as info:
            await client.invoice(1)
    assert "paymentTerm" in str(info.value)
    assert "'<redacted>'" in str(info.value)
    assert TOKEN not in frames_text(info.value)


async def test_a_pdf_content_type_that_echoes_the_token_is_redacted_in_the_error() -> None:
    async def pdf(request: web.Request) -> web.StreamResponse:
        sent = request.headers.get("PRIVATE-TOKEN", "")
        return web.Response(body=b"%PDF-1.4", headers={"Content-Type": f"text/html; x={sent}"})

    app = web.Application()
    app.router.add_get("/v3/account/invoice/1/pdf", pdf)
    async with serve(app) as base_url, InvoiceClient(TOKEN, base_url=base_url) as client:
        with pytest.raises(errors.InvalidResponseError) as info:
            await client.invoice_pdf(1)
    assert "<redacted>" in str(info.value)
    assert TOKEN not in frames_text(info.value)


# --- no frame of a traceback keeps the answer (error reporters record locals) --------------------


def echo_answer(
    body: str, content_type: str = "application/json", *, length: bool = True
) -> Respond:
    """A 200 answer whose body is ``body`` and whose X-Echo header is the token; without
    ``length``, the body runs until the connection closes (no Content-Length)."""

    def respond(head: bytes) -> bytes:
        sent = header_of(head, b"PRIVATE-TOKEN")
        payload = body.encode().replace(b"{t}", sent)
        announced = b"Content-Length: " + str(len(payload)).encode() + b"\r\n" if length else b""
        return (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nX-Echo: " + sent + b"\r\n"
            b"Content-Type: " + content_type.encode() + b"\r\n" + announced + b"\r\n" + payload
        )

    return respond


LIST_ITEM_ECHO = orjson.dumps([{**LIST_ITEM, "amountIncVAT": "{t}"}]).decode()
ANSWERS_IN_FRAMES: list[tuple[str, str, Respond]] = [
    ("two objects for a detail", "detail", echo_answer('[{"a": "{t}"}, {"b": 1}]')),
    ("an object for a list", "list", echo_answer('{"echo": "{t}"}')),
    ("a list item that does not parse", "list", echo_answer(LIST_ITEM_ECHO)),
    ("a body that is not JSON", "detail", echo_answer("<html>{t}</html>")),
    (
        "a body over the limit",
        "detail",
        echo_answer('["{t}", "' + "x" * 70_000 + '"]', length=False),
    ),
    ("a PDF without the magic", "pdf", echo_answer("<html>{t}</html>", "application/pdf")),
    ("a detail in a fan-out", "details", echo_answer('[{"a": "{t}"}, {"b": 1}]')),
]


@pytest.mark.parametrize(
    ("name", "endpoint", "respond"), ANSWERS_IN_FRAMES, ids=[a[0] for a in ANSWERS_IN_FRAMES]
)
async def test_no_frame_of_the_traceback_holds_the_answer(
    tmp_path: Path, name: str, endpoint: str, respond: Respond
) -> None:
    async with (
        serve_raw(respond) as base_url,
        InvoiceClient(TOKEN, base_url=base_url, max_response_bytes=64_000, read_ahead=1) as client,
    ):
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "detail": lambda: client.invoice(1),
            "list": lambda: anext(client.invoices()),
            "pdf": lambda: client.download_pdf(1, tmp_path),
        }
        if endpoint == "details":
            outcomes = [o async for o in client.invoice_details([1, 2], on_error="yield")]
            failure = outcomes[0].error
        else:
            try:
                await calls[endpoint]()
            except errors.InvalidResponseError as exc:
                failure = exc
    assert isinstance(failure, errors.InvalidResponseError)
    assert TOKEN not in frames_text(failure)


# --- a header that cannot be encoded (aiohttp's pure-Python writer) -----------------------------


@pytest.fixture
def pure_python_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiohttp's header writer as it runs without its C extensions (AIOHTTP_NO_EXTENSIONS=1,
    or a platform without wheels)."""
    monkeypatch.setattr(
        aiohttp.http_writer, "_serialize_headers", aiohttp.http_writer._py_serialize_headers
    )


@pytest.mark.usefixtures("pure_python_writer")
@pytest.mark.parametrize("value", ["\udcff\udcfe", "a\r\nX-Evil: 1"], ids=["not-utf-8", "crlf"])
async def test_a_header_that_cannot_be_sent_is_a_transport_error_without_the_token(
    value: str,
) -> None:
    async def add_header(
        request: aiohttp.ClientRequest, handler: ClientHandlerType
    ) -> aiohttp.ClientResponse:
        request.headers["X-Trace"] = value  # e.g. a borrowed session's own middleware
        return await handler(request)

    async with (
        serve_raw(echo_answer("[]")) as base_url,
        aiohttp.ClientSession(middlewares=(add_header,)) as session,
        InvoiceClient(TOKEN, base_url=base_url, session=session, max_retries=0) as client,
    ):
        with pytest.raises(errors.TransportError) as info:
            await client.invoice(1)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    assert TOKEN not in frames_text(info.value)


def list_answer(page_token: bytes) -> Respond:
    """One list item, with this PAGE-TOKEN header (raw bytes); then nothing."""
    item = orjson.dumps([LIST_ITEM])

    def respond(head: bytes) -> bytes:
        more = not header_of(head, b"PAGE-TOKEN")
        body = item if more else b"[]"
        return (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\n"
            + (b"PAGE-TOKEN: " + page_token + b"\r\n" if more else b"")
            + b"Content-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )

    return respond


@pytest.mark.usefixtures("pure_python_writer")
@pytest.mark.parametrize(
    "page_token",
    [b"\xff\xfe", b"t" * 1025, b"two words", b"t\x01"],
    ids=["not-utf-8", "over-1-KiB", "a-space", "control"],
)
async def test_a_page_token_that_is_not_visible_ascii_is_refused_before_it_is_sent(
    page_token: bytes,
) -> None:
    requests: list[bytes] = []

    def respond(head: bytes) -> bytes:
        requests.append(header_of(head, b"PAGE-TOKEN"))
        return list_answer(page_token)(head)

    async with (
        serve_raw(respond) as base_url,
        InvoiceClient(TOKEN, base_url=base_url, read_ahead=1, max_retries=0) as client,
    ):
        with pytest.raises(errors.InvalidResponseError, match="PAGE-TOKEN") as info:
            [invoice async for invoice in client.invoices()]
    assert len(requests) == 1  # nothing was sent back
    assert TOKEN not in frames_text(info.value)


async def test_a_valid_page_token_is_followed() -> None:
    async with (
        serve_raw(list_answer(b"next~1")) as base_url,
        InvoiceClient(TOKEN, base_url=base_url, read_ahead=1) as client,
    ):
        listed = [invoice.id async for invoice in client.invoices()]
    assert listed == [123]


async def test_a_page_token_is_taken_off_a_redirect_to_another_origin() -> None:
    seen: list[dict[str, str]] = []

    async def other(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.headers))
        return web.json_response([])

    storage = web.Application()
    storage.router.add_get("/elsewhere", other)
    async with serve(storage) as storage_url:

        async def listing(request: web.Request) -> web.StreamResponse:
            if "PAGE-TOKEN" in request.headers:
                raise web.HTTPFound(f"{storage_url}/elsewhere")
            return web.json_response([LIST_ITEM], headers={"PAGE-TOKEN": "api-page-2"})

        api = web.Application()
        api.router.add_get("/v3/account/invoice", listing)
        async with (
            serve(api) as base_url,
            InvoiceClient(TOKEN, base_url=base_url, read_ahead=1) as client,
        ):
            listed = [invoice.id async for invoice in client.invoices()]
    assert listed == [123]
    assert len(seen) == 1
    assert "PAGE-TOKEN" not in seen[0]
    assert "PRIVATE-TOKEN" not in seen[0]


# --- from an echo to the CLI's output and files ---------------------------------------------------


@contextlib.asynccontextmanager
async def echoing_api() -> AsyncIterator[str]:
    """An API of 3 invoices whose detail of invoice 1 echoes the token in a field, and whose
    PDF of invoice 2 echoes it in its content type."""
    invoices = make_invoices(3)
    items = [
        {**LIST_ITEM, "id": str(inv.id), "invoiceNumber": inv.invoice_number} for inv in invoices
    ]

    async def listing(request: web.Request) -> web.StreamResponse:
        window = parse_ranged_data(request.headers.get("RANGED-DATA", "")) or (0, 25)
        return web.json_response(items[window[0] : window[0] + window[1]])

    async def detail(request: web.Request) -> web.StreamResponse:
        sent = request.headers["PRIVATE-TOKEN"]
        number = int(request.match_info["id"])
        echo = {"paymentTerm": f"{sent}"} if number == 1 else {}
        return web.json_response([{**DETAIL, "id": number, **echo}])

    async def pdf(request: web.Request) -> web.StreamResponse:
        sent = request.headers["PRIVATE-TOKEN"]
        kind = f"text/plain; echo={sent}" if request.match_info["id"] == "2" else "application/pdf"
        return web.Response(body=b"%PDF-1.4\n%%EOF\n", headers={"Content-Type": kind})

    app = web.Application()
    app.router.add_get("/v3/account/invoice", listing)
    app.router.add_get("/v3/account/invoice/{id:[0-9]+}", detail)
    app.router.add_get("/v3/account/invoice/{id:[0-9]+}/pdf", pdf)
    async with serve(app) as base_url:
        yield base_url


async def test_an_echoed_token_reaches_no_output_and_no_file_of_the_export(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "I3D_API_TOKEN": TOKEN}
    async with echoing_api() as base_url:
        process = await asyncio.create_subprocess_exec(
            *(ENTRY_POINT, "export", str(out), "--details", "--pdfs", "--debug", "-v"),
            *("--base-url", base_url, "--no-progress"),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(60):
            stdout, stderr = await process.communicate()
    assert process.returncode == 3, stderr.decode()  # two invoices failed, as the API meant
    assert b"failed: detail of invoice 1" in stderr
    assert b"failed: pdf of invoice 2" in stderr
    assert b"<redacted>" in stderr
    files = b"".join(path.read_bytes() for path in out.rglob("*") if path.is_file())
    assert b"<redacted>" in files  # the manifest and the store record the failures
    for text in (stdout, stderr, files):
        assert TOKEN.encode() not in text
