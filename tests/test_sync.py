"""The incremental rules of InvoiceStore.sync, through the fake server over 127.0.0.1: what is
written to each table, and which requests are sent."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import pytest

from invoice_async import InvoiceClient, InvoiceStore, SyncSummary, _sync, errors
from invoice_async.testing import FakeI3DServer, make_pdf
from tests._stores import content, query, statuses

COUNT = 40
PDF_SIZE = 2000


@attrs.frozen
class Synced:
    summary: SyncSummary
    requests: Counter[str]
    details: list[int]  # ids whose detail was requested, sorted
    pdfs: list[int]  # ids whose PDF was requested, sorted


def requested(server: FakeI3DServer, route: str) -> list[int]:
    """The invoice ids of the requests to ``route`` since the last reset, sorted."""
    return sorted(int(r.path.split("/")[4]) for r in server.log if r.route == route)


async def sync(server: FakeI3DServer, store: Path, **options: Any) -> Synced:
    """One sync of ``store`` from ``server`` with ``options``; what it sent."""
    server.reset_stats()
    fresh = options.pop("fresh", False)
    async with (
        InvoiceClient(server.token, base_url=server.base_url, page_size=15) as client,
        InvoiceStore(store, fresh=fresh) as opened,
    ):
        summary = await opened.sync(client, **options)
    return Synced(
        summary,
        server.requests_per_path.copy(),
        requested(server, "detail"),
        requested(server, "pdf"),
    )


@pytest.fixture
async def server() -> Any:
    fake = FakeI3DServer(count=COUNT, page_cap=15, pdf_size=PDF_SIZE)
    async with fake:
        yield fake


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "invoices.sqlite"


@pytest.fixture
def pdf_dir(tmp_path: Path) -> Path:
    return tmp_path / "pdf"


def listed_ids(store: Path) -> list[int]:
    rows = query(
        store, "SELECT id FROM invoices WHERE list_position IS NOT NULL ORDER BY list_position"
    )
    return [invoice_id for (invoice_id,) in rows]


async def test_a_first_sync_stores_every_invoice_detail_and_pdf_in_list_order(
    server: FakeI3DServer, store: Path, pdf_dir: Path
) -> None:
    first = await sync(server, store, pdf_dir=pdf_dir)
    ids = [inv.id for inv in server.invoices]
    assert first.summary == SyncSummary(
        listed=COUNT, new=COUNT, details_fetched=COUNT, pdfs_fetched=COUNT
    )
    assert first.details == first.pdfs == sorted(ids)
    assert listed_ids(store) == ids
    assert query(store, "SELECT count(*) FROM details WHERE NOT stale") == [(COUNT,)]
    for invoice_id, name, size, digest in query(
        store, "SELECT invoice_id, path, size, sha256 FROM pdfs"
    ):
        data = (pdf_dir / name).read_bytes()
        assert data == make_pdf(invoice_id, PDF_SIZE)
        assert (size, digest) == (PDF_SIZE, hashlib.sha256(data).hexdigest())
    assert query(store, "SELECT count(*) FROM payment_events") == [(0,)]  # a first sighting
    assert query(
        store, "SELECT count(*) FROM invoices WHERE first_seen IS NULL OR removed_at IS NOT NULL"
    ) == [(0,)]
    ((status, counts),) = query(store, "SELECT status, counts FROM runs")
    assert status == "complete"
    assert json.loads(counts) == {**attrs.asdict(first.summary), "failures": []}


async def test_the_list_order_holds_across_batches(
    server: FakeI3DServer, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sync, "_BATCH", 7)  # 40 invoices: six batches, the last one short
    await sync(server, store, details=False)
    assert listed_ids(store) == [inv.id for inv in server.invoices]
    server.insert_at_head(10)  # every place moves, across batch boundaries
    await sync(server, store, details=False)
    assert listed_ids(store) == [inv.id for inv in server.invoices]
    positions = query(store, "SELECT list_position FROM invoices ORDER BY list_position")
    assert [position for (position,) in positions] == list(range(COUNT + 10))


async def test_an_unchanged_list_sends_only_list_requests(
    server: FakeI3DServer, store: Path, pdf_dir: Path
) -> None:
    await sync(server, store, pdf_dir=pdf_dir)
    before = content(store)
    again = await sync(server, store, pdf_dir=pdf_dir)
    assert again.summary == SyncSummary(listed=COUNT, unchanged=COUNT)
    assert set(again.requests) == {"list"}
    assert content(store) == before
    assert statuses(store) == ["complete", "complete"]


async def test_new_invoices_are_stored_first_and_only_they_are_fetched(
    server: FakeI3DServer, store: Path, pdf_dir: Path
) -> None:
    await sync(server, store, pdf_dir=pdf_dir)
    new = [inv.id for inv in server.insert_at_head(3)]
    synced = await sync(server, store, pdf_dir=pdf_dir)
    assert synced.summary == SyncSummary(
        listed=COUNT + 3, new=3, unchanged=COUNT, details_fetched=3, pdfs_fetched=3
    )
    assert synced.details == synced.pdfs == sorted(new)
    assert listed_ids(store) == [inv.id for inv in server.invoices]
    assert listed_ids(store)[:3] == sorted(new, reverse=True)
    assert query(store, "SELECT count(*) FROM payment_events") == [(0,)]


async def test_changed_invoices_are_updated_and_only_they_are_fetched_again(
    server: FakeI3DServer, store: Path, pdf_dir: Path
) -> None:
    await sync(server, store, pdf_dir=pdf_dir)
    changed = {inv.id: inv for inv in server.change([4, 9])}
    synced = await sync(server, store, pdf_dir=pdf_dir)
    assert synced.summary == SyncSummary(
        listed=COUNT, changed=2, unchanged=COUNT - 2, details_fetched=2, pdfs_fetched=2
    )
    assert synced.details == synced.pdfs == [4, 9]
    rows = query(store, "SELECT id, invoice_hash, amount_inc_vat FROM invoices WHERE id IN (4, 9)")
    assert rows == [(i, changed[i].invoice_hash, changed[i].amount_inc_vat) for i in (4, 9)]
    details = query(
        store, "SELECT invoice_id, invoice_hash, stale FROM details WHERE invoice_id IN (4, 9)"
    )
    assert details == [(i, changed[i].invoice_hash, 0) for i in (4, 9)]
    assert query(store, "SELECT count(*) FROM payment_events") == [(0,)]


async def test_paid_invoices_write_a_payment_event_and_are_fetched_again(
    server: FakeI3DServer, store: Path, pdf_dir: Path
) -> None:
    await sync(server, store, pdf_dir=pdf_dir)
    paid = sorted(inv.id for inv in server.pay(2))
    synced = await sync(server, store, pdf_dir=pdf_dir)
    assert synced.summary == SyncSummary(
        listed=COUNT, paid=2, unchanged=COUNT - 2, details_fetched=2, pdfs_fetched=2
    )
    assert synced.details == synced.pdfs == paid
    events = query(
        store, "SELECT invoice_id, old_status, new_status FROM payment_events ORDER BY 1"
    )
    assert events == [(invoice_id, 0, 1) for invoice_id in paid]
    rows = query(
        store,
        "SELECT payment_status, payment_date IS NOT NULL FROM invoices WHERE id IN (?, ?)",
        tuple(paid),
    )
    assert rows == [(1, 1), (1, 1)]
    assert query(store, "SELECT count(*) FROM payment_events WHERE seen_at IS NULL") == [(0,)]


async def test_removed_invoices_get_removed_at_and_leave_the_list_but_keep_their_rows(
    server: FakeI3DServer, store: Path, pdf_dir: Path
) -> None:
    await sync(server, store, pdf_dir=pdf_dir)
    server.remove([2, 30])
    synced = await sync(server, store, pdf_dir=pdf_dir)
    assert synced.summary == SyncSummary(listed=COUNT - 2, removed=2, unchanged=COUNT - 2)
    assert set(synced.requests) == {"list"}
    rows = query(
        store, "SELECT id, list_position, removed_at IS NOT NULL FROM invoices WHERE id IN (2, 30)"
    )
    assert rows == [(2, None, 1), (30, None, 1)]
    assert listed_ids(store) == [inv.id for inv in server.invoices]
    assert query(store, "SELECT count(*) FROM details WHERE invoice_id IN (2, 30)") == [(2,)]
    later = await sync(server, store, pdf_dir=pdf_dir)
    assert later.summary.removed == 0  # counted once, by the sync that saw it go


ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")
TIME_COLUMNS = {
    "invoices": ("first_seen", "last_seen", "removed_at"),
    "details": ("fetched_at",),
    "pdfs": ("fetched_at",),
    "payment_events": ("seen_at",),
    "runs": ("started_at", "finished_at"),
}


async def test_every_time_column_is_iso_utc_first_seen_is_kept_and_last_seen_advances(
    server: FakeI3DServer, store: Path, pdf_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instants = (datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=n) for n in itertools.count())

    def clock_now(tz: tzinfo | None = None) -> datetime:  # as datetime.now: naive without tz
        instant = next(instants)
        return instant.replace(tzinfo=None) if tz is None else instant.astimezone(tz)

    monkeypatch.setattr(_sync, "datetime", SimpleNamespace(now=clock_now))  # each call later
    await sync(server, store, pdf_dir=pdf_dir)
    first = dict(query(store, "SELECT id, first_seen FROM invoices"))
    (paid,) = [inv.id for inv in server.pay(1)]
    (gone,) = [inv.id for inv in server.remove([server.invoices[-1].id])]
    await sync(server, store, pdf_dir=pdf_dir)
    for table, columns in TIME_COLUMNS.items():
        rows = query(store, f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608
        assert rows, table
        for row in rows:
            for column, value in zip(columns, row, strict=True):
                if value is not None or column != "removed_at":
                    assert ISO_UTC.match(value), (table, column, value)
    rows = query(store, "SELECT id, first_seen, last_seen, removed_at FROM invoices")
    assert {invoice_id: seen for invoice_id, seen, _, _ in rows} == first  # kept
    for invoice_id, first_seen, last_seen, removed_at in rows:
        if invoice_id == gone:
            assert last_seen == first_seen < removed_at  # not seen by the second sync
        else:
            assert first_seen < last_seen  # seen again, later
            assert removed_at is None
    (seen_at,) = query(store, "SELECT seen_at FROM payment_events WHERE invoice_id = ?", (paid,))
    assert seen_at[0] > first[paid]


async def test_the_unpaid_scope_checks_each_invoice_that_left_the_list_once(
    server: FakeI3DServer, store: Path
) -> None:
    await sync(server, store, unpaid=True, details=False)
    unpaid = [inv.id for inv in server.unpaid_invoices]
    paid = sorted(inv.id for inv in server.pay(2))
    gone = next(i for i in unpaid if i not in paid)
    server.remove([gone])
    synced = await sync(server, store, unpaid=True, details=False)
    assert synced.details == sorted([*paid, gone])  # one detail each; the gone one is a 404
    assert set(synced.requests) == {"unpaid", "detail"}
    assert synced.summary == SyncSummary(
        listed=len(unpaid) - 3, paid=2, removed=1, unchanged=len(unpaid) - 3, details_fetched=2
    )
    events = query(
        store, "SELECT invoice_id, old_status, new_status FROM payment_events ORDER BY 1"
    )
    assert events == [(invoice_id, 0, 1) for invoice_id in paid]
    rows = query(
        store,
        "SELECT id, payment_status, list_position, removed_at IS NOT NULL FROM invoices "
        "WHERE id IN (?, ?, ?) ORDER BY id",
        (*paid, gone),
    )
    assert sorted(rows) == sorted(
        [(paid[0], 1, None, 0), (paid[1], 1, None, 0), (gone, 0, None, 1)]
    )
    again = await sync(server, store, unpaid=True, details=False)
    assert set(again.requests) == {"unpaid"}  # checked once: not again
    assert again.summary.paid == again.summary.removed == 0


def describe(server: FakeI3DServer, invoice_id: int, text: str) -> None:
    """Give one of the fake server's invoices another description (no public mutation does)."""
    table = server._store
    table._replace([attrs.evolve(table.by_id[invoice_id], description=text)])


