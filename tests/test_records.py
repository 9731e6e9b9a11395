"""``to_dict``: a model as plain data, exactly as the export writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from invoice_async import InvoiceClient, to_dict
from invoice_async._converter import structure_detail, structure_invoice
from invoice_async.cli._export import ExportOptions, run_export
from invoice_async.testing import FakeI3DServer
from tests._samples import DETAIL, LIST_ITEM

TOKEN = "records-token-p4"


def test_an_invoice_keeps_cents_iso_utc_dates_and_the_models_order() -> None:
    invoice = structure_invoice(LIST_ITEM)
    record = to_dict(invoice)
    assert list(record) == [
        "id", "invoice_number", "invoice_hash", "description", "currency", "currency_sign",
        "amount_inc_vat", "amount_excl_vat", "remaining_amount", "total_paid_amount",
        "payment_status", "payment_date", "is_credit", "creation_date", "due_date",
    ]  # fmt: skip
    assert record["amount_inc_vat"] == 12100
    assert record["creation_date"] == "2023-11-14T22:13:20+00:00"
    assert record["payment_status"] == 1
    assert type(record["payment_status"]) is int
    assert record["is_credit"] is False
    assert json.loads(json.dumps(record)) == record


def test_a_detail_has_the_id_first_and_no_fetch_time() -> None:
    record = to_dict(structure_detail(DETAIL))
    assert next(iter(record)) == "id"
    assert record["id"] == 123
    assert record["vat_amount"] == 2100
    assert record["payment_date"] is None
    assert record["is_credit"] is True
    assert "fetched_at" not in record


@pytest.mark.parametrize("other", [None, {"id": 1}, 5])
def test_anything_else_is_a_type_error(other: object) -> None:
    with pytest.raises(TypeError, match="Invoice or an InvoiceDetail"):
        to_dict(other)  # type: ignore[arg-type]  # the wrong type on purpose


async def test_it_is_what_the_export_writes_line_for_line(tmp_path: Path) -> None:
    server = FakeI3DServer(token=TOKEN, count=40)
    async with server as base_url, InvoiceClient(TOKEN, base_url=base_url) as client:
        await run_export(client, ExportOptions(out_dir=tmp_path, details=True))
        invoices = [to_dict(invoice) async for invoice in client.invoices()]
        details = [to_dict(await client.invoice(int(row["id"]))) for row in invoices]
    written = (tmp_path / "invoices.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in written] == invoices
    written = (tmp_path / "details.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in written] == details
