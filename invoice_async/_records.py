"""Models as plain data: what the export writes, for JSON, CSV or a database of one's own."""

from __future__ import annotations

from typing import Any

from ._models import Invoice, InvoiceDetail
from ._store_schema import detail_record, detail_row, invoice_record, invoice_row


def to_dict(model: Invoice | InvoiceDetail) -> dict[str, Any]:
    """An Invoice or InvoiceDetail as plain data, exactly as the export writes it
    (``invoices.jsonl``, ``details.jsonl``) and the store's columns hold it.

    The keys are the model's attribute names, in the model's order. Money stays integer
    cents, ``payment_status`` is its integer code, ``is_credit`` a bool, and dates are
    ISO 8601 UTC text (``"2024-01-21T19:43:18+00:00"``) or None. Every value is a str, int,
    bool or None, so ``json.dumps(to_dict(invoice))`` always works.

    Raises TypeError for anything that is not an Invoice or an InvoiceDetail.
    """
    if isinstance(model, Invoice):
        return invoice_record(invoice_row(model))
    if isinstance(model, InvoiceDetail):
        # A store row ends with the time it was fetched, which the export does not write.
        return detail_record(detail_row(model.id, model, "")[:-1])
    raise TypeError(f"to_dict takes an Invoice or an InvoiceDetail, not {type(model).__name__}")
