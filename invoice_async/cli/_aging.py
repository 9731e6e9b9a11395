"""What is outstanding and how long past due: the arithmetic of ``summary``. Pure.

The outstanding amount of a currency is the sum of ``remaining_amount`` over the unpaid list
(which the API keeps credit invoices out of). Each invoice is aged by the whole UTC days
from its due date to the as-of date: not yet due (0 or fewer), 1-30, 31-60, 61-90, over 90.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date
from typing import Any, Final

import attrs

from .. import Invoice

BUCKETS: Final = (
    ("not_due", "not yet due", None, 0),
    ("1-30", "1-30 days", 1, 30),
    ("31-60", "31-60 days", 31, 60),
    ("61-90", "61-90 days", 61, 90),
    ("over_90", "over 90 days", 91, None),
)
"""``(key, label, least days past due, most days past due)``; None: no bound."""

CREDIT_NOTE: Final = (
    "Credit invoices are not counted: the API leaves them out of the unpaid list, so no "
    "credit is taken off these amounts."
)


@attrs.define
class Bucket:
    """The unpaid invoices of one currency in one age bracket."""

    key: str
    label: str
    min_days: int | None
    max_days: int | None
    invoices: int = 0
    amount: int = 0  # cents


@attrs.define
class CurrencyAging:
    """What is outstanding in one currency, and its aging."""

    currency: str
    currency_sign: str
    invoices: int = 0
    outstanding: int = 0  # cents
    buckets: list[Bucket] = attrs.Factory(
        lambda: [Bucket(key, label, low, high) for key, label, low, high in BUCKETS]
    )


def days_past_due(invoice: Invoice, as_of: date) -> int:
    """Whole UTC days from the due date to ``as_of``: 0 on the due day, negative before it."""
    return (as_of - invoice.due_date.astimezone(UTC).date()).days


def bucket_of(days: int) -> int:
    """The index in :data:`BUCKETS` of an invoice ``days`` past due."""
    for index, (_, _, _, most) in enumerate(BUCKETS):
        if most is None or days <= most:
            return index
    raise AssertionError("the last bucket has no bound")


def age(invoices: Iterable[Invoice], as_of: date) -> list[CurrencyAging]:
    """The aging of ``invoices`` (the unpaid list) as of ``as_of``, one entry per currency,
    by currency code."""
    found: dict[str, CurrencyAging] = {}
    for invoice in invoices:
        entry = found.get(invoice.currency)
        if entry is None:
            entry = found[invoice.currency] = CurrencyAging(invoice.currency, invoice.currency_sign)
        entry.invoices += 1
        entry.outstanding += invoice.remaining_amount
        bucket = entry.buckets[bucket_of(days_past_due(invoice, as_of))]
        bucket.invoices += 1
        bucket.amount += invoice.remaining_amount
    return [found[currency] for currency in sorted(found)]


def as_document(agings: list[CurrencyAging], as_of: date) -> dict[str, Any]:
    """The JSON document of ``summary --output json``: integer cents, days as numbers."""
    return {
        "as_of": as_of.isoformat(),
        "note": CREDIT_NOTE,
        "currencies": [
            {
                "currency": entry.currency,
                "currency_sign": entry.currency_sign,
                "invoices": entry.invoices,
                "outstanding": entry.outstanding,
                "aging": [
                    {
                        "bucket": bucket.key,
                        "min_days_past_due": bucket.min_days,
                        "max_days_past_due": bucket.max_days,
                        "invoices": bucket.invoices,
                        "amount": bucket.amount,
                    }
                    for bucket in entry.buckets
                ],
            }
            for entry in agings
        ],
    }
