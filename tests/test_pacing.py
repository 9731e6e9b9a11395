"""The adaptive pacer wired into the client: what a 429, rate-limit headers, a fixed ceiling
and ``adaptive=False`` do to the starts of the next requests. On a fake clock, over HTTP
faked by aioresponses (the pacer's own rules are in test_pacer.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aioresponses import aioresponses

from invoice_async import InvoiceClient, errors
from invoice_async.testing import FakeClock, FakeI3DServer, RateLimit, use_fake_clock
from tests._samples import DETAIL

URL = "https://api.i3d.net/v3/account/invoice/1"
ERROR = {"errorCode": 1, "errorMessage": "slow down"}


@pytest.fixture
def http() -> Iterator[aioresponses]:
    with aioresponses() as mocked:
        yield mocked


async def test_the_client_is_unpaced_until_the_api_throttles_it(http: aioresponses) -> None:
    clock = FakeClock()
    http.get(URL, payload=[DETAIL], repeat=True)
    async with InvoiceClient("tok") as client:
        use_fake_clock(client, clock)
        for _ in range(20):
            await client.invoice(1)
        assert client.stats.rate is None
    assert clock.sleeps == []


async def test_after_a_429_the_next_requests_are_spaced_at_a_learned_rate(
    http: aioresponses,
) -> None:
    clock = FakeClock()
    http.get(URL, payload=[DETAIL])
    http.get(URL, status=429, payload=ERROR, headers={"Retry-After": "1"})
    http.get(URL, payload=[DETAIL], repeat=True)
    async with InvoiceClient("tok") as client:
        use_fake_clock(client, clock)
        for _ in range(6):
            await client.invoice(1)
        rate = client.stats.rate
    assert rate is not None
    assert rate > 0
    assert clock.sleeps[0] == pytest.approx(1.0)  # the Retry-After
    spaced = clock.sleeps[1:]
    assert spaced  # later starts wait their turn instead of bursting
    assert all(wait > 0 for wait in spaced)


async def test_rate_limit_headers_hold_starts_until_the_reset_before_any_429(
    http: aioresponses,
) -> None:
    clock = FakeClock()
    spent = {"RateLimit-Limit": "10", "RateLimit-Remaining": "0", "RateLimit-Reset": "3"}
    http.get(URL, payload=[DETAIL], headers=spent)
    http.get(URL, payload=[DETAIL], repeat=True)
    async with InvoiceClient("tok") as client:
        use_fake_clock(client, clock)
        await client.invoice(1)
        await client.invoice(1)
        assert client.stats.rate_limited == 0
    assert clock.sleeps == [pytest.approx(3.0)]


async def test_adaptive_false_keeps_only_the_retry_after_and_the_ceiling(
    http: aioresponses,
) -> None:
    clock = FakeClock()
    http.get(URL, status=429, payload=ERROR, headers={"Retry-After": "1"})
    http.get(URL, payload=[DETAIL], repeat=True)
    async with InvoiceClient("tok", adaptive=False) as client:
        use_fake_clock(client, clock)
        for _ in range(5):
            await client.invoice(1)
        assert client.stats.rate is None
    assert clock.sleeps == [pytest.approx(1.0)]  # the pause, and no pacing after it


async def test_max_per_second_is_a_ceiling_the_stats_report(http: aioresponses) -> None:
    clock = FakeClock()
    http.get(URL, payload=[DETAIL], repeat=True)
    async with InvoiceClient("tok", max_per_second=10, adaptive=False) as client:
        use_fake_clock(client, clock)
        for _ in range(4):
            await client.invoice(1)
        assert client.stats.rate == 10
    assert clock.sleeps == [pytest.approx(0.1)] * 3


@pytest.mark.parametrize("adaptive", ["yes", 1, None])
def test_adaptive_must_be_a_bool(adaptive: object) -> None:
    with pytest.raises(errors.ConfigurationError, match="adaptive"):
        InvoiceClient("tok", adaptive=adaptive)  # type: ignore[arg-type]  # the point


async def test_a_rate_limited_fake_server_sees_no_request_inside_a_retry_after() -> None:
    clock = FakeClock()
    server = FakeI3DServer(count=40, clock=clock, rate_limit=RateLimit(20, burst=5))
    async with server as base_url, InvoiceClient(server.token, base_url=base_url) as client:
        use_fake_clock(client, clock)
        details = [d async for d in client.invoice_details(range(1, 41))]
        stats = client.stats
    assert sorted(d.id for d in details) == list(range(1, 41))
    assert server.rate_limited == stats.rate_limited
    assert server.rate_limited >= 1  # the first burst meets the limit
    assert server.ignored_retry_after == 0
    assert stats.rate is not None
