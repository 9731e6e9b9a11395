"""Deterministic fake invoices and their JSON shapes, as the list and detail endpoints answer.

Everything here is a pure function of its arguments (a seed, an invoice id), so a test can
rebuild exactly what the fake server answers.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from typing import Any, Literal

import attrs

BASE_TIME = 1_704_067_200
"""Creation date (Unix seconds) of invoice id 1 in generated data: 2024-01-01T00:00:00Z."""

DEFAULT_TOKEN = "test-token"  # noqa: S105  # a fake server's well-known test token, no secret
"""The ``PRIVATE-TOKEN`` a :class:`FakeI3DServer` requires unless told otherwise."""

_ID_SPACING = 1_800  # seconds between the creation slots of consecutive ids
_DAY = 86_400

DateStyle = Literal["iso", "unix"]
"""How detail answers spell `creationDate`/`dueDate`: ISO 8601 with offset, or Unix seconds."""


@attrs.frozen(slots=True)
class FakeInvoice:
    """One invoice of the fake server: the superset of the list and detail fields.

    Money is in integer cents (negative for credit invoices, where ``vat_amount`` and both
    totals are negative too); dates are Unix seconds (UTC); ``payment_status`` is 0 (unpaid)
    or 1 (paid); ``payment_date`` is ``None`` while unpaid.
    """

    id: int
    invoice_number: str
    invoice_hash: str
    description: str
    client_number: str
    currency: str
    currency_sign: str
    amount_inc_vat: int
    amount_excl_vat: int
    vat_amount: int
    vat_percentage: int
    remaining_amount: int
    total_paid_amount: int
    payment_status: int
    payment_date: int | None
    is_credit: bool
    creation_date: int
    due_date: int
    payment_term: int

    @property
    def is_unpaid(self) -> bool:
        """True when the invoice belongs to the unpaid list (unpaid and not a credit)."""
        return self.payment_status == 0 and not self.is_credit


_GAMES = ("Rust", "CS2", "Valheim", "Minecraft", "ARK")
_CPUS = ("E-2288G", "EPYC 7443P", "Xeon Gold 6338", "Ryzen 9 7950X")
_DESCRIPTIONS = (
    "Dédié server #{n} & backup 50% +/-",
    "Dedicated server #{n} - {cpu}",
    "Bandwidth 95th percentile / {n} Mbit/s",
    "Colocation rack {n} & remote hands",
    "Game server hosting + DDoS protection ({game})",
    "IPv4 addresses /29 block #{n}",
    "Größe: {n} TB storage, Überführung",
    "Support & maintenance 100% SLA",
    "Cloud VM {cpu} + {n} GB RAM",
    "Server housing Rotterdam (Zoë's rack {n}) 日本",
)
_CREDIT_DESCRIPTIONS = (
    "Credit note: refund {n}% / goodwill",
    "Credit note for Dédié server #{n} & downtime",
)
_CURRENCIES = (("EUR", "€"), ("EUR", "€"), ("EUR", "€"), ("USD", "$"), ("GBP", "£"))
_VAT = (21, 21, 0, 19, 9)
_TERMS = (14, 30, 30, 60)


def _build(rng: random.Random, invoice_id: int, client_number: str, unpaid: bool) -> FakeInvoice:
    creation = BASE_TIME + (invoice_id - 1) * _ID_SPACING + rng.randrange(_ID_SPACING)
    is_credit = not unpaid and rng.random() < 0.1
    pick = rng.getrandbits(30)  # independent bit fields pick the template and its values
    templates = _CREDIT_DESCRIPTIONS if is_credit else _DESCRIPTIONS
    description = templates[(pick & 0xFF) % len(templates)].format(
        n=(pick >> 8 & 0xFF) % 97 + 1, cpu=_CPUS[pick >> 16 & 3], game=_GAMES[(pick >> 18) % 5]
    )
    currency, sign = _CURRENCIES[rng.randrange(5)]
    vat_percentage = _VAT[rng.randrange(5)]
    excl = rng.randrange(100, 500_000)
    vat = (excl * vat_percentage + 50) // 100
    if is_credit:
        excl, vat = -excl, -vat
    inc = excl + vat
    paid = not unpaid and rng.random() < 0.6
    term = _TERMS[rng.randrange(4)]
    if paid:
        total_paid, payment_date = inc, creation + rng.randrange(1, term + 1) * _DAY
    else:
        total_paid = inc // 2 if not is_credit and rng.random() < 0.2 else 0
        payment_date = None
    return FakeInvoice(
        id=invoice_id,
        invoice_number=f"{time.gmtime(creation).tm_year}/{invoice_id:06d}",
        invoice_hash=f"{rng.getrandbits(128):032x}",
        description=description,
        client_number=client_number,
        currency=currency,
        currency_sign=sign,
        amount_inc_vat=inc,
        amount_excl_vat=excl,
        vat_amount=vat,
        vat_percentage=vat_percentage,
        remaining_amount=inc - total_paid,
        total_paid_amount=total_paid,
        payment_status=1 if paid else 0,
        payment_date=payment_date,
        is_credit=is_credit,
        creation_date=creation,
        due_date=creation + term * _DAY,
        payment_term=term,
    )


def make_invoices(
    count: int, *, seed: int = 0, start_id: int = 1, all_unpaid: bool = False
) -> list[FakeInvoice]:
    """Make ``count`` invoices with ids ``start_id``, ``start_id + 1``, ... from ``seed``.

    A higher id always has a later ``creation_date``. The mix holds paid, unpaid, partly paid and
    credit invoices (negative amounts), invoice numbers such as ``"2024/000123"``, and
    descriptions with spaces, ``&``, ``%``, ``+``, ``/`` and non-ASCII text, so that a filter
    substring such as ``"server"`` or ``"50% +/-"`` matches a subset. ``amount_inc_vat`` always
    equals ``amount_excl_vat + vat_amount``. With ``all_unpaid=True`` every invoice is an unpaid,
    non-credit one (what :meth:`FakeI3DServer.insert_at_head` adds).
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    rng = random.Random(seed * 1_000_003 + start_id)
    client_number = f"CL{100_000 + seed % 900_000:06d}"
    return [_build(rng, start_id + i, client_number, all_unpaid) for i in range(count)]


