"""Typed invoice models. Parsing rules live on the converter (``_converter.py``), not here.

Money is always an ``int`` of cents (``amount_inc_vat=12100`` is 121.00 in ``currency``), never
a float. Datetimes are timezone-aware and in UTC.
"""

from __future__ import annotations

import enum
from datetime import datetime
from pathlib import Path
from typing import Literal

import attrs

OnError = Literal["raise", "yield"]
"""The failure policy of a fan-out: fail fast (``"raise"``) or an Outcome per item."""


class PaymentStatus(enum.IntEnum):
    """Payment status of an invoice.

    A code this library does not know still parses: it becomes a member named ``UNKNOWN_<code>``
    that keeps its integer value, so ``PaymentStatus(7) == 7``.
    """

    UNPAID = 0
    PAID = 1

    @classmethod
    def _missing_(cls, value: object) -> PaymentStatus | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        member = int.__new__(cls, value)
        member._name_ = f"UNKNOWN_{value}"
        member._value_ = value
        return member


@attrs.frozen(slots=True)
class Invoice:
    """One invoice as the list endpoints describe it. Amounts are integer cents."""

    id: int
    invoice_number: str
    invoice_hash: str
    description: str
    currency: str
    currency_sign: str
    amount_inc_vat: int
    amount_excl_vat: int
    remaining_amount: int
    total_paid_amount: int
    payment_status: PaymentStatus
    payment_date: datetime | None
    is_credit: bool
    creation_date: datetime
    due_date: datetime


@attrs.frozen(slots=True)
class InvoiceDetail:
    """One invoice as the detail endpoints describe it. Amounts are integer cents."""

    id: int
    invoice_number: str
    invoice_hash: str
    client_number: str
    creation_date: datetime
    due_date: datetime
    payment_status: PaymentStatus
    payment_date: datetime | None
    is_credit: bool
    payment_term: int
    currency: str
    currency_sign: str
    vat_percentage: int
    vat_amount: int
    amount_inc_vat: int
    amount_excl_vat: int


@attrs.frozen(slots=True)
class PdfDownload:
    """A PDF on disk: the invoice it belongs to, where it is, and its size in bytes.

    ``skipped`` is True when the file was already there and was not fetched again
    (``download_pdfs(..., skip_existing=True)``).
    """

    invoice_id: int
    path: Path
    size: int
    skipped: bool = False
