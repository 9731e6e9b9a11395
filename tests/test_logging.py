"""Quiet by default: one logger with a NullHandler, one INFO line per retry or pause, nothing
at WARNING; a program that configures no logging sees nothing at all."""

from __future__ import annotations

import asyncio
import logging
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import ClientConnectionError
from aioresponses import aioresponses

from invoice_async import InvoiceClient, errors
from invoice_async._logging import forget_token, logger, redact, remember_token
from invoice_async.testing import FakeClock, instant_retries, use_fake_clock
from tests._samples import DETAIL

URL = "https://api.i3d.net/v3/account/invoice/1"
ERROR = {"errorCode": 1, "errorMessage": "oops"}


@pytest.fixture
async def client(clock: FakeClock) -> AsyncIterator[InvoiceClient]:
    async with InvoiceClient("tok", max_retries=2) as client:
        use_fake_clock(client, clock)
        yield client


def ours(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "invoice_async" and r.levelno == level
    ]


def test_redact_removes_a_live_token_also_escaped_in_a_repr_or_percent_encoded() -> None:
    token = "tok'en\\with/odd+chars"
    remember_token(token)
    try:
        echoes = [token, repr(token), repr(token.encode()), quote(token, safe=""), quote(token)]
        assert all(token not in redact(text) for text in echoes)
        assert all("<redacted>" in redact(f"got {text}!") for text in echoes)
        assert "en\\\\with" not in redact(repr(token))  # the repr's escaped backslash too
    finally:
        forget_token(token)
    assert redact(repr(token)) == repr(token)  # no client uses it any more


def test_the_package_logger_is_invoice_async_with_a_null_handler() -> None:
    assert logger.name == "invoice_async"
    assert any(isinstance(handler, logging.NullHandler) for handler in logger.handlers)
    assert not [h for h in logger.handlers if not isinstance(h, logging.NullHandler)]


async def test_a_retry_logs_one_info_line_with_the_attempt_and_the_wait(
    http: aioresponses, client: InvoiceClient, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="invoice_async")
    http.get(URL, status=503, payload=ERROR)
    http.get(URL, payload=[DETAIL])
    with instant_retries(False):  # a real backoff value, waited on the fake clock
        await client.invoice(1)
    [wait] = clock.sleeps
    assert ours(caplog, logging.INFO) == [
        f"GET /v3/account/invoice/1: HTTP 503 (errorCode 1): oops; retry 1 of 2 in {wait:.3g}s"
    ]


async def test_a_retry_after_logs_one_info_line_and_pauses(
    http: aioresponses, client: InvoiceClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="invoice_async")
    http.get(URL, status=429, payload=ERROR, headers={"Retry-After": "2"})
    http.get(URL, payload=[DETAIL])
    await client.invoice(1)
    assert ours(caplog, logging.INFO) == [
        "GET /v3/account/invoice/1: HTTP 429 (errorCode 1): oops; the API asked to wait 2s: "
        "pausing every request of the client; retry 1 of 2 after the pause"
    ]


async def test_a_capped_retry_after_says_what_was_asked_and_what_is_waited(
    http: aioresponses, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="invoice_async")
    http.get(URL, status=503, payload=ERROR, headers={"Retry-After": "3600"})
    http.get(URL, payload=[DETAIL])
    async with InvoiceClient("tok", max_retry_after=5.0) as client:
        use_fake_clock(client, clock)
        await client.invoice(1)
    [line] = ours(caplog, logging.INFO)
    assert "asked to wait 3600s (cut to 5s by max_retry_after)" in line


async def test_no_retry_line_after_the_last_attempt(
    http: aioresponses, client: InvoiceClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="invoice_async")
    http.get(URL, status=500, payload=ERROR, repeat=True)
    with pytest.raises(errors.ServerError):
        await client.invoice(1)
    info = ours(caplog, logging.INFO)
    assert [line.rsplit(";", 1)[1].split(" in ")[0] for line in info] == [
        " retry 1 of 2",
        " retry 2 of 2",
    ]


async def test_a_retry_after_on_the_last_attempt_logs_the_pause_without_a_retry(
    http: aioresponses, client: InvoiceClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="invoice_async")
    http.get(URL, status=429, payload=ERROR, headers={"Retry-After": "4"})
    with pytest.raises(errors.RateLimitError):
        await client.invoice(1, max_retries=0)
    [line] = ours(caplog, logging.INFO)
    assert line.endswith("the API asked to wait 4s: pausing every request of the client")


async def test_a_retried_then_successful_call_logs_nothing_at_warning_or_above(
    http: aioresponses, client: InvoiceClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger
    http.get(URL, status=429, payload=ERROR, headers={"Retry-After": "1"})
    http.get(URL, exception=ClientConnectionError("reset by peer"))
    http.get(URL, status=503, payload=ERROR)
    http.get(URL, status=500, payload=ERROR)
    http.get(URL, payload=[DETAIL])
    await client.invoice(1, max_retries=4)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert len(ours(caplog, logging.INFO)) == 4  # one line per retry
    assert len(ours(caplog, logging.DEBUG)) >= 5  # each request and how it ended


QUIET_PROGRAM = """
import asyncio

from invoice_async import InvoiceClient
from invoice_async.testing import FakeI3DServer


async def main() -> None:
    server = FakeI3DServer(count=3, retry_after=0.01)
    server.fail_next("500")  # the first backoff, real: 0.5 s to 1.5 s
    server.fail_next("429")  # each of these pauses the client for 0.01 s
    server.fail_next("503", count=2)
    async with server as base_url, InvoiceClient(
        server.token, base_url=base_url, max_retries=4
    ) as client:
        detail = await client.invoice(1)
        listed = [invoice async for invoice in client.invoices()]
    assert detail.id == 1, detail
    assert len(listed) == 3, listed
    assert server.requests_per_path["detail"] == 5, server.requests_per_path
    assert client.stats.retries == 4, client.stats


asyncio.run(main())
"""


async def test_a_program_that_configures_no_logging_sees_nothing(tmp_path: Path) -> None:
    script = tmp_path / "quiet.py"
    script.write_text(textwrap.dedent(QUIET_PROGRAM), encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert (process.returncode, out.decode(), err.decode()) == (0, "", "")
