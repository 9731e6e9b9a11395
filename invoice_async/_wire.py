"""The listing's fast path: a window's JSON bytes decoded straight into Invoice models (msgspec).

The converter (``_converter``) states every rule, and stays the slow path that names the bad
field and the invoice. This path decodes a whole window in C, and only the spellings that the
converter's ``WIRE_TYPES`` lets through beside each rule, chosen so that the rule would read
them the same way. A window holding anything else (a float, an ISO date, a key in another case,
an id with a '+', ...) fails here as a whole, quietly, and :func:`list_page` hands its items to
the converter one by one, which gives the same values or the error it always gave. So both
paths give the same values and the same errors on every input; ``tests/test_wire.py`` checks
that on valid and invalid windows (hypothesis).

Two steps, both in C. When the answer arrives, msgspec decodes the bytes in lax mode into
decode-only wire structs (the API's keys; integers from digits; every check), which gives the
pager its keys at once (the ids). When the pager yields the window's new items,
``msgspec.convert`` builds the attrs models from those (Unix seconds to aware UTC datetimes,
codes to PaymentStatus, 0/1 to bool), which cannot fail for a value the first step let
through; one loop before it turns a payment date of 0 or "" into None. The second step is
off the path between an answer and the next read-ahead request.

Unknown keys: the first decoder refuses them, so every value in a window it accepts was read
and checked, as orjson reads and checks every value of the slow path. A window with unknown
keys is checked by orjson first (the slow path's decoder: it refuses, say, 1e400 or invalid
UTF-8 anywhere, which msgspec skips unread), and then decoded here with unknown keys skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, cast

import msgspec

from ._converter import structure_invoice, wire_fields
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


def _decoded(decoder: msgspec.json.Decoder[Any], body: bytes) -> list[Any] | None:
    """The window's wire structs, or None when a spelling is not one the fast path reads."""
    try:
        wires: list[Any] = decoder.decode(body)
    except Exception:  # noqa: BLE001  # any failure: the converter's path decides
        return None
    return wires


def list_page(
    body: bytes, headers: Mapping[str, str], *, url: str, page_size: int | None = None
) -> Page:
    """The page of a list answer: wire structs (their ids as the keys) when the fast path
    reads the window, else its raw items, for the converter; :func:`invoices` turns either
    into models. Raises InvalidResponseError as :func:`_protocol.page_of` does: the body is
    not JSON or not an array, it holds more than 4 x ``page_size`` items, or its PAGE-TOKEN
    could not be sent back."""
    wires = _decoded(_EXACT, body)
    if wires is None:
        payload = decode_json(body, url=url)  # the slow path's decoder accepts the document
        wires = _decoded(_LENIENT, body)
        if wires is None:
            return page_of(payload, headers, url=url, page_size=page_size)
    check_item_count(len(wires), page_size, url=url)
    token = page_token_of(headers, url=url)
    return Page(wires, url, token, keys=[wire.id for wire in wires])


def invoices(items: Sequence[Any], *, url: str) -> Iterator[Invoice]:
    """The models of a page's items (those the pager yields): wire structs are built into
    models in one step, raw items are structured one by one by the converter, which raises
    InvalidResponseError at the first that does not parse."""
    if items and isinstance(items[0], msgspec.Struct):  # never a raw item: those are JSON
        for wire in items:
            if not wire.payment_date:  # 0 or "": not paid (null is None already)
                wire.payment_date = None
        # Total: every wire value is one the models' types take (WIRE_TYPES).
        yield from msgspec.convert(items, list[Invoice], strict=False, from_attributes=True)
    else:
        for item in items:
            yield structure_invoice(item, url=url)
