"""Reading a store in tests, with a connection of the test's own (as a user's query would)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

STORE_FILES = frozenset(
    {
        ".invoice-async.lock",
        ".invoice-async.sqlite",
        ".invoice-async.sqlite-wal",
        ".invoice-async.sqlite-shm",
        ".invoice-async.sqlite.lock",
    }
)
"""The files an export keeps in OUT_DIR for itself (its store and its locks)."""


def query(path: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` on the store at ``path``."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, args).fetchall()


def content(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the store holds except the clock (times, run ids): two stores that saw the
    same API the same way have the same content, however many runs it took."""
    return {
        "invoices": query(
            path,
            "SELECT id, invoice_number, invoice_hash, description, currency, currency_sign, "
            "amount_inc_vat, amount_excl_vat, remaining_amount, total_paid_amount, "
            "payment_status, payment_date, is_credit, creation_date, due_date, list_position, "
            "removed_at IS NOT NULL FROM invoices ORDER BY id",
        ),
        "details": query(
            path,
            "SELECT invoice_id, invoice_number, invoice_hash, client_number, creation_date, "
            "due_date, payment_status, payment_date, is_credit, payment_term, currency, "
            "currency_sign, vat_percentage, vat_amount, amount_inc_vat, amount_excl_vat, stale "
            "FROM details ORDER BY invoice_id",
        ),
        "pdfs": query(path, "SELECT invoice_id, path, size, sha256, stale FROM pdfs ORDER BY 1"),
        "payment_events": query(
            path, "SELECT invoice_id, old_status, new_status FROM payment_events ORDER BY id"
        ),
    }


def statuses(path: Path) -> list[str]:
    """The status of every run, oldest first."""
    return [status for (status,) in query(path, "SELECT status FROM runs ORDER BY id")]
