"""``export`` and ``sync``: the commands that run on a store, with a progress bar."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .. import InvoiceStore, SyncSummary
from ._api import open_client
from ._export import ExportOptions, client_numbers, run_export, split_failure
from ._output import Done
from ._progress import ProgressBar


def _show_progress(args: argparse.Namespace) -> bool:
    if args.quiet:
        return False
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


async def export_command(args: argparse.Namespace) -> Done:
    """``export OUT_DIR``: a sync into the folder's store, then its files."""
    options = ExportOptions(
        out_dir=args.out_dir,
        unpaid=args.unpaid,
        filter=args.filter,
        details=args.details,
        pdfs=args.pdfs,
        format=args.format,
        concurrency=args.concurrency,
        resume=args.resume,
        progress=_show_progress(args),
        store=args.store,
        fresh=args.fresh,
        verify=args.verify,
    )
    async with open_client(args) as client:
        summary = await run_export(client, options)
    return Done(summary.line(), summary.failures)


async def sync_command(args: argparse.Namespace) -> Done:
    """``sync STORE``: the store brought up to date."""
    began = time.monotonic()
    async with open_client(args) as client:
        store = InvoiceStore(args.store, fresh=args.fresh)
        with ProgressBar(_show_progress(args), lambda: client.stats) as bar:
            async with store:
                summary = await store.sync(
                    client,
                    details=args.details,
                    pdf_dir=args.pdf_dir,
                    unpaid=args.unpaid,
                    filter=args.filter,
                    progress=bar,
                    verify=args.verify,
                )
        line = _sync_line(args.store, summary, time.monotonic() - began)
        line += f" ({client_numbers(client.stats)})"
    return Done(line, [split_failure(*failure) for failure in summary.failures])


def _sync_line(store: Path, summary: SyncSummary, seconds: float) -> str:
    text = (
        f"synced {summary.listed:,} invoices into {store}: {summary.new:,} new, "
        f"{summary.changed:,} changed, {summary.paid:,} paid, {summary.removed:,} removed, "
        f"{summary.unchanged:,} unchanged; fetched {summary.details_fetched:,} details, "
        f"{summary.pdfs_fetched:,} PDFs"
    )
    if summary.failures:
        text += f"; {len(summary.failures):,} FAILED"
    return text + f" in {seconds:.1f}s"
