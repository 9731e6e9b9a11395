"""The client over real HTTP on 127.0.0.1 against the embedded fake server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web

import invoice_async
from invoice_async import InvoiceClient, PaymentStatus, errors
from invoice_async.testing import FakeI3DServer, make_invoices, make_pdf
from tests._samples import start_of
from tests._servers import serve

TOKEN = "integration-token-8fJ2"

Start = Callable[..., Awaitable[tuple[FakeI3DServer, InvoiceClient]]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Start a fake server with the given keywords and a client for it."""
    async with contextlib.AsyncExitStack() as stack:

        async def starter(
            client_kwargs: dict[str, Any] | None = None, **server_kwargs: Any
        ) -> tuple[FakeI3DServer, InvoiceClient]:
            server = FakeI3DServer(token=TOKEN, **server_kwargs)
            base_url = await stack.enter_async_context(server)
            client = InvoiceClient(TOKEN, base_url=base_url, **(client_kwargs or {}))
            await stack.enter_async_context(client)
            return server, client

        yield starter


async def test_full_listing_with_a_page_cap_below_page_size(start: Start) -> None:
    server, client = await start({"page_size": 100, "read_ahead": 1}, count=250, page_cap=40)
    ids = [inv.id async for inv in client.invoices()]
    assert ids == sorted((inv.id for inv in server.invoices), reverse=True)
    assert len(set(ids)) == 250
    # Windows of at most 40, each starting at the last item of the one before (the drift
    # guard's overlap): 7 hold new items, the one at the last item (249) holds nothing after
    # it, and the empty one at 250 ends the list.
    assert [r.ranged_data for r in server.log] == [
        f"start={start},results=100" for start in (0, 39, 78, 117, 156, 195, 234, 249, 250)
    ]


async def test_unpaid_with_a_filter_full_of_special_characters(start: Start) -> None:
    server, client = await start(count=400)
    expected = {inv.id for inv in server.invoices if inv.is_unpaid and "&" in inv.description}
    assert expected  # the seeded data has such descriptions
    found = [inv async for inv in client.unpaid_invoices(filter="&")]
    assert {inv.id for inv in found} == expected
    assert all(inv.payment_status is PaymentStatus.UNPAID and not inv.is_credit for inv in found)


@pytest.mark.parametrize("text", ["50% +/- Dédié", "a&b=c", "x y"])
async def test_filter_arrives_at_the_server_as_the_exact_text(start: Start, text: str) -> None:
    invoices = [
        attrs.evolve(inv, description=f"before {text} after" if inv.id % 2 else "other")
        for inv in make_invoices(20)
    ]
    server, client = await start(invoices=invoices)
    found = {inv.id async for inv in client.invoices(filter=text)}
    assert found == {inv.id for inv in invoices if inv.id % 2}
    assert server.log[0].query.startswith("filter=")


async def test_details_by_id_and_by_number_with_a_slash(start: Start) -> None:
    server, client = await start(count=30)
    fake = server.invoices[5]
    assert "/" in fake.invoice_number
    by_id = await client.invoice(fake.id)
    by_number = await client.invoice_by_number(fake.invoice_number)
    assert by_id == by_number
    assert (by_id.id, by_id.invoice_number, by_id.amount_inc_vat, by_id.vat_amount) == (
        fake.id,
        fake.invoice_number,
        fake.amount_inc_vat,
        fake.vat_amount,
    )
    assert by_id.creation_date.timestamp() == fake.creation_date
    assert server.requests_per_path["detail_by_number"] == 1


@pytest.mark.parametrize("date_style", ["iso", "unix"])
async def test_details_parse_both_date_styles(start: Start, date_style: str) -> None:
    server, client = await start(count=3, detail_date_style=date_style, wrap_detail=False)
    detail = await client.invoice(server.invoices[0].id)
    assert detail.due_date.timestamp() == server.invoices[0].due_date


async def test_pdf_in_memory_and_streamed_to_disk(start: Start, tmp_path: Path) -> None:
    server, client = await start(count=3, pdf_size=300_000)
    invoice_id = server.invoices[0].id
    assert await client.invoice_pdf(invoice_id) == make_pdf(invoice_id, 300_000)
    path = await client.download_pdf(invoice_id, tmp_path)
    assert path.read_bytes() == make_pdf(invoice_id, 300_000)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


