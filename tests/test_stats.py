"""client.stats: requests, retries, 429s and pauses, counted where they happen."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest
from aioresponses import aioresponses

from invoice_async import ClientStats, InvoiceClient, errors
from invoice_async._timekeeper import Timekeeper
from invoice_async.testing import FakeClock, FakeI3DServer, use_fake_clock
from tests._samples import DETAIL

URL = "https://api.i3d.net/v3/account/invoice/1"
ERROR = {"errorCode": 1, "errorMessage": "oops"}


@pytest.fixture
def http() -> Iterator[aioresponses]:
    with aioresponses() as mocked:
        yield mocked


async def test_a_new_client_has_zero_stats_and_a_frozen_snapshot() -> None:
    async with InvoiceClient("tok") as client:
        stats = client.stats
    assert stats == ClientStats()
    assert (stats.requests, stats.retries, stats.rate_limited, stats.pauses) == (0, 0, 0, 0)
    assert stats.paused_seconds == 0.0
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.requests = 1  # type: ignore[misc]


async def test_two_503s_with_retry_after_then_success() -> None:
    clock = FakeClock()
    server = FakeI3DServer(count=3, clock=clock, retry_after=1.0)
    server.fail_next("503", count=2)
    async with server as base_url, InvoiceClient(server.token, base_url=base_url) as client:
        use_fake_clock(client, clock)
        before = client.stats
        await client.invoice(1)
        after = client.stats
    assert before == ClientStats()
    assert attrs.evolve(after, rate=None) == ClientStats(
        requests=3, retries=2, rate_limited=0, pauses=2, paused_seconds=2.0
    )
    assert after.rate is not None  # a 503 with Retry-After paces the client
    assert after.rate > 0
    assert server.requests_per_path["detail"] == 3
    assert server.early_requests == 0


async def test_429s_are_counted_with_and_without_retry_after(http: aioresponses) -> None:
    clock = FakeClock()
    http.get(URL, status=429, payload=ERROR)  # no Retry-After: a backoff, no pause
    http.get(URL, status=429, payload=ERROR, headers={"Retry-After": "5"})
    http.get(URL, status=500, payload=ERROR)
    http.get(URL, payload=[DETAIL])
    async with InvoiceClient("tok") as client:
        use_fake_clock(client, clock)
        await client.invoice(1)
    assert attrs.evolve(client.stats, rate=None) == ClientStats(
        requests=4, retries=3, rate_limited=2, pauses=1, paused_seconds=5.0
    )
    assert client.stats.rate is not None  # the 429s taught the pacer a rate


async def test_a_request_stopped_by_the_deadline_is_not_counted(http: aioresponses) -> None:
    clock = FakeClock()
    http.get(URL, payload=[DETAIL], repeat=True)
    async with InvoiceClient("tok", deadline=10.0) as client:
        use_fake_clock(client, clock)
        await client.invoice(1)
        clock.advance(10.0)
        with pytest.raises(errors.DeadlineExceededError):
            await client.invoice(1)
    assert client.stats.requests == 1


async def test_paused_seconds_is_the_union_of_overlapping_pauses() -> None:
    clock = FakeClock(start=0.0)
    throttle = Timekeeper(clock=clock, sleep=clock.sleep)
    throttle.pause_until(clock() + 2.0)  # [0, 2]
    clock.advance(1.0)
    throttle.pause_until(clock() + 2.0)  # [1, 3]: extends the pause by 1 s
    assert (throttle.pauses, throttle.paused_seconds) == (2, 3.0)
    throttle.pause_until(clock() + 0.5)  # [1, 1.5]: inside the current pause, adds nothing
    assert (throttle.pauses, throttle.paused_seconds) == (2, 3.0)
    clock.advance(4.0)
    throttle.pause_until(clock() + 1.0)  # [5, 6]: after the last one ended, adds all of it
    assert (throttle.pauses, throttle.paused_seconds) == (3, 4.0)


def test_client_stats_fields_are_keyword_only_with_defaults() -> None:
    # A later field (the pacer's rate) can be added without breaking any caller.
    assert all(
        field.kw_only and field.default is not attrs.NOTHING for field in attrs.fields(ClientStats)
    )
