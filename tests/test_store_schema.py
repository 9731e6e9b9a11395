"""The store's pure parts: the change test, the rows, the layout's contract. No loop, no I/O."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from invoice_async import Invoice, InvoiceDetail, PaymentStatus
from invoice_async._converter import structure_detail, structure_invoice
from invoice_async._files import pdf_file_name
from invoice_async._store_schema import (
    COLUMN_KINDS,
    COMPARED,
    DETAIL_FIELDS,
    INVOICE_FIELDS,
    MIGRATIONS,
    SCHEMA_VERSION,
    BadRow,
    checked_pdf,
    checked_pdf_name,
    checked_scope,
    classify,
    compared,
    detail_record,
    detail_row,
    invoice_from_row,
    invoice_record,
    invoice_row,
)
from invoice_async.testing import make_invoices, to_detail_item, to_list_item

SAMPLE = make_invoices(40, seed=3)
A_DATE = datetime(2020, 2, 2, tzinfo=UTC)


def listed(**changes: Any) -> tuple[Any, ...]:
    """The compared values of a sample unpaid invoice, with some changed."""
    invoice = structure_invoice(to_list_item(next(i for i in SAMPLE if i.is_unpaid)))
    return compared(invoice_row(attrs.evolve(invoice, **changes)))


def test_the_change_test_compares_exactly_the_list_fields_the_issue_names() -> None:
    assert set(COMPARED) == {
        "invoice_hash",
        "payment_status",
        "payment_date",
        "amount_inc_vat",
        "amount_excl_vat",
        "remaining_amount",
        "total_paid_amount",
        "creation_date",
        "due_date",
    }


def test_an_invoice_not_in_the_store_is_new_and_the_same_one_is_unchanged() -> None:
    assert classify(None, listed()) == "new"
    assert classify(listed(), listed()) == "unchanged"


@pytest.mark.parametrize(
    "changes",
    [
        {"invoice_hash": "0" * 32},
        {"amount_inc_vat": 1},
        {"amount_excl_vat": 1},
        {"remaining_amount": 1},
        {"total_paid_amount": 1},
        {"creation_date": A_DATE},
        {"due_date": A_DATE},
        {"payment_date": A_DATE},
    ],
)
def test_a_change_of_any_compared_field_is_changed(changes: dict[str, Any]) -> None:
    assert classify(listed(), listed(**changes)) == "changed"


def test_a_status_that_becomes_paid_is_paid_and_other_status_changes_are_changed() -> None:
    assert classify(listed(), listed(payment_status=PaymentStatus.PAID)) == "paid"
    assert classify(listed(payment_status=PaymentStatus.PAID), listed()) == "changed"
    assert classify(listed(), listed(payment_status=PaymentStatus(7))) == "changed"


def test_other_list_fields_are_not_a_change() -> None:
    for changes in ({"description": "other"}, {"currency": "USD"}, {"invoice_number": "X/1"}):
        assert classify(listed(), listed(**changes)) == "unchanged"


def test_rows_use_the_model_names_in_order_and_read_back_as_the_export_writes() -> None:
    assert tuple(f.name for f in attrs.fields(Invoice)) == INVOICE_FIELDS
    assert ("id", *DETAIL_FIELDS) == tuple(f.name for f in attrs.fields(InvoiceDetail))
    for fake in SAMPLE:
        invoice = structure_invoice(to_list_item(fake))
        row = invoice_row(invoice)
        assert invoice_from_row(row) == invoice
        record = invoice_record(row)
        assert list(record) == list(INVOICE_FIELDS)
        assert record["is_credit"] is invoice.is_credit
        assert record["payment_status"] == int(invoice.payment_status)
        assert record["creation_date"] == invoice.creation_date.isoformat()
        json.dumps(record)  # plain JSON values only
        detail = structure_detail(to_detail_item(fake))
        written = detail_record(detail_row(fake.id, detail, "2026-01-01T00:00:00+00:00")[:-1])
        assert list(written) == ["id", *DETAIL_FIELDS]
        assert written["vat_amount"] == fake.vat_amount
        assert written["due_date"] == detail.due_date.isoformat()


def test_migrations_are_numbered_steps_that_build_the_documented_tables() -> None:
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 2
    conn = sqlite3.connect(":memory:")
    for number, step in enumerate(MIGRATIONS, 1):
        conn.executescript(f"{step}\nPRAGMA user_version = {number};")
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    assert tables == {"meta", "runs", "invoices", "details", "pdfs", "payment_events"}
    columns = {t: [c[1] for c in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    # The names of the issue's contract, written out (not taken from the models).
    invoices = columns["invoices"]
    assert invoices[0] == "id"
    assert set(invoices[1:15]) == {
        "invoice_number",
        "invoice_hash",
        "description",
        "currency",
        "currency_sign",
        "amount_inc_vat",
        "amount_excl_vat",
        "remaining_amount",
        "total_paid_amount",
        "payment_status",
        "payment_date",
        "creation_date",
        "due_date",
        "is_credit",
    }
    assert invoices[15:19] == ["list_position", "first_seen", "last_seen", "removed_at"]
    details = columns["details"]
    assert details[0] == "invoice_id"
    assert set(details[1:16]) == {
        "invoice_number",
        "invoice_hash",
        "client_number",
        "creation_date",
        "due_date",
        "payment_status",
        "payment_date",
        "is_credit",
        "payment_term",
        "currency",
        "currency_sign",
        "vat_percentage",
        "vat_amount",
        "amount_inc_vat",
        "amount_excl_vat",
    }
    assert details[16] == "fetched_at"
    assert columns["pdfs"][:5] == ["invoice_id", "path", "size", "sha256", "fetched_at"]
    assert columns["payment_events"][1:5] == ["invoice_id", "old_status", "new_status", "seen_at"]
    assert columns["runs"] == ["id", "started_at", "finished_at", "status", "counts"]
    conn.close()  # Python 3.13 warns of a connection left open


# --- what is read back is checked ----------------------------------------------------------


def test_every_model_column_has_a_kind_to_be_checked_against() -> None:
    assert set(COLUMN_KINDS) == set(INVOICE_FIELDS[1:]) | set(DETAIL_FIELDS)


def test_rows_the_store_writes_read_back_and_others_are_bad_rows() -> None:
    invoice = structure_invoice(to_list_item(SAMPLE[0]))
    row = invoice_row(invoice)
    assert invoice_from_row(row) == invoice
    position = INVOICE_FIELDS.index("amount_inc_vat")
    for bad in [
        (0, *row[1:]),
        (-7, *row[1:]),
        (*row[:position], "12.50", *row[position + 1 :]),
        (*row[:position], b"\x00", *row[position + 1 :]),
        (*row[:-1], "yesterday"),
        row[:-1],
    ]:
        with pytest.raises(BadRow):
            invoice_record(bad)
        with pytest.raises(BadRow):
            invoice_from_row(bad)


@pytest.mark.parametrize("number", ["2024/0001", "../../etc", ".hidden", "", None, "x" * 300])
def test_a_pdf_name_read_back_is_one_the_library_gives_that_invoice(number: str | None) -> None:
    name = pdf_file_name(7, number)
    assert checked_pdf_name(7, name) == name
    with pytest.raises(BadRow):
        checked_pdf_name(8, name)  # another invoice's file


@pytest.mark.parametrize(
    "name", ["../../x_7.pdf", "a/b_7.pdf", ".a_7.pdf", "_7.pdf", "a_7.pdf/", "a_7.PDF", 7, None]
)
def test_a_pdf_name_that_is_not_a_plain_name_of_ours_is_a_bad_row(name: object) -> None:
    with pytest.raises(BadRow):
        checked_pdf_name(7, name)


def test_a_pdf_row_needs_a_size_and_a_sha256_as_the_store_writes_them() -> None:
    good = (7, "a_7.pdf", 10, "0" * 64)
    assert checked_pdf(good) == good
    for bad in [
        (7, "a_7.pdf", -1, "0" * 64),
        (7, "a_7.pdf", "10", "0" * 64),
        (7, "a_7.pdf", 1, "xyz"),
    ]:
        with pytest.raises(BadRow):
            checked_pdf(bad)


@pytest.mark.parametrize(
    "meta",
    [
        {"unpaid": "2"},
        {"filter": "a\r\nb"},
        {"filter": 5},
        {"pdf_dir": "../x"},
        {"pdf_dir": "a\nb"},
    ],
)
def test_a_scope_the_store_does_not_write_is_a_bad_row(meta: dict[str, Any]) -> None:
    with pytest.raises(BadRow):
        checked_scope(meta)
    assert checked_scope({"unpaid": "1", "filter": "x", "pdf_dir": "pdf"})["pdf_dir"] == "pdf"
    assert checked_scope({"pdf_dir": "/srv/pdf"})["pdf_dir"] == "/srv/pdf"