async def test_an_invoice_that_left_the_filtered_unpaid_list_unpaid_is_removed_not_paid(
    server: FakeI3DServer, store: Path
) -> None:
    scope = {"unpaid": True, "filter": "server", "details": False}
    await sync(server, store, **scope)
    listed = listed_ids(store)
    left = listed[1]
    describe(server, left, "Renamed: no longer matches the filter")
    synced = await sync(server, store, **scope)
    assert synced.details == [left]  # checked once: it still exists, and is unpaid
    assert synced.summary == SyncSummary(
        listed=len(listed) - 1, removed=1, unchanged=len(listed) - 1, details_fetched=1
    )
    assert query(store, "SELECT count(*) FROM payment_events") == [(0,)]
    assert query(
        store,
        "SELECT payment_status, list_position, removed_at IS NOT NULL FROM invoices WHERE id = ?",
        (left,),
    ) == [(0, None, 1)]
    assert listed_ids(store) == [i for i in listed if i != left]


async def test_an_invoice_that_left_the_unpaid_list_paid_gets_the_paid_amounts(
    server: FakeI3DServer, store: Path
) -> None:
    await sync(server, store, unpaid=True, details=False)
    paid = {inv.id: inv for inv in server.pay(2)}
    amounts = "SELECT id, remaining_amount, total_paid_amount FROM invoices WHERE id IN (?, ?)"
    before = query(store, amounts, tuple(paid))
    assert all(remaining > 0 for _, remaining, _ in before)  # unpaid: something is owed
    synced = await sync(server, store, unpaid=True, details=False)
    assert synced.summary.paid == 2
    assert query(store, amounts + " ORDER BY id", tuple(sorted(paid))) == [
        (i, 0, paid[i].amount_inc_vat) for i in sorted(paid)
    ]
    assert [(i, paid[i].remaining_amount, paid[i].total_paid_amount) for i in sorted(paid)] == [
        (i, 0, paid[i].amount_inc_vat) for i in sorted(paid)
    ]  # as the API's list says of them now