async def test_bad_token_is_an_authentication_error(start: Start) -> None:
    server, _ = await start(count=3)
    async with InvoiceClient("wrong-token", base_url=server.base_url) as client:
        with pytest.raises(errors.AuthenticationError) as info:
            await client.invoice(1)
    assert info.value.status == 401
    assert info.value.error_code is not None


@pytest.mark.parametrize(
    ("server_kwargs", "invoice_id", "cls"),
    [
        ({"forbidden_ids": {2}}, 2, errors.PermissionDeniedError),
        ({}, 999_999, errors.NotFoundError),
        ({"malformed_json_ids": {2}}, 2, errors.InvalidResponseError),
    ],
)
async def test_detail_errors_map_to_their_class(
    start: Start, server_kwargs: dict[str, Any], invoice_id: int, cls: type[Exception]
) -> None:
    _, client = await start(count=3, **server_kwargs)
    with pytest.raises(cls):
        await client.invoice(invoice_id)


@pytest.mark.parametrize(
    ("fault", "cls"),
    [
        ("500", errors.ServerError),
        ("503", errors.ServerError),
        ("429", errors.RateLimitError),
        ("reset", errors.TransportError),
        ("truncated", errors.TransportError),
    ],
)
async def test_injected_faults_map_to_their_class(
    start: Start, tmp_path: Path, fault: str, cls: type[Exception]
) -> None:
    server, client = await start({"max_retries": 0}, count=3, retry_after=2)
    server.fail_next(fault, endpoint="pdf")  # type: ignore[arg-type]  # a FaultKind
    with pytest.raises(cls) as info:
        await client.download_pdf(1, tmp_path)
    if isinstance(info.value, errors.RateLimitError):
        assert info.value.retry_after == 2.0
    assert list(tmp_path.iterdir()) == []  # nothing partial left behind


