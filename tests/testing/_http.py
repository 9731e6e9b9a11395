"""What the tests of the fake server share: plain aiohttp requests and the expected shapes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from invoice_async.testing import (
    ERROR_CODES,
)

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
