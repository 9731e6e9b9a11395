"""``summary``: the outstanding amount per currency and its aging, as a table or JSON."""

from __future__ import annotations

import argparse
from typing import Final

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ._aging import CREDIT_NOTE, CurrencyAging, age, as_document
from ._api import open_client
from ._output import Done, console, for_people, money, output_format, plain, print_document, today

BAR_WIDTH: Final = 30


async def summary_command(args: argparse.Namespace) -> Done:
    """``summary [--as-of DAY]``: lists the unpaid invoices and ages them."""
    fmt = output_format(args, "json")
    as_of = args.as_of or today()
    async with open_client(args) as client:
        agings = age([invoice async for invoice in client.unpaid_invoices()], as_of)
    if fmt == "json":
        print_document(as_document(agings, as_of))
        return Done()
    tables: list[RenderableType] = [_table(entry, bars=for_people()) for entry in agings]
    if not agings:
        tables.append(Text("Nothing is outstanding: the API lists no unpaid invoice."))
    console().print(Group(*tables, Text(f"As of {as_of.isoformat()} (UTC). {CREDIT_NOTE}")))
    return Done()


def bar(amount: int, total: int, width: int = BAR_WIDTH) -> str:
    """``amount``'s share of ``total`` as a bar of block characters, ``width`` at most."""
    if total <= 0 or amount <= 0:
        return ""
    return "\N{FULL BLOCK}" * max(1, round(width * min(amount, total) / total))


def _table(entry: CurrencyAging, *, bars: bool) -> Table:
    sign = entry.currency_sign or f"{entry.currency} "
    count = f"{entry.invoices:,} unpaid invoice{'' if entry.invoices == 1 else 's'}"
    title = f"{plain(entry.currency)}: {money(entry.outstanding, sign)} outstanding, {count}"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("past due")
    table.add_column("invoices", justify="right")
    table.add_column("amount", justify="right")
    table.add_column("share", justify="right")
    if bars:
        table.add_column("", min_width=BAR_WIDTH)
    for bucket in entry.buckets:
        share = f"{100 * bucket.amount / entry.outstanding:.0f}%" if entry.outstanding else ""
        row = [bucket.label, f"{bucket.invoices:,}", money(bucket.amount, sign), share]
        table.add_row(*row, *([bar(bucket.amount, entry.outstanding)] if bars else []))
    return table
