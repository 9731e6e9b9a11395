"""Tests of invoice_async.testing: the fake i3D billing server, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import json
import tracemalloc
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from invoice_async.testing import (
    ERROR_CODES,
    FAULT_KINDS,
    FakeI3DServer,
    FakeInvoice,
    iter_pdf_chunks,
    make_invoices,
    make_pdf,
    to_detail_item,
    to_list_item,
)

if TYPE_CHECKING:  # imported by pytest_plugins below; importing it first would block rewriting
    from invoice_async.testing.pytest_plugin import FakeI3DServerFactory

pytest_plugins = ["invoice_async.testing.pytest_plugin"]

TOKEN = "test-token"
AUTH = {"PRIVATE-TOKEN": TOKEN}
LIST = "/v3/account/invoice"
UNPAID = "/v3/account/invoice/unpaid"
LIST_KEYS = [
    "id",
    "creationDate",
    "dueDate",
    "invoiceNumber",
    "invoiceHash",
    "description",
    "currency",
    "currencySign",
    "amountIncVAT",
    "amountExclVAT",
    "paymentStatus",
    "paymentDate",
    "isCredit",
    "remainingAmount",
    "totalPaidAmount",
]
DETAIL_KEYS = [
    "id",
    "invoiceNumber",
    "invoiceHash",
    "clientNumber",
    "creationDate",
    "dueDate",
    "paymentStatus",
    "paymentDate",
    "isCredit",
    "paymentTerm",
    "currency",
    "currencySign",
    "vatPercentage",
    "vatAmount",
    "amountIncVat",
    "amountExclVat",
]


class Clock:
    """A hand-driven clock for Retry-After bookkeeping."""

    def __init__(self) -> None:
        """Start at t = 1000 s."""
        self.now = 1000.0

    def __call__(self) -> float:
        """The current fake time."""
        return self.now


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session (not the project's client)."""
    async with aiohttp.ClientSession() as client:
        yield client


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    *,
    ranged: str | None = None,
    headers: Mapping[str, str] = AUTH,
) -> tuple[int, Any, Mapping[str, str]]:
    """GET ``url``; return status, decoded JSON, headers."""
    sent = dict(headers)
    if ranged is not None:
        sent["RANGED-DATA"] = ranged
    async with session.get(url, headers=sent) as resp:
        return resp.status, json.loads(await resp.read()), resp.headers


async def ids(session: aiohttp.ClientSession, url: str, ranged: str) -> list[str]:
    """The string ids of one list window."""
    status, body, _ = await fetch(session, url, ranged=ranged)
    assert status == 200
    return [item["id"] for item in body]


def assert_error_object(body: Any, status: int) -> None:
    """Check the API v3 error object shape and its errorCode for ``status``."""
    assert set(body) == {"errorCode", "errorMessage", "errors"}
    assert body["errorCode"] == ERROR_CODES[status]
    assert isinstance(body["errorMessage"], str)
    assert all(set(e) == {"property", "message"} for e in body["errors"])


# ------------------------------------------------------------------------------- data
def test_make_invoices_is_deterministic_per_seed_and_mixed() -> None:
    first, again, other = make_invoices(300), make_invoices(300), make_invoices(300, seed=1)
    assert first == again
    assert first != other
    assert [inv.id for inv in first] == list(range(1, 301))
    assert any(inv.payment_status == 1 for inv in first)
    assert any(inv.is_unpaid for inv in first)
    credits = [inv for inv in first if inv.is_credit]
    assert credits
    assert all(inv.amount_inc_vat < 0 for inv in credits)
    assert all(inv.amount_inc_vat == inv.amount_excl_vat + inv.vat_amount for inv in first)
    assert all("/" in inv.invoice_number for inv in first)
    text = "".join(inv.description for inv in first)
    assert all(ch in text for ch in " &%+/é")
    assert all(a.creation_date < b.creation_date for a, b in itertools.pairwise(first))


def test_make_invoices_start_id_continues_ids() -> None:
    assert [inv.id for inv in make_invoices(3, start_id=50)] == [50, 51, 52]


