"""The one cattrs converter: API JSON objects to models.

The rules for every quirk of the API live here, as per-field hooks:

- ids: ``"123"`` or ``123`` -> ``123``;
- money: strings (or ints) of integer cents -> ``int``; anything else (a float, ``"12.50"``)
  is an error, so no amount is ever rounded;
- datetimes: Unix seconds (int or numeric string) or ISO 8601 -> aware UTC ``datetime``;
  ``0``, ``null``, ``""`` for ``paymentDate`` -> None;
- ``isCredit``: 0/1 -> bool; ``paymentStatus``: any integer code -> PaymentStatus;
- camelCase keys, with the API's two spellings (``amountIncVAT`` in lists, ``amountIncVat`` in
  details); unknown keys are ignored.

Structuring runs a fast generated function first. Only when it fails does a second, detailed
pass run (matching keys case-insensitively), so the error can name the field and the invoice.

A listing takes a faster path first (``_wire``: a window's bytes straight into models, in C),
which decodes only the spellings that ``WIRE_TYPES`` below lets through, beside each rule: a
window with any other spelling is structured here, item by item.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, TypeVar

import cattrs
import msgspec
from cattrs.gen import make_dict_structure_fn, override

from . import errors
from ._logging import redact
from ._models import Invoice, InvoiceDetail, PaymentStatus

T = TypeVar("T", Invoice, InvoiceDetail)


_MAX_UNIX: Final = 253_402_300_800  # 10000-01-01: past it, datetime cannot go


class _FieldValueError(ValueError):
    """A field's value is not what the API documents; the message says why."""


def _integer_text(value: str) -> bool:
    """Whether ``value`` is an optional sign and ASCII digits (no '_', no other scripts)."""
    digits = value[1:] if value[:1] in ("-", "+") else value
    return digits.isdigit() and digits.isascii()


def _integer(value: Any, _: Any = None) -> int:
    if type(value) is int:
        return value
    if type(value) is str and ((value.isdigit() and value.isascii()) or _integer_text(value)):
        return int(value)
    raise _FieldValueError(f"expected an integer, got {value!r}")


def as_integer(value: object) -> int | None:
    """``value`` as the rules read an integer (``"12"``, ``"+12"`` and ``12`` are 12), or None."""
    try:
        return _integer(value)
    except ValueError:  # not an integer, or too many digits for int()
        return None


def _cents(value: Any, _: Any = None) -> int:
    if type(value) is str:
        if value.isdigit() and value.isascii():  # the common case, checked inline: hot path
            return int(value)
        if _integer_text(value):
            return int(value)
    elif type(value) is int:
        return value
    raise _FieldValueError(f"expected an exact integer of cents, got {value!r}")


def _text(value: Any, _: Any = None) -> str:
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    raise _FieldValueError(f"expected a string, got {value!r}")


def _flag(value: Any, _: Any = None) -> bool:
    if type(value) in (int, bool, str) and value in (0, 1, "0", "1"):
        return value in (1, "1")
    raise _FieldValueError(f"expected 0 or 1, got {value!r}")


_KNOWN_STATUSES: Final = {status.value: status for status in PaymentStatus}


def _payment_status(value: Any, _: Any = None) -> PaymentStatus:
    if type(value) is int and value in _KNOWN_STATUSES:
        return _KNOWN_STATUSES[value]
    return PaymentStatus(_integer(value))


