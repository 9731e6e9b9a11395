"""The bulk export job behind ``invoice-async export``; it uses the public API only.

Phases: list the invoices (all, or unpaid with a filter) into ``invoices.<fmt>``; then fetch
every detail into ``details.<fmt>``; then stream every PDF into ``pdf/``. Details and PDFs go
through the client's bounded fan-out in per-item mode, so one broken invoice is recorded in the
manifest and the rest goes on. Every file appears whole or not at all (temp file + rename).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import IO, Any, Literal

import attrs
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from . import ClientStats, Invoice, InvoiceClient, InvoiceDetail, PaymentStatus, PdfDownload
from ._checkpoint import Checkpoint
from ._files import atomic_text, remove_stale_temp_files

Format = Literal["jsonl", "csv"]
MANIFEST = "manifest.json"
# Cells starting with these are read as formulas by spreadsheets (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@attrs.define
class ExportOptions:
    """What to export and where."""

    out_dir: Path
    unpaid: bool = False
    filter: str | None = None
    details: bool = False
    pdfs: bool = False
    format: Format = "jsonl"
    concurrency: int | None = None
    resume: bool = False
    progress: bool = False


@attrs.define
class ExportSummary:
    """What an export wrote, and what failed."""

    invoices: int = 0
    details: int = 0
    pdfs: int = 0
    pdfs_skipped: int = 0
    pdf_bytes: int = 0
    failures: list[dict[str, Any]] = attrs.Factory(list)
    files: list[str] = attrs.Factory(list)
    seconds: float = 0.0
    client_stats: ClientStats | None = None  # the client's counters at the end of the run

    def line(self) -> str:
        """One line for the end of a run."""
        text = f"exported {self.invoices} invoices"
        if self.details:
            text += f", {self.details} details"
        if self.pdfs or self.pdfs_skipped:
            text += f", {self.pdfs + self.pdfs_skipped} PDFs ({self.pdf_bytes / 1e6:.1f} MB"
            text += f", {self.pdfs_skipped} already on disk)" if self.pdfs_skipped else ")"
        if self.failures:
            text += f"; {len(self.failures)} FAILED (see {MANIFEST})"
        text += f" in {self.seconds:.1f}s"
        if (stats := self.client_stats) is not None:
            text += (
                f" ({_count(stats.requests, 'request', 'requests')}, "
                f"{_count(stats.retries, 'retry', 'retries')}, "
                f"{stats.rate_limited:,} rate-limited, paused {stats.paused_seconds:.1f}s)"
            )
        return text


def _count(number: int, one: str, many: str) -> str:
    return f"{number:,} {one if number == 1 else many}"


def record(model: Invoice | InvoiceDetail) -> dict[str, Any]:
    """A model as a flat dict: integer cents, ISO 8601 UTC dates, status codes as ints."""

    def serialize(_: object, __: object, value: object) -> object:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, Enum):
            return value.value
        return value

    return attrs.asdict(model, value_serializer=serialize)


def neutralize_csv_cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class _Writer:
    """Writes records as JSON lines or CSV (header from the model's fields)."""

    def __init__(self, file: IO[str], fmt: Format, fields: Sequence[str]) -> None:
        self._file = file
        self._csv = csv.DictWriter(file, fieldnames=fields) if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        if self._csv is None:
            self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            self._csv.writerow({key: neutralize_csv_cell(value) for key, value in row.items()})


def _fields(cls: type) -> list[str]:
    return [field.name for field in attrs.fields(cls)]


def _progress(show: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True, file=None if show else io.StringIO()),
        disable=not show,
        transient=False,
    )


def _invoice_id(item: object) -> Any:
    return item.id if isinstance(item, Invoice | InvoiceDetail) else item


def _failure(item: object, what: str, error: Exception) -> dict[str, Any]:
    invoice_id = _invoice_id(item)
    return {"invoice_id": invoice_id, "what": what, "error": f"{type(error).__name__}: {error}"}


async def run_export(client: InvoiceClient, options: ExportOptions) -> ExportSummary:
    """Run the export described by ``options``; returns what was written and what failed.

    Progress is kept in a checkpoint (``OUT_DIR/.checkpoint``) as it is made; with
    ``options.resume`` a run continues from it and fetches only what is missing. The final
    files are written at the end, in list order, so a resumed export's files are identical to
    an uninterrupted one's.
    """
    began = time.monotonic()
    summary = ExportSummary()
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(out)
    scope = {"unpaid": options.unpaid, "filter": options.filter}
    checkpoint = Checkpoint(out, resume=options.resume, scope=scope)
    with _progress(options.progress) as progress:
        listed = await _list(client, options, checkpoint, progress)
        invoices = [invoice_from_record(record) for record in listed]
        summary.invoices = len(invoices)
        _write_table(out / f"invoices.{options.format}", options.format, Invoice, listed)
        summary.files.append(f"invoices.{options.format}")
        if options.details:
            details = await _details(client, options, invoices, checkpoint, summary, progress)
            name = f"details.{options.format}"
            ordered = [details[inv.id] for inv in invoices if inv.id in details]
            _write_table(out / name, options.format, InvoiceDetail, ordered)
            summary.details = len(ordered)
            summary.files.append(name)
        if options.pdfs:
            await _export_pdfs(client, options, invoices, summary, progress)
    summary.seconds = time.monotonic() - began
    summary.client_stats = client.stats
    _write_manifest(out, options, summary)
    if not summary.failures:
        checkpoint.remove()
    return summary


