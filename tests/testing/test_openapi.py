"""The fake server holds to its OpenAPI document, as Schemathesis (a tool nobody here wrote)
checks it; and the answers Schemathesis first found wrong, each pinned down here."""

from __future__ import annotations

import asyncio
import sys
from importlib.resources import files
from pathlib import Path

import aiohttp
import pytest

from invoice_async.testing import OPENAPI_PATH, FakeI3DServer
from tests.testing._http import AUTH, LIST, TOKEN, assert_error_object, fetch

DOCUMENT = Path(str(files("invoice_async.testing") / "openapi.yaml"))
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


async def test_schemathesis_finds_nothing_against_the_fake_server(tmp_path: Path) -> None:
    server = FakeI3DServer(token=TOKEN, count=50)
    async with server as base_url:
        process = await asyncio.create_subprocess_exec(
            SCHEMATHESIS, "run", str(DOCUMENT), "--url", base_url,
            "--header", f"PRIVATE-TOKEN: {TOKEN}",
            "--checks", "all", "--max-examples", "25", "--seed", "0", "--workers", "1",
            "--request-timeout", "10", "--generation-database", "none", "--no-color",
            cwd=tmp_path,  # its cache folder lands here, not in the project
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        async with asyncio.timeout(150):  # a run takes 5-10 s on 2 cores
            out, _ = await process.communicate()
    report = out.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
    assert "No issues found" in report
    for route in ("list", "unpaid", "detail", "detail_by_number", "pdf", "other"):
        assert server.requests_per_route[route] > 0, route  # every operation was tried


@pytest.mark.parametrize(
    "path", ["/2305843009213693951", "/9223372036854775807/pdf", "/" + "9" * 30]
)
async def test_an_id_of_any_size_that_no_invoice_has_answers_404(
    session: aiohttp.ClientSession, path: str
) -> None:
    async with FakeI3DServer(token=TOKEN, count=5) as url:
        status, body, _ = await fetch(session, url + LIST + path)
    assert status == 404
    assert_error_object(body, 404)


@pytest.mark.parametrize("path", ["/-1", "/-1/pdf", "/1e3", "/%C2%B2"])
async def test_an_id_that_is_not_a_positive_integer_answers_400(
    session: aiohttp.ClientSession, path: str
) -> None:
    async with FakeI3DServer(token=TOKEN, count=5) as url:
        status, body, _ = await fetch(session, url + LIST + path)
    assert status == 400
    assert body["errors"] == [{"property": "invoiceId", "message": "must be a positive integer"}]


@pytest.mark.parametrize("value", ["", "  "])
async def test_an_empty_ranged_data_counts_as_none(
    session: aiohttp.ClientSession, value: str
) -> None:
    async with FakeI3DServer(token=TOKEN, count=40) as url:
        status, body, _ = await fetch(session, url + LIST, ranged=value)
    assert status == 200
    assert len(body) == 25  # the default window


@pytest.mark.parametrize("method", ["TRACE", "POST", "DELETE"])
@pytest.mark.parametrize("path", ["", "/unpaid", "/3", "/3/pdf", "/number/2024%2F000003"])
async def test_another_method_on_a_billing_path_answers_405_with_allow(
    session: aiohttp.ClientSession, method: str, path: str
) -> None:
    server = FakeI3DServer(token=TOKEN, count=5)
    async with server as url, session.request(method, url + LIST + path, headers=AUTH) as resp:
        body = await resp.json()
    assert resp.status == 405
    assert resp.headers["Allow"] == "GET, HEAD"
    assert_error_object(body, 405)
    assert server.requests_per_route["other"] == 1


async def test_head_still_answers_like_get_without_a_body(session: aiohttp.ClientSession) -> None:
    async with (
        FakeI3DServer(token=TOKEN, count=5, pdf_size=5000) as url,
        session.head(f"{url}{LIST}/3/pdf", headers=AUTH) as resp,
    ):
        body = await resp.read()
    assert resp.status == 200
    assert resp.headers["Content-Length"] == "5000"
    assert body == b""


async def test_the_server_serves_its_openapi_document_without_a_token(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeI3DServer(token=TOKEN) as url, session.get(url + OPENAPI_PATH) as resp:
        text = await resp.text()
    assert resp.status == 200
    assert resp.content_type == "application/yaml"
    assert text == DOCUMENT.read_text(encoding="utf-8")
    assert "openapi: 3.0.3" in text
