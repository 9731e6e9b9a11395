"""How the commands print: tables for people (rich), and JSON, JSON lines or CSV for programs.

Tables show money as decimals with the currency sign; the machine formats keep the library's
integer cents (``to_dict``). Text from the API is cleaned of control characters before it
reaches a terminal, so an invoice description cannot move the cursor or change colours.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import IO, Any, Final

import attrs
from rich.console import Console

from .. import Invoice, InvoiceDetail, PaymentStatus
from ._export import neutralize_csv_cell

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@attrs.frozen
class Done:
    """What a command leaves for the end: its summary line (stdout, unless ``--quiet``), the
    invoices that failed (named on stderr; exit 3), or an exit status of its own."""

    line: str | None = None
    failures: Sequence[dict[str, object]] = ()
    status: int | None = None


def for_people() -> bool:
    """Whether stdout is a terminal (then commands print for people)."""
    return sys.stdout.isatty()


def output_format(args: argparse.Namespace, piped: str) -> str:
    """``--output``, else a table on a terminal and ``piped`` otherwise."""
    chosen: str | None = args.output
    return chosen or ("table" if for_people() else piped)


def console() -> Console:
    """A rich console on the current stdout that takes every string literally."""
    return Console(file=sys.stdout, highlight=False, markup=False, emoji=False)


def plain(text: str) -> str:
    """``text`` with every control character (escape sequences included) shown as U+FFFD."""
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", text)


def money(cents: int, sign: str) -> str:
    """``money(-123456, "€") == "-€1,234.56"``: exact, from integer cents."""
    whole, part = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{plain(sign)}{whole:,}.{part:02d}"


def sign_of(invoice: Invoice | InvoiceDetail) -> str:
    """The currency sign, or the currency code and a space when the API gives no sign."""
    return invoice.currency_sign or f"{invoice.currency} "


def day(moment: datetime | None) -> str:
    """The UTC date of ``moment`` (``2024-01-21``), or "" for None."""
    return "" if moment is None else moment.astimezone(UTC).date().isoformat()


def status(invoice: Invoice | InvoiceDetail, today: date) -> str:
    """``paid``, ``unpaid``, ``overdue`` (unpaid, due before today) or an unknown code's
    name; a credit invoice is ``credit`` (or ``credit, paid``), never overdue."""
    if invoice.payment_status == PaymentStatus.PAID:
        text = "paid"
    elif invoice.payment_status == PaymentStatus.UNPAID:
        overdue = invoice.due_date.astimezone(UTC).date() < today and not invoice.is_credit
        text = "overdue" if overdue else "unpaid"
    else:
        text = invoice.payment_status.name.lower()
    if invoice.is_credit:
        return "credit" if text == "unpaid" else f"credit, {text}"
    return text


def today() -> date:
    """Today in UTC."""
    return datetime.now(UTC).date()


class RecordWriter:
    """Writes plain records (``to_dict``) as JSON lines, one JSON array, or CSV."""

    def __init__(self, fmt: str, fields: Sequence[str], out: IO[str] | None = None) -> None:
        self._fmt, self._out, self._count = fmt, out or sys.stdout, 0
        self._csv = csv.DictWriter(self._out, fieldnames=fields) if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writeheader()
        elif fmt == "json":
            self._out.write("[")

    def write(self, record: dict[str, Any]) -> None:
        if self._csv is not None:  # a formula in a cell is neutralised as the export does
            self._csv.writerow({key: neutralize_csv_cell(value) for key, value in record.items()})
        elif self._fmt == "json":
            self._out.write(("," if self._count else "") + "\n  " + dumps(record))
        else:
            self._out.write(dumps(record) + "\n")
        self._count += 1

    def close(self) -> None:
        if self._fmt == "json":
            self._out.write("\n]\n" if self._count else "]\n")
        self._out.flush()


def dumps(value: object, *, indent: int | None = None) -> str:
    """JSON as the export writes it (UTF-8 text kept as it is)."""
    return json.dumps(value, ensure_ascii=False, indent=indent)


def print_document(value: object) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(dumps(value, indent=2) + "\n")
    sys.stdout.flush()


def write_lines(lines: Iterable[str]) -> None:
    for line in lines:
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
