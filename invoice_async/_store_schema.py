"""The store's layout, as numbered migration steps; its rows; and the change test. Pure.

A store at schema version k (``PRAGMA user_version``) is brought up to date by running steps
k+1 … N, each in its own transaction with the version it reaches. A new store runs them all.
The column names of ``invoices`` and ``details`` are the model attribute names, exactly as
``invoices.jsonl`` and ``details.jsonl`` write them; users' queries rely on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import PurePath
from typing import Any, Final, Literal

import attrs

from . import errors
from ._args import check_filter, check_invoice_id
from ._files import safe_stem
from ._models import Invoice, InvoiceDetail, PaymentStatus

APPLICATION_ID: Final = 0x49415331  # "IAS1" in the SQLite header: this file is a store
PAID: Final = int(PaymentStatus.PAID)

INVOICE_FIELDS: Final = tuple(field.name for field in attrs.fields(Invoice))
"""The ``invoices`` columns that hold the model, ``id`` first, in the model's order."""

DETAIL_FIELDS: Final = tuple(f.name for f in attrs.fields(InvoiceDetail) if f.name != "id")
"""The ``details`` columns after ``invoice_id``, in the model's order."""

COMPARED: Final = (
    "invoice_hash",
    "payment_status",
    "payment_date",
    "amount_inc_vat",
    "amount_excl_vat",
    "remaining_amount",
    "total_paid_amount",
    "creation_date",
    "due_date",
)
"""The list fields whose change means the detail and the PDF are fetched again."""

_STATUS: Final = COMPARED.index("payment_status")
_COMPARED_AT: Final = tuple(INVOICE_FIELDS.index(name) for name in COMPARED)