def invoice_from_record(row: dict[str, Any]) -> Invoice:
    """An Invoice back from its exported record (the inverse of :func:`record`)."""
    values = dict(row)
    for name in ("creation_date", "due_date", "payment_date"):
        if values[name] is not None:
            values[name] = datetime.fromisoformat(values[name])
    values["payment_status"] = PaymentStatus(values["payment_status"])
    return Invoice(**values)


def _write_table(path: Path, fmt: Format, cls: type, rows: Iterable[dict[str, Any]]) -> None:
    with atomic_text(path) as file:
        writer = _Writer(file, fmt, _fields(cls))
        for row in rows:
            writer.write(row)


async def _list(
    client: InvoiceClient, options: ExportOptions, checkpoint: Checkpoint, progress: Progress
) -> list[dict[str, Any]]:
    task = progress.add_task("invoices", total=None)
    if checkpoint.listing_done:
        listed = checkpoint.listed()
        progress.update(task, total=len(listed), completed=len(listed))
        return listed
    listing = client.unpaid_invoices if options.unpaid else client.invoices
    listed = []
    with checkpoint.listing_writer() as appender:
        async for invoice in listing(filter=options.filter):
            row = record(invoice)
            appender.append(row)
            listed.append(row)
            progress.advance(task)
    checkpoint.finish_listing()
    progress.update(task, total=len(listed))
    return listed


async def _details(
    client: InvoiceClient,
    options: ExportOptions,
    invoices: Sequence[Invoice],
    checkpoint: Checkpoint,
    summary: ExportSummary,
    progress: Progress,
) -> dict[int, dict[str, Any]]:
    done = checkpoint.done_details()
    task = progress.add_task("details", total=len(invoices), completed=len(done))
    missing = [invoice for invoice in invoices if invoice.id not in done]
    with checkpoint.details_writer() as appender:
        async for outcome in client.invoice_details(
            missing, concurrency=options.concurrency, on_error="yield"
        ):
            if outcome.error is not None:
                summary.failures.append(_failure(outcome.item, "detail", outcome.error))
            elif outcome.result is not None:
                row, asked = record(outcome.result), _invoice_id(outcome.item)
                appender.append({"invoice_id": asked, "detail": row})
                done[asked] = row  # by the id asked for, as listed
            progress.advance(task)
    return done


async def _export_pdfs(
    client: InvoiceClient,
    options: ExportOptions,
    invoices: Sequence[Invoice],
    summary: ExportSummary,
    progress: Progress,
) -> None:
    directory = options.out_dir / "pdf"
    directory.mkdir(exist_ok=True)
    remove_stale_temp_files(directory)  # left by a run that was killed mid-file
    task = progress.add_task("PDFs", total=len(invoices))
    async for outcome in client.download_pdfs(
        invoices,
        directory,
        concurrency=options.concurrency,
        on_error="yield",
        skip_existing=options.resume,
    ):
        if outcome.error is not None:
            summary.failures.append(_failure(outcome.item, "pdf", outcome.error))
        elif outcome.result is not None:
            _count_pdf(summary, outcome.result)
        progress.advance(task)


def _count_pdf(summary: ExportSummary, download: PdfDownload) -> None:
    if download.skipped:
        summary.pdfs_skipped += 1
    else:
        summary.pdfs += 1
    summary.pdf_bytes += download.size
    summary.files.append(f"pdf/{download.path.name}")


def _write_manifest(out: Path, options: ExportOptions, summary: ExportSummary) -> None:
    manifest = {
        "manifest_version": 1,
        "complete": not summary.failures,
        "finished_at": datetime.now(UTC).isoformat(),
        "options": {
            "unpaid": options.unpaid,
            "filter": options.filter,
            "details": options.details,
            "pdfs": options.pdfs,
            "format": options.format,
        },
        "counts": {  # what OUT_DIR holds, however many runs it took
            "invoices": summary.invoices,
            "details": summary.details,
            "pdfs": summary.pdfs + summary.pdfs_skipped,
            "pdf_bytes": summary.pdf_bytes,
        },
        "failures": summary.failures,
        "files": sorted(summary.files),
    }
    with atomic_text(out / MANIFEST) as file:
        json.dump(manifest, file, indent=2, ensure_ascii=False)
        file.write("\n")