def to_list_item(invoice: FakeInvoice) -> dict[str, Any]:
    """The JSON object the list endpoints answer for ``invoice`` (string id, integer dates)."""
    return {
        "id": str(invoice.id),
        "creationDate": invoice.creation_date,
        "dueDate": invoice.due_date,
        "invoiceNumber": invoice.invoice_number,
        "invoiceHash": invoice.invoice_hash,
        "description": invoice.description,
        "currency": invoice.currency,
        "currencySign": invoice.currency_sign,
        "amountIncVAT": str(invoice.amount_inc_vat),
        "amountExclVAT": str(invoice.amount_excl_vat),
        "paymentStatus": invoice.payment_status,
        "paymentDate": invoice.payment_date or 0,
        "isCredit": int(invoice.is_credit),
        "remainingAmount": str(invoice.remaining_amount),
        "totalPaidAmount": str(invoice.total_paid_amount),
    }


def _date(value: int, style: DateStyle) -> str:
    if style == "unix":
        return str(value)
    return datetime.fromtimestamp(value, tz=UTC).isoformat()


def to_detail_item(invoice: FakeInvoice, *, date_style: DateStyle = "iso") -> dict[str, Any]:
    """The JSON object the detail endpoints answer for ``invoice`` (integer id, string dates).

    ``date_style="iso"`` spells dates like ``"2024-01-15T10:00:00+00:00"``; ``"unix"`` like
    ``"1705312800"``. Note the key ``amountIncVat`` (the list says ``amountIncVAT``).
    """
    return {
        "id": invoice.id,
        "invoiceNumber": invoice.invoice_number,
        "invoiceHash": invoice.invoice_hash,
        "clientNumber": invoice.client_number,
        "creationDate": _date(invoice.creation_date, date_style),
        "dueDate": _date(invoice.due_date, date_style),
        "paymentStatus": invoice.payment_status,
        "paymentDate": invoice.payment_date or 0,
        "isCredit": int(invoice.is_credit),
        "paymentTerm": invoice.payment_term,
        "currency": invoice.currency,
        "currencySign": invoice.currency_sign,
        "vatPercentage": invoice.vat_percentage,
        "vatAmount": str(invoice.vat_amount),
        "amountIncVat": str(invoice.amount_inc_vat),
        "amountExclVat": str(invoice.amount_excl_vat),
    }


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, as the fake server sends it (non-ASCII is not escaped)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
