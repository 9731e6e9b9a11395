"""Deterministic fake invoices, their JSON shapes, fake PDF bytes, and the server's records.

Everything here is a pure function of its arguments (a seed, an invoice id), so a test can
rebuild exactly what the fake server answers.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal

import attrs

__all__ = [
    "BASE_TIME",
    "DEFAULT_TOKEN",
    "ERROR_CODES",
    "FAULT_KINDS",
    "ROUTES",
    "DateStyle",
    "FakeInvoice",
    "FaultKind",
    "InvoiceStore",
    "RequestRecord",
    "encode_json",
    "error_object",
    "iter_pdf_chunks",
    "make_invoices",
    "make_pdf",
    "parse_ranged_data",
    "to_detail_item",
    "to_list_item",
]

BASE_TIME = 1_704_067_200
"""Creation date (Unix seconds) of invoice id 1 in generated data: 2024-01-01T00:00:00Z."""

DEFAULT_TOKEN = "test-token"  # noqa: S105  # a fake server's well-known test token, no secret
"""The ``PRIVATE-TOKEN`` a :class:`FakeI3DServer` requires unless told otherwise."""

_ID_SPACING = 1_800  # seconds between the creation slots of consecutive ids
_DAY = 86_400

DateStyle = Literal["iso", "unix"]
"""How detail answers spell `creationDate`/`dueDate`: ISO 8601 with offset, or Unix seconds."""

ERROR_CODES: Final[dict[int, int]] = {
    400: 10_400,
    401: 10_401,
    403: 10_403,
    404: 10_001,
    429: 10_429,
    500: 10_500,
    503: 10_503,
}
"""The `errorCode` the fake server puts in its error object, by HTTP status."""


FaultKind = Literal["500", "503", "429", "reset", "truncated"]
"""A fault the server can inject: an error status, a reset mid-body, or a truncated body."""

FAULT_KINDS: Final[tuple[FaultKind, ...]] = ("500", "503", "429", "reset", "truncated")
"""Every fault kind, the default of ``fault_kinds``."""

ROUTES: Final[dict[str, str]] = {
    "list": "list",
    "unpaid": "list",
    "detail": "detail",
    "detail_by_number": "detail",
    "pdf": "pdf",
    "other": "other",
}
"""Route name (the keys of ``requests_per_path``) -> endpoint kind (for ``fault_paths``)."""


@attrs.frozen(slots=True)
class RequestRecord:
    """One answered request in :attr:`FakeI3DServer.log` (never holds the token's value).

    ``path`` is the raw (still percent-encoded) path, ``query`` the raw query string,
    ``status`` the status line sent (200 for a ``reset``/``truncated`` fault; 0 when the
    request was cancelled before any answer, e.g. by :meth:`FakeI3DServer.stop`), ``arrived_at``
    the server clock at arrival, ``early`` whether it came before a Retry-After had elapsed.
    """

    method: str
    path: str
    route: str
    query: str
    ranged_data: str | None
    status: int
    fault: FaultKind | None
    arrived_at: float
    token_ok: bool
    early: bool
    ids: tuple[int, ...] = ()
    """The invoice ids of a list answer, in its order (empty for other answers)."""


def _is_digits(text: str) -> bool:
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def parse_ranged_data(value: str) -> tuple[int, int] | None:
    """Parse a ``RANGED-DATA`` value ``"start=<offset>,results=<count>"`` into (start, results).

    Either order and spaces around the parts are accepted; anything else gives ``None``.
    """
    fields: dict[str, int] = {}
    for part in value.split(","):
        key, _, number = part.partition("=")
        if not _is_digits(number.strip()):
            return None
        fields[key.strip().lower()] = int(number)
    if fields.keys() != {"start", "results"} or value.count(",") != 1:
        return None
    return fields["start"], fields["results"]


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


def error_object(
    status: int, message: str, errors: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """The API v3 error object the fake server answers with HTTP ``status``.

    ``errors`` holds ``(property, message)`` pairs.
    """
    return {
        "errorCode": ERROR_CODES.get(status, 10_000 + status),
        "errorMessage": message,
        "errors": [{"property": prop, "message": text} for prop, text in errors],
    }


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, as the fake server sends it (non-ASCII is not escaped)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class InvoiceStore:
    """The fake server's invoices, with cached list orders and pre-encoded list items.

    Orders and filtered lists are computed once and dropped on mutation; each list item is
    JSON-encoded once (dropped when that invoice changes), so a window costs only a join.
    """

    def __init__(self, invoices: Iterable[FakeInvoice], *, seed: int = 0) -> None:
        """Hold ``invoices``; ``seed`` makes the invoices :meth:`insert_at_head` adds."""
        self.seed = seed
        self.by_id: dict[int, FakeInvoice] = {}
        self.by_number: dict[str, FakeInvoice] = {}
        self._ordered: dict[tuple[str, str], list[FakeInvoice]] = {}
        self._encoded: dict[int, bytes] = {}
        self._add(invoices)

    def _add(self, invoices: Iterable[FakeInvoice]) -> None:
        for inv in invoices:
            if inv.id in self.by_id or inv.invoice_number in self.by_number:
                raise ValueError(f"duplicate invoice id or number: {inv.id}")
            self.by_id[inv.id] = self.by_number[inv.invoice_number] = inv
        self._ordered = {}

    def ordered(self, route: str, text: str = "") -> list[FakeInvoice]:
        """The ``"list"`` or ``"unpaid"`` list, newest first, of descriptions with ``text``."""
        found = self._ordered.get((route, text))
        if found is None:
            if text:
                found = [inv for inv in self.ordered(route) if text in inv.description]
            elif route == "unpaid":
                found = [inv for inv in self.ordered("list") if inv.is_unpaid]
            else:
                found = sorted(
                    self.by_id.values(), key=lambda i: (i.creation_date, i.id), reverse=True
                )
            self._ordered[route, text] = found
        return found

    def window(
        self, route: str, text: str, start: int, count: int, *, repeat: int | None = None
    ) -> tuple[bytes, tuple[int, ...]]:
        """The JSON array of list items at positions ``start`` to ``start + count``, and their
        ids; with ``repeat``, the item at that index of the window is there twice (the window
        keeps ``count`` items)."""
        invoices = self.ordered(route, text)[start : start + count]
        if repeat is not None and repeat < len(invoices):
            invoices = [*invoices[: repeat + 1], *invoices[repeat:]][:count]
        encoded, parts = self._encoded, []
        for inv in invoices:
            item = encoded.get(inv.id)
            if item is None:
                item = encoded[inv.id] = encode_json(to_list_item(inv))
            parts.append(item)
        return b"[" + b",".join(parts) + b"]", tuple(inv.id for inv in invoices)

    def insert_at_head(self, n: int) -> list[FakeInvoice]:
        """Add ``n`` unpaid invoices with the highest ids and the newest dates; return them."""
        top = max(self.by_id, default=0)
        newest = max((inv.creation_date for inv in self.by_id.values()), default=0)
        new = make_invoices(n, seed=self.seed, start_id=top + 1, all_unpaid=True)
        shift = max(0, newest + 60 - min((inv.creation_date for inv in new), default=0))
        if shift:
            new = [
                attrs.evolve(i, creation_date=i.creation_date + shift, due_date=i.due_date + shift)
                for i in new
            ]
        self._add(new)
        return new

    def pay(self, n: int) -> list[FakeInvoice]:
        """Mark the first ``n`` invoices of the unpaid list paid; return their new versions."""
        paid = [
            attrs.evolve(
                inv,
                payment_status=1,
                payment_date=inv.creation_date + _DAY,
                remaining_amount=0,
                total_paid_amount=inv.amount_inc_vat,
            )
            for inv in self.ordered("unpaid")[:n]
        ]
        self._replace(paid)
        return paid

    def change(self, ids: Iterable[int]) -> list[FakeInvoice]:
        """Give these invoices a new hash and 1.00 more before VAT; return the new versions."""
        changed = []
        for inv in self._pick(ids):
            excl = inv.amount_excl_vat + 100
            inc = excl + (excl * inv.vat_percentage + 50) // 100
            paid = inc if inv.payment_status == 1 else inv.total_paid_amount
            changed.append(
                attrs.evolve(
                    inv,
                    invoice_hash=hashlib.sha256(inv.invoice_hash.encode()).hexdigest()[:32],
                    amount_excl_vat=excl,
                    vat_amount=inc - excl,
                    amount_inc_vat=inc,
                    total_paid_amount=paid,
                    remaining_amount=inc - paid,
                )
            )
        self._replace(changed)
        return changed

    def remove(self, ids: Iterable[int]) -> list[FakeInvoice]:
        """Delete these invoices (they leave both lists; by id or number: 404); return them."""
        removed = self._pick(ids)
        for inv in removed:
            del self.by_id[inv.id], self.by_number[inv.invoice_number]
            self._encoded.pop(inv.id, None)
        self._ordered = {}
        return removed

    def _pick(self, ids: Iterable[int]) -> list[FakeInvoice]:
        wanted = list(dict.fromkeys(ids))
        unknown = [i for i in wanted if i not in self.by_id]
        if unknown:
            raise ValueError(f"no such invoices: {unknown}")
        return [self.by_id[i] for i in wanted]

    def _replace(self, invoices: Iterable[FakeInvoice]) -> None:
        for inv in invoices:
            self.by_id[inv.id] = self.by_number[inv.invoice_number] = inv
            self._encoded.pop(inv.id, None)
        self._ordered = {}


_PDF_HEADER = b"%PDF-1.4\n"
_PDF_EOF = b"\n%%EOF\n"


def _pdf_parts(invoice_id: int) -> tuple[bytes, bytes]:
    prefix = _PDF_HEADER + b"%\xe2\xe3\xcf\xd3\n" + f"% fake i3D invoice {invoice_id}\n".encode()
    pattern = b"".join(
        b"% "
        + hashlib.sha256(f"invoice-pdf:{invoice_id}:{i}".encode()).hexdigest().encode()
        + b"\n"
        for i in range(32)
    )
    return prefix, pattern


def iter_pdf_chunks(invoice_id: int, size: int, *, chunk_size: int = 65_536) -> Iterator[bytes]:
    """Yield the bytes of :func:`make_pdf` in chunks of at most ``chunk_size`` bytes.

    Only one chunk is held at a time, so streaming many large PDFs stays cheap in memory.
    """
    if size < 0 or chunk_size <= 0:
        raise ValueError("size must be >= 0 and chunk_size > 0")
    prefix, pattern = _pdf_parts(invoice_id)
    tail = _PDF_EOF if size >= len(prefix) + len(_PDF_EOF) else b""
    body_len = size - len(tail)
    block = pattern * (chunk_size // len(pattern) + 2)
    pos = 0
    while pos < body_len:
        want = min(chunk_size, body_len - pos)
        head = prefix[pos : pos + want]
        rest = want - len(head)
        if rest:
            offset = (pos + len(head) - len(prefix)) % len(pattern)
            head += block[offset : offset + rest]
        yield head
        pos += want
    if tail:
        yield tail


def make_pdf(invoice_id: int, size: int) -> bytes:
    """Deterministic fake PDF of exactly ``size`` bytes for ``invoice_id``.

    It starts with ``%PDF-1.4\\n`` (cut short when ``size`` < 9), differs per invoice id, and
    ends with ``%%EOF\\n`` whenever ``size`` leaves room for it.
    """
    return b"".join(iter_pdf_chunks(invoice_id, size))
