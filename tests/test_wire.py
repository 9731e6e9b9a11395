"""The listing's fast path (msgspec) against the converter's path (orjson + cattrs).

Both must give the same invoices (the same types, values, time zones and enum members) or the
same error, on every window; the fast path must type the windows the API sends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invoice_async import Invoice, errors
from invoice_async._converter import structure_invoice
from invoice_async._protocol import decode_json, page_of
from invoice_async._wire import invoices as wire_invoices
from invoice_async._wire import list_page
from invoice_async.testing import make_invoices, to_list_item
from tests._samples import LIST_ITEM

URL = "https://api.example/v3/account/invoice"
MAX_UNIX = 253_402_300_800


class Raw(bytes):
    """A JSON token written as it is (``1e400``, ``-0``, invalid UTF-8 ...)."""


def token(value: object) -> bytes:
    if isinstance(value, Raw):
        return bytes(value)
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def window(items: list[list[tuple[str, object]]]) -> bytes:
    """A list answer's body; each item is its (key, value) pairs in order (a key may repeat)."""
    objects = [
        b"{" + b",".join(token(k) + b":" + token(v) for k, v in item) + b"}" for item in items
    ]
    return b"[" + b",".join(objects) + b"]"


def exact(invoice: Invoice) -> list[tuple[str, str]]:
    """An invoice as values that differ when a type, a time zone or an enum member differs."""
    return [(field.name, repr(getattr(invoice, field.name))) for field in attrs.fields(Invoice)]


Outcome = tuple[str, object]


def slow_path(body: bytes) -> Outcome:
    """What the converter's path gives a whole window: every invoice, or the first error."""
    try:
        items = page_of(decode_json(body, url=URL), {}, url=URL).items
        return "ok", [exact(structure_invoice(item, url=URL)) for item in items]
    except errors.InvalidResponseError as error:
        return "error", str(error)


def fast_path(body: bytes) -> tuple[bool, Outcome]:
    """Whether the fast path typed the window, and what the client then gives."""
    try:
        page = list_page(body, {}, url=URL)
        typed = page.keys is not None
        invoices = list(wire_invoices(page.items, url=URL))
        if typed:
            assert list(page.keys or ()) == [invoice.id for invoice in invoices]
        return typed, ("ok", [exact(invoice) for invoice in invoices])
    except errors.InvalidResponseError as error:
        return False, ("error", str(error))


# --- spellings, valid and not ---------------------------------------------------------------

big = st.integers(min_value=-(2**70), max_value=2**70)
small = st.integers(min_value=-5, max_value=3_000_000_000_000)
numbers = st.one_of(small, big, st.sampled_from([0, 2**63 - 1, 2**63, -(2**63), 2**64 - 1]))


@st.composite
def integerish(draw: st.DrawFn, values: st.SearchStrategy[int] = numbers) -> object:
    """An integer in one of many spellings: the rules accept some, lax mode more."""
    n = draw(values)
    spellings: list[object] = [
        n,
        str(n),
        f"+{n}",
        f"0{n}",
        f"-{abs(n)}",
        Raw(f"{n}.0".encode()),
        f"{n}.0",
        f"{n}e0",
        Raw(f"{n}e0".encode()),
        Raw(f"{n}E+00".encode()),
        float(n) if abs(n) < 2**60 else n,
        f" {n}",
        f"{n}_0",
    ]
    return draw(st.sampled_from(spellings))


junk: st.SearchStrategy[object] = st.sampled_from(
    [None, True, False, "", " ", "x", "true", "null", "١٢", "0x10", "1_000", "NaN", [], {}, [1],
     Raw(b"-0"), Raw(b"-0.0"), Raw(b"1e400"), Raw(b'"\\ud800"'), Raw(b"9" * 400), "-0", "-"]
)  # fmt: skip
texts = st.one_of(st.text(max_size=12), st.integers(-5, 5), junk)


@st.composite
def date(draw: st.DrawFn) -> object:
    """A date in the spellings the rules read (Unix seconds, ISO 8601) and others."""
    seconds = draw(st.integers(min_value=-10, max_value=MAX_UNIX + 10))
    moment = datetime.fromtimestamp(min(max(seconds, 0), MAX_UNIX - 86_400), UTC)
    offset = timezone(timedelta(minutes=draw(st.sampled_from([0, 60, -330]))))
    return draw(
        st.sampled_from(
            [
                seconds,
                str(seconds),
                f"+{seconds}",
                float(seconds) + draw(st.sampled_from([0.0, 0.5, 0.25e-6])),
                Raw(f"{seconds}.0".encode()),
                f"{seconds}.5",
                moment.isoformat(),
                moment.isoformat().replace("+00:00", "Z"),
                moment.astimezone(offset).isoformat(),
                moment.replace(tzinfo=None).isoformat(sep=" "),
                moment.isoformat(timespec="microseconds"),
                draw(junk),
            ]
        )
    )


