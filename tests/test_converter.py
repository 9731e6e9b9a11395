"""The cattrs converter over every documented quirk, and a property test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoice_async import Invoice, InvoiceDetail, PaymentStatus, errors
from invoice_async._converter import structure_detail, structure_invoice
from invoice_async._store_schema import invoice_from_row, invoice_record, invoice_row
from tests._samples import DETAIL, LIST_ITEM

T0 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_list_item_quirks_become_typed_values() -> None:
    invoice = structure_invoice(LIST_ITEM)
    assert invoice == Invoice(
        id=123,
        invoice_number="2024/0001",
        invoice_hash="9f86d081",
        description="Dedicated server & backup",
        currency="EUR",
        currency_sign="€",
        amount_inc_vat=12100,
        amount_excl_vat=10000,
        remaining_amount=0,
        total_paid_amount=12100,
        payment_status=PaymentStatus.PAID,
        payment_date=datetime.fromtimestamp(1700100000, UTC),
        is_credit=False,
        creation_date=T0,
        due_date=datetime.fromtimestamp(1701209600, UTC),
    )


def test_detail_quirks_become_typed_values() -> None:
    detail = structure_detail(DETAIL)
    assert detail.id == 123
    assert detail.creation_date == T0
    assert detail.due_date == datetime.fromtimestamp(1701209600, UTC)
    assert detail.payment_date is None
    assert detail.is_credit is True
    assert (detail.vat_amount, detail.amount_inc_vat, detail.amount_excl_vat) == (
        2100,
        12100,
        10000,
    )
    assert (detail.payment_term, detail.vat_percentage) == (14, 21)
    assert isinstance(detail, InvoiceDetail)


@pytest.mark.parametrize("raw_id", ["123", 123])
def test_id_arrives_as_string_or_int(raw_id: object) -> None:
    assert structure_invoice({**LIST_ITEM, "id": raw_id}).id == 123
    assert structure_detail({**DETAIL, "id": raw_id}).id == 123


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1700000000, T0),
        ("1700000000", T0),
        ("2023-11-14T22:13:20Z", T0),
        ("2023-11-14T22:13:20+00:00", T0),
        ("2023-11-14T23:13:20+01:00", T0),
        ("2023-11-14 22:13:20", T0),  # naive: the API documents UTC
        ("2023-11-14T22:13:20.000+00:00", T0),
    ],
)
def test_dates_accept_unix_seconds_and_iso_8601_as_aware_utc(
    raw: object, expected: datetime
) -> None:
    value = structure_detail({**DETAIL, "creationDate": raw}).creation_date
    assert value == expected
    assert value.utcoffset() == timedelta(0)
    assert value.tzinfo is UTC


@pytest.mark.parametrize("raw", [0, None, "", "0"])
def test_payment_date_zero_null_or_empty_is_none(raw: object) -> None:
    assert structure_invoice({**LIST_ITEM, "paymentDate": raw}).payment_date is None


@pytest.mark.parametrize(
    ("raw", "cents"), [("12100", 12100), (12100, 12100), ("-500", -500), ("0", 0)]
)
def test_money_is_exact_integer_cents(raw: object, cents: int) -> None:
    value = structure_invoice({**LIST_ITEM, "amountIncVAT": raw}).amount_inc_vat
    assert value == cents
    assert type(value) is int


@pytest.mark.parametrize(
    "raw", ["121.00", "12.5", 121.0, "1e3", "", " 1", "1_000", "١٢", None, True]
)
def test_money_that_is_not_integer_cents_names_field_and_invoice(raw: object) -> None:
    with pytest.raises(errors.InvalidResponseError) as info:
        structure_invoice({**LIST_ITEM, "amountIncVAT": raw}, url="https://api/v3/x")
    message = str(info.value)
    assert "amount_inc_vat (amountIncVAT)" in message
    assert "invoice id='123'" in message
    assert "https://api/v3/x" in message


@pytest.mark.parametrize(("raw", "status"), [(0, PaymentStatus.UNPAID), (1, PaymentStatus.PAID)])
def test_payment_status_known_codes(raw: int, status: PaymentStatus) -> None:
    assert structure_invoice({**LIST_ITEM, "paymentStatus": raw}).payment_status is status


def test_unknown_payment_status_parses_and_keeps_its_value() -> None:
    status = structure_invoice({**LIST_ITEM, "paymentStatus": 7}).payment_status
    assert isinstance(status, PaymentStatus)
    assert status == 7
    assert status.name == "UNKNOWN_7"
    assert PaymentStatus(7) == status


@pytest.mark.parametrize(("raw", "credit"), [(0, False), (1, True), ("1", True), (True, True)])
def test_is_credit_flag(raw: object, credit: bool) -> None:
    assert structure_invoice({**LIST_ITEM, "isCredit": raw}).is_credit is credit


@pytest.mark.parametrize("raw", [2, "yes", None])
def test_is_credit_refuses_other_values(raw: object) -> None:
    with pytest.raises(errors.InvalidResponseError, match="is_credit"):
        structure_invoice({**LIST_ITEM, "isCredit": raw})


def test_unknown_keys_are_ignored() -> None:
    assert structure_invoice({**LIST_ITEM, "newField": {"x": 1}}) == structure_invoice(LIST_ITEM)


def test_key_spelling_differing_only_in_case_is_accepted() -> None:
    item = {k: v for k, v in LIST_ITEM.items() if k != "amountIncVAT"}
    item["amountIncVat"] = "12100"  # the detail spelling, in a list item
    assert structure_invoice(item).amount_inc_vat == 12100


def test_missing_field_is_named() -> None:
    item = {k: v for k, v in DETAIL.items() if k != "vatAmount"}
    with pytest.raises(errors.InvalidResponseError, match=r"vat_amount \(vatAmount\): required"):
        structure_detail(item)


@pytest.mark.parametrize("raw", [[LIST_ITEM], "x", None, 5])
def test_a_non_object_item_is_an_invalid_response(raw: object) -> None:
    with pytest.raises(errors.InvalidResponseError, match="expected a JSON object"):
        structure_invoice(raw)


def test_export_record_keeps_cents_and_iso_utc_dates_and_reads_back() -> None:
    invoice = structure_invoice(LIST_ITEM)
    row = invoice_row(invoice)  # as the store holds it
    exported = invoice_record(row)  # as the export writes it
    assert exported["amount_inc_vat"] == 12100
    assert exported["creation_date"] == "2023-11-14T22:13:20+00:00"
    assert exported["payment_status"] == 1
    assert exported["is_credit"] is False
    assert invoice_from_row(row) == invoice


# --- property: any valid API object round-trips to the right typed values --------------------

cents = st.integers(min_value=-(10**12), max_value=10**12)
seconds = st.integers(min_value=0, max_value=4_102_444_800)  # up to 2100
text = st.text(max_size=40)


def _as_unix(value: int) -> st.SearchStrategy[object]:
    dt = datetime.fromtimestamp(value, UTC)
    return st.sampled_from(
        [
            value,
            str(value),
            dt.isoformat(),
            dt.isoformat().replace("+00:00", "Z"),
            dt.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
        ]
    )


@st.composite
def api_invoice(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A list item in any accepted spelling, and the typed values it must give."""
    invoice_id = draw(st.integers(min_value=1, max_value=2**53))
    created, due = draw(seconds), draw(seconds)
    paid = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=4_102_444_800)))
    amounts = {key: draw(cents) for key in ("inc", "excl", "remaining", "paid")}
    status = draw(st.integers(min_value=0, max_value=9))
    credit = draw(st.booleans())
    number, description = draw(text), draw(text)
    raw = {
        "id": draw(st.sampled_from([invoice_id, str(invoice_id)])),
        "creationDate": draw(_as_unix(created)),
        "dueDate": draw(_as_unix(due)),
        "invoiceNumber": number,
        "invoiceHash": "h",
        "description": description,
        "currency": "EUR",
        "currencySign": "€",
        "amountIncVAT": draw(st.sampled_from([amounts["inc"], str(amounts["inc"])])),
        "amountExclVAT": str(amounts["excl"]),
        "remainingAmount": str(amounts["remaining"]),
        "totalPaidAmount": str(amounts["paid"]),
        "paymentStatus": status,
        "paymentDate": draw(st.sampled_from([0, None, ""])) if paid is None else paid,
        "isCredit": int(credit),
        draw(st.sampled_from(["extra", "somethingNew"])): draw(text),
    }
    expected = {
        "id": invoice_id,
        "creation_date": datetime.fromtimestamp(created, UTC),
        "due_date": datetime.fromtimestamp(due, UTC),
        "payment_date": None if paid is None else datetime.fromtimestamp(paid, UTC),
        "invoice_number": number,
        "description": description,
        "amount_inc_vat": amounts["inc"],
        "amount_excl_vat": amounts["excl"],
        "remaining_amount": amounts["remaining"],
        "total_paid_amount": amounts["paid"],
        "payment_status": status,
        "is_credit": credit,
    }
    return raw, expected


@given(api_invoice())
def test_any_valid_api_invoice_structures_to_the_right_typed_values(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    raw, expected = case
    invoice = structure_invoice(raw)
    for name, value in expected.items():
        assert getattr(invoice, name) == value, name
    for name in ("amount_inc_vat", "amount_excl_vat", "remaining_amount", "total_paid_amount"):
        assert type(getattr(invoice, name)) is int
    assert isinstance(invoice.payment_status, PaymentStatus)
    assert invoice.creation_date.tzinfo is UTC
