"""An embedded fake i3D.net API v3 billing server, for testing code that talks to the API.

It speaks the billing endpoints with the quirks of the real API (string ids in lists, string
dates and an array-wrapped object in details, ``RANGED-DATA`` windows, a page cap, error
objects) and can inject faults, add latency, and change its data while a client reads it.
It uses aiohttp.web only and does not depend on the rest of ``invoice_async``.

Example::

    import aiohttp
    from invoice_async.testing import FakeI3DServer

    async def main() -> None:
        server = FakeI3DServer(count=60, page_cap=50)
        async with server as base_url, aiohttp.ClientSession() as session:
            async with session.get(
                f"{base_url}/v3/account/invoice",
                headers={"PRIVATE-TOKEN": server.token or "", "RANGED-DATA": "start=0,results=100"},
            ) as resp:
                items = await resp.json()
        assert len(items) == 50  # the cap
        assert server.requests_per_path["list"] == 1

With pytest, add ``pytest_plugins = ["invoice_async.testing.pytest_plugin"]`` to a conftest for
the ``fake_i3d_server``, ``fake_i3d_server_factory`` and ``instant_retries`` fixtures.

``instant_retries()`` makes the client's retry backoff zero in your tests; ``FakeClock`` with
``use_fake_clock(client, clock)`` runs its Retry-After pauses and deadline on a fake clock.
"""

from ._clock import FakeClock, instant_retries, use_fake_clock
from ._fake_pdfs import iter_pdf_chunks, make_pdf
from ._faults import FAULT_KINDS, FaultKind, Faults, ListQuirks
from ._invoices import (
    BASE_TIME,
    DEFAULT_TOKEN,
    DateStyle,
    FakeInvoice,
    make_invoices,
    to_detail_item,
    to_list_item,
)
from ._ratelimit import RateLimit
from ._server import OPENAPI_PATH, FakeI3DServer
from ._wire import ERROR_CODES, ROUTES, RequestRecord, error_object, parse_ranged_data

__all__ = [
    "BASE_TIME",
    "DEFAULT_TOKEN",
    "ERROR_CODES",
    "FAULT_KINDS",
    "OPENAPI_PATH",
    "ROUTES",
    "DateStyle",
    "FakeClock",
    "FakeI3DServer",
    "FakeInvoice",
    "FaultKind",
    "Faults",
    "ListQuirks",
    "RateLimit",
    "RequestRecord",
    "error_object",
    "instant_retries",
    "iter_pdf_chunks",
    "make_invoices",
    "make_pdf",
    "parse_ranged_data",
    "to_detail_item",
    "to_list_item",
    "use_fake_clock",
]
