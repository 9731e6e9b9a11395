"""The fake server's rate limits (``rate_limit=RateLimit(...)``), over real HTTP on 127.0.0.1.

The server runs on a FakeClock that only the tests move, so refills and windows are exact.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import attrs
import pytest
import pytest_asyncio

import invoice_async.testing
from invoice_async.testing import ERROR_CODES, FakeClock, FakeI3DServer, RateLimit

AUTH = {"PRIVATE-TOKEN": "test-token"}
LIST = "/v3/account/invoice"
RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session."""
    async with aiohttp.ClientSession() as client:
        yield client


async def get(
    session: aiohttp.ClientSession, url: str, headers: Mapping[str, str] = AUTH
) -> tuple[int, Mapping[str, str], Any]:
    """GET ``url``; return the status, the headers and the decoded JSON body."""
    async with session.get(url, headers=dict(headers)) as resp:
        return resp.status, resp.headers, json.loads(await resp.read())


async def statuses(session: aiohttp.ClientSession, url: str, n: int) -> list[int]:
    """The statuses of ``n`` requests sent one after the other."""
    return [(await get(session, url))[0] for _ in range(n)]


def limits(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The three RateLimit-* header values of an answer."""
    return tuple(headers[name] for name in RATE_HEADERS)


async def test_bucket_refuses_once_the_burst_is_spent_and_refills_at_its_rate(
    session: aiohttp.ClientSession,
) -> None:
    clock = FakeClock()
    server = FakeI3DServer(clock=clock, rate_limit=RateLimit(2, burst=3))
    async with server as url:
        assert await statuses(session, url + LIST, 4) == [200, 200, 200, 429]
        clock.advance(0.5)  # one token back
        assert await statuses(session, url + LIST, 2) == [200, 429]
        clock.advance(60)  # full again, but never above the burst
        assert await statuses(session, url + LIST, 4) == [200, 200, 200, 429]
    assert server.rate_limited == 3


async def test_a_refusal_is_a_429_error_object_with_the_retry_after(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(clock=FakeClock(), rate_limit=RateLimit(1, retry_after=0.5))
    async with server as url:
        await get(session, url + LIST)
        status, headers, body = await get(session, url + LIST)
    assert status == 429
    assert headers["Retry-After"] == "0.5"
    assert body["errorCode"] == ERROR_CODES[429]
    assert set(body) == {"errorCode", "errorMessage", "errors"}
    assert not any(name in headers for name in RATE_HEADERS)  # headers=False sends none
    assert [r.status for r in server.log] == [200, 429]


async def test_burst_defaults_to_the_rate(session: aiohttp.ClientSession) -> None:
    server = FakeI3DServer(clock=FakeClock(), rate_limit=RateLimit(4))
    async with server as url:
        assert await statuses(session, url + LIST, 5) == [200] * 4 + [429]


async def test_requests_inside_the_retry_after_are_still_judged_by_the_bucket(
    session: aiohttp.ClientSession,
) -> None:
    clock = FakeClock()
    server = FakeI3DServer(clock=clock, rate_limit=RateLimit(4, burst=1, retry_after=5))
    async with server as url:
        assert await statuses(session, url + LIST, 2) == [200, 429]
        clock.advance(0.25)  # one token back, long before the Retry-After's 5 s
        assert await statuses(session, url + LIST, 2) == [200, 429]


async def test_fixed_window_allows_rate_requests_per_window(
    session: aiohttp.ClientSession,
) -> None:
    clock = FakeClock()
    server = FakeI3DServer(clock=clock, rate_limit=RateLimit(3, burst=50, window=10))
    async with server as url:
        assert await statuses(session, url + LIST, 4) == [200, 200, 200, 429]
        clock.advance(9.75)  # no refill inside a window
        assert await statuses(session, url + LIST, 1) == [429]
        clock.advance(0.25)  # the window closed; the next request opens a new one
        assert await statuses(session, url + LIST, 4) == [200, 200, 200, 429]
        clock.advance(3)
        assert await statuses(session, url + LIST, 1) == [429]
    assert server.rate_limited == 4


async def test_window_headers_give_its_quota_what_is_left_and_seconds_to_its_end(
    session: aiohttp.ClientSession,
) -> None:
    clock = FakeClock()
    server = FakeI3DServer(clock=clock, rate_limit=RateLimit(3, window=10, headers=True))
    async with server as url:
        first = limits((await get(session, url + LIST))[1])
        clock.advance(2.5)
        second = limits((await get(session, url + LIST))[1])
        await get(session, url + LIST)
        status, headers, _ = await get(session, url + LIST)
    assert first == ("3", "2", "10")
    assert second == ("3", "1", "8")  # 7.5 s left, rounded up
    assert status == 429
    assert limits(headers) == ("3", "0", "8")


async def test_bucket_headers_give_its_burst_whole_tokens_and_seconds_until_full(
    session: aiohttp.ClientSession,
) -> None:
    clock = FakeClock()
    server = FakeI3DServer(clock=clock, rate_limit=RateLimit(2, burst=4, headers=True))
    async with server as url:
        seen = [limits((await get(session, url + LIST))[1]) for _ in range(3)]
        clock.advance(0.25)  # half a token back: 1.5 tokens, full in 1.25 s
        seen.append(limits((await get(session, url + LIST))[1]))
        clock.advance(60)
        seen.append(limits((await get(session, url + LIST))[1]))
    assert seen == [
        ("4", "3", "1"),  # 1 token missing: full in 0.5 s, rounded up
        ("4", "2", "1"),
        ("4", "1", "2"),  # 3 missing: 1.5 s
        ("4", "0", "2"),  # 0.5 token left after this one: 1.75 s
        ("4", "3", "1"),
    ]


async def test_rate_limit_headers_are_on_every_answer_even_errors(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(clock=FakeClock(), rate_limit=RateLimit(10, headers=True))
    async with server as url:
        unknown = await get(session, url + "/v3/nothing")
        unauthorized = await get(session, url + LIST, headers={"PRIVATE-TOKEN": "wrong"})
        server.fail_next("503")
        fault = await get(session, url + LIST)
    assert [answer[0] for answer in (unknown, unauthorized, fault)] == [404, 401, 503]
    assert [limits(answer[1])[1] for answer in (unknown, unauthorized, fault)] == ["9", "8", "7"]


async def test_the_limit_refuses_before_the_list_hook_and_the_token_check(
    session: aiohttp.ClientSession,
) -> None:
    hooked: list[int] = []
    server = FakeI3DServer(
        clock=FakeClock(),
        rate_limit=RateLimit(1),
        on_list_request=lambda _server, k: hooked.append(k),
    )
    async with server as url:
        await get(session, url + LIST)
        status, _, _ = await get(session, url + LIST, headers={"PRIVATE-TOKEN": "wrong"})
    assert status == 429  # not 401: the limit sits in front
    assert hooked == [1]
    assert server.list_requests == 1
    assert server.requests_per_path["list"] == 2


async def test_rate_limited_and_ignored_retry_after_are_counted_and_reset(
    session: aiohttp.ClientSession,
) -> None:
    clock = FakeClock()
    server = FakeI3DServer(clock=clock, rate_limit=RateLimit(0.5, burst=1, retry_after=2))
    async with server as url:
        assert await statuses(session, url + LIST, 2) == [200, 429]  # the 429 is sent at t0
        clock.advance(0.04)  # within 50 ms of it: the client could not know yet
        assert await statuses(session, url + LIST, 1) == [429]
        assert server.ignored_retry_after == 0
        clock.advance(0.06)  # 100 ms after the first 429: this client knew
        assert await statuses(session, url + LIST, 1) == [429]
        clock.advance(1.85)  # t0 + 1.95 s: still inside its Retry-After
        assert await statuses(session, url + LIST, 1) == [429]
        assert (server.rate_limited, server.ignored_retry_after) == (4, 2)
        clock.advance(2.1)  # past every Retry-After sent, and a token back
        assert await statuses(session, url + LIST, 1) == [200]
    assert (server.rate_limited, server.ignored_retry_after) == (4, 2)
    assert server.early_requests == 0  # that counter is the faults' (retry_after=)
    server.reset_stats()
    assert server.rate_limited == server.ignored_retry_after == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 0},
        {"rate": float("inf")},
        {"rate": 1, "burst": 0},
        {"rate": 1, "retry_after": -1},
        {"rate": 1, "window": 0},
    ],
)
def test_rate_limit_refuses_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs.keys() - {"rate"}), "rate")):
        RateLimit(**kwargs)


def test_rate_limit_is_a_frozen_config_exported_from_testing() -> None:
    limit = RateLimit(100, burst=10)
    assert "RateLimit" in invoice_async.testing.__all__
    assert (limit.retry_after, limit.headers, limit.window) == (1, False, None)
    assert RateLimit(2.5).capacity == 2
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        limit.rate = 5  # type: ignore[misc]
