"""InvoiceClient against HTTP faked by aioresponses: every endpoint, header, error, argument."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses
from aioresponses.compat import normalize_url
from yarl import URL

from invoice_async import InvoiceClient, PaymentStatus, errors
from invoice_async.testing import parse_ranged_data
from tests._samples import DETAIL, LIST_ITEM, STATUS_CLASSES

BASE = "https://api.i3d.net"
TOKEN = "tok-Zx81-secret"
LIST_URL = f"{BASE}/v3/account/invoice"
UNPAID_URL = f"{BASE}/v3/account/invoice/unpaid"


@pytest.fixture
def http() -> Iterator[aioresponses]:
    with aioresponses() as mocked:
        yield mocked


@pytest.fixture
async def client() -> AsyncIterator[InvoiceClient]:
    async with InvoiceClient(TOKEN, page_size=3, read_ahead=1) as client:
        yield client


def items(*ids: int) -> list[dict[str, Any]]:
    return [{**LIST_ITEM, "id": str(i)} for i in ids]


def serve_list(
    http: aioresponses, url: str, listing: list[dict[str, Any]], *, cap: int | None = None
) -> list[str]:
    """Answer every GET of ``url`` with the window its RANGED-DATA asks for (at most ``cap``
    items); returns the RANGED-DATA values received, in order."""
    received: list[str] = []

    def answer(_url: URL, **kwargs: Any) -> CallbackResult:
        window = parse_ranged_data(kwargs["headers"]["RANGED-DATA"])
        assert window is not None
        start, results = window
        received.append(f"start={start},results={results}")
        size = results if cap is None else min(results, cap)
        body = json.dumps(listing[start : start + size])
        return CallbackResult(body=body, content_type="application/json")

    http.get(URL(url, encoded=True), callback=answer, repeat=True)
    return received


def sent(http: aioresponses, url: str) -> list[dict[str, Any]]:
    """The keyword arguments of each request made to ``url``, in order."""
    key = ("GET", normalize_url(URL(url, encoded=True)))  # aioresponses' own key for a URL
    return [call.kwargs for call in http.requests.get(key, [])]


def all_requests(http: aioresponses) -> int:
    return sum(len(calls) for calls in http.requests.values())


async def test_listing_sends_token_and_ranged_data_headers(
    http: aioresponses, client: InvoiceClient
) -> None:
    received = serve_list(http, LIST_URL, items(1, 2, 3))
    assert [inv.id async for inv in client.invoices()] == [1, 2, 3]
    # 3 items; the next window starts at the last one (the drift guard's overlap) and holds
    # nothing after it; the empty window after it ends the list.
    assert received == ["start=0,results=3", "start=2,results=3", "start=3,results=3"]
    assert all(c["headers"]["PRIVATE-TOKEN"] == TOKEN for c in sent(http, LIST_URL))


async def test_paging_goes_on_past_short_windows(http: aioresponses, client: InvoiceClient) -> None:
    # A server capping windows at 2 while 3 are asked: short windows are not the end.
    received = serve_list(http, LIST_URL, items(1, 2, 3, 4, 5), cap=2)
    assert [inv.id async for inv in client.invoices()] == [1, 2, 3, 4, 5]
    assert received[-2:] == ["start=4,results=3", "start=5,results=3"]  # last item, empty
    assert len(received) <= 8


async def test_page_size_per_call_overrides_the_client_default(
    http: aioresponses, client: InvoiceClient
) -> None:
    received = serve_list(http, UNPAID_URL, [])
    assert [inv async for inv in client.unpaid_invoices(page_size=50)] == []
    assert received == ["start=0,results=50"]


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("this is an example", "filter=this%20is%20an%20example"),
        ("R&D 50% +/- Dédié", "filter=R%26D%2050%25%20%2B%2F-%20D%C3%A9di%C3%A9"),
    ],
)
async def test_unpaid_filter_is_percent_encoded_in_the_query(
    http: aioresponses, client: InvoiceClient, text: str, query: str
) -> None:
    url = f"{UNPAID_URL}?{query}"
    serve_list(http, url, items(9))
    found = [inv async for inv in client.unpaid_invoices(filter=text)]
    assert [inv.id for inv in found] == [9]
    (key,) = http.requests
    assert key[1].query["filter"] == text  # what the server decodes is the text itself


async def test_page_token_is_followed_when_the_api_sends_one(
    http: aioresponses, client: InvoiceClient
) -> None:
    http.get(LIST_URL, payload=items(1, 2, 3), headers={"PAGE-TOKEN": "t1"})
    http.get(LIST_URL, payload=items(4, 5), headers={"PAGE-TOKEN": "t2"})
    http.get(LIST_URL, payload=items(6))  # no token: the last page
    assert [inv.id async for inv in client.invoices()] == [1, 2, 3, 4, 5, 6]
    calls = sent(http, LIST_URL)
    assert [c["headers"].get("PAGE-TOKEN") for c in calls] == [None, "t1", "t2"]
    # A token names its page by itself: no offset travels with it.
    assert ["RANGED-DATA" in c["headers"] for c in calls] == [True, False, False]


@pytest.mark.parametrize("status", [400, 410])
async def test_an_expired_or_invalid_page_token_restarts_without_repeats(
    http: aioresponses, client: InvoiceClient, status: int
) -> None:
    http.get(LIST_URL, payload=items(1, 2, 3), headers={"PAGE-TOKEN": "t1"})
    http.get(LIST_URL, status=status, payload={"errorCode": 1, "errorMessage": "expired"})
    http.get(LIST_URL, payload=items(1, 2, 3), headers={"PAGE-TOKEN": "t1b"})
    http.get(LIST_URL, payload=items(4))
    assert [inv.id async for inv in client.invoices()] == [1, 2, 3, 4]


@pytest.mark.parametrize("payload", [[DETAIL], DETAIL], ids=["array-wrapped", "bare"])
async def test_invoice_detail_accepts_array_wrapped_and_bare_answers(
    http: aioresponses, client: InvoiceClient, payload: object
) -> None:
    http.get(f"{LIST_URL}/123", payload=payload)
    detail = await client.invoice(123)
    assert (detail.id, detail.client_number, detail.payment_status) == (
        123,
        "C-77",
        PaymentStatus.UNPAID,
    )
    assert sent(http, f"{LIST_URL}/123")[0]["headers"]["PRIVATE-TOKEN"] == TOKEN


async def test_invoice_by_number_percent_encodes_the_number_as_one_segment(
    http: aioresponses, client: InvoiceClient
) -> None:
    url = f"{LIST_URL}/number/2024%2F0001%20A%3F"
    http.get(URL(url, encoded=True), payload=[DETAIL])
    detail = await client.invoice_by_number("2024/0001 A?")
    assert detail.invoice_number == "2024/0001"
    assert len(sent(http, url)) == 1


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
async def test_each_error_status_raises_its_class_with_the_api_error_fields(
    http: aioresponses, client: InvoiceClient, status: int, cls: type[errors.ApiError]
) -> None:
    body = {"errorCode": 10001, "errorMessage": "Entity not found", "errors": []}
    http.get(f"{LIST_URL}/5", status=status, payload=body, headers={"Retry-After": "3"})
    with pytest.raises(cls) as info:
        await client.invoice(5, max_retries=0)
    error = info.value
    assert (error.status, error.error_code, error.error_message) == (
        status,
        10001,
        "Entity not found",
    )
    assert error.url == f"{LIST_URL}/5"
    if isinstance(error, errors.RateLimitError):
        assert error.retry_after == 3.0


async def test_the_errors_of_an_error_answer_are_field_errors_by_name_and_as_pairs(
    http: aioresponses, client: InvoiceClient
) -> None:
    body = {
        "errorCode": 1,
        "errorMessage": "bad",
        "errors": [{"property": "invoiceId", "message": "must be an integer"}],
    }
    http.get(f"{LIST_URL}/5", status=422, payload=body)
    with pytest.raises(errors.BadRequestError) as info:
        await client.invoice(5)
    field = info.value.errors[0]
    assert type(field) is errors.FieldError
    assert (field.property, field.message) == ("invoiceId", "must be an integer")
    prop, msg = info.value.errors[0]
    assert (prop, msg) == ("invoiceId", "must be an integer")


async def test_error_in_the_middle_of_a_listing_raises_after_earlier_items(
    http: aioresponses, client: InvoiceClient
) -> None:
    http.get(LIST_URL, payload=items(1, 2, 3))
    http.get(LIST_URL, status=401, payload={"errorCode": 1, "errorMessage": "Key expired"})
    # (401 is never retried)
    seen: list[int] = []

    async def consume() -> None:
        async for inv in client.invoices():
            seen.append(inv.id)

    with pytest.raises(errors.AuthenticationError, match="Key expired"):
        await consume()
    assert seen == [1, 2, 3]


@pytest.mark.parametrize("body", ['{"id": 1,', "<html>oops</html>", ""])
async def test_malformed_json_is_an_invalid_response(
    http: aioresponses, client: InvoiceClient, body: str
) -> None:
    http.get(f"{LIST_URL}/1", body=body)
    with pytest.raises(errors.InvalidResponseError, match="not valid JSON"):
        await client.invoice(1)


@pytest.mark.parametrize("payload", [{"not": "a list"}, [1, 2]])
async def test_wrong_shape_of_a_list_answer_is_an_invalid_response(
    http: aioresponses, client: InvoiceClient, payload: object
) -> None:
    http.get(LIST_URL, payload=payload)
    listing = client.invoices()
    with pytest.raises(errors.InvalidResponseError):
        await anext(listing)


async def test_invoice_pdf_returns_the_checked_bytes(
    http: aioresponses, client: InvoiceClient
) -> None:
    pdf = b"%PDF-1.4\n...%%EOF\n"
    http.get(f"{LIST_URL}/7/pdf", body=pdf, content_type="application/pdf")
    assert await client.invoice_pdf(7) == pdf


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html>login</html>", "application/pdf"),
        (b"%PDF-1.4", "text/html"),
        (b"", "application/pdf"),
    ],
)
async def test_a_body_that_is_not_a_pdf_is_an_invalid_response(
    http: aioresponses, client: InvoiceClient, tmp_path: Path, body: bytes, content_type: str
) -> None:
    http.get(f"{LIST_URL}/7/pdf", body=body, content_type=content_type, repeat=True)
    with pytest.raises(errors.InvalidResponseError):
        await client.invoice_pdf(7)
    with pytest.raises(errors.InvalidResponseError):
        await client.download_pdf(7, tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_download_pdf_writes_the_whole_file_and_no_temp_file(
    http: aioresponses, client: InvoiceClient, tmp_path: Path
) -> None:
    pdf = b"%PDF-1.4\n" + b"x" * 30_000 + b"%%EOF\n"  # aioresponses feeds it at once: keep it small
    http.get(f"{LIST_URL}/7/pdf", body=pdf, content_type="application/pdf")
    path = await client.download_pdf(7, tmp_path)
    assert path == tmp_path / "invoice_7.pdf"
    assert path.read_bytes() == pdf
    assert list(tmp_path.iterdir()) == [path]
    assert path.stat().st_mode & 0o077 == 0


async def test_transport_errors_are_translated_and_chain_nothing(
    http: aioresponses, client: InvoiceClient
) -> None:
    http.get(f"{LIST_URL}/1", exception=aiohttp.ClientConnectionError("refused"))
    with pytest.raises(errors.TransportError, match="refused") as info:
        await client.invoice(1, max_retries=0)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None  # aiohttp's error (request headers!) is not chained
    assert info.value.url == f"{LIST_URL}/1"


async def test_a_timeout_is_a_request_timeout_error(
    http: aioresponses, client: InvoiceClient
) -> None:
    http.get(f"{LIST_URL}/1", exception=TimeoutError())
    with pytest.raises(errors.RequestTimeoutError):
        await client.invoice(1, max_retries=0)


# --- arguments are checked before any request ------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"page_size": 0},
        {"page_size": -1},
        {"page_size": "x"},
        {"max_concurrency": 0},
        {"max_connections": 0},
        {"max_connections": "10"},
        {"read_ahead": 0},
        {"timeout": -1.0},
        {"timeout": 0},
        {"max_retries": -1},
        {"base_url": "http://api.i3d.net"},
        {"base_url": "not a url"},
        {"session": "not a session"},
    ],
)
def test_bad_client_arguments_raise_configuration_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(errors.ConfigurationError):
        InvoiceClient(TOKEN, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_connections": 10, "max_concurrency": 11}, "max_concurrency=11 is above max_conn"),
        ({"max_connections": 10, "read_ahead": 11}, "read_ahead=11 is above max_connections=10"),
        ({"max_concurrency": 101}, "max_concurrency=101 is above max_connections=100"),
    ],
)
def test_limits_above_max_connections_raise_configuration_error(
    kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(errors.ConfigurationError, match=match):
        InvoiceClient(TOKEN, **kwargs)


async def test_the_limits_default_to_8_at_once_of_100_connections() -> None:
    async with InvoiceClient(TOKEN) as client:
        assert (client.max_concurrency, client.max_connections) == (8, 100)


async def test_a_small_max_connections_lowers_the_default_max_concurrency() -> None:
    async with InvoiceClient(TOKEN, max_connections=3) as client:
        assert (client.max_concurrency, client.max_connections) == (3, 3)


async def test_a_concurrency_above_max_connections_raises_at_once(
    http: aioresponses,
) -> None:
    async with InvoiceClient(TOKEN, max_connections=10) as client:
        with pytest.raises(errors.ConfigurationError, match="max_connections=10"):
            client.invoice_details([1], concurrency=11)
        with pytest.raises(errors.ConfigurationError, match="max_connections=10"):
            client.map(client.invoice, [1], concurrency=11)
    assert all_requests(http) == 0


@pytest.mark.parametrize(
    ("limit", "limit_per_host", "expected"),
    [(20, 0, 20), (0, 0, 100), (50, 12, 12), (0, 30, 30), (300, 0, 300)],
)
async def test_max_connections_defaults_to_the_borrowed_pool_size(
    limit: int, limit_per_host: int, expected: int
) -> None:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit_per_host)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        InvoiceClient(TOKEN, session=session) as client,
    ):
        assert client.max_connections == expected
        assert client.max_concurrency == 8


async def test_a_max_connections_above_the_borrowed_pool_raises() -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as session:
        async with InvoiceClient(TOKEN, session=session, max_connections=20) as client:
            assert client.max_connections == 20
        with pytest.raises(errors.ConfigurationError, match="allows 20 connections"):
            InvoiceClient(TOKEN, session=session, max_connections=21)
        with pytest.raises(errors.ConfigurationError, match="above max_connections=20"):
            InvoiceClient(TOKEN, session=session, max_concurrency=21)


def test_empty_token_is_refused() -> None:
    with pytest.raises(errors.ConfigurationError, match="empty"):
        InvoiceClient("")


def test_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("I3D_API_TOKEN", TOKEN)
    assert "redacted" in repr(InvoiceClient())
    monkeypatch.delenv("I3D_API_TOKEN")
    with pytest.raises(errors.ConfigurationError, match="I3D_API_TOKEN"):
        InvoiceClient()


def test_repr_never_shows_the_token() -> None:
    client = InvoiceClient(TOKEN)
    assert TOKEN not in repr(client)
    assert TOKEN not in str(vars(client))


@pytest.mark.parametrize("page_size", [0, -1, "x", True])
async def test_bad_page_size_raises_when_the_listing_is_asked_for(
    http: aioresponses, client: InvoiceClient, page_size: object
) -> None:
    with pytest.raises(errors.ConfigurationError, match="page_size"):
        client.invoices(page_size=page_size)  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(errors.ConfigurationError, match="page_size"):
        client.unpaid_invoices(page_size=page_size)  # type: ignore[arg-type]  # idem
    assert all_requests(http) == 0


@pytest.mark.parametrize("invoice_id", [-5, 0, "abc", None, True, 1.5])
async def test_bad_invoice_id_raises_before_any_request(
    http: aioresponses, client: InvoiceClient, tmp_path: Path, invoice_id: object
) -> None:
    for call in (client.invoice, client.invoice_pdf):
        with pytest.raises(errors.ConfigurationError, match="invoice id"):
            await call(invoice_id)  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(errors.ConfigurationError, match="invoice id"):
        await client.download_pdf(invoice_id, tmp_path)  # type: ignore[arg-type]  # idem
    assert all_requests(http) == 0


@pytest.mark.parametrize("number", ["", "  ", None, "..", "a\r\nb"])
async def test_bad_invoice_number_raises_before_any_request(
    http: aioresponses, client: InvoiceClient, number: object
) -> None:
    with pytest.raises(errors.ConfigurationError, match="invoice number"):
        await client.invoice_by_number(number)  # type: ignore[arg-type]  # the point of the test
    assert all_requests(http) == 0


async def test_download_into_a_missing_directory_raises_before_any_request(
    http: aioresponses, client: InvoiceClient, tmp_path: Path
) -> None:
    with pytest.raises(errors.ConfigurationError, match="does not exist"):
        await client.download_pdf(1, tmp_path / "nope")
    assert all_requests(http) == 0


# --- lifecycle ---------------------------------------------------------------------------------


async def test_borrowed_session_stays_open_usable_and_unchanged(http: aioresponses) -> None:
    http.get(f"{LIST_URL}/123", payload=[DETAIL])
    http.get("https://elsewhere.example/ping", body="pong")
    async with aiohttp.ClientSession() as session:
        async with InvoiceClient(TOKEN, session=session) as client:
            assert (await client.invoice(123)).id == 123
        assert not session.closed
        assert "PRIVATE-TOKEN" not in session.headers
        async with session.get("https://elsewhere.example/ping") as response:
            assert await response.text() == "pong"


async def test_client_works_without_async_with_and_refuses_use_after_close(
    http: aioresponses,
) -> None:
    http.get(f"{LIST_URL}/123", payload=[DETAIL])
    client = InvoiceClient(TOKEN)
    assert (await client.invoice(123)).id == 123
    await client.close()
    with pytest.raises(errors.ConfigurationError, match="closed"):
        await client.invoice(123)