async def test_a_body_that_is_not_a_pdf_writes_nothing(start: Start, tmp_path: Path) -> None:
    _, client = await start(count=3, non_pdf_ids={1})
    with pytest.raises(errors.InvalidResponseError, match="PDF"):
        await client.download_pdf(1, tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_connection_refused_is_a_transport_error(start: Start) -> None:
    server, _ = await start(count=1)
    base_url = server.base_url
    await server.stop()
    async with InvoiceClient(TOKEN, base_url=base_url, max_retries=0) as client:
        with pytest.raises(errors.TransportError):
            await client.invoice(1)


# --- the fan-out, measured at the server ------------------------------------------------------


async def test_details_fanout_keeps_at_most_concurrency_in_flight(start: Start) -> None:
    server, client = await start(count=300, latency=0.005)
    ids = [inv.id for inv in server.invoices]
    details = [d async for d in client.invoice_details(ids, concurrency=5)]
    assert sorted(d.id for d in details) == sorted(ids)
    assert server.max_in_flight == 5


async def test_pdf_fanout_keeps_at_most_concurrency_in_flight(start: Start, tmp_path: Path) -> None:
    server, client = await start(count=300, latency=0.005, pdf_size=2048)
    ids = [inv.id for inv in server.invoices]
    downloads = [d async for d in client.download_pdfs(ids, tmp_path, concurrency=5)]
    assert len({d.path for d in downloads}) == 300
    assert all(d.path.read_bytes() == make_pdf(d.invoice_id, 2048) for d in downloads)
    assert server.max_in_flight == 5


async def test_fanout_fed_by_a_paging_async_generator_stays_bounded(start: Start) -> None:
    server, client = await start({"page_size": 20}, count=300, latency=0.005)
    unpaid = {inv.id for inv in server.invoices if inv.is_unpaid}
    ids = (inv.id async for inv in client.unpaid_invoices())
    details = [d async for d in client.invoice_details(ids, concurrency=5)]
    assert {d.id for d in details} == unpaid
    # The pager's read-ahead (4 by default) and the 5 detail requests share the server.
    assert server.max_in_flight <= 4 + 5
    assert server.requests_per_path["detail"] == len(unpaid)


async def test_per_item_mode_goes_on_past_a_broken_invoice(start: Start, tmp_path: Path) -> None:
    _, client = await start(count=20, non_pdf_ids={4, 9})
    outcomes = [o async for o in client.download_pdfs(range(1, 21), tmp_path, on_error="yield")]
    assert sorted(o.item for o in outcomes if not o.ok) == [4, 9]
    assert len([o for o in outcomes if o.ok]) == 18
    assert len(list(tmp_path.iterdir())) == 18


async def test_cancelling_pdf_downloads_mid_body_leaves_no_files_and_no_tasks(
    tmp_path: Path,
) -> None:
    streaming = 0
    five_streaming = asyncio.Event()
    never = asyncio.Event()

    async def half_a_pdf(request: web.Request) -> web.StreamResponse:
        nonlocal streaming
        response = web.StreamResponse(headers={"Content-Type": "application/pdf"})
        response.content_length = 20_000
        await response.prepare(request)
        await response.write(b"%PDF-1.4\n" + b"x" * 9_000)  # half of it, then nothing
        streaming += 1
        if streaming == 5:
            five_streaming.set()
        await never.wait()
        return response

    app = web.Application()
    app.router.add_get("/v3/account/invoice/{id}/pdf", half_a_pdf)
    async with serve(app) as base_url:
        try:
            async with InvoiceClient(TOKEN, base_url=base_url) as client:
                downloads = client.download_pdfs(range(1, 51), tmp_path, concurrency=5)
                task = asyncio.create_task(anext(downloads))
                await five_streaming.wait()  # the server has sent half of five bodies
                for _ in range(10_000):  # loop turns (no clock) until the client writes them
                    if len(list(tmp_path.iterdir())) == 5:
                        break
                    await asyncio.sleep(0)
                assert len(list(tmp_path.iterdir())) == 5  # five temp files, half written
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert list(tmp_path.iterdir()) == []  # the temp files are gone
                assert client_tasks() == []
        finally:
            never.set()  # let the server's handlers end, so that the server can stop


def client_tasks() -> list[asyncio.Task[Any]]:
    """Tasks running code of the client (the fake server's own handler tasks excluded)."""
    package = Path(invoice_async.__file__).parent
    found = []
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        code = getattr(task.get_coro(), "cr_code", None)
        if code is None:
            continue
        filename = Path(code.co_filename)
        if filename.is_relative_to(package) and not filename.is_relative_to(package / "testing"):
            found.append(task)
    return found


async def test_skip_existing_does_not_fetch_again(start: Start, tmp_path: Path) -> None:
    server, client = await start(count=10)
    listed = [inv async for inv in client.invoices()]
    first = [d async for d in client.download_pdfs(listed, tmp_path)]
    assert not any(d.skipped for d in first)
    assert server.requests_per_path["pdf"] == 10
    again = [d async for d in client.download_pdfs(listed, tmp_path, skip_existing=True)]
    assert all(d.skipped for d in again)
    assert server.requests_per_path["pdf"] == 10


HOSTILE_NUMBERS = ["../../x", "/etc/passwd", "a\\b", "NUL", "x" * 300, "a/b", "a-b", "..", ""]


async def test_hostile_invoice_numbers_cannot_escape_the_directory(
    start: Start, tmp_path: Path
) -> None:
    invoices = [
        attrs.evolve(inv, invoice_number=number)
        for inv, number in zip(make_invoices(len(HOSTILE_NUMBERS)), HOSTILE_NUMBERS, strict=True)
    ]
    _, client = await start(invoices=invoices)
    target = tmp_path / "pdf"
    target.mkdir()
    listed = [inv async for inv in client.invoices()]
    downloads = [d async for d in client.download_pdfs(listed, target)]
    names = [d.path.name for d in downloads]
    assert len(set(names)) == len(HOSTILE_NUMBERS)  # 'a/b' and 'a-b' do not collide
    for download in downloads:
        assert download.path.parent == target
        assert download.path.resolve().is_relative_to(target.resolve())
        assert len(download.path.name) <= 120
        assert not download.path.name.startswith(".")
    assert sorted(p.name for p in target.iterdir()) == sorted(names)
    assert [p.name for p in tmp_path.iterdir()] == ["pdf"]


# --- read-ahead, counted at the server ----------------------------------------------------------


async def test_read_ahead_keeps_its_depth_in_flight_and_the_order(start: Start) -> None:
    server, client = await start({"page_size": 50, "read_ahead": 4}, count=1000, latency=0.005)
    ids = [inv.id async for inv in client.invoices()]
    assert ids == sorted((inv.id for inv in server.invoices), reverse=True)  # list order
    assert server.max_in_flight == 4  # the depth, reached and never passed


async def test_read_ahead_ends_at_the_empty_window(start: Start) -> None:
    server, client = await start({"page_size": 50, "read_ahead": 3}, count=120)
    assert len([inv async for inv in client.invoices()]) == 120
    starts = [start_of(r.ranged_data) for r in server.log]
    assert 120 in starts  # the empty window at the end was asked
    assert max(starts) <= 120 + 5 * 49  # and at most 2 * depth - 1 windows were planned past it


async def test_breaking_out_of_a_read_ahead_listing_leaves_nothing_in_flight(
    start: Start,
) -> None:
    server, client = await start({"page_size": 20, "read_ahead": 4}, count=500, latency=0.01)
    listing = client.invoices()
    async with contextlib.aclosing(listing):
        async for _ in listing:
            break
    assert client_tasks() == []
    requests_after_close = server.requests_per_path["list"]
    assert requests_after_close <= 2 * 4  # the first window and those planned ahead, no more


async def test_a_timeout_around_a_read_ahead_listing_leaves_no_task(start: Start) -> None:
    _, client = await start({"page_size": 20, "read_ahead": 4}, count=500, latency=0.05)

    async def read_all() -> None:
        async with asyncio.timeout(0.02):  # fires while the first windows are awaited
            async for _ in client.invoices():
                pass

    with pytest.raises(TimeoutError):
        await read_all()
    assert client_tasks() == []  # the window being awaited was cancelled too


async def test_the_whole_client_keeps_to_max_connections_even_on_a_borrowed_pool(
    start: Start,
) -> None:
    server, _ = await start(count=600, latency=0.005)
    async with (
        aiohttp.ClientSession() as session,  # a pool of 100: it caps nothing here
        InvoiceClient(
            TOKEN, base_url=server.base_url, session=session, max_connections=6, page_size=20
        ) as client,
    ):
        # 30 windows: the listing's read-ahead (4) runs beside the workers (5) throughout
        ids = (inv.id async for inv in client.invoices())
        details = [d async for d in client.invoice_details(ids, concurrency=5)]
    assert details
    # The pager's read-ahead and the five detail workers share the client's six connections.
    assert server.max_in_flight == 6


# --- max_concurrency is a default, max_connections the ceiling ----------------------------------


async def test_a_default_client_has_32_requests_in_flight_when_a_call_asks_for_32(
    start: Start,
) -> None:
    server, client = await start(count=100, latency=0.05)
    assert client.max_concurrency == 8
    details = [d async for d in client.invoice_details(range(1, 97), concurrency=32)]
    assert sorted(d.id for d in details) == list(range(1, 97))
    assert server.max_in_flight == 32


async def test_two_fan_outs_at_once_share_max_connections(start: Start) -> None:
    server, client = await start({"max_connections": 10}, count=150, latency=0.05)

    async def consume(ids: range) -> list[int]:
        return [d.id async for d in client.invoice_details(ids, concurrency=8)]

    first, second = await asyncio.gather(consume(range(1, 65)), consume(range(65, 129)))
    assert sorted(first + second) == list(range(1, 129))
    assert server.max_in_flight == 10  # 8 + 8 asked, the client's 10 reached and never passed


async def test_a_small_max_connections_also_bounds_the_default_read_ahead(start: Start) -> None:
    server, client = await start({"max_connections": 2, "page_size": 10}, count=200, latency=0.005)
    assert len([inv async for inv in client.invoices()]) == 200
    assert server.max_in_flight == 2  # read_ahead defaults to min(4, max_connections)