payment_dates = st.one_of(date(), st.sampled_from([0, None, "", "0", "-0", Raw(b"-0"), "00"]))
flags = st.sampled_from(
    [0, 1, "0", "1", True, False, 2, -1, "-0", Raw(b"-0"), 1.0, Raw(b"1.0"), "true", None, "",
     "01", "+1", Raw(b"1e0")]
)  # fmt: skip


@st.composite
def valid_date(draw: st.DrawFn, *, optional: bool = False) -> object:
    """A date the rules read: Unix seconds (integer or digits) up to year 9999, or ISO 8601."""
    if optional and draw(st.booleans()):
        return draw(st.sampled_from([0, None, "", "0"]))
    seconds = draw(st.integers(min_value=1 if optional else 0, max_value=MAX_UNIX - 86_400))
    moment = datetime.fromtimestamp(seconds, UTC)
    return draw(st.sampled_from([seconds, seconds, str(seconds), moment.isoformat()]))


def spelled(values: st.SearchStrategy[int]) -> st.SearchStrategy[object]:
    """Integers as the API spells them: JSON integers, or strings of digits."""
    return values.flatmap(lambda n: st.sampled_from([n, str(n)]))


VALID: dict[str, st.SearchStrategy[object]] = {
    "id": spelled(st.integers(min_value=1, max_value=2**40)),
    "invoiceNumber": st.text(max_size=12),
    "invoiceHash": st.text(max_size=12),
    "description": st.text(max_size=12),
    "currency": st.text(max_size=3),
    "currencySign": st.text(max_size=2),
    "amountIncVAT": spelled(st.integers(-(10**12), 10**12)),
    "amountExclVAT": spelled(st.integers(-(10**12), 10**12)),
    "remainingAmount": spelled(st.integers(-(10**12), 10**12)),
    "totalPaidAmount": spelled(st.integers(-(10**12), 10**12)),
    "paymentStatus": spelled(st.integers(0, 9)),
    "paymentDate": valid_date(optional=True),
    "isCredit": st.sampled_from([0, 1]),
    "creationDate": valid_date(),
    "dueDate": valid_date(),
}
WILD: dict[str, st.SearchStrategy[object]] = {
    "id": st.one_of(integerish(st.integers(min_value=1, max_value=2**40)), integerish(), junk),
    "invoiceNumber": texts,
    "invoiceHash": texts,
    "description": texts,
    "currency": texts,
    "currencySign": texts,
    "amountIncVAT": st.one_of(integerish(), junk),
    "amountExclVAT": st.one_of(integerish(), junk),
    "remainingAmount": st.one_of(integerish(), junk),
    "totalPaidAmount": st.one_of(integerish(), junk),
    "paymentStatus": st.one_of(integerish(st.integers(-2, 9)), junk),
    "paymentDate": payment_dates,
    "isCredit": flags,
    "creationDate": date(),
    "dueDate": date(),
}
extra_values = st.one_of(
    texts,
    st.sampled_from(
        [Raw(b"1e400"), Raw(b"9" * 5000), Raw(b'"\xff"'), Raw(b'"\\udc00"'), Raw(b"1.5"),
         Raw(b"[" * 1100 + b"]" * 1100), Raw(b"[" * 40 + b"]" * 40), Raw(b"[1, {}]")]
    ),
)  # fmt: skip


@st.composite
def api_item(draw: st.DrawFn) -> list[tuple[str, object]]:
    """A list item: valid; or valid but for one field; or anything in each field, with keys
    missing, in another case, repeated, or unknown."""
    mode = draw(st.sampled_from(["valid", "valid", "one off", "one off", "odd"]))
    wild_key = draw(st.sampled_from(list(VALID)))
    fields: list[tuple[str, object]] = []
    for key in VALID:
        wild = (mode == "odd" and draw(st.booleans())) or (mode == "one off" and key == wild_key)
        values = WILD[key] if wild else VALID[key]
        if mode == "odd":
            choice = draw(st.sampled_from(["keep", "keep", "keep", "drop", "case", "twice"]))
            if choice == "drop":
                continue
            if choice == "case":
                key = draw(st.sampled_from([key.lower(), key.upper(), key.replace("VAT", "Vat")]))
            if choice == "twice":
                fields.append((key, draw(values)))
        fields.append((key, draw(values)))
    if mode != "valid" and draw(st.booleans()):
        fields.insert(draw(st.integers(0, len(fields))), ("extra", draw(extra_values)))
    return fields