MIGRATIONS: Final[Sequence[str]] = (
    # 1: the copy of the list, the details, the PDFs, the runs, and the store's scope (meta).
    f"""
    PRAGMA application_id = {APPLICATION_ID};
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        status      TEXT NOT NULL CHECK (status IN
                        ('running', 'complete', 'partial', 'failed', 'interrupted')),
        counts      TEXT NOT NULL DEFAULT '{{}}'
    );
    CREATE TABLE invoices (
        id                INTEGER PRIMARY KEY,
        invoice_number    TEXT NOT NULL,
        invoice_hash      TEXT NOT NULL,
        description       TEXT NOT NULL,
        currency          TEXT NOT NULL,
        currency_sign     TEXT NOT NULL,
        amount_inc_vat    INTEGER NOT NULL,
        amount_excl_vat   INTEGER NOT NULL,
        remaining_amount  INTEGER NOT NULL,
        total_paid_amount INTEGER NOT NULL,
        payment_status    INTEGER NOT NULL,
        payment_date      TEXT,
        is_credit         INTEGER NOT NULL CHECK (is_credit IN (0, 1)),
        creation_date     TEXT NOT NULL,
        due_date          TEXT NOT NULL,
        list_position     INTEGER,
        first_seen        TEXT NOT NULL,
        last_seen         TEXT NOT NULL,
        removed_at        TEXT,
        listed_run        INTEGER REFERENCES runs (id)
    );
    CREATE TABLE details (
        invoice_id        INTEGER PRIMARY KEY REFERENCES invoices (id),
        invoice_number    TEXT NOT NULL,
        invoice_hash      TEXT NOT NULL,
        client_number     TEXT NOT NULL,
        creation_date     TEXT NOT NULL,
        due_date          TEXT NOT NULL,
        payment_status    INTEGER NOT NULL,
        payment_date      TEXT,
        is_credit         INTEGER NOT NULL CHECK (is_credit IN (0, 1)),
        payment_term      INTEGER NOT NULL,
        currency          TEXT NOT NULL,
        currency_sign     TEXT NOT NULL,
        vat_percentage    INTEGER NOT NULL,
        vat_amount        INTEGER NOT NULL,
        amount_inc_vat    INTEGER NOT NULL,
        amount_excl_vat   INTEGER NOT NULL,
        fetched_at        TEXT NOT NULL
    );
    CREATE TABLE pdfs (
        invoice_id INTEGER PRIMARY KEY REFERENCES invoices (id),
        path       TEXT NOT NULL,
        size       INTEGER NOT NULL,
        sha256     TEXT NOT NULL,
        fetched_at TEXT NOT NULL
    );
    """,
    # 2: the payment history; a detail or PDF made stale by a change of its invoice stays
    # readable until it is fetched again; list order by index.
    """
    CREATE TABLE payment_events (
        id         INTEGER PRIMARY KEY,
        invoice_id INTEGER NOT NULL REFERENCES invoices (id),
        old_status INTEGER NOT NULL,
        new_status INTEGER NOT NULL,
        seen_at    TEXT NOT NULL,
        run_id     INTEGER REFERENCES runs (id)
    );
    CREATE INDEX payment_events_by_invoice ON payment_events (invoice_id);
    ALTER TABLE details ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE pdfs ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX invoices_by_position ON invoices (list_position);
    """,
    # 3: a listing writes each invoice's place here; only a complete listing moves the places
    # into list_position, all at once (a listing that fails leaves the old order whole).
    """
    ALTER TABLE invoices ADD COLUMN pending_position INTEGER;
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)


# --- what is read back is checked as if the API had sent it ---------------------------------


class BadRow(ValueError):
    """A value in the store that invoice_async would not have written there (planted by
    someone who can write to the file, or corrupt); the store turns it into StoreError."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_text(value: object) -> bool:
    return type(value) is str


def _is_integer(value: object) -> bool:
    return type(value) is int


def _is_flag(value: object) -> bool:
    return type(value) is int and value in (0, 1)


def _is_time(value: object) -> bool:
    if type(value) is not str:
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _is_optional_time(value: object) -> bool:
    return value is None or _is_time(value)


COLUMN_KINDS: Final[dict[str, Callable[[object], bool]]] = {
    "invoice_number": _is_text,
    "invoice_hash": _is_text,
    "description": _is_text,
    "currency": _is_text,
    "currency_sign": _is_text,
    "client_number": _is_text,
    "amount_inc_vat": _is_integer,
    "amount_excl_vat": _is_integer,
    "remaining_amount": _is_integer,
    "total_paid_amount": _is_integer,
    "vat_amount": _is_integer,
    "payment_status": _is_integer,
    "payment_term": _is_integer,
    "vat_percentage": _is_integer,
    "is_credit": _is_flag,
    "payment_date": _is_optional_time,
    "creation_date": _is_time,
    "due_date": _is_time,
}
"""What each model column of ``invoices`` and ``details`` holds, as the store writes it."""

_SHA256_RE: Final = re.compile(r"[0-9a-f]{64}")


def checked_id(value: object, where: str) -> int:
    """An invoice id read back from the store, through the same check as an argument."""
    try:
        return check_invoice_id(value)
    except errors.ConfigurationError:
        raise BadRow(f"an invoice id {_shown(value)} in {where}") from None


def _check_row(table: str, names: Sequence[str], row: Sequence[Any]) -> None:
    """Every value of a row (its invoice id first) is of the kind the store writes."""
    if len(row) != len(names):
        raise BadRow(f"a row of {table} with {len(row)} values, not {len(names)}")
    invoice_id = checked_id(row[0], table)
    for name, value in zip(names[1:], row[1:], strict=True):
        if not COLUMN_KINDS[name](value):
            raise BadRow(f"{name}={_shown(value)} in the {table} row of invoice {invoice_id}")


def checked_pdf_name(invoice_id: int, name: object) -> str:
    """The file name of a ``pdfs`` row: exactly a name ``pdf_file_name`` gives this invoice
    (a plain name in the PDF folder, ending ``_<id>.pdf``), never a path."""
    suffix = f"_{invoice_id}.pdf"
    if type(name) is not str or not name.endswith(suffix):
        raise BadRow(f"a PDF path {_shown(name)} for invoice {invoice_id}")
    stem = name.removesuffix(suffix)
    if not stem or safe_stem(stem) != stem:
        raise BadRow(f"a PDF path {_shown(name)} for invoice {invoice_id}")
    return name


def checked_pdf(row: Sequence[Any]) -> tuple[int, str, int, str]:
    """``(invoice_id, path, size, sha256)`` of a ``pdfs`` row, each checked."""
    invoice_id, name, size, digest = checked_id(row[0], "pdfs"), row[1], row[2], row[3]
    if not _is_integer(size) or size < 0:
        raise BadRow(f"a PDF size {_shown(size)} for invoice {invoice_id}")
    if type(digest) is not str or not _SHA256_RE.fullmatch(digest):
        raise BadRow(f"a sha256 {_shown(digest)} for invoice {invoice_id}")
    return invoice_id, checked_pdf_name(invoice_id, name), size, digest


def checked_scope(meta: dict[str, Any]) -> dict[str, Any]:
    """The ``meta`` rows: ``unpaid`` 0 or 1, ``filter`` as a filter argument, ``pdf_dir``
    text that stays inside the store's folder when relative (as the store writes it)."""
    if meta.get("unpaid") not in (None, "0", "1"):
        raise BadRow(f"unpaid={_shown(meta.get('unpaid'))} in meta")
    try:
        check_filter(meta.get("filter"))
    except errors.ConfigurationError:
        raise BadRow(f"filter={_shown(meta.get('filter'))} in meta") from None
    folder = meta.get("pdf_dir")
    if folder is not None and (
        type(folder) is not str
        or not folder
        or any(ord(char) < 32 for char in folder)
        or (not PurePath(folder).is_absolute() and ".." in PurePath(folder).parts)
    ):
        raise BadRow(f"pdf_dir={_shown(folder)} in meta")
    return meta


# --- rows -------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def invoice_row(invoice: Invoice) -> tuple[Any, ...]:
    """The ``invoices`` values of a listed invoice, in :data:`INVOICE_FIELDS` order: integer
    cents, the status as an integer, dates as ISO 8601 UTC text, ``is_credit`` as 0/1."""
    return (
        invoice.id,
        invoice.invoice_number,
        invoice.invoice_hash,
        invoice.description,
        invoice.currency,
        invoice.currency_sign,
        invoice.amount_inc_vat,
        invoice.amount_excl_vat,
        invoice.remaining_amount,
        invoice.total_paid_amount,
        int(invoice.payment_status),
        _iso(invoice.payment_date),
        int(invoice.is_credit),
        invoice.creation_date.isoformat(),
        invoice.due_date.isoformat(),
    )


def detail_row(invoice_id: int, detail: InvoiceDetail, fetched_at: str) -> tuple[Any, ...]:
    """The ``details`` values: the invoice id asked for, :data:`DETAIL_FIELDS`, the time."""
    return (
        invoice_id,
        detail.invoice_number,
        detail.invoice_hash,
        detail.client_number,
        detail.creation_date.isoformat(),
        detail.due_date.isoformat(),
        int(detail.payment_status),
        _iso(detail.payment_date),
        int(detail.is_credit),
        detail.payment_term,
        detail.currency,
        detail.currency_sign,
        detail.vat_percentage,
        detail.vat_amount,
        detail.amount_inc_vat,
        detail.amount_excl_vat,
        fetched_at,
    )


def invoice_record(row: Sequence[Any]) -> dict[str, Any]:
    """An ``invoices`` row (:data:`INVOICE_FIELDS`) as the export writes it: the model's
    attribute names in order, ``is_credit`` a bool, everything else as stored. BadRow when a
    value is not what the store writes."""
    _check_row("invoices", INVOICE_FIELDS, row)
    record = dict(zip(INVOICE_FIELDS, row, strict=True))
    record["is_credit"] = bool(record["is_credit"])
    return record


def detail_record(row: Sequence[Any]) -> dict[str, Any]:
    """A ``details`` row (``invoice_id`` + :data:`DETAIL_FIELDS`) as the export writes it,
    with the invoice id as ``id``. BadRow when a value is not what the store writes."""
    _check_row("details", ("id", *DETAIL_FIELDS), row)
    record = dict(zip(("id", *DETAIL_FIELDS), row, strict=True))
    record["is_credit"] = bool(record["is_credit"])
    return record


def _datetime(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def invoice_from_row(row: Sequence[Any]) -> Invoice:
    """The Invoice an ``invoices`` row (:data:`INVOICE_FIELDS`) holds; BadRow when a value
    is not what the store writes."""
    _check_row("invoices", INVOICE_FIELDS, row)
    values = dict(zip(INVOICE_FIELDS, row, strict=True))
    values["payment_status"] = PaymentStatus(values["payment_status"])
    values["is_credit"] = bool(values["is_credit"])
    for name in ("payment_date", "creation_date", "due_date"):
        values[name] = _datetime(values[name])
    return Invoice(**values)


# --- the change test --------------------------------------------------------------------------

Change = Literal["new", "changed", "paid", "unchanged"]


def compared(row: Sequence[Any]) -> tuple[Any, ...]:
    """The :data:`COMPARED` values of an ``invoices`` row (:data:`INVOICE_FIELDS` order)."""
    return tuple(row[index] for index in _COMPARED_AT)


def classify(before: Sequence[Any] | None, after: Sequence[Any]) -> Change:
    """What a listing says of one invoice, from its :data:`COMPARED` values.

    ``before`` is what the store holds, or None when the invoice is not in its copy of the
    list (never seen, or removed since). ``"paid"``: the status changed to paid; ``"changed"``:
    any other compared field (or status) changed; ``"new"`` and ``"unchanged"`` as named.
    Other list fields (description, currency, number) are kept current without a refetch.
    """
    if before is None:
        return "new"
    if tuple(before) == tuple(after):
        return "unchanged"
    if before[_STATUS] != after[_STATUS] and after[_STATUS] == PAID:
        return "paid"
    return "changed"


def status_of(values: Sequence[Any]) -> int:
    """The payment status among :data:`COMPARED` values."""
    status: int = values[_STATUS]
    return status
