"""The CLI's pure parts, without a loop or a server: the parser's global options, money and
text for terminals, the aging arithmetic of ``summary``, and the record writers."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from invoice_async import Invoice, PaymentStatus
from invoice_async._converter import structure_invoice
from invoice_async.cli._aging import BUCKETS, age, as_document, bucket_of, days_past_due
from invoice_async.cli._output import RecordWriter, money, plain, status
from invoice_async.cli._parser import GLOBALS, parse
from invoice_async.cli._summary import bar
from tests._samples import LIST_ITEM

INVOICE = structure_invoice(LIST_ITEM)


def invoice(**changes: Any) -> Invoice:
    return attrs.evolve(INVOICE, **changes)


@pytest.mark.parametrize(
    ("cents", "sign", "text"),
    [(0, "€", "€0.00"), (5, "€", "€0.05"), (123456789, "$", "$1,234,567.89"),
     (-463900, "$", "-$4,639.00"), (100, "EUR ", "EUR 1.00")],
)  # fmt: skip
def test_money_is_exact_decimals_from_cents(cents: int, sign: str, text: str) -> None:
    assert money(cents, sign) == text


def test_plain_shows_every_control_character_as_a_replacement() -> None:
    assert plain("a\x1b[31mb\x07c\x9bd\te") == "a\ufffd[31mb\ufffdc\ufffdd\ufffde"
    assert plain("Zoë's rack 日本 & 50% +/-") == "Zoë's rack 日本 & 50% +/-"


def test_status_names_paid_unpaid_overdue_credit_and_unknown_codes() -> None:
    due = datetime(2024, 5, 31, 23, 0, tzinfo=UTC)
    unpaid = invoice(payment_status=PaymentStatus.UNPAID, due_date=due, is_credit=False)
    assert status(unpaid, date(2024, 5, 31)) == "unpaid"
    assert status(unpaid, date(2024, 6, 1)) == "overdue"
    assert status(attrs.evolve(unpaid, is_credit=True), date(2024, 6, 1)) == "credit"
    paid = attrs.evolve(unpaid, payment_status=PaymentStatus.PAID)
    assert status(paid, date(2030, 1, 1)) == "paid"
    assert status(attrs.evolve(paid, is_credit=True), date(2030, 1, 1)) == "credit, paid"
    assert status(attrs.evolve(unpaid, payment_status=PaymentStatus(7)), date(2024, 1, 1)) == (
        "unknown_7"
    )


@pytest.mark.parametrize(
    ("days", "key"),
    [(-400, "not_due"), (0, "not_due"), (1, "1-30"), (30, "1-30"), (31, "31-60"),
     (60, "31-60"), (61, "61-90"), (90, "61-90"), (91, "over_90"), (10_000, "over_90")],
)  # fmt: skip
def test_each_number_of_days_falls_in_one_bucket(days: int, key: str) -> None:
    assert BUCKETS[bucket_of(days)][0] == key


def test_days_past_due_counts_whole_utc_days_whatever_the_time_zone() -> None:
    as_of = date(2024, 6, 1)
    late_evening = datetime(2024, 5, 31, 23, 59, tzinfo=UTC)
    assert days_past_due(invoice(due_date=late_evening), as_of) == 1
    assert days_past_due(invoice(due_date=datetime(2024, 6, 1, 0, 0, tzinfo=UTC)), as_of) == 0
    # 01:00 on June 2nd in UTC+5 is 20:00 on June 1st in UTC: due on the as-of day.
    east = datetime(2024, 6, 2, 1, 0, tzinfo=timezone(timedelta(hours=5)))
    assert days_past_due(invoice(due_date=east), as_of) == 0


def test_age_sums_remaining_amounts_per_currency_and_bucket() -> None:
    as_of = date(2024, 6, 1)

    def due(days: int, cents: int, currency: str = "EUR") -> Invoice:
        moment = datetime(2024, 6, 1, 12, tzinfo=UTC) - timedelta(days=days)
        return invoice(due_date=moment, remaining_amount=cents, currency=currency)

    invoices = [due(-1, 100), due(5, 250), due(25, 50), due(95, 7), due(40, 900, "USD")]
    eur, usd = age(invoices, as_of)
    assert (eur.currency, eur.invoices, eur.outstanding) == ("EUR", 4, 407)
    assert [(b.invoices, b.amount) for b in eur.buckets] == [
        (1, 100),
        (2, 300),
        (0, 0),
        (0, 0),
        (1, 7),
    ]
    assert (usd.currency, usd.outstanding, usd.buckets[2].amount) == ("USD", 900, 900)
    document = as_document([eur, usd], as_of)
    assert json.loads(json.dumps(document)) == document
    assert document["currencies"][0]["aging"][4] == {
        "bucket": "over_90", "min_days_past_due": 91, "max_days_past_due": None,
        "invoices": 1, "amount": 7,
    }  # fmt: skip
    assert age([], as_of) == []


def test_a_bar_is_the_share_of_the_total_and_empty_for_nothing() -> None:
    assert bar(50, 100, width=10) == "\N{FULL BLOCK}" * 5
    assert bar(1, 1000, width=10) == "\N{FULL BLOCK}"  # a little is still seen
    assert bar(0, 100) == bar(5, 0) == bar(-5, 100) == ""
    assert bar(100, 100, width=10) == "\N{FULL BLOCK}" * 10


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_record_writers_stream_an_array_or_lines(fmt: str) -> None:
    for count in (0, 1, 3):
        out = io.StringIO()
        writer = RecordWriter(fmt, ("id",), out)
        for number in range(count):
            writer.write({"id": number, "text": "Zoë"})
        writer.close()
        text = out.getvalue()
        values = json.loads(text) if fmt == "json" else [json.loads(x) for x in text.splitlines()]
        assert values == [{"id": n, "text": "Zoë"} for n in range(count)]
        assert "Zoë" in text or count == 0  # UTF-8 kept, not \\u escapes


def test_every_global_option_gets_its_default_and_a_value_given_after_the_command_wins() -> None:
    args = parse(["list"])
    for spec in GLOBALS:
        assert getattr(args, spec.dest) == spec.default, spec.dest
    args = parse(["--timeout", "5", "-v", "list", "--timeout", "7", "--page-size", "3"])
    assert (args.timeout, args.verbose, args.page_size) == (7.0, True, 3)


def test_a_global_option_before_a_command_it_does_not_apply_to_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        parse(["--page-size", "3", "show", "1"])
    assert info.value.code == 2
    assert "--page-size does not apply to show" in capsys.readouterr().err