async def test_what_the_store_lacks_is_fetched_missing_rows_and_missing_or_resized_files(
    server: FakeI3DServer, store: Path, pdf_dir: Path
) -> None:
    await sync(server, store, pdf_dir=pdf_dir)
    names = dict(query(store, "SELECT invoice_id, path FROM pdfs"))
    (pdf_dir / names[3]).unlink()
    (pdf_dir / names[5]).write_bytes(b"%PDF-1.4 cut short")
    with sqlite3.connect(store) as conn:  # as a user might
        conn.execute("DELETE FROM details WHERE invoice_id = 7")
        conn.execute("DELETE FROM pdfs WHERE invoice_id = 8")
    conn.close()  # `with` commits but does not close (Python 3.13 warns of an open one)
    synced = await sync(server, store, pdf_dir=pdf_dir)
    assert synced.details == [7]
    assert synced.pdfs == [3, 5, 8]
    assert synced.summary.unchanged == COUNT
    for invoice_id in (3, 5, 8):
        assert (pdf_dir / names[invoice_id]).read_bytes() == make_pdf(invoice_id, PDF_SIZE)


async def test_verify_fetches_again_a_pdf_whose_bytes_changed_but_not_its_size(
    server: FakeI3DServer, store: Path, pdf_dir: Path
) -> None:
    await sync(server, store, pdf_dir=pdf_dir)
    names = dict(query(store, "SELECT invoice_id, path FROM pdfs"))
    damaged = pdf_dir / names[11]
    data = bytearray(damaged.read_bytes())
    data[100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    plain = await sync(server, store, pdf_dir=pdf_dir)
    assert plain.pdfs == []  # the size matches: only verify reads the bytes
    seen: list[tuple[str, int, int | None]] = []
    verified = await sync(
        server, store, pdf_dir=pdf_dir, verify=True, progress=lambda *a: seen.append(a)
    )
    assert verified.pdfs == [11]
    assert damaged.read_bytes() == make_pdf(11, PDF_SIZE)
    assert ("verify", COUNT, COUNT) in seen


async def test_details_and_pdfs_asked_later_are_fetched_once(
    server: FakeI3DServer, store: Path, pdf_dir: Path
) -> None:
    bare = await sync(server, store, details=False)
    assert set(bare.requests) == {"list"}
    with_details = await sync(server, store)
    assert len(with_details.details) == COUNT
    assert with_details.pdfs == []
    with_pdfs = await sync(server, store, pdf_dir=pdf_dir)
    assert with_pdfs.details == []
    assert len(with_pdfs.pdfs) == COUNT
    last = await sync(server, store, pdf_dir=pdf_dir)
    assert set(last.requests) == {"list"}


async def test_the_pdf_folder_is_remembered_and_a_sync_without_it_keeps_the_pdfs(
    server: FakeI3DServer, store: Path, pdf_dir: Path, tmp_path: Path
) -> None:
    await sync(server, store, pdf_dir=pdf_dir)
    server.change([6])
    without = await sync(server, store)
    assert without.details == [6]
    assert without.pdfs == []
    assert len(list(pdf_dir.glob("*.pdf"))) == COUNT  # kept
    assert query(store, "SELECT stale FROM pdfs WHERE invoice_id = 6") == [(1,)]
    server.reset_stats()
    with pytest.raises(errors.ConfigurationError, match="keeps its PDFs in 'pdf'"):
        await sync(server, store, pdf_dir=tmp_path / "elsewhere")
    assert sum(server.requests_per_path.values()) == 0
    back = await sync(server, store, pdf_dir=pdf_dir)
    assert back.pdfs == [6]


async def test_another_scope_is_a_configuration_error_before_any_request(
    server: FakeI3DServer, store: Path
) -> None:
    await sync(server, store, details=False)
    before = content(store)
    for scope in ({"unpaid": True}, {"filter": "server"}):
        server.reset_stats()
        with pytest.raises(errors.ConfigurationError, match="holds all invoices, not"):
            await sync(server, store, details=False, **scope)
        assert sum(server.requests_per_path.values()) == 0
    assert content(store) == before
    fresh = await sync(server, store, details=False, unpaid=True, fresh=True)
    assert fresh.summary.new == len(server.unpaid_invoices)
    assert listed_ids(store) == [inv.id for inv in server.unpaid_invoices]


async def test_failed_invoices_are_reported_and_the_next_sync_retries_only_them(
    store: Path, pdf_dir: Path
) -> None:
    fake = FakeI3DServer(count=COUNT, pdf_size=PDF_SIZE, non_pdf_ids={5}, forbidden_ids={6})
    async with fake:
        first = await sync(fake, store, pdf_dir=pdf_dir)
        assert sorted((i, text.split(":")[0]) for i, text in first.summary.failures) == [
            (5, "pdf"),
            (6, "detail"),
            (6, "pdf"),
        ]
        assert any("PermissionDeniedError" in text for _, text in first.summary.failures)
        assert first.summary.details_fetched == COUNT - 1
        assert first.summary.pdfs_fetched == COUNT - 2
        assert statuses(store) == ["partial"]
        fake.non_pdf_ids.clear()
        fake.forbidden_ids.clear()
        second = await sync(fake, store, pdf_dir=pdf_dir)
    assert second.details == [6]
    assert second.pdfs == [5, 6]
    assert second.summary.complete
    assert statuses(store) == ["partial", "complete"]


async def test_a_listing_that_fails_midway_keeps_what_it_listed_and_is_raised(
    store: Path,
) -> None:
    def fail_from_the_third(server: FakeI3DServer, k: int) -> None:
        if k == 3:
            server.fail_next("500", endpoint="list", count=50)

    fake = FakeI3DServer(count=COUNT, page_cap=15, on_list_request=fail_from_the_third)
    async with (
        fake as base_url,
        InvoiceClient(
            fake.token, base_url=base_url, page_size=15, read_ahead=1, max_retries=0
        ) as client,
        InvoiceStore(store) as opened,
    ):
        with pytest.raises(errors.ServerError):
            await opened.sync(client)
    assert query(store, "SELECT count(*) FROM invoices") == [(29,)]  # two windows, overlap 1
    assert statuses(store) == ["failed"]
    assert json.loads(query(store, "SELECT counts FROM runs")[0][0])["new"] == 29


async def test_a_listing_that_fails_midway_keeps_the_old_order_without_duplicate_positions(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sync, "_BATCH", 10)  # several batches before the listing fails
    failing = False

    def fail_from_the_third(server: FakeI3DServer, k: int) -> None:
        if failing and k == 3:
            server.fail_next("500", endpoint="list")

    fake = FakeI3DServer(count=COUNT, page_cap=15, on_list_request=fail_from_the_third)
    async with (
        fake as base_url,
        InvoiceClient(
            fake.token, base_url=base_url, page_size=15, read_ahead=1, max_retries=0
        ) as client,
    ):
        async with InvoiceStore(store) as opened:
            await opened.sync(client, details=False)
        old_order = [inv.id for inv in fake.invoices]
        fake.insert_at_head(20)
        fake.reset_stats()
        failing = True
        async with InvoiceStore(store) as opened:
            with pytest.raises(errors.ServerError):
                await opened.sync(client, details=False)
        assert query(store, "SELECT count(*) FROM invoices") == [(COUNT + 20,)]  # 20 new, listed
        positions = query(
            store, "SELECT list_position FROM invoices WHERE list_position IS NOT NULL"
        )
        assert len(positions) == len(set(positions)) == COUNT  # no place held twice
        assert listed_ids(store) == old_order  # the order of the last complete listing
        failing = False
        async with InvoiceStore(store) as opened:
            await opened.sync(client, details=False)
    assert listed_ids(store) == [inv.id for inv in fake.invoices]
    assert query(store, "SELECT min(list_position), max(list_position) FROM invoices") == [
        (0, COUNT + 19)
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"details": "yes"}, "details must be True or False"),
        ({"unpaid": 1}, "unpaid must be True or False"),
        ({"pdf_dir": 5}, "pdf_dir must be a folder"),
        ({"filter": 3}, "filter must be text"),
        ({"filter": "a\nb"}, "filter"),
        ({"concurrency": 0}, "concurrency must be >= 1"),
        ({"concurrency": 101}, "above the client's max_connections=100"),
        ({"progress": "bar"}, "progress must be callable"),
        ({"verify": True}, "pass pdf_dir too"),
        ({"client": None}, "client must be an InvoiceClient"),
    ],
)
async def test_bad_arguments_are_configuration_errors_before_any_request(
    server: FakeI3DServer, store: Path, options: dict[str, Any], message: str
) -> None:
    async with (
        InvoiceClient(server.token, base_url=server.base_url) as client,
        InvoiceStore(store) as opened,
    ):
        arguments = {"client": client, **options}
        with pytest.raises(errors.ConfigurationError, match=message):
            await opened.sync(**arguments)
    assert sum(server.requests_per_path.values()) == 0
    assert query(store, "SELECT count(*) FROM runs") == [(0,)]