@pytest.mark.parametrize("size", [0, 1, 5, 9, 14, 15, 16, 40, 4096, 200_001])
def test_make_pdf_has_exact_size_magic_and_eof(size: int) -> None:
    pdf = make_pdf(3, size)
    assert len(pdf) == size
    assert pdf == b"%PDF-1.4\n"[:size] + pdf[9:]
    if size >= 64:
        assert pdf.endswith(b"%%EOF\n")
    assert pdf == b"".join(iter_pdf_chunks(3, size, chunk_size=1000))
    assert all(len(chunk) <= 1000 for chunk in iter_pdf_chunks(3, size, chunk_size=1000))


def test_make_pdf_is_deterministic_and_differs_by_invoice_id() -> None:
    assert make_pdf(1, 5000) == make_pdf(1, 5000)
    assert make_pdf(1, 5000) != make_pdf(2, 5000)


def test_streaming_300_pdfs_of_2mb_does_not_hold_them_in_memory() -> None:
    tracemalloc.start()
    try:
        total = sum(len(c) for i in range(300) for c in iter_pdf_chunks(i, 2_000_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 300 * 2_000_000
    assert peak < 2_000_000


# ---------------------------------------------------------------------------- listing
async def test_list_default_window_is_first_25_newest_first(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeI3DServer(count=100) as url:
        status, body, _ = await fetch(session, url + LIST)
    assert status == 200
    assert [item["id"] for item in body] == [str(i) for i in range(100, 75, -1)]


async def test_ranged_data_header_picks_the_window(session: aiohttp.ClientSession) -> None:
    async with FakeI3DServer(count=100) as url:
        assert await ids(session, url + LIST, "start=10,results=5") == [
            "90",
            "89",
            "88",
            "87",
            "86",
        ]
        assert await ids(session, url + LIST, "results=2, start=0") == ["100", "99"]
        assert await ids(session, url + LIST, "start=100,results=5") == []


async def test_page_cap_answers_at_most_cap_items_whatever_is_asked(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(count=23, page_cap=7)
    async with server as url:
        seen: list[str] = []
        while page := await ids(session, url + LIST, f"start={len(seen)},results=50"):
            assert len(page) <= 7
            seen += page
    assert seen == [str(i) for i in range(23, 0, -1)]
    assert server.requests_per_path["list"] == 5  # 7 + 7 + 7 + 2 + the empty window


@pytest.mark.parametrize("ranged", ["start=0", "start=a,results=5", "start=-1,results=5", "x"])
async def test_malformed_ranged_data_answers_400_error_object(
    session: aiohttp.ClientSession, ranged: str
) -> None:
    async with FakeI3DServer() as url:
        status, body, _ = await fetch(session, url + LIST, ranged=ranged)
    assert status == 400
    assert_error_object(body, 400)


@pytest.mark.parametrize(
    "text", ["server", "Dédié server", "& backup 50% +/-", "/29", "Größe", "日本", "(Rust)"]
)
async def test_filter_matches_descriptions_containing_the_decoded_text(
    session: aiohttp.ClientSession, text: str
) -> None:
    server = FakeI3DServer(count=400)
    expected = [str(inv.id) for inv in server.invoices if text in inv.description]
    assert 0 < len(expected) < 400
    async with server as url:
        got = await ids(
            session, f"{url}{LIST}?filter={quote(text, safe='')}", "start=0,results=500"
        )
    assert got == expected


async def test_unpaid_list_excludes_paid_and_credit_invoices(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(count=200)
    async with server as url:
        _, body, _ = await fetch(session, url + UNPAID, ranged="start=0,results=500")
    assert [item["id"] for item in body] == [str(inv.id) for inv in server.unpaid_invoices]
    assert 0 < len(body) < 200
    assert all(item["paymentStatus"] == 0 and item["isCredit"] == 0 for item in body)
    assert any(inv.is_credit and inv.payment_status == 0 for inv in server.invoices)


async def test_list_items_have_string_id_integer_dates_and_cent_strings(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(count=60)
    async with server as url:
        _, body, _ = await fetch(session, url + LIST, ranged="start=0,results=60")
    by_id = {inv.id: inv for inv in server.invoices}
    for item in body:
        assert list(item) == LIST_KEYS
        inv = by_id[int(item["id"])]
        assert item == to_list_item(inv)
        assert isinstance(item["id"], str)
        assert isinstance(item["creationDate"], int)
        assert isinstance(item["paymentDate"], int)
        assert item["paymentDate"] == (0 if inv.payment_status == 0 else inv.payment_date)
        assert int(item["amountIncVAT"]) == inv.amount_excl_vat + inv.vat_amount
        assert item["isCredit"] in (0, 1)


# ----------------------------------------------------------------------------- detail
async def test_detail_is_array_wrapped_with_int_id_and_iso_string_dates(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(count=10)
    async with server as url:
        status, body, _ = await fetch(session, f"{url}{LIST}/4")
    inv = next(inv for inv in server.invoices if inv.id == 4)
    assert status == 200
    assert isinstance(body, list)
    assert len(body) == 1
    (item,) = body
    assert list(item) == DETAIL_KEYS
    assert item == to_detail_item(inv)
    assert item["id"] == 4
    assert "amountIncVAT" not in item
    assert datetime.fromisoformat(item["creationDate"]).timestamp() == inv.creation_date
    assert item["creationDate"].endswith("+00:00")


async def test_detail_unix_date_style_and_bare_object_when_not_wrapped(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(count=10, wrap_detail=False, detail_date_style="unix")
    async with server as url:
        _, item, _ = await fetch(session, f"{url}{LIST}/4")
    inv = next(inv for inv in server.invoices if inv.id == 4)
    assert isinstance(item, dict)
    assert item["creationDate"] == str(inv.creation_date)
    assert item["dueDate"] == str(inv.due_date)


async def test_detail_by_number_matches_the_decoded_segment_with_slash(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(count=10)
    inv = server.invoices[3]
    assert "/" in inv.invoice_number
    async with server as url:
        number_url = f"{url}{LIST}/number/{quote(inv.invoice_number, safe='')}"
        status, body, _ = await fetch(session, number_url)
        missing, error, _ = await fetch(session, f"{url}{LIST}/number/{quote('1999/9', safe='')}")
    assert status == 200
    assert body == [to_detail_item(inv)]
    assert server.log[0].path.endswith("%2F" + inv.invoice_number.split("/")[1])
    assert missing == 404
    assert_error_object(error, 404)


# ----------------------------------------------------------------------------- errors
async def test_missing_or_wrong_token_answers_401_error_object(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer()
    async with server as url:
        for headers in ({}, {"PRIVATE-TOKEN": "wrong"}):
            status, body, _ = await fetch(session, url + LIST, headers=headers)
            assert status == 401
            assert_error_object(body, 401)
    assert [r.token_ok for r in server.log] == [False, False]


async def test_server_without_token_answers_any_request(session: aiohttp.ClientSession) -> None:
    async with FakeI3DServer(token=None) as url:
        status, _, _ = await fetch(session, url + LIST, headers={})
    assert status == 200


async def test_forbidden_ids_answer_403_on_detail_number_and_pdf(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(count=5, forbidden_ids={2})
    number = quote(next(i for i in server.invoices if i.id == 2).invoice_number, safe="")
    async with server as url:
        for path in ("/2", "/2/pdf", f"/number/{number}"):
            status, body, _ = await fetch(session, url + LIST + path)
            assert status == 403
            assert_error_object(body, 403)


@pytest.mark.parametrize(("path", "status"), [("/999", 404), ("/abc", 400), ("/1x/pdf", 400)])
async def test_unknown_or_non_integer_id_answers_error_object(
    session: aiohttp.ClientSession, path: str, status: int
) -> None:
    async with FakeI3DServer(count=5) as url:
        got, body, _ = await fetch(session, url + LIST + path)
    assert got == status
    assert_error_object(body, status)


async def test_unknown_route_answers_404_error_object(session: aiohttp.ClientSession) -> None:
    server = FakeI3DServer()
    async with server as url:
        status, body, _ = await fetch(session, url + "/v3/elsewhere")
    assert status == 404
    assert_error_object(body, 404)
    assert server.requests_per_path["other"] == 1


async def test_malformed_json_ids_answer_broken_json_with_200(
    session: aiohttp.ClientSession,
) -> None:
    async with (
        FakeI3DServer(malformed_json_ids={3}) as url,
        session.get(f"{url}{LIST}/3", headers=AUTH) as resp,
    ):
        text = await resp.text()
    assert resp.status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


# ------------------------------------------------------------------------------- PDFs
async def test_pdf_is_streamed_with_magic_size_content_length_and_deterministic_bytes(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeI3DServer(count=5, pdf_size=300_000) as url:
        bodies = []
        for _ in range(2):
            async with session.get(f"{url}{LIST}/3/pdf", headers=AUTH) as resp:
                assert resp.status == 200
                assert resp.content_type == "application/pdf"
                assert resp.headers["Content-Length"] == "300000"
                bodies.append(await resp.read())
    assert bodies[0] == bodies[1] == make_pdf(3, 300_000)
    assert bodies[0].startswith(b"%PDF-1.4\n")


async def test_300_concurrent_2mb_pdf_downloads_are_streamed_not_materialised(
    session: aiohttp.ClientSession,
) -> None:
    async def download(url: str) -> int:
        """Stream one PDF and return how many bytes came."""
        async with session.get(url, headers=AUTH) as resp:
            return sum([len(chunk) async for chunk in resp.content.iter_chunked(65_536)])

    async with FakeI3DServer(count=300, pdf_size=2_000_000) as base:
        tracemalloc.start()
        try:
            urls = [f"{base}{LIST}/{i}/pdf" for i in range(1, 301)]
            sizes = await asyncio.gather(*(download(url) for url in urls))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert sizes == [2_000_000] * 300
    assert peak < 150_000_000  # a quarter of the 600 MB the PDFs add up to


async def test_non_pdf_ids_answer_html_with_200(session: aiohttp.ClientSession) -> None:
    async with (
        FakeI3DServer(non_pdf_ids={2}) as url,
        session.get(f"{url}{LIST}/2/pdf", headers=AUTH) as resp,
    ):
        body = await resp.read()
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert body.startswith(b"<html>")


# ----------------------------------------------------------------------------- faults
async def run_requests(
    session: aiohttp.ClientSession, url: str, n: int
) -> list[int | type[Exception]]:
    """``n`` sequential detail requests; each outcome is a status or the exception type."""
    outcomes: list[int | type[Exception]] = []
    for i in range(n):
        try:
            async with session.get(f"{url}{LIST}/{i % 50 + 1}", headers=AUTH) as resp:
                await resp.read()
                outcomes.append(resp.status)
        except aiohttp.ClientError as exc:
            outcomes.append(type(exc))
    return outcomes


async def test_fault_rate_injects_every_kind_at_about_the_rate_deterministically(
    session: aiohttp.ClientSession,
) -> None:
    servers = [FakeI3DServer(fault_rate=0.3, fault_seed=seed) for seed in (7, 7, 8)]
    outcomes = []
    for server in servers:
        async with server as url:
            outcomes.append(await run_requests(session, url, 200))
    faults = [[r.fault for r in server.log] for server in servers]
    count = sum(kind is not None for kind in faults[0])
    assert 35 <= count <= 85
    assert set(faults[0]) == {*FAULT_KINDS, None}
    assert faults[0] == faults[1]
    assert faults[0] != faults[2]
    assert outcomes[0] == outcomes[1]
    by_kind = dict(zip(faults[0], outcomes[0], strict=True))
    assert by_kind["500"] == 500
    assert by_kind["503"] == 503
    assert by_kind["429"] == 429
    assert by_kind["truncated"] is aiohttp.ClientPayloadError
    assert by_kind["reset"] in (aiohttp.ClientPayloadError, aiohttp.ClientOSError)


async def test_fault_paths_restricts_faults_to_one_endpoint_kind(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeI3DServer(fault_rate=1.0, fault_kinds={"500"}, fault_paths="pdf") as url:
        assert (await fetch(session, url + LIST))[0] == 200
        assert (await fetch(session, f"{url}{LIST}/1"))[0] == 200
        assert (await fetch(session, f"{url}{LIST}/1/pdf"))[0] == 500


async def test_fault_paths_predicate_picks_the_faulty_requests(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(
        fault_rate=1.0, fault_kinds=["503"], fault_paths=lambda route, path: path.endswith("/2")
    )
    async with server as url:
        assert (await fetch(session, f"{url}{LIST}/1"))[0] == 200
        assert (await fetch(session, f"{url}{LIST}/2"))[0] == 503


async def test_fail_next_answers_the_next_requests_of_an_endpoint_with_the_fault(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer()
    server.fail_next("503", endpoint="detail", count=2)
    async with server as url:
        assert (await fetch(session, url + LIST))[0] == 200
        first = await fetch(session, f"{url}{LIST}/1")
        assert (await fetch(session, f"{url}{LIST}/1"))[0] == 503
        assert (await fetch(session, f"{url}{LIST}/1"))[0] == 200
        server.fail_next("truncated")
        with pytest.raises(aiohttp.ClientPayloadError):
            await fetch(session, url + LIST)
    assert first[0] == 503
    assert_error_object(first[1], 503)
    assert first[2]["Retry-After"] == "1"
    assert [r.fault for r in server.log] == [None, "503", "503", None, "truncated"]


@pytest.mark.parametrize(("seconds", "header"), [(0.05, "0.05"), (2.0, "2"), (2.5, "2.5")])
async def test_retry_after_header_is_sent_with_integral_or_fractional_seconds(
    session: aiohttp.ClientSession, seconds: float, header: str
) -> None:
    server = FakeI3DServer(retry_after=seconds)
    server.fail_next("429")
    async with server as url:
        status, _, headers = await fetch(session, url + LIST)
    assert status == 429
    assert headers["Retry-After"] == header


async def test_requests_before_retry_after_elapsed_are_counted_early(
    session: aiohttp.ClientSession,
) -> None:
    clock = Clock()
    server = FakeI3DServer(clock=clock, retry_after=5)
    async with server as url:
        await fetch(session, url + LIST)
        server.fail_next("429")
        assert (await fetch(session, url + LIST))[0] == 429
        clock.now += 4.9
        await fetch(session, url + LIST)
        assert server.early_requests == 1
        clock.now += 0.1
        await fetch(session, url + LIST)
    assert server.early_requests == 1
    assert [r.early for r in server.log] == [False, False, True, False]
    assert server.not_before == 1005.0


# -------------------------------------------------------------------------- mutations
async def test_insert_at_head_shifts_offsets_of_both_lists(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(count=50)
    async with server as url:
        first = await ids(session, url + LIST, "start=0,results=10")
        unpaid_first = await ids(session, url + UNPAID, "start=0,results=5")
        new = server.insert_at_head(3)
        second = await ids(session, url + LIST, "start=10,results=10")
        unpaid_head = await ids(session, url + UNPAID, "start=0,results=3")
    assert [inv.id for inv in new] == [51, 52, 53]
    assert second[:3] == first[-3:]
    assert unpaid_head == ["53", "52", "51"]
    assert unpaid_first[0] not in unpaid_head
    assert new[0].creation_date > max(inv.creation_date for inv in make_invoices(50))


async def test_pay_removes_invoices_from_the_unpaid_list(session: aiohttp.ClientSession) -> None:
    server = FakeI3DServer(count=50)
    async with server as url:
        before = await ids(session, url + UNPAID, "start=0,results=100")
        paid = server.pay(2)
        after = await ids(session, url + UNPAID, "start=0,results=100")
        _, detail, _ = await fetch(session, f"{url}{LIST}/{paid[0].id}")
        _, listed, _ = await fetch(session, url + LIST, ranged="start=0,results=100")
    assert [str(inv.id) for inv in paid] == before[:2]
    assert after == before[2:]
    assert detail[0]["paymentStatus"] == 1
    assert {item["id"]: item["paymentStatus"] for item in listed}[before[0]] == 1


async def test_change_gives_new_hash_and_amounts_in_list_and_detail(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(count=20)
    async with server as url:
        before = {inv.id: inv for inv in server.invoices}
        changed = server.change([3, 7])
        _, listed, _ = await fetch(session, url + LIST, ranged="start=0,results=100")
        _, detail, _ = await fetch(session, f"{url}{LIST}/3")
        async with session.get(f"{url}{LIST}/3/pdf", headers=AUTH) as resp:
            pdf = await resp.read()
    items = {int(item["id"]): item for item in listed}
    assert [inv.id for inv in changed] == [3, 7]
    for new in changed:
        old = before[new.id]
        assert new.invoice_hash != old.invoice_hash
        assert new.amount_excl_vat == old.amount_excl_vat + 100
        assert new.amount_inc_vat == new.amount_excl_vat + new.vat_amount
        assert new.remaining_amount == new.amount_inc_vat - new.total_paid_amount
        assert new.payment_status == old.payment_status
        assert items[new.id]["invoiceHash"] == new.invoice_hash
        assert items[new.id]["amountIncVAT"] == str(new.amount_inc_vat)
    assert detail[0]["invoiceHash"] == changed[0].invoice_hash
    assert pdf == make_pdf(3, 4096)  # the PDF does not change
    assert {i for i, item in items.items() if item == to_list_item(before[i])} == set(before) - {
        3,
        7,
    }


async def test_remove_deletes_invoices_from_both_lists_and_their_routes(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(count=20)
    async with server as url:
        number = server.invoices[-1].invoice_number  # id 1
        removed = server.remove([1, 2])
        listed = await ids(session, url + LIST, "start=0,results=100")
        unpaid = await ids(session, url + UNPAID, "start=0,results=100")
        detail_status, _, _ = await fetch(session, f"{url}{LIST}/1")
        pdf_status, _, _ = await fetch(session, f"{url}{LIST}/2/pdf")
        number_status, _, _ = await fetch(session, f"{url}{LIST}/number/{quote(number, '')}")
        with pytest.raises(ValueError, match=r"no such invoices: \[99\]"):
            server.remove([3, 99])
    assert [inv.id for inv in removed] == [1, 2]
    assert "1" not in listed
    assert "2" not in listed
    assert "3" in listed
    assert len(listed) == 18
    assert "1" not in unpaid
    assert "2" not in unpaid
    assert (detail_status, pdf_status, number_status) == (404, 404, 404)


async def test_on_list_request_hook_gets_1_based_count_and_can_mutate(
    session: aiohttp.ClientSession,
) -> None:
    calls: list[int] = []

    def hook(server: FakeI3DServer, k: int) -> None:
        """Record k; add an invoice at the head before the 2nd list request."""
        calls.append(k)
        if k == 2:
            server.insert_at_head(1)

    server = FakeI3DServer(count=20, on_list_request=hook)
    async with server as url:
        one = await ids(session, url + LIST, "start=0,results=5")
        await fetch(session, f"{url}{LIST}/1")
        two = await ids(session, url + UNPAID, "start=0,results=1")
        three = await ids(session, url + LIST, "start=5,results=5")
    assert calls == [1, 2, 3]
    assert one[0] == "20"
    assert two == ["21"]
    assert three[0] == one[-1]


# ------------------------------------------------------------------------ observation
async def test_max_in_flight_counts_concurrent_requests(session: aiohttp.ClientSession) -> None:
    server = FakeI3DServer(latency=0.3)
    async with server as url:
        results = await asyncio.gather(*(fetch(session, f"{url}{LIST}/{i}") for i in range(1, 9)))
    assert [status for status, _, _ in results] == [200] * 8
    assert server.max_in_flight == 8
    assert server.in_flight == 0


async def test_requests_are_counted_per_route_and_raw_path_and_reset(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer()
    async with server as url:
        for path in ("", "", "/unpaid", "/1", "/1/pdf", "/number/2024%2F000001"):
            async with session.get(url + LIST + path, headers=AUTH) as resp:
                assert resp.status == 200
    assert server.requests_per_path == {
        "list": 2,
        "unpaid": 1,
        "detail": 1,
        "pdf": 1,
        "detail_by_number": 1,
    }
    assert server.requests_per_raw_path[LIST] == 2
    assert server.requests_per_raw_path[LIST + "/number/2024%2F000001"] == 1
    assert server.max_in_flight == 1
    server.reset_stats()
    assert not server.log
    assert not server.requests_per_path
    assert server.max_in_flight == server.early_requests == server.list_requests == 0


async def test_log_records_requests_but_never_the_token_value(
    session: aiohttp.ClientSession,
) -> None:
    secret = "s3cr3t-Token-value"
    server = FakeI3DServer(token=secret)
    async with server as url:
        await fetch(session, url + LIST, headers={"PRIVATE-TOKEN": secret})
        await fetch(session, url + LIST, headers={"PRIVATE-TOKEN": secret + "x"})
        await fetch(session, f"{url}{LIST}?filter=a%26b", ranged="start=0,results=2")
    assert [r.token_ok for r in server.log] == [True, False, False]
    assert [r.status for r in server.log] == [200, 401, 401]
    assert server.log[2].query == "filter=a%26b"
    assert server.log[2].ranged_data == "start=0,results=2"
    assert secret not in repr(server.log)
    assert secret not in repr(server)


# -------------------------------------------------------------------------- lifecycle
async def test_context_manager_binds_a_free_local_port_and_stops(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer()
    async with server as url:
        assert url == server.base_url
        assert url.startswith("http://127.0.0.1:")
        assert int(url.rsplit(":", 1)[1]) > 0
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(session, url + LIST)


async def test_start_and_stop_can_be_called_directly(session: aiohttp.ClientSession) -> None:
    server = FakeI3DServer()
    url = await server.start()
    try:
        with pytest.raises(RuntimeError):
            await server.start()
        assert (await fetch(session, url + LIST))[0] == 200
    finally:
        await server.stop()
    await server.stop()


async def test_app_can_be_served_by_the_caller(session: aiohttp.ClientSession) -> None:
    server = FakeI3DServer(invoices=make_invoices(3, seed=5))
    async with TestServer(server.app) as test_server:
        status, body, _ = await fetch(session, str(test_server.make_url(LIST)))
    assert status == 200
    assert len(body) == 3


@pytest.mark.parametrize(
    "kwargs",
    [{"fault_rate": 1.5}, {"fault_kinds": ["404"]}, {"fault_kinds": []}, {"page_cap": 0}],
)
def test_bad_settings_raise_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"fault|page_cap"):
        FakeI3DServer(**kwargs)


def test_duplicate_invoice_ids_raise_value_error() -> None:
    invoices: list[FakeInvoice] = make_invoices(2) * 2
    with pytest.raises(ValueError, match="duplicate"):
        FakeI3DServer(invoices=invoices)


# --------------------------------------------------------------------------- fixtures
async def test_fake_i3d_server_fixture_is_a_started_default_server(
    fake_i3d_server: FakeI3DServer, session: aiohttp.ClientSession
) -> None:
    status, body, _ = await fetch(session, fake_i3d_server.base_url + LIST)
    assert status == 200
    assert len(body) == 25
    assert fake_i3d_server.token == TOKEN


async def test_fake_i3d_server_factory_starts_servers_with_keywords(
    fake_i3d_server_factory: FakeI3DServerFactory, session: aiohttp.ClientSession
) -> None:
    capped = await fake_i3d_server_factory(page_cap=3)
    open_server = await fake_i3d_server_factory(token=None, count=2)
    assert capped.base_url != open_server.base_url
    assert len(await ids(session, capped.base_url + LIST, "start=0,results=10")) == 3
    assert (await fetch(session, open_server.base_url + LIST, headers={}))[1][0]["id"] == "2"
