"""The store's SQLite connection: opening, migrations, transactions, runs, scope, reading.

Synchronous: the store calls each method (and each step of ``_sync_steps``) on its one worker
thread, in order, so one connection serves them all. Every write is one transaction
(``BEGIN IMMEDIATE`` … ``COMMIT``) that also records the run's counts so far in
``runs.counts``, so what a run did is known even if it is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from . import errors
from ._logging import logger
from ._nofollow import open_file, refusal, regular_file
from ._store_schema import (
    APPLICATION_ID,
    DETAIL_FIELDS,
    INVOICE_FIELDS,
    MIGRATIONS,
    SCHEMA_VERSION,
    checked_pdf,
    checked_scope,
    detail_record,
    invoice_record,
)

COUNTS: Final = (
    "listed",
    "new",
    "changed",
    "paid",
    "removed",
    "unchanged",
    "details_fetched",
    "pdfs_fetched",
)
_INVOICE_COLUMNS: Final = ", ".join(INVOICE_FIELDS)
IN_LIST: Final = "i.list_position IS NOT NULL"
"""An invoice (``i``) that is in the store's copy of the list."""
CURRENT_PDFS: Final = f"FROM invoices i JOIN pdfs p ON p.invoice_id = i.id WHERE {IN_LIST}"
"""The PDF rows (``p``) of the invoices in the list."""


_SIDE_FILES: Final = ("-wal", "-shm", "-journal")


def _check_side_files(path: Path) -> None:
    """SQLite's files beside the store are regular files or absent (StoreError otherwise):
    SQLite would follow a symbolic link there, and block on a FIFO."""
    for suffix in _SIDE_FILES:
        regular_file(Path(f"{path}{suffix}"))


def _open_private(path: Path) -> int:
    """A descriptor of the store's file: created with mode 0o600 if it is not there (SQLite
    then creates its -wal and -shm files with the same mode), else opened without following
    a symbolic link; StoreError when it is not a regular file."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        fd = open_file(path)
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, 0o600)  # an older store of ours: SQLite gives -wal/-shm its mode
        return fd
    os.fchmod(fd, 0o600)  # whatever the umask
    return fd


def _connect(path: Path) -> sqlite3.Connection:
    """A connection to the store's file, which must be a regular file of ours: not a
    symbolic link (SQLite would follow it and write wherever it points), not a FIFO, and
    still the same file once SQLite has opened it."""
    fd = _open_private(path)
    try:
        _check_side_files(path)
        for suffix in ("-wal", "-shm"):  # left by a crash: as private as the store
            _make_private(Path(f"{path}{suffix}"))
        conn = sqlite3.connect(path, isolation_level=None)  # transactions are explicit
        opened, there = os.fstat(fd), os.lstat(path)
    finally:
        # Before any statement: closing another descriptor of the file would drop SQLite's
        # POSIX locks on it, and it holds none until the first statement.
        os.close(fd)
    if (opened.st_dev, opened.st_ino) != (there.st_dev, there.st_ino):
        conn.close()
        raise refusal(path, "a file that was replaced while it was opened")
    return conn


def _make_private(path: Path) -> None:
    """Mode 0o600 for the file at ``path`` if it is there and ours (else SQLite will say)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (FileNotFoundError, PermissionError):
        return
    try:
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _not_a_database(exc: sqlite3.DatabaseError) -> bool:
    """Whether ``exc`` says the file is no SQLite database or a corrupt one (not, say, that
    it is locked)."""
    return (exc.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT)


def _store_version(path: Path, conn: sqlite3.Connection) -> int | None:
    """The schema version of the store at ``path``, open as ``conn`` (0: an empty file), or
    None when the file is no SQLite database or a corrupt one. Raises StoreError when it is
    an SQLite database of something else, and other errors (a lock, say) as they are."""
    try:
        (app_id,) = conn.execute("PRAGMA application_id").fetchone()
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        (tables,) = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except sqlite3.DatabaseError as exc:
        if _not_a_database(exc):
            return None
        raise
    if tables and app_id != APPLICATION_ID:
        raise errors.StoreError(
            f"the store {path} is an SQLite database, but not an invoice_async store",
            path=str(path),
        )
    return int(version)


def check_discardable(path: Path) -> None:
    """Raise StoreError if ``path`` is an SQLite database of something else, or one that
    cannot be read (locked, say), which ``fresh`` must not delete, or not a regular file; a
    store, a file that is no database or a corrupt one, or no file at all may be discarded."""
    if not regular_file(path):
        return
    _check_side_files(path)
    conn = sqlite3.connect(path)
    try:
        _store_version(path, conn)
    except errors.StoreError as exc:
        raise errors.StoreError(f"{exc}: not discarding it", path=str(path)) from None
    except sqlite3.DatabaseError as exc:  # what it holds is unknown
        raise errors.StoreError(
            f"the store {path} cannot be read ({exc}): not discarding it", path=str(path)
        ) from None
    finally:
        conn.close()


def _scope_text(unpaid: bool, text: str | None) -> str:
    kind = "unpaid invoices" if unpaid else "all invoices"
    return kind if text is None else f"{kind} whose description contains {text!r}"


