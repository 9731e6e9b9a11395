"""invoice_async: an async client for the i3D.net API v3 billing endpoints.

    from invoice_async import InvoiceClient

    async with InvoiceClient() as client:          # token from I3D_API_TOKEN
        async for invoice in client.unpaid_invoices():
            print(invoice.invoice_number, invoice.amount_inc_vat)   # int cents

The public API is what ``__all__`` lists; every other module is private.
"""

from . import errors
from ._client import InvoiceClient
from ._fanout import Outcome
from ._models import Invoice, InvoiceDetail, PaymentStatus, PdfDownload
from ._records import to_dict
from ._stats import ClientStats
from ._store import InvoiceStore
from ._sync import SyncSummary

__all__ = [
    "ClientStats",
    "Invoice",
    "InvoiceClient",
    "InvoiceDetail",
    "InvoiceStore",
    "Outcome",
    "PaymentStatus",
    "PdfDownload",
    "SyncSummary",
    "errors",
    "to_dict",
]
__version__ = "0.1.0.dev0"
