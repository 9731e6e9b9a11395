"""InvoiceStore itself: the file and its modes, the write lock, migrations, bad files,
cancellation. The sync's rules are in test_sync.py."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from invoice_async import InvoiceClient, InvoiceStore, _store, _sync, errors
from invoice_async._converter import structure_detail, structure_invoice
from invoice_async._lock import WriteLock, lock_directory
from invoice_async._store_db import Database
from invoice_async._store_schema import SCHEMA_VERSION, detail_row, invoice_row
from invoice_async.cli import _export
from invoice_async.testing import FakeI3DServer, to_detail_item, to_list_item
from tests._stores import content, query, statuses

T = TypeVar("T")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets everyone read new files: the store must not rely on it."""
    old = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("open_umask")
async def test_the_store_its_wal_shm_and_lock_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    async with (
        FakeI3DServer(count=5) as base_url,
        InvoiceClient("test-token", base_url=base_url) as client,
        InvoiceStore(path) as store,
    ):
        await store.sync(client, details=False)  # while it is open, -wal and -shm exist
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}.lock")]
        assert {file.name: mode(file) for file in files} == {f.name: 0o600 for f in files}
    assert query(path, "PRAGMA journal_mode") == [("wal",)]
    assert query(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


@pytest.mark.usefixtures("open_umask")
async def test_an_existing_store_readable_by_others_is_made_owner_only_with_its_wal_and_shm(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite"
    async with InvoiceStore(path):
        pass
    path.chmod(0o644)  # as a copy, or an older invoice_async, may have left it
    async with (
        FakeI3DServer(count=5) as base_url,
        InvoiceClient("test-token", base_url=base_url) as client,
        InvoiceStore(path) as store,
    ):
        await store.sync(client, details=False)  # while it is open, -wal and -shm exist
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert {file.name: mode(file) for file in files} == {f.name: 0o600 for f in files}
    assert mode(path) == 0o600


def test_a_commit_that_fails_raises_its_error_and_rolls_back_so_the_next_transaction_works(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "s.sqlite")

    def write_an_event_of_no_invoice() -> None:
        with db.transaction() as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")  # checked at COMMIT, which fails
            conn.execute(
                "INSERT INTO payment_events (invoice_id, old_status, new_status, seen_at) "
                "VALUES (999, 0, 1, 'then')"
            )

    try:
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY") as caught:
            write_an_event_of_no_invoice()
        assert caught.traceback[-1].name == "transaction"  # raised by the COMMIT itself
        assert not db.conn.in_transaction
        with db.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES ('after', 'works')")
    finally:
        db.close()
    assert query(tmp_path / "s.sqlite", "SELECT value FROM meta WHERE key = 'after'") == [
        ("works",)
    ]
    assert query(tmp_path / "s.sqlite", "SELECT count(*) FROM payment_events") == [(0,)]


async def test_a_second_writer_gets_store_locked_error_at_once_and_the_first_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite"
    async with (
        FakeI3DServer(count=5) as base_url,
        InvoiceClient("test-token", base_url=base_url) as client,
    ):
        async with InvoiceStore(path) as first:
            second = InvoiceStore(path)
            with pytest.raises(errors.StoreLockedError) as caught:
                await second.open()
            assert caught.value.pid == os.getpid()
            assert str(caught.value) == (
                f"another sync or export is using {path} (pid {os.getpid()})"
            )
            assert (await first.sync(client, details=False)).listed == 5  # unharmed
        async with second:  # free again once the first is closed
            assert (await second.sync(client, details=False)).unchanged == 5


HOLDER = """
import asyncio, sys
from invoice_async import InvoiceStore

async def hold() -> None:
    async with InvoiceStore(sys.argv[1]):
        print("holding", flush=True)
        sys.stdin.readline()  # until the test kills us

asyncio.run(hold())
"""


async def test_the_lock_of_a_killed_writer_is_free_at_once(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, str(path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert holder.stdout is not None
    async with asyncio.timeout(60):
        assert await holder.stdout.readline() == b"holding\n"
    with pytest.raises(errors.StoreLockedError, match=f"pid {holder.pid}"):
        await InvoiceStore(path).open()
    holder.send_signal(signal.SIGKILL)
    async with asyncio.timeout(60):
        await holder.wait()
    async with InvoiceStore(path) as store:
        assert store.path == path


# A store as schema version 1 laid it out, written here by hand (not by the code under test).
VERSION_1 = """
PRAGMA application_id = 1229017905;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN
        ('running', 'complete', 'partial', 'failed', 'interrupted')),
    counts TEXT NOT NULL DEFAULT '{}');
CREATE TABLE invoices (id INTEGER PRIMARY KEY, invoice_number TEXT NOT NULL,
    invoice_hash TEXT NOT NULL, description TEXT NOT NULL, currency TEXT NOT NULL,
    currency_sign TEXT NOT NULL, amount_inc_vat INTEGER NOT NULL,
    amount_excl_vat INTEGER NOT NULL, remaining_amount INTEGER NOT NULL,
    total_paid_amount INTEGER NOT NULL, payment_status INTEGER NOT NULL, payment_date TEXT,
    is_credit INTEGER NOT NULL CHECK (is_credit IN (0, 1)), creation_date TEXT NOT NULL,
    due_date TEXT NOT NULL, list_position INTEGER, first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL, removed_at TEXT, listed_run INTEGER REFERENCES runs (id));
CREATE TABLE details (invoice_id INTEGER PRIMARY KEY REFERENCES invoices (id),
    invoice_number TEXT NOT NULL, invoice_hash TEXT NOT NULL, client_number TEXT NOT NULL,
    creation_date TEXT NOT NULL, due_date TEXT NOT NULL, payment_status INTEGER NOT NULL,
    payment_date TEXT, is_credit INTEGER NOT NULL CHECK (is_credit IN (0, 1)),
    payment_term INTEGER NOT NULL, currency TEXT NOT NULL, currency_sign TEXT NOT NULL,
    vat_percentage INTEGER NOT NULL, vat_amount INTEGER NOT NULL,
    amount_inc_vat INTEGER NOT NULL, amount_excl_vat INTEGER NOT NULL,
    fetched_at TEXT NOT NULL);
CREATE TABLE pdfs (invoice_id INTEGER PRIMARY KEY REFERENCES invoices (id),
    path TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, fetched_at TEXT NOT NULL);
PRAGMA user_version = 1;
"""
INSERT_INVOICE = "INSERT INTO invoices VALUES (?" + ", ?" * 19 + ")"
INSERT_DETAIL = "INSERT INTO details VALUES (?" + ", ?" * 16 + ")"


async def test_a_store_in_the_version_1_layout_is_migrated_and_its_rows_are_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.sqlite"
    server = FakeI3DServer(count=6)
    then = "2025-01-01T00:00:00+00:00"
    with sqlite3.connect(path) as conn:
        conn.executescript(VERSION_1)
        conn.execute("INSERT INTO runs VALUES (1, ?, ?, 'complete', '{}')", (then, then))
        conn.execute("INSERT INTO meta VALUES ('unpaid', '0'), ('filter', NULL)")
        for position, fake in enumerate(server.invoices):
            row = invoice_row(structure_invoice(to_list_item(fake)))
            conn.execute(INSERT_INVOICE, (*row, position, then, then, None, 1))
            detail = structure_detail(to_detail_item(fake))
            conn.execute(INSERT_DETAIL, detail_row(fake.id, detail, then))
    conn.close()
    caplog.set_level(logging.INFO, logger="invoice_async")
    async with (
        server as base_url,
        InvoiceClient(server.token, base_url=base_url) as client,
        InvoiceStore(path) as store,
    ):
        summary = await store.sync(client)
    assert query(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert "migrated to schema version 2" in caplog.text
    assert summary.unchanged == 6
    assert server.requests_per_path["detail"] == 0  # the details it held are current
    assert query(path, "SELECT count(*), sum(stale) FROM details") == [(6, 0)]
    assert query(path, "SELECT count(*) FROM payment_events") == [(0,)]
    assert statuses(path) == ["complete", "complete"]


async def test_a_store_of_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    async with InvoiceStore(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(errors.StoreError, match="made by a newer invoice_async"):
        await InvoiceStore(path).open()
    assert query(path, "PRAGMA user_version") == [(SCHEMA_VERSION + 1,)]


async def test_a_file_that_is_not_a_store_is_a_store_error_and_fresh_starts_it_over(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not a database, it is just some text" * 100)
    with pytest.raises(errors.StoreError, match="is not an invoice_async store"):
        await InvoiceStore(path).open()
    async with InvoiceStore(path, fresh=True):
        pass
    assert query(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


async def test_fresh_never_discards_an_sqlite_database_of_something_else(tmp_path: Path) -> None:
    path = tmp_path / "mine.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE precious (x)")
    conn.close()
    for fresh in (False, True):
        with pytest.raises(errors.StoreError, match="not an invoice_async store"):
            await InvoiceStore(path, fresh=fresh).open()
    assert query(path, "SELECT name FROM sqlite_schema") == [("precious",)]


async def test_fresh_never_discards_a_database_it_cannot_read_because_it_is_locked(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mine.db"
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("CREATE TABLE precious (x)")
        holder.execute("BEGIN EXCLUSIVE")  # nobody else reads it until this ends
        with pytest.raises(errors.StoreError, match="database is locked"):
            await InvoiceStore(path, fresh=True).open()  # waits for the lock 5 s, in vain
        assert path.exists()
    finally:
        holder.close()
    assert query(path, "SELECT name FROM sqlite_schema") == [("precious",)]


async def test_bad_paths_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigurationError, match="path must be a file path"):
        InvoiceStore(5)  # type: ignore[arg-type]
    with pytest.raises(errors.ConfigurationError, match="fresh must be True or False"):
        InvoiceStore(tmp_path / "s", fresh="yes")  # type: ignore[arg-type]
    for bad in (tmp_path, tmp_path / "missing" / "s.sqlite"):
        with pytest.raises(errors.ConfigurationError, match="must be a file in an existing"):
            await InvoiceStore(bad).open()
    assert list(tmp_path.iterdir()) == []


async def test_close_twice_then_open_again_and_a_closed_store_refuses_to_sync(
    tmp_path: Path,
) -> None:
    store = InvoiceStore(tmp_path / "s.sqlite")
    assert await store.open() is store
    assert await store.open() is store  # already open: nothing to do
    await store.close()
    await store.close()
    async with (
        FakeI3DServer(count=2) as base_url,
        InvoiceClient("test-token", base_url=base_url) as client,
    ):
        with pytest.raises(errors.StoreError, match="is not open"):
            await store.sync(client)
        async with store:
            assert (await store.sync(client)).new == 2
    assert "closed" in repr(store)


async def test_a_cancelled_sync_keeps_every_detail_it_fetched_and_is_interrupted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite"
    fetched: list[int] = []

    def cancel_at_the_tenth_detail(server: FakeI3DServer, route: str) -> None:
        if route == "detail" and server.requests_per_path["detail"] == 10:
            task.cancel()

    server = FakeI3DServer(count=30, latency=0.002, on_request=cancel_at_the_tenth_detail)
    async with (
        server as base_url,
        InvoiceClient(server.token, base_url=base_url, max_concurrency=3) as client,
    ):
        async with InvoiceStore(path) as store:
            task = asyncio.create_task(store.sync(client))
            with pytest.raises(asyncio.CancelledError):
                await task
        saved = query(path, "SELECT count(*) FROM details")[0][0]
        fetched = [r.status for r in server.log if r.route == "detail" and r.status == 200]
        assert statuses(path) == ["interrupted"]
        assert 10 - 3 <= saved <= len(fetched)  # only what was in flight can be missing
        server.reset_stats()
        async with InvoiceStore(path) as store:
            summary = await store.sync(client)
    assert server.requests_per_path["detail"] == 30 - saved
    assert summary.details_fetched == 30 - saved
    assert len(content(path)["details"]) == 30


def _on_the_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def test_an_export_opens_locks_discards_and_prepares_its_folders_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, bool]] = []  # (what, whether it ran on the event loop's thread)

    def spy(name: str, fn: Callable[..., T]) -> Callable[..., T]:
        def called(*args: object, **kwargs: object) -> T:
            calls.append((name, _on_the_loop()))
            return fn(*args, **kwargs)

        return called

    class SpiedLock(WriteLock):
        acquire = spy("store lock", WriteLock.acquire)
        release = spy("store unlock", WriteLock.release)

    monkeypatch.setattr(_store, "WriteLock", SpiedLock)
    monkeypatch.setattr(InvoiceStore, "_discard", spy("discard", InvoiceStore._discard))
    monkeypatch.setattr(InvoiceStore, "_folder_text", spy("pdf_dir", InvoiceStore._folder_text))
    monkeypatch.setattr(_sync, "lock_directory", spy("pdf lock", lock_directory))
    monkeypatch.setattr(_export, "_prepare_folder", spy("folder", _export._prepare_folder))
    options = _export.ExportOptions(out_dir=tmp_path / "out", pdfs=True, fresh=True)
    async with (
        FakeI3DServer(count=5) as base_url,
        InvoiceClient("test-token", base_url=base_url) as client,
    ):
        summary = await _export.run_export(client, options)
    assert summary.pdfs == 5
    assert calls == [
        ("store lock", False),
        ("discard", False),
        ("folder", False),
        ("pdf_dir", False),
        ("pdf lock", False),
        ("store unlock", False),
    ]


async def test_one_open_store_syncs_on_a_schedule_while_others_read_it(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    server = FakeI3DServer(count=20)
    async with (
        server as base_url,
        InvoiceClient(server.token, base_url=base_url) as client,
        InvoiceStore(path) as store,  # a web backend keeps it open
    ):
        first = await store.sync(client, details=False)
        reader = sqlite3.connect(path)  # a query of the backend's own, while the store is open
        try:
            assert reader.execute("SELECT count(*) FROM invoices").fetchone() == (20,)
            server.pay(1)
            server.insert_at_head(2)
            second = await store.sync(client, details=False)
            assert reader.execute("SELECT count(*) FROM invoices").fetchone() == (22,)
            assert reader.execute("SELECT count(*) FROM payment_events").fetchone() == (1,)
        finally:
            reader.close()
        third = await store.sync(client, details=False)
    assert (first.new, second.new, second.paid, third.unchanged) == (20, 2, 1, 22)
    assert statuses(path) == ["complete"] * 3
