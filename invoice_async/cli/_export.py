"""The bulk export behind ``invoice-async export``: a sync into a store, then files from it.

The store (``OUT_DIR/.invoice-async.sqlite`` unless told otherwise) holds what was fetched, so
a plain run continues an interrupted one and brings a finished one up to date, fetching only
what is new, changed or missing. The final files are then streamed from the store in list
order (memory stays flat), each whole or not at all (temp file + rename). PDFs go straight
into ``OUT_DIR/pdf/``. One export at a time per folder (a lock in ``OUT_DIR``).
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import os
import re
import time
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final, Literal

import attrs

from .. import ClientStats, InvoiceClient, InvoiceStore, SyncSummary, errors
from .._files import PDF_NAMES, atomic_text, remove_stale_temp_files
from .._lock import folder_lock
from .._nofollow import real_folder, regular_file
from .._store_db import Database
from .._store_schema import DETAIL_FIELDS, INVOICE_FIELDS
from ._progress import ProgressBar

Format = Literal["jsonl", "csv"]
MANIFEST: Final = "manifest.json"
STORE_NAME: Final = ".invoice-async.sqlite"
PDF_FOLDER: Final = "pdf"
_LEGACY_CHECKPOINT: Final = ".checkpoint"  # what OUT_DIR held before the store
_LEGACY_FILES: Final = ("listing.jsonl", "listing.done", "details.jsonl", "scope.json")
_WRITTEN_PDF: Final = re.compile(PDF_NAMES)  # _files.pdf_file_name
_TABLES: Final = tuple(
    f"{stem}.{fmt}" for stem in ("invoices", "details") for fmt in ("jsonl", "csv")
)
_FINAL_NAMES: Final = "|".join(re.escape(name) for name in (*_TABLES, MANIFEST))
# Cells starting with these are read as formulas by spreadsheets (CSV injection), also in
# their full-width and small forms (NFKC folds those to these), and also after whitespace and
# invisible characters (spreadsheets skip a leading space, NBSP, BOM, zero-width space...).
_FORMULA_STARTS: Final = frozenset("=+-@|")
_SKIPPED_CATEGORIES: Final = frozenset({"Zs", "Zl", "Zp", "Cf", "Cc"})


@attrs.define
class ExportOptions:
    """What to export and where. ``resume`` is accepted for old callers: every run resumes."""

    out_dir: Path
    unpaid: bool = False
    filter: str | None = None
    details: bool = False
    pdfs: bool = False
    format: Format = "jsonl"
    concurrency: int | None = None
    resume: bool = False
    progress: bool = False
    store: Path | None = None  # default: OUT_DIR/.invoice-async.sqlite
    fresh: bool = False  # discard the store and the files it wrote, start over
    verify: bool = False  # with pdfs: compare every PDF's sha256


@attrs.define
class ExportSummary:
    """What OUT_DIR holds after an export, what this run fetched, and what failed."""

    invoices: int = 0
    details: int = 0
    pdfs: int = 0  # fetched by this run
    pdfs_skipped: int = 0  # already on disk
    pdf_bytes: int = 0
    failures: list[dict[str, Any]] = attrs.Factory(list)
    seconds: float = 0.0
    client_stats: ClientStats | None = None  # the client's counters at the end of the run
    sync: SyncSummary | None = None

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
        if self.client_stats is not None:
            text += f" ({client_numbers(self.client_stats)})"
        return text


def client_numbers(stats: ClientStats) -> str:
    """``1,023 requests, 2 retries, 0 rate-limited, paused 0.0s, unpaced`` (or ``paced at
    96/s``: the pace the client keeps at the end)."""
    pace = "unpaced" if stats.rate is None else f"paced at {stats.rate:.0f}/s"
    return (
        f"{_count(stats.requests, 'request', 'requests')}, "
        f"{_count(stats.retries, 'retry', 'retries')}, "
        f"{stats.rate_limited:,} rate-limited, paused {stats.paused_seconds:.1f}s, {pace}"
    )


def _count(number: int, one: str, many: str) -> str:
    return f"{number:,} {one if number == 1 else many}"


def split_failure(invoice_id: int, text: str) -> dict[str, Any]:
    """A SyncSummary failure (``"pdf: Error: ..."``) as the manifest records it."""
    what, _, error = text.partition(": ")
    return {"invoice_id": invoice_id, "what": what, "error": error}


def neutralize_csv_cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe: a cell that
    starts with a tab or CR, or whose first character after whitespace and format or control
    characters (Unicode Zs, Zl, Zp, Cf, Cc) is one of ``= + - @ |`` or a full-width or small
    form of one. Numbers stay numbers."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in "\t\r":
        return "'" + value
    for char in value:
        if unicodedata.category(char) in _SKIPPED_CATEGORIES:
            continue
        if unicodedata.normalize("NFKC", char)[:1] in _FORMULA_STARTS:
            return "'" + value
        break
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


async def run_export(client: InvoiceClient, options: ExportOptions) -> ExportSummary:
    """Run the export described by ``options``; returns what OUT_DIR holds and what failed.

    Raises StoreLockedError at once when another export uses OUT_DIR (or another process
    the store), ConfigurationError when the store holds another scope (``fresh`` starts
    over), and the client's errors when the listing fails (no final file is written then).
    """
    began = time.monotonic()
    out = options.out_dir
    _make_folder(out)
    store = InvoiceStore(options.store or out / STORE_NAME, fresh=options.fresh)
    with folder_lock(out):
        async with store:  # locked (and, with fresh, emptied) before any file is touched
            await store._in_thread(_prepare_folder, out, options)  # off the event loop
            pdf_dir = out / PDF_FOLDER if options.pdfs else None
            with ProgressBar(options.progress, lambda: client.stats) as bar:
                synced = await store.sync(
                    client,
                    details=options.details,
                    pdf_dir=pdf_dir,
                    unpaid=options.unpaid,
                    filter=options.filter,
                    concurrency=options.concurrency,
                    progress=bar,
                    verify=options.verify,
                )
                summary = await store._call(_write_files, options, synced)
    summary.seconds = time.monotonic() - began
    summary.client_stats = client.stats
    return summary


def _make_folder(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)


def _prepare_folder(out: Path, options: ExportOptions) -> None:
    """Under the folder's lock: what OUT_DIR holds under the export's names must be what an
    export made (regular files, a real ``pdf`` folder; StoreError otherwise, and nothing is
    touched); temp files of a killed run go; ``fresh`` removes the files an earlier export
    wrote; the checkpoint of an older version is replaced by the store."""
    for name in (*_TABLES, MANIFEST):
        regular_file(out / name)
    folder = out / PDF_FOLDER
    has_pdf_folder = real_folder(folder)
    remove_stale_temp_files(out, _FINAL_NAMES)
    _remove_legacy_checkpoint(out / _LEGACY_CHECKPOINT)
    if options.fresh:
        for name in (*_TABLES, MANIFEST):
            (out / name).unlink(missing_ok=True)
        if has_pdf_folder:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if _WRITTEN_PDF.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                        os.unlink(entry.path)
    if options.pdfs and not has_pdf_folder:
        folder.mkdir()  # by us, now: the sync then writes into a real folder


def _remove_legacy_checkpoint(folder: Path) -> None:
    """An older version's checkpoint folder: only its own files go (regular files, not
    followed), then the folder if that leaves it empty; anything else there stays."""
    try:
        if not real_folder(folder):
            return
    except errors.StoreError:
        return  # a symbolic link or a file of that name: not ours, left alone
    for name in _LEGACY_FILES:
        with contextlib.suppress(errors.StoreError):
            if regular_file(folder / name):
                (folder / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()


def _write_files(db: Database, options: ExportOptions, synced: SyncSummary) -> ExportSummary:
    """The final files, streamed from the store in list order (on the store's thread)."""
    out, fmt = options.out_dir, options.format
    summary = ExportSummary(sync=synced)
    summary.failures = sorted(
        (split_failure(*failure) for failure in synced.failures),
        key=lambda failure: (failure["invoice_id"], failure["what"]),
    )
    tables = [f"invoices.{fmt}"]
    summary.invoices = _write_table(out / tables[0], fmt, INVOICE_FIELDS, db.invoice_records())
    if options.details:
        tables.append(f"details.{fmt}")
        fields = ("id", *DETAIL_FIELDS)
        summary.details = _write_table(out / tables[-1], fmt, fields, db.detail_records())
    if options.pdfs:
        count = 0
        for _, size in db.current_pdfs():
            count, summary.pdf_bytes = count + 1, summary.pdf_bytes + size
        summary.pdfs = synced.pdfs_fetched
        summary.pdfs_skipped = count - synced.pdfs_fetched
    pdfs = (f"{PDF_FOLDER}/{name}" for name, _ in db.current_pdfs()) if options.pdfs else ()
    _write_manifest(out, _manifest_head(options, summary), sorted(tables), pdfs)
    return summary


def _write_table(
    path: Path, fmt: Format, fields: Sequence[str], rows: Iterable[dict[str, Any]]
) -> int:
    written = 0
    with atomic_text(path) as file:
        writer = _Writer(file, fmt, fields)
        for row in rows:
            writer.write(row)
            written += 1
    return written


def _manifest_head(options: ExportOptions, summary: ExportSummary) -> dict[str, Any]:
    return {
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
    }


def _write_manifest(
    out: Path, head: dict[str, Any], tables: Sequence[str], pdfs: Iterable[str]
) -> None:
    """``json.dump(head + {"files": [...]}, indent=2)``, with the file names streamed."""
    with atomic_text(out / MANIFEST) as file:
        file.write(json.dumps(head, indent=2, ensure_ascii=False).removesuffix("\n}"))
        file.write(',\n  "files": [')
        for index, name in enumerate(itertools.chain(tables, pdfs)):
            file.write(("," if index else "") + "\n    " + json.dumps(name, ensure_ascii=False))
        file.write("\n  ]\n}\n")
