"""The statements of a sync's steps, each a function of the open :class:`Database`.

The store runs each on its worker thread (``store._call(step, ...)``). Pages of work are keyset
pages (``after`` the last key of the page before), so no cursor stays open across a write.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from ._models import Invoice, InvoiceDetail
from ._nofollow import reading, regular_file
from ._store_db import CURRENT_PDFS, IN_LIST, Database
from ._store_schema import (
    COMPARED,
    DETAIL_FIELDS,
    INVOICE_FIELDS,
    PAID,
    BadRow,
    checked_id,
    checked_pdf,
    checked_pdf_name,
    classify,
    compared,
    detail_row,
    invoice_from_row,
    invoice_row,
    status_of,
)

_UPSERT_INVOICE: Final = (
    f"INSERT INTO invoices ({', '.join(INVOICE_FIELDS)}, pending_position, first_seen, "
    f"last_seen, listed_run) VALUES ({', '.join('?' * (len(INVOICE_FIELDS) + 4))}) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in INVOICE_FIELDS[1:])
    + ", pending_position = excluded.pending_position, last_seen = excluded.last_seen, "
    "removed_at = NULL, listed_run = excluded.listed_run"
)
_UPSERT_DETAIL: Final = (
    f"INSERT INTO details (invoice_id, {', '.join(DETAIL_FIELDS)}, fetched_at, stale) "
    f"VALUES ({', '.join('?' * (len(DETAIL_FIELDS) + 2))}, 0) "
    "ON CONFLICT (invoice_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in (*DETAIL_FIELDS, "fetched_at"))
    + ", stale = 0"
)
_UPSERT_PDF: Final = (
    "INSERT INTO pdfs (invoice_id, path, size, sha256, fetched_at, stale) "
    "VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (invoice_id) DO UPDATE SET path = excluded.path, "
    "size = excluded.size, sha256 = excluded.sha256, fetched_at = excluded.fetched_at, stale = 0"
)
_EVENT: Final = (
    "INSERT INTO payment_events (invoice_id, old_status, new_status, seen_at, run_id) "
    "VALUES (?, ?, ?, ?, ?)"
)
_NEEDS_DETAIL: Final = (
    "FROM invoices i LEFT JOIN details d ON d.invoice_id = i.id "
    f"WHERE {IN_LIST} AND (d.invoice_id IS NULL OR d.stale)"
)
_NEEDS_PDF: Final = (
    "FROM invoices i LEFT JOIN pdfs p ON p.invoice_id = i.id "
    f"WHERE {IN_LIST} AND (p.invoice_id IS NULL OR p.stale)"
)
# Unpaid scope: in the store as unpaid, not removed, and not in this run's listing.
_DEPARTED: Final = "listed_run IS NOT ? AND removed_at IS NULL AND payment_status != ?"


# --- the listing --------------------------------------------------------------------------


def apply_listing(db: Database, first_position: int, invoices: Sequence[Invoice], now: str) -> None:
    """Write one batch of listed invoices (positions from ``first_position``, kept in
    ``pending_position`` until :func:`finish_listing`): new rows, changed rows (their detail
    and PDF marked stale), a payment event per status change."""
    rows = [invoice_row(invoice) for invoice in invoices]
    marks = ", ".join("?" * len(rows))
    deltas = dict.fromkeys(("new", "changed", "paid", "unchanged"), 0)
    with db.transaction() as conn:
        held = {
            row[0]: row[1:]
            for row in conn.execute(
                f"SELECT id, removed_at, {', '.join(COMPARED)} FROM invoices WHERE id IN ({marks})",
                [row[0] for row in rows],
            )
        }
        events, stale = [], []
        for row in rows:
            after, old = compared(row), held.get(row[0])
            change = classify(None if old is None or old[0] is not None else old[1:], after)
            deltas[change] += 1
            if old is not None and status_of(old[1:]) != status_of(after):
                events.append((row[0], status_of(old[1:]), status_of(after), now, db.run_id))
            if old is not None and change != "unchanged":
                stale.append((row[0],))
        conn.executemany(
            _UPSERT_INVOICE,
            [
                (*row, position, now, now, db.run_id)
                for position, row in enumerate(rows, first_position)
            ],
        )
        conn.executemany(_EVENT, events)
        conn.executemany("UPDATE details SET stale = 1 WHERE invoice_id = ?", stale)
        conn.executemany("UPDATE pdfs SET stale = 1 WHERE invoice_id = ?", stale)
        counts = db.add_counts({**deltas, "listed": len(rows)})
    db.counts = counts


def finish_listing(db: Database, unpaid: bool, now: str) -> None:
    """After a complete listing: the places it wrote become ``list_position``, all in one
    transaction; what it did not list leaves the store's copy of the list (``list_position``
    NULL); in the all-invoices scope it is removed (``removed_at``)."""
    with db.transaction() as conn:
        conn.execute(  # places a failed listing wrote, on rows not listed since, go too
            "UPDATE invoices SET list_position = CASE WHEN listed_run IS ? "
            "THEN pending_position END, pending_position = NULL "
            "WHERE list_position IS NOT NULL OR pending_position IS NOT NULL",
            (db.run_id,),
        )
        removed = 0
        if not unpaid:  # in the unpaid scope, departures are checked one by one (departed_page)
            removed = conn.execute(
                "UPDATE invoices SET removed_at = ? "
                "WHERE listed_run IS NOT ? AND removed_at IS NULL",
                (now, db.run_id),
            ).rowcount
        counts = db.add_counts({"removed": removed})
    db.counts = counts


# --- work to do, a page at a time (keyset pages: no cursor stays open across writes) -----


def count_departed(db: Database) -> int:
    """Invoices that left the unpaid list in this run, still to be checked."""
    query = f"SELECT count(*) FROM invoices WHERE {_DEPARTED}"
    (count,) = db.conn.execute(query, (db.run_id, PAID)).fetchone()
    return int(count)


def departed_page(db: Database, after: int, limit: int) -> list[tuple[int, int]]:
    """``(id, id)`` of departed invoices with an id above ``after``, by id."""
    query = f"SELECT id, id FROM invoices WHERE {_DEPARTED} AND id > ? ORDER BY id LIMIT ?"
    rows = db.conn.execute(query, (db.run_id, PAID, after, limit)).fetchall()
    return [(key, checked_id(invoice_id, "invoices")) for key, invoice_id in rows]


def count_needed_details(db: Database) -> int:
    """Listed invoices without a current detail."""
    (count,) = db.conn.execute(f"SELECT count(*) {_NEEDS_DETAIL}").fetchone()
    return int(count)


def needed_details_page(db: Database, after: int, limit: int) -> list[tuple[int, int]]:
    """``(list_position, id)`` of listed invoices without a current detail, in list
    order, from the position after ``after``."""
    query = (
        f"SELECT i.list_position, i.id {_NEEDS_DETAIL} AND i.list_position > ? "
        "ORDER BY i.list_position LIMIT ?"
    )
    rows = db.conn.execute(query, (after, limit)).fetchall()
    return [(position, checked_id(invoice_id, "invoices")) for position, invoice_id in rows]


def count_needed_pdfs(db: Database) -> int:
    """Listed invoices without a current PDF."""
    (count,) = db.conn.execute(f"SELECT count(*) {_NEEDS_PDF}").fetchone()
    return int(count)


def needed_pdfs_page(db: Database, after: int, limit: int) -> list[tuple[int, Invoice]]:
    """``(list_position, Invoice)`` of listed invoices without a current PDF, in order."""
    columns = ", ".join(f"i.{name}" for name in INVOICE_FIELDS)
    query = (
        f"SELECT i.list_position, {columns} {_NEEDS_PDF} AND i.list_position > ? "
        "ORDER BY i.list_position LIMIT ?"
    )
    rows = db.conn.execute(query, (after, limit)).fetchall()
    return [(row[0], invoice_from_row(row[1:])) for row in rows]


def count_pdf_rows(db: Database) -> int:
    """Current PDFs of listed invoices (what ``check_pdf_files`` goes through)."""
    query = f"SELECT count(*) {CURRENT_PDFS} AND NOT p.stale"
    (count,) = db.conn.execute(query).fetchone()
    return int(count)


def check_pdf_files(
    db: Database, directory: Path, verify: bool, after: int, limit: int
) -> tuple[int | None, int]:
    """Mark stale the PDFs (ids above ``after``, a page) whose file is missing or has
    another size (or, with ``verify``, another sha256); returns (last id, rows checked)."""
    query = (
        f"SELECT p.invoice_id, p.path, p.size, p.sha256 {CURRENT_PDFS} AND NOT p.stale "
        "AND p.invoice_id > ? ORDER BY p.invoice_id LIMIT ?"
    )
    rows = [checked_pdf(row) for row in db.conn.execute(query, (after, limit)).fetchall()]
    bad = [
        (invoice_id,)
        for invoice_id, name, size, digest in rows
        if not _file_matches(directory, name, size, digest if verify else None)
    ]
    if bad:
        with db.transaction() as conn:
            conn.executemany("UPDATE pdfs SET stale = 1 WHERE invoice_id = ?", bad)
    return (rows[-1][0] if rows else None), len(rows)


# --- what was fetched -------------------------------------------------------------------


def save_details(db: Database, details: Sequence[tuple[int, InvoiceDetail]], now: str) -> None:
    """Store fetched details, each under the invoice id it was asked for."""
    with db.transaction() as conn:
        conn.executemany(_UPSERT_DETAIL, [detail_row(i, d, now) for i, d in details])
        counts = db.add_counts({"details_fetched": len(details)})
    db.counts = counts


def save_departures(
    db: Database, checked: Sequence[tuple[int, InvoiceDetail | None]], now: str
) -> None:
    """The details of invoices that left the unpaid list (None: the API has no such
    invoice). Paid: a payment event and the new status. Otherwise: ``removed_at``."""
    deltas = dict.fromkeys(("paid", "removed", "details_fetched"), 0)
    with db.transaction() as conn:
        for invoice_id, detail in checked:
            if detail is not None:
                _departed_with_detail(db, conn, invoice_id, detail, now)
                deltas["details_fetched"] += 1
            if detail is not None and int(detail.payment_status) == PAID:
                deltas["paid"] += 1
            else:
                conn.execute("UPDATE invoices SET removed_at = ? WHERE id = ?", (now, invoice_id))
                deltas["removed"] += 1
        counts = db.add_counts(deltas)
    db.counts = counts


def _departed_with_detail(
    db: Database, conn: sqlite3.Connection, invoice_id: int, detail: InvoiceDetail, now: str
) -> None:
    conn.execute(_UPSERT_DETAIL, detail_row(invoice_id, detail, now))
    query = "SELECT payment_status FROM invoices WHERE id = ?"
    (old,) = conn.execute(query, (invoice_id,)).fetchone()
    new = int(detail.payment_status)
    if new != old:
        conn.execute(_EVENT, (invoice_id, old, new, now, db.run_id))
        paid_at = None if detail.payment_date is None else detail.payment_date.isoformat()
        conn.execute(
            "UPDATE invoices SET payment_status = ?, payment_date = ? WHERE id = ?",
            (new, paid_at, invoice_id),
        )
    if new == PAID:  # the list no longer tells: paid in full, as the detail says
        conn.execute(
            "UPDATE invoices SET remaining_amount = 0, total_paid_amount = amount_inc_vat "
            "WHERE id = ?",
            (invoice_id,),
        )


def save_pdfs(
    db: Database, directory: Path, pdfs: Sequence[tuple[int, str, int, str]], now: str
) -> None:
    """Store ``(invoice_id, file name, size, sha256)`` of PDFs written into
    ``directory``; an earlier file of the same invoice under another name is removed."""
    replaced = []
    with db.transaction() as conn:
        for invoice_id, name, size, digest in pdfs:
            query = "SELECT path FROM pdfs WHERE invoice_id = ?"
            old = conn.execute(query, (invoice_id,)).fetchone()
            if old is not None and old[0] != name:
                replaced.append((invoice_id, old[0]))
            conn.execute(_UPSERT_PDF, (invoice_id, name, size, digest, now))
        counts = db.add_counts({"pdfs_fetched": len(pdfs)})
    db.counts = counts
    for invoice_id, name in replaced:  # the invoice's number changed: its file name did too
        try:
            checked_pdf_name(invoice_id, name)
        except BadRow:
            continue  # not a name of ours: nothing of ours to remove
        path = directory / name
        if regular_file(path):  # never a symbolic link or a folder someone put there
            path.unlink(missing_ok=True)


def _file_matches(directory: Path, name: str, size: int, digest: str | None) -> bool:
    """Whether the PDF file ``name`` (checked: a plain name of ours) is there with this size
    (and sha256). A symbolic link, a FIFO or a folder there raises StoreError."""
    try:
        with reading(directory / name) as file:
            if os.fstat(file.fileno()).st_size != size:
                return False
            return digest is None or hashlib.file_digest(file, "sha256").hexdigest() == digest
    except OSError:
        return False


def file_digest(path: Path) -> tuple[int, str]:
    """``(size, sha256 hex)`` of the regular file at ``path`` (not following a link)."""
    with reading(path) as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
        return os.fstat(file.fileno()).st_size, digest