def _from_unix(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise _FieldValueError(f"timestamp out of range: {seconds!r}") from None


def _datetime(value: Any, _: Any = None) -> datetime:
    if type(value) is int and 0 <= value < _MAX_UNIX:  # the hot path, without a call
        return datetime.fromtimestamp(value, UTC)
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return _from_unix(value)
    if type(value) is str:
        if _integer_text(value):
            return _from_unix(int(value))
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _FieldValueError(
                f"expected Unix seconds or an ISO 8601 date, got {value!r}"
            ) from None
        if parsed.tzinfo is None:  # the API documents UTC
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    raise _FieldValueError(f"expected Unix seconds or an ISO 8601 date, got {value!r}")


def _optional_datetime(value: Any, _: Any = None) -> datetime | None:
    if not value or value == "0":  # 0, null, "" and "0": not paid
        return None
    if type(value) is int and 0 < value < _MAX_UNIX:
        return datetime.fromtimestamp(value, UTC)
    return _datetime(value)


# --- what the fast path (``_wire``) decodes for each rule ------------------------------------
# msgspec decodes in lax mode (which turns "12100" into 12100 in C) into these types, and then
# builds the models (int -> datetime, enum, bool), which must not fail for any value let
# through here. Lax mode also turns 1.0, "1.0" and "1e3" into an int; in a union with a float
# that no value satisfies, such a float goes there and fails. Each type lets through only
# spellings its rule reads the same way; anything else fails the window in the fast path, and
# it is structured above instead.
_NO_FLOAT = Annotated[float, msgspec.Meta(gt=1.7e308, lt=-1.7e308)]
_NO_STRING = Annotated[str, msgspec.Meta(min_length=1, max_length=0)]
_EMPTY_STRING = Annotated[str, msgspec.Meta(max_length=0)]
# orjson reads JSON integers beyond 64 bits as floats (which the rules refuse); msgspec bounds
# fit a signed int64, so from 2**63 on the slow path reads them.
_INT64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_UNIX = Annotated[int, msgspec.Meta(ge=0, lt=_MAX_UNIX)]  # the range of the rules' hot path

WIRE_TYPES: Final[Mapping[Callable[..., Any], Any]] = {
    # a JSON integer, or a string of ASCII digits with an optional '-' (no '+', no leading
    # zero: those take the slow path)
    _integer: _INT64 | _NO_FLOAT,
    _cents: _INT64 | _NO_FLOAT,
    # strings only (an integer, which the rule turns into text, takes the slow path)
    _text: str,
    # the integers 0 and 1, as JSON integers only ("-0" would be read as 0; the rule refuses it)
    _flag: Annotated[int, msgspec.Meta(ge=0, le=1)] | _NO_FLOAT | _NO_STRING,
    # any code, as for _integer; an unknown one becomes an UNKNOWN_<code> member as well
    _payment_status: _INT64 | _NO_FLOAT,
    # Unix seconds from 0 up to year 9999, as a JSON integer or digits (ISO 8601: slow path)
    _datetime: _UNIX | _NO_FLOAT,
    # the same, or 0, null and "" for none ("0" and "-0" as strings take the slow path)
    _optional_datetime: _UNIX | None | _EMPTY_STRING | _NO_FLOAT,
}


_COMMON_FIELDS: Final = {
    "id": override(rename="id", struct_hook=_integer),
    "invoice_number": override(rename="invoiceNumber", struct_hook=_text),
    "invoice_hash": override(rename="invoiceHash", struct_hook=_text),
    "currency": override(rename="currency", struct_hook=_text),
    "currency_sign": override(rename="currencySign", struct_hook=_text),
    "payment_status": override(rename="paymentStatus", struct_hook=_payment_status),
    "payment_date": override(rename="paymentDate", struct_hook=_optional_datetime),
    "is_credit": override(rename="isCredit", struct_hook=_flag),
    "creation_date": override(rename="creationDate", struct_hook=_datetime),
    "due_date": override(rename="dueDate", struct_hook=_datetime),
}
_FIELDS: Final[Mapping[type, Mapping[str, Any]]] = {
    Invoice: {
        **_COMMON_FIELDS,
        "description": override(rename="description", struct_hook=_text),
        "amount_inc_vat": override(rename="amountIncVAT", struct_hook=_cents),
        "amount_excl_vat": override(rename="amountExclVAT", struct_hook=_cents),
        "remaining_amount": override(rename="remainingAmount", struct_hook=_cents),
        "total_paid_amount": override(rename="totalPaidAmount", struct_hook=_cents),
    },
    InvoiceDetail: {
        **_COMMON_FIELDS,
        "client_number": override(rename="clientNumber", struct_hook=_text),
        "payment_term": override(rename="paymentTerm", struct_hook=_integer),
        "vat_percentage": override(rename="vatPercentage", struct_hook=_integer),
        "vat_amount": override(rename="vatAmount", struct_hook=_cents),
        "amount_inc_vat": override(rename="amountIncVat", struct_hook=_cents),
        "amount_excl_vat": override(rename="amountExclVat", struct_hook=_cents),
    },
}


def _make_converter(*, detailed: bool) -> cattrs.Converter:
    converter = cattrs.Converter(detailed_validation=detailed)
    for cls, fields in _FIELDS.items():
        converter.register_structure_hook(cls, make_dict_structure_fn(cls, converter, **fields))
    return converter


# Structure functions are generated once, at import.
_fast = _make_converter(detailed=False)
_detailed = _make_converter(detailed=True)
_fast_invoice: Final = _fast.get_structure_hook(Invoice)
_fast_detail: Final = _fast.get_structure_hook(InvoiceDetail)
# attribute name -> the API's key, per model
_API_KEYS: Final = {cls: {name: o.rename for name, o in f.items()} for cls, f in _FIELDS.items()}


def wire_fields(cls: type) -> list[tuple[str, str, Any]]:
    """``(attribute, the API's key, wire type)`` of each field of ``cls``, for ``_wire``."""
    return [(name, o.rename, WIRE_TYPES[o.struct_hook]) for name, o in _FIELDS[cls].items()]


def _match_key_case(raw: Mapping[str, Any], cls: type) -> dict[str, Any]:
    """``raw`` with keys renamed to the documented spelling when only their case differs."""
    by_lower = {key.lower(): key for key in _API_KEYS[cls].values()}
    fixed: dict[str, Any] = {}
    for key, value in raw.items():
        fixed[by_lower.get(key.lower(), key) if isinstance(key, str) else key] = value
    return fixed


def _describe_failure(exc: BaseException, _type: type | None = None) -> str:
    if isinstance(exc, KeyError):
        return "required field is missing"
    return str(exc)


def _invoice_label(raw: Mapping[str, Any]) -> str:
    for key in ("id", "invoiceNumber"):
        value = raw.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return f"invoice {key}={str(value)[:64]!r}"
    return "an invoice without a readable id"


def _structure_slow(raw: Mapping[str, Any], cls: type[T], url: str) -> T:
    try:
        return _detailed.structure(_match_key_case(raw, cls), cls)
    except cattrs.ClassValidationError as exc:
        problems = cattrs.transform_error(exc, path="", format_exception=_describe_failure)
        described = "; ".join(_name_field(p, _API_KEYS[cls]) for p in problems)
        # The values quoted come from the server, which may echo the token: redacted, whole,
        # before the text is cut.
        text = redact(f"{_invoice_label(raw)} does not parse as {cls.__name__}: {described}")
    # Raised outside the except block: cattrs' error, which holds the values, is chained to
    # nothing of ours (not even as a suppressed __context__).
    raise errors.InvalidResponseError(_cut(text), url=url)


def _cut(text: str, limit: int = 1000) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _name_field(problem: str, api_keys: Mapping[str, str]) -> str:
    # transform_error ends each line with "@ .<attribute>"; name the API's key as well.
    text, _, where = problem.rpartition(" @ ")
    attribute = where.lstrip(".")
    api_key = api_keys.get(attribute, attribute)
    label = attribute if api_key == attribute else f"{attribute} ({api_key})"
    return f"{label}: {text}" if text else problem


def _structure(raw: Any, cls: type[T], fast: Callable[[Any, Any], T], url: str) -> T:
    if not isinstance(raw, dict):
        raise errors.InvalidResponseError(
            f"expected a JSON object for {cls.__name__}, got {type(raw).__name__}", url=url
        )
    try:
        return fast(raw, cls)
    except Exception:  # noqa: BLE001, S110  # any failure is explained by the detailed pass
        pass
    return _structure_slow(raw, cls, url)  # outside the except: the failure chains nothing


def structure_invoice(raw: Any, *, url: str = "") -> Invoice:
    """An Invoice from one item of a list answer; InvalidResponseError names the bad field."""
    return _structure(raw, Invoice, _fast_invoice, url)


def structure_detail(raw: Any, *, url: str = "") -> InvoiceDetail:
    """An InvoiceDetail from a detail answer; InvalidResponseError names the bad field."""
    return _structure(raw, InvoiceDetail, _fast_detail, url)