@st.composite
def body(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 19)) == 0:  # not an array of objects
        return draw(st.sampled_from([b"{}", b"null", b"[1]", b'[{"id": 1}] x', b"", b"[[]]"]))
    return window(draw(st.lists(api_item(), max_size=3)))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body())
def test_the_fast_path_gives_what_the_converter_gives_on_any_window(raw: bytes) -> None:
    typed, outcome = fast_path(raw)
    assert outcome == slow_path(raw)
    if typed:
        assert outcome[0] == "ok"


# --- what the fast path types, and what it leaves to the converter ---------------------------


def test_the_fast_path_types_the_windows_the_api_sends() -> None:
    items = [to_list_item(invoice) for invoice in make_invoices(100, seed=3)]
    raw = json.dumps(items).encode()
    typed, outcome = fast_path(raw)
    assert typed
    assert outcome == slow_path(raw)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("id", 123),
        ("amountIncVAT", 12100),
        ("amountIncVAT", "-500"),
        ("paymentDate", 0),
        ("paymentDate", None),
        ("paymentDate", ""),
        ("isCredit", 1),
        ("paymentStatus", 7),  # an unknown code: UNKNOWN_7
        ("creationDate", "1700000000"),
    ],
)
def test_the_fast_path_types_the_spellings_its_rule_reads_the_same(key: str, value: object) -> None:
    raw = window([[*((k, v) for k, v in LIST_ITEM.items() if k != key), (key, value)]])
    typed, outcome = fast_path(raw)
    assert typed
    assert outcome == slow_path(raw)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("amountIncVAT", Raw(b"12100.0")),  # lax mode would make it 12100
        ("amountIncVAT", "12100.0"),
        ("amountIncVAT", "1e3"),
        ("amountIncVAT", "+12100"),  # the rules accept it: the converter's path types it
        ("id", Raw(b"99999999999999999999")),  # orjson reads a float: refused
        ("isCredit", "true"),
        ("isCredit", "-0"),  # read as 0 by lax mode; the rules refuse it
        ("paymentDate", "-0"),  # the rules read 1970-01-01, not "not paid"
        ("creationDate", "2023-11-14T23:13:20+01:00"),  # the rules convert it to UTC
        ("creationDate", "2023-11-14 22:13:20"),  # naive: the rules read UTC
        ("creationDate", 1700000000.5),
        ("invoiceNumber", 2024),
        ("extra", Raw(b"1e400")),  # msgspec would skip it unread; orjson refuses it
        ("extra", Raw(b'"\xff"')),
    ],
)
def test_spellings_lax_mode_would_misread_go_to_the_converter(key: str, value: object) -> None:
    raw = window([[*((k, v) for k, v in LIST_ITEM.items() if k != key), (key, value)]])
    typed, outcome = fast_path(raw)
    assert not typed
    assert outcome == slow_path(raw)


def test_a_key_in_another_case_goes_to_the_converter() -> None:
    item = [(k.replace("VAT", "Vat"), v) for k, v in LIST_ITEM.items()]  # the detail spelling
    raw = window([item])
    typed, outcome = fast_path(raw)
    assert not typed
    assert outcome == slow_path(raw)


def test_a_window_with_unknown_keys_is_typed_once_orjson_accepts_it() -> None:
    raw = window([[*LIST_ITEM.items(), ("somethingNew", {"nested": [1, 2.5, None]})]])
    typed, outcome = fast_path(raw)
    assert typed
    assert outcome == slow_path(raw)


def test_a_body_that_is_not_json_raises_what_the_converter_raises() -> None:
    with pytest.raises(errors.InvalidResponseError, match="not valid JSON"):
        list_page(b'[{"id": "1"', {}, url=URL)
    with pytest.raises(errors.InvalidResponseError, match="expected a JSON array"):
        list_page(b'{"id": "1"}', {}, url=URL)


def test_the_page_token_comes_with_typed_pages_too() -> None:
    page = list_page(window([list(LIST_ITEM.items())]), {"PAGE-TOKEN": "t2"}, url=URL)
    assert page.page_token == "t2"
    assert page.keys == [123]