class Database:
    """One open store: its connection, and the counts of the run in progress."""

    def __init__(self, path: Path) -> None:
        """Open (creating or migrating) the store at ``path``; raises StoreError when the
        file is not a store, or was made by a newer invoice_async."""
        self.path = path
        self.conn = _connect(path)
        try:
            self._prepare()
        except BaseException:
            self.conn.close()
            raise
        self.run_id = 0
        self.counts = dict.fromkeys(COUNTS, 0)

    def _prepare(self) -> None:
        conn = self.conn
        conn.execute("PRAGMA busy_timeout = 5000")  # a reader's checkpoint, briefly
        version = _store_version(self.path, conn)  # a lock, say, is raised as it is
        if version is None:
            raise self._error(
                "is not an invoice_async store (no SQLite database, or a corrupt one); start "
                "it over with fresh=True (--fresh on the command line)"
            )
        if version > SCHEMA_VERSION:
            raise self._error(
                f"was made by a newer invoice_async (schema version {version}; this one "
                f"knows up to {SCHEMA_VERSION})"
            )
        (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode != "wal":
            raise self._error(f"cannot use write-ahead logging (journal mode {mode!r})")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: a kill loses no commit
        conn.execute("PRAGMA foreign_keys = ON")
        for number in range(version + 1, SCHEMA_VERSION + 1):
            self._migrate(number)
            if version:  # an existing store moved on: worth a line; a new one is not
                logger.info("store %s: migrated to schema version %d", self.path, number)
        with self.transaction():  # a run still "running" was killed: nobody else writes
            conn.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running'")

    def _migrate(self, number: int) -> None:
        script = f"BEGIN IMMEDIATE;\n{MIGRATIONS[number - 1]}\nPRAGMA user_version = {number};"
        try:
            self.conn.executescript(script)
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _error(self, text: str) -> errors.StoreError:
        return errors.StoreError(f"the store {self.path} {text}", path=str(self.path))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back if the block or the COMMIT fails
        (a failed COMMIT leaves the transaction open), and the first error is raised."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        """End the open transaction, if any; an error of the ROLLBACK itself is dropped so
        that the error that caused it is the one raised."""
        if self.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    def add_counts(self, deltas: dict[str, int]) -> dict[str, int]:
        """The run's counts with ``deltas`` added, written to ``runs`` (in the transaction)."""
        counts = {name: value + deltas.get(name, 0) for name, value in self.counts.items()}
        self.conn.execute(
            "UPDATE runs SET counts = ? WHERE id = ?", (json.dumps(counts), self.run_id)
        )
        return counts

    def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL into the file)."""
        self.conn.close()

    # --- runs and scope -----------------------------------------------------------------------

    def begin_run(self, unpaid: bool, text: str | None, pdf_dir: str | None, now: str) -> None:
        """Check the scope, remember it (and ``pdf_dir``, when given), and start a run.

        The scope (unpaid or not, the filter) and the PDF folder are fixed once the store
        holds invoices (PDFs, for the folder); another one raises ConfigurationError.
        """
        with self.transaction() as conn:
            meta = checked_scope(dict(conn.execute("SELECT key, value FROM meta").fetchall()))
            (has_invoices,) = conn.execute("SELECT EXISTS (SELECT 1 FROM invoices)").fetchone()
            held, asked = (meta.get("unpaid") == "1", meta.get("filter")), (unpaid, text)
            if has_invoices and "unpaid" in meta and held != asked:
                raise errors.ConfigurationError(
                    f"the store {self.path} holds {_scope_text(*held)}, not "
                    f"{_scope_text(*asked)}: sync it with the same scope, or start it over "
                    "(fresh=True; --fresh on the command line)"
                )
            remembered = meta.get("pdf_dir")
            (has_pdfs,) = conn.execute("SELECT EXISTS (SELECT 1 FROM pdfs)").fetchone()
            if pdf_dir is not None and remembered not in (None, pdf_dir) and has_pdfs:
                raise errors.ConfigurationError(
                    f"the store {self.path} keeps its PDFs in {remembered!r}, not {pdf_dir!r}: "
                    "pass the same folder, none, or start the store over (--fresh)"
                )
            rows = [("unpaid", "1" if unpaid else "0"), ("filter", text)]
            if pdf_dir is not None:
                rows.append(("pdf_dir", pdf_dir))
            conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", rows)
            self.counts = dict.fromkeys(COUNTS, 0)
            cursor = conn.execute(
                "INSERT INTO runs (started_at, status, counts) VALUES (?, 'running', ?)",
                (now, json.dumps(self.counts)),
            )
            self.run_id = cursor.lastrowid or 0

    def finish_run(
        self, status: str, failures: Sequence[tuple[int, str]], now: str
    ) -> dict[str, int]:
        """End the run with ``status``; returns its counts."""
        document = {**self.counts, "failures": [list(failure) for failure in failures]}
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, counts = ? WHERE id = ?",
                (status, now, json.dumps(document), self.run_id),
            )
        return dict(self.counts)

    # --- reading, for the export's files --------------------------------------------------

    def invoice_records(self) -> Iterator[dict[str, Any]]:
        """The listed invoices in list order, as the export writes them."""
        query = (
            f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE list_position IS NOT NULL "
            "ORDER BY list_position"
        )
        for row in self.conn.execute(query):
            yield invoice_record(row)

    def detail_records(self) -> Iterator[dict[str, Any]]:
        """The current details of the listed invoices, in list order."""
        columns = ", ".join(f"d.{name}" for name in DETAIL_FIELDS)
        query = (
            f"SELECT d.invoice_id, {columns} FROM invoices i JOIN details d "
            f"ON d.invoice_id = i.id WHERE {IN_LIST} AND NOT d.stale ORDER BY i.list_position"
        )
        for row in self.conn.execute(query):
            yield detail_record(row)

    def current_pdfs(self) -> Iterator[tuple[str, int]]:
        """``(file name, size)`` of the current PDFs of the listed invoices, by name; BadRow
        for a row the store would not have written."""
        query = (
            f"SELECT p.invoice_id, p.path, p.size, p.sha256 {CURRENT_PDFS} AND NOT p.stale "
            "ORDER BY p.path"
        )
        for row in self.conn.execute(query):
            _, name, size, _ = checked_pdf(row)
            yield name, size
