"""Each retry rule, without real sleeping: ``instant_retries()`` (conftest) zeroes the
backoff, and a FakeClock stands in for the time of Retry-After pauses and deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientConnectionError
from aioresponses import aioresponses

from invoice_async import InvoiceClient, errors
from invoice_async._retry import RETRY_STATUSES, is_retryable, pause_of
from invoice_async._timekeeper import Timekeeper
from invoice_async.testing import (
    FakeClock,
    FakeI3DServer,
    instant_retries,
    make_pdf,
    use_fake_clock,
)
from tests._samples import DETAIL

BASE = "https://api.i3d.net"
URL = f"{BASE}/v3/account/invoice/1"
ERROR = {"errorCode": 1, "errorMessage": "oops"}


@pytest.fixture
async def client(clock: FakeClock) -> AsyncIterator[InvoiceClient]:
    async with InvoiceClient("tok", max_retries=2) as client:
        use_fake_clock(client, clock)
        yield client


def calls(http: aioresponses) -> int:
    return sum(len(c) for c in http.requests.values())


def api_error(status: int, retry_after: float | None = None) -> errors.ApiError:
    return errors.ApiError(status, retry_after=retry_after)


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        *[(api_error(status), True) for status in (408, 429, 500, 502, 503, 504)],
        *[(api_error(status), False) for status in (400, 401, 403, 404, 409, 410, 422, 501)],
        (errors.TransportError("reset"), True),
        (errors.RequestTimeoutError("slow"), True),
        (errors.InvalidResponseError("bad json"), False),
        (errors.ConfigurationError("bad id"), False),
        (errors.DeadlineExceededError("late"), False),
        (ValueError("a bug"), False),
    ],
)
def test_which_failures_are_retried(error: Exception, retry: bool) -> None:
    assert is_retryable(error) is retry


def test_retry_statuses_are_the_documented_ones() -> None:
    assert frozenset({408, 429, 500, 502, 503, 504}) == RETRY_STATUSES


@pytest.mark.parametrize(
    ("error", "pause"),
    [
        (api_error(429, 7.0), 7.0),
        (api_error(503, 2.5), 2.5),
        (api_error(429, 3600.0), 120.0),  # capped
        (api_error(500, 7.0), None),  # only 429 and 503 pause the client
        (api_error(429), None),  # no Retry-After: plain backoff
        (errors.TransportError("x"), None),
    ],
)
def test_pause_of_reads_retry_after_on_429_and_503_capped(
    error: Exception, pause: float | None
) -> None:
    assert pause_of(error, 120.0) == pause


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_a_retryable_status_is_tried_again_until_it_succeeds(
    http: aioresponses, client: InvoiceClient, status: int
) -> None:
    http.get(URL, status=status, payload=ERROR)
    http.get(URL, status=status, payload=ERROR)
    http.get(URL, payload=[DETAIL])
    assert (await client.invoice(1)).id == 123
    assert calls(http) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_other_4xx_are_never_retried(
    http: aioresponses, client: InvoiceClient, status: int
) -> None:
    http.get(URL, status=status, payload=ERROR, repeat=True)
    with pytest.raises(errors.ApiError):
        await client.invoice(1)
    assert calls(http) == 1


async def test_an_invalid_answer_is_not_retried(http: aioresponses, client: InvoiceClient) -> None:
    http.get(URL, body="{not json", repeat=True)
    with pytest.raises(errors.InvalidResponseError):
        await client.invoice(1)
    assert calls(http) == 1


async def test_a_connection_error_is_retried(http: aioresponses, client: InvoiceClient) -> None:
    http.get(URL, exception=ClientConnectionError("reset by peer"))
    http.get(URL, payload=[DETAIL])
    assert (await client.invoice(1)).id == 123
    assert calls(http) == 2


async def test_max_retries_caps_the_attempts_and_raises_the_last_error(
    http: aioresponses, client: InvoiceClient
) -> None:
    http.get(URL, status=500, payload=ERROR, repeat=True)
    with pytest.raises(errors.ServerError):
        await client.invoice(1)
    assert calls(http) == 3  # the first try and max_retries=2 more


async def test_the_last_error_is_raised_itself_chained_to_no_earlier_attempt(
    http: aioresponses, client: InvoiceClient
) -> None:
    http.get(URL, status=500, payload=ERROR)
    http.get(URL, exception=ClientConnectionError("reset by peer"))
    http.get(URL, status=503, payload=ERROR)
    with pytest.raises(errors.ServerError) as caught:
        await client.invoice(1)
    assert caught.value.status == 503
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


async def test_a_last_transport_error_is_chained_to_nothing(
    http: aioresponses, client: InvoiceClient
) -> None:
    http.get(URL, status=500, payload=ERROR)
    http.get(URL, status=503, payload=ERROR)
    http.get(URL, exception=ClientConnectionError("reset by peer"))
    with pytest.raises(errors.TransportError) as caught:
        await client.invoice(1)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None  # neither aiohttp's error nor an earlier attempt's


@pytest.mark.parametrize(("per_call", "expected"), [(0, 1), (4, 5)])
async def test_max_retries_per_call_overrides_the_client(
    http: aioresponses, client: InvoiceClient, per_call: int, expected: int
) -> None:
    http.get(URL, status=503, payload=ERROR, repeat=True)
    with pytest.raises(errors.ServerError):
        await client.invoice(1, max_retries=per_call)
    assert calls(http) == expected


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_waited_before_the_next_request(
    http: aioresponses, client: InvoiceClient, clock: FakeClock, status: int
) -> None:
    http.get(URL, status=status, payload=ERROR, headers={"Retry-After": "7"})
    http.get(URL, payload=[DETAIL])
    before = clock.now
    assert (await client.invoice(1)).id == 123
    assert clock.now - before >= 7.0
    assert calls(http) == 2


async def test_retry_after_is_capped_at_max_retry_after(
    http: aioresponses, clock: FakeClock
) -> None:
    http.get(URL, status=429, payload=ERROR, headers={"Retry-After": "3600"})
    http.get(URL, payload=[DETAIL])
    async with InvoiceClient("tok", max_retry_after=5.0) as client:
        use_fake_clock(client, clock)
        before = clock.now
        await client.invoice(1)
    assert 5.0 <= clock.now - before < 6.0


async def test_a_pause_that_would_cross_the_deadline_raises_at_once(
    http: aioresponses, clock: FakeClock
) -> None:
    http.get(URL, status=429, payload=ERROR, headers={"Retry-After": "30"})
    http.get(URL, payload=[DETAIL])
    async with InvoiceClient("tok", deadline=10.0) as client:
        use_fake_clock(client, clock)
        with pytest.raises(errors.DeadlineExceededError):
            await client.invoice(1)
    assert calls(http) == 1
    assert clock.sleeps == []  # it did not wait for a pause it could not finish


async def test_no_request_starts_after_the_deadline(http: aioresponses, clock: FakeClock) -> None:
    http.get(URL, payload=[DETAIL], repeat=True)
    async with InvoiceClient("tok", deadline=10.0) as client:
        use_fake_clock(client, clock)
        await client.invoice(1)
        clock.advance(10.0)
        with pytest.raises(errors.DeadlineExceededError):
            await client.invoice(1)
    assert calls(http) == 1


@pytest.mark.parametrize("value", [0, -1.0, "10"])
def test_bad_deadline_is_a_configuration_error(value: Any) -> None:
    with pytest.raises(errors.ConfigurationError, match="deadline"):
        InvoiceClient("tok", deadline=value)


async def test_a_truncated_pdf_is_retried_and_written_whole(tmp_path: Path) -> None:
    server = FakeI3DServer(count=2, pdf_size=50_000)
    server.fail_next("truncated", endpoint="pdf")
    async with server as base_url, InvoiceClient(server.token, base_url=base_url) as client:
        path = await client.download_pdf(1, tmp_path)
    assert path.read_bytes() == make_pdf(1, 50_000)
    assert server.requests_per_path["pdf"] == 2
    assert list(tmp_path.iterdir()) == [path]


async def test_retry_after_pauses_every_worker_of_a_fanout() -> None:
    clock = FakeClock()
    server = FakeI3DServer(count=40, clock=clock, retry_after=5, latency=0.002)
    server.fail_next("429", endpoint="detail")
    async with server as base_url, InvoiceClient(server.token, base_url=base_url) as client:
        use_fake_clock(client, clock)
        details = [d async for d in client.invoice_details(range(1, 41), concurrency=5)]
    assert len(details) == 40
    assert server.early_requests == 0
    assert sum(clock.sleeps) >= 5.0


async def test_backoff_grows_and_runs_on_the_clients_clock(
    http: aioresponses, clock: FakeClock
) -> None:
    http.get(URL, status=500, payload=ERROR)
    http.get(URL, status=500, payload=ERROR)
    http.get(URL, payload=[DETAIL])
    with instant_retries(False):  # real backoff values, on the fake clock
        async with InvoiceClient("tok", max_retries=3) as client:
            use_fake_clock(client, clock)
            await client.invoice(1)
    first, second = clock.sleeps
    assert 0.5 <= first <= 1.5  # 0.5 s, plus up to 1 s of jitter
    assert 1.0 <= second <= 2.0  # doubled


async def test_a_backoff_that_would_cross_the_deadline_raises_at_once(
    http: aioresponses, clock: FakeClock
) -> None:
    http.get(URL, status=500, payload=ERROR, repeat=True)
    with instant_retries(False):
        async with InvoiceClient("tok", deadline=0.4) as client:
            use_fake_clock(client, clock)
            with pytest.raises(errors.DeadlineExceededError) as caught:
                await client.invoice(1)
    assert calls(http) == 1
    assert clock.sleeps == []
    assert caught.value.__context__ is None  # not chained to the 500 it would have retried


async def test_a_pause_holds_every_waiting_request_for_its_whole_length() -> None:
    now = 100.0
    slept: list[float] = []
    all_waiting = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 5:
            all_waiting.set()
        await asyncio.sleep(0)

    throttle = Timekeeper(clock=lambda: now, sleep=sleep)
    throttle.pause_until(105.0)

    async def release() -> None:
        nonlocal now
        await all_waiting.wait()
        now = 105.0  # the pause is over

    await asyncio.gather(*(throttle.wait() for _ in range(5)), release())
    assert slept == [5.0] * 5  # each of the five waited the whole pause, none went early
