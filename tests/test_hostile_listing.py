"""Listings against servers that misbehave, through the real HTTP stack: each ends or raises
PagingError within the request bound, and no invoice is yielded twice."""

from __future__ import annotations

from typing import Any

import pytest

from invoice_async import InvoiceClient, errors
from invoice_async.testing import FakeI3DServer, RequestRecord

READ_AHEAD = 4  # the client's default
STORM = 300  # list requests after which the server fails every request: a storm fails the test


def refuse_a_storm(server: FakeI3DServer, route: str) -> None:
    if server.requests_per_path["list"] > STORM:
        raise RuntimeError("request storm")  # aiohttp answers 500: the listing fails


def productive(log: list[RequestRecord]) -> int:
    """List answers holding an id that no earlier answer held, in the order they finished."""
    held: set[int] = set()
    count = 0
    for record in log:
        if record.route in ("list", "unpaid") and record.status == 200 and record.fault is None:
            count += bool(set(record.ids) - held)
            held |= set(record.ids)
    return count


async def listing(**server_keywords: Any) -> tuple[FakeI3DServer, list[int], Exception | None]:
    server = FakeI3DServer(on_request=refuse_a_storm, **server_keywords)
    found: list[int] = []
    failure = None
    async with server as base_url, InvoiceClient(server.token, base_url=base_url) as client:
        assert client._settings.read_ahead == READ_AHEAD
        try:
            async for invoice in client.invoices():
                found.append(invoice.id)
        except errors.PagingError as error:
            failure = error
    return server, found, failure


def within_the_bound(server: FakeI3DServer) -> bool:
    return server.list_requests <= 2 * productive(server.log) + 2 * READ_AHEAD + 10


async def test_a_server_ignoring_ranged_data_raises_after_a_few_requests() -> None:
    server, found, failure = await listing(count=300, ignore_ranged_data=True)
    assert isinstance(failure, errors.PagingError)
    # Its 25 items are fewer than asked (100), so the pager cannot tell a cap from a short
    # list: the idle limit (2 x read_ahead + 10 answers with nothing new) stops it.
    assert "without a new invoice" in str(failure)
    assert "it may be ignoring RANGED-DATA" in str(failure)
    assert found == [inv.id for inv in server.invoices[:25]]
    assert within_the_bound(server)


async def test_a_server_stuck_on_an_offset_raises_after_a_few_requests() -> None:
    server, found, failure = await listing(count=1000, stuck_at_offset=300)
    assert isinstance(failure, errors.PagingError)
    assert "the same items for start=" in str(failure)
    assert found == [inv.id for inv in server.invoices[:400]]  # up to the window at 300
    assert within_the_bound(server)
    assert server.list_requests <= 20


async def test_a_window_holding_an_id_twice_yields_it_once_and_the_listing_ends() -> None:
    server, found, failure = await listing(count=250, duplicate_ids=True)
    assert failure is None
    assert found == [inv.id for inv in server.invoices]
    assert within_the_bound(server)


async def test_fresh_page_tokens_with_the_same_item_raise_after_a_few_requests() -> None:
    server, found, failure = await listing(count=50, page_token_loop=True)
    assert isinstance(failure, errors.PagingError)
    assert "PAGE-TOKEN pages in a row; it may be handing out tokens in a loop" in str(failure)
    assert found == [inv.id for inv in server.invoices]  # the first page held all 50
    assert within_the_bound(server)
    # the windows asked ahead before the first answer showed a token, then three token pages
    assert server.list_requests <= 2 * READ_AHEAD + 3


@pytest.mark.parametrize("count", [0, 1, 37])
async def test_a_server_capping_every_window_at_one_item_is_read_whole(count: int) -> None:
    server, found, failure = await listing(count=count, page_cap=1)
    assert failure is None
    assert found == [inv.id for inv in server.invoices]
    assert within_the_bound(server)


async def test_an_honest_server_is_read_with_one_request_per_window_and_a_few_more() -> None:
    server, found, failure = await listing(count=1000)
    assert failure is None
    assert found == [inv.id for inv in server.invoices]
    # 11 windows of 99 new items each, the end's two, and what was asked ahead past the end
    assert productive(server.log) == 11
    assert server.list_requests <= 11 + 2 + 2 * READ_AHEAD - 1
