"""The fake server's endpoints over real HTTP on 127.0.0.1: lists, details, errors, PDFs."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

import aiohttp
import pytest

from invoice_async.testing import (
    FakeI3DServer,
    make_pdf,
    to_detail_item,
    to_list_item,
)

if TYPE_CHECKING:  # imported by pytest_plugins below; importing it first would block rewriting
    pass

from tests.testing._http import (
    AUTH,
    DETAIL_KEYS,
    LIST,
    LIST_KEYS,
    UNPAID,
    assert_error_object,
    fetch,
    ids,
)


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
