"""Samples and small helpers that several test modules share (tests never import one another)."""

from __future__ import annotations

from typing import Any

from invoice_async import errors
from invoice_async.testing import parse_ranged_data


def start_of(ranged_data: str | None) -> int:
    """The offset a ``RANGED-DATA`` value asks for, read as the fake server reads it."""
    window = parse_ranged_data(ranged_data or "")
    assert window is not None, f"not a RANGED-DATA value: {ranged_data!r}"
    return window[0]


# One list item and one detail answer as the API documents them (string money, both dates).
LIST_ITEM: dict[str, Any] = {
    "id": "123",
    "creationDate": 1700000000,
    "dueDate": 1701209600,
    "invoiceNumber": "2024/0001",
    "invoiceHash": "9f86d081",
    "description": "Dedicated server & backup",
    "currency": "EUR",
    "currencySign": "€",
    "amountIncVAT": "12100",
    "amountExclVAT": "10000",
    "paymentStatus": 1,
    "paymentDate": 1700100000,
    "isCredit": 0,
    "remainingAmount": "0",
    "totalPaidAmount": "12100",
}
DETAIL: dict[str, Any] = {
    "id": 123,
    "invoiceNumber": "2024/0001",
    "invoiceHash": "9f86d081",
    "clientNumber": "C-77",
    "creationDate": "2023-11-14T22:13:20+00:00",
    "dueDate": "1701209600",
    "paymentStatus": 0,
    "paymentDate": 0,
    "isCredit": 1,
    "paymentTerm": 14,
    "currency": "EUR",
    "currencySign": "€",
    "vatPercentage": 21,
    "vatAmount": "2100",
    "amountIncVat": "12100",
    "amountExclVat": "10000",
}

# Every status the client maps to its own error class.
STATUS_CLASSES: list[tuple[int, type[errors.ApiError]]] = [
    (400, errors.BadRequestError),
    (401, errors.AuthenticationError),
    (403, errors.PermissionDeniedError),
    (404, errors.NotFoundError),
    (409, errors.ApiError),
    (422, errors.BadRequestError),
    (429, errors.RateLimitError),
    (500, errors.ServerError),
    (503, errors.ServerError),
]
