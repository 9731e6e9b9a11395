"""The listing's fast path: a window's JSON bytes decoded straight into Invoice models (msgspec).

The converter (``_converter``) states every rule, and stays the slow path that names the bad
field and the invoice. This path decodes a whole window in C, and only the spellings that the
converter's ``WIRE_TYPES`` lets through beside each rule, chosen so that the rule would read
them the same way. A window holding anything else (a float, an ISO date, a key in another case,
an id with a '+', ...) fails here as a whole, quietly, and :func:`list_page` hands its items to
the converter one by one, which gives the same values or the error it always gave. So both
paths give the same values and the same errors on every input; ``tests/test_wire.py`` checks
that on valid and invalid windows (hypothesis).

Two steps, both in C: msgspec decodes the bytes in lax mode into decode-only wire structs (the
API's keys; integers from digits), then ``msgspec.convert`` builds the attrs models from them
(Unix seconds to aware UTC datetimes, codes to PaymentStatus, 0/1 to bool). Between the two,
one loop turns a payment date of 0 or "" into None.

Unknown keys: the first decoder refuses them, so every value in a window it accepts was read
and checked, as orjson reads and checks every value of the slow path. A window with unknown
keys is checked by orjson first (the slow path's decoder: it refuses, say, 1e400 or invalid
UTF-8 anywhere, which msgspec skips unread), and then decoded here with unknown keys skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

import msgspec

from ._converter import wire_fields
from ._models import Invoice
from ._protocol import Page, check_item_count, decode_json, page_of, page_token_of


def _decoder(name: str, *, forbid_unknown_fields: bool) -> msgspec.json.Decoder[Any]:
    """A lax decoder of a window into wire structs: the API's keys, the wire types."""
    fields = wire_fields(Invoice)
    wire = msgspec.defstruct(
        name,
        [(attribute, wire_type) for attribute, _, wire_type in fields],
        rename={attribute: key for attribute, key, _ in fields},
        forbid_unknown_fields=forbid_unknown_fields,
        gc=False,  # they hold only ints, strings and None
    )
    return msgspec.json.Decoder(cast(Any, list)[wire], strict=False)


_EXACT: Final = _decoder("_WireInvoice", forbid_unknown_fields=True)
_LENIENT: Final = _decoder("_LenientWireInvoice", forbid_unknown_fields=False)


def _decoded(decoder: msgspec.json.Decoder[Any], body: bytes) -> list[Invoice] | None:
    """The window's invoices, or None when a spelling is not one the fast path reads."""
    try:
        wires = decoder.decode(body)
        for wire in wires:
            if not wire.payment_date:  # 0 or "": not paid (null is None already)
                wire.payment_date = None
        invoices: list[Invoice] = msgspec.convert(
            wires, list[Invoice], strict=False, from_attributes=True
        )
    except Exception:  # noqa: BLE001  # any failure: the converter's path decides
        return None
    return invoices


def list_page(
    body: bytes, headers: Mapping[str, str], *, url: str, page_size: int | None = None
) -> Page:
    """The page of a list answer: typed invoices (their ids as the keys) when the fast path
    reads the window, else its raw items, for the converter. Raises InvalidResponseError as
    :func:`_protocol.page_of` does: the body is not JSON or not an array, it holds more than
    4 x ``page_size`` items, or its PAGE-TOKEN could not be sent back."""
    invoices = _decoded(_EXACT, body)
    if invoices is None:
        payload = decode_json(body, url=url)  # the slow path's decoder accepts the document
        invoices = _decoded(_LENIENT, body)
        if invoices is None:
            return page_of(payload, headers, url=url, page_size=page_size)
    check_item_count(len(invoices), page_size, url=url)
    token = page_token_of(headers, url=url)
    return Page(invoices, url, token, keys=[invoice.id for invoice in invoices])