async def test_progress_reports_each_phase_up_to_its_total(
    server: FakeI3DServer, store: Path, pdf_dir: Path
) -> None:
    seen: list[tuple[str, int, int | None]] = []
    await sync(server, store, pdf_dir=pdf_dir, progress=lambda *a: seen.append(a))
    phases = list(dict.fromkeys(phase for phase, _, _ in seen))
    assert phases == ["invoices", "details", "pdfs"]
    for phase in phases:
        steps = [(done, total) for name, done, total in seen if name == phase]
        assert steps[-1] == (COUNT, COUNT)
        assert [done for done, _ in steps] == sorted(done for done, _ in steps)


async def test_a_second_sync_of_the_same_store_object_is_refused_at_once(
    store: Path,
) -> None:
    arrived = asyncio.Event()
    fake = FakeI3DServer(count=COUNT, latency=0.05, on_request=lambda s, r: arrived.set())
    async with (
        fake as base_url,
        InvoiceClient(fake.token, base_url=base_url) as client,
        InvoiceStore(store) as opened,
    ):
        first = asyncio.create_task(opened.sync(client, details=False))
        await arrived.wait()
        with pytest.raises(errors.StoreLockedError, match="already running"):
            await opened.sync(client, details=False)
        assert (await first).listed == COUNT
