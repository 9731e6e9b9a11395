"""The commands that read a few things from the API: ``list``, ``show`` and ``pdf``."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Final

from rich import box
from rich.table import Table

from .. import Invoice, InvoiceClient, InvoiceDetail, PdfDownload, errors, to_dict
from .._store_schema import INVOICE_FIELDS
from ._api import open_client
from ._output import (
    Done,
    RecordWriter,
    console,
    day,
    for_people,
    money,
    output_format,
    plain,
    print_document,
    sign_of,
    status,
    today,
    write_lines,
)
from ._parser import EXIT_FAILURE

_FOLDER_ENDS: Final = tuple({"/", os.sep})


def _listing(client: InvoiceClient, args: argparse.Namespace) -> AsyncGenerator[Invoice, None]:
    size = min(args.page_size, args.limit) if args.limit else args.page_size
    read = client.unpaid_invoices if args.unpaid else client.invoices
    return read(args.filter, page_size=size)


async def list_command(args: argparse.Namespace) -> Done:
    """``list``: the invoices, newest first, at most ``--limit``."""
    fmt = output_format(args, "jsonl")
    invoices: list[Invoice] = []  # for the table; the other formats are written as they come
    writer = None if fmt == "table" else RecordWriter(fmt, INVOICE_FIELDS)
    count = 0
    async with open_client(args) as client:
        listing = _listing(client, args)
        async with contextlib.aclosing(listing):  # leaving early cancels the read-ahead
            async for invoice in listing:
                if writer is None:
                    invoices.append(invoice)
                else:
                    writer.write(to_dict(invoice))
                count += 1
                if count == args.limit:
                    break
    if writer is not None:
        writer.close()
    else:
        console().print(_invoice_table(invoices, args))
    return Done()


def _invoice_table(invoices: list[Invoice], args: argparse.Namespace) -> Table:
    title = "Unpaid invoices" if args.unpaid else "Invoices"
    if args.filter:
        title += f" whose description contains {plain(args.filter)!r}"
    table = Table(
        title=title, box=box.SIMPLE_HEAD, title_justify="left", show_edge=False, pad_edge=False
    )
    for name in ("Number", "Date", "Due", "Description", "Amount", "Status"):
        # Only the description wraps; the rest stays whole on one line.
        right, wraps = name == "Amount", name == "Description"
        table.add_column(
            name, justify="right" if right else "left", no_wrap=not wraps, min_width=wraps and 12
        )
    now = today()
    totals: dict[str, tuple[str, int, int]] = {}
    for inv in invoices:
        table.add_row(
            plain(inv.invoice_number),
            day(inv.creation_date),
            day(inv.due_date),
            plain(inv.description),
            money(inv.amount_inc_vat, sign_of(inv)),
            status(inv, now),
        )
        sign, count, total = totals.get(inv.currency, (sign_of(inv), 0, 0))
        totals[inv.currency] = (sign, count + 1, total + inv.amount_inc_vat)
    table.add_section()
    for currency, (sign, count, total) in sorted(totals.items()):
        label = f"{count:,} invoice{'' if count == 1 else 's'}"
        table.add_row(f"total {plain(currency)}", "", "", label, money(total, sign), "")
    if not invoices:
        table.add_row("", "", "", "no invoices", "", "")
    return table


async def show_command(args: argparse.Namespace) -> Done:
    """``show REF``: one invoice's detail, by id (all digits) or number."""
    fmt = output_format(args, "json")
    by_id = not args.number and args.ref.isascii() and args.ref.isdigit()
    async with open_client(args) as client:
        if by_id:
            detail = await client.invoice(int(args.ref))
        else:
            detail = await client.invoice_by_number(args.ref)
    if fmt == "json":
        print_document(to_dict(detail))
    else:
        console().print(_detail_table(detail))
    return Done()


def _detail_table(detail: InvoiceDetail) -> Table:
    sign = sign_of(detail)
    paid = f"paid on {day(detail.payment_date)}" if detail.payment_date else ""
    state = status(detail, today()) + (f" ({paid})" if paid else "")
    table = Table(
        title=f"Invoice {plain(detail.invoice_number)}", box=box.SIMPLE, show_header=False
    )
    table.add_column("field", style="bold")
    table.add_column("value")
    for field, value in (
        ("id", str(detail.id)),
        ("client", plain(detail.client_number)),
        ("created", day(detail.creation_date)),
        ("due", f"{day(detail.due_date)} (payment term {detail.payment_term} days)"),
        ("status", state),
        ("amount excl. VAT", money(detail.amount_excl_vat, sign)),
        (f"VAT {detail.vat_percentage}%", money(detail.vat_amount, sign)),
        ("amount incl. VAT", money(detail.amount_inc_vat, sign)),
        ("currency", plain(detail.currency)),
        ("hash", plain(detail.invoice_hash)),
    ):
        table.add_row(field, value)
    return table


def _is_folder(out: str | None, count: int) -> bool:
    return out is None or count > 1 or out.endswith(_FOLDER_ENDS) or Path(out).is_dir()


async def pdf_command(args: argparse.Namespace) -> Done:
    """``pdf ID... [-o PATH]``: each PDF into a folder, or one into a file or stdout."""
    if args.out == "-" and len(args.ids) > 1:
        raise errors.ConfigurationError("-o - writes one PDF to stdout: give one ID")
    if _is_folder(args.out, len(args.ids)):
        return await _into_folder(args, Path(args.out or "."))
    if args.out == "-":
        if for_people():
            raise errors.ConfigurationError(
                "refusing to write a PDF to a terminal: pipe it, or give -o FILE"
            )
        async with open_client(args) as client:
            body = await client.invoice_pdf(args.ids[0])
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return Done()
    target = Path(args.out)
    if not target.parent.is_dir():
        raise errors.ConfigurationError(f"folder {str(target.parent)!r} does not exist")
    # Streamed into a temp folder beside the file, then renamed: the file appears whole.
    folder = tempfile.mkdtemp(prefix=".invoice-async-", dir=target.parent)
    try:
        async with open_client(args) as client:
            written = await client.download_pdf(args.ids[0], folder)
        size = _move(written, target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return Done(_wrote(target, size))


def _move(path: Path, target: Path) -> int:
    os.replace(path, target)
    return target.stat().st_size


def _make_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)


async def _into_folder(args: argparse.Namespace, folder: Path) -> Done:
    _make_folder(folder)
    downloads: list[PdfDownload] = []
    failures: list[dict[str, object]] = []
    async with open_client(args) as client:
        outcomes = client.download_pdfs(args.ids, folder, on_error="yield", ordered=True)
        async for outcome in outcomes:
            if outcome.result is not None:
                downloads.append(outcome.result)
            else:
                error = f"{type(outcome.error).__name__}: {outcome.error}"
                failures.append({"invoice_id": outcome.item, "what": "pdf", "error": error})
    if not args.quiet:
        write_lines(_wrote(d.path, d.size) for d in downloads)
    return Done(None, failures, EXIT_FAILURE if failures and not downloads else None)


def _wrote(path: Path, size: int) -> str:
    return f"wrote {path} ({size:,} bytes)" if for_people() else str(path)
