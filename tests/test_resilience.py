"""The whole export under chaos, drift and a kill, against the fake server over 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from invoice_async import InvoiceClient
from invoice_async.cli._export import ExportOptions, run_export
from invoice_async.testing import FakeClock, FakeI3DServer, make_pdf, use_fake_clock
from tests._samples import start_of
from tests._stores import STORE_FILES, content, statuses

TOKEN = "resilience-token-4dQ"
ENTRY_POINT = str(Path(sys.executable).parent / "invoice-async")


def files_of(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (the manifest's clock line and the export's own store
    and locks aside, compared by ``content``), by relative path."""
    found = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name not in STORE_FILES:
            data = path.read_bytes()
            if path.name == "manifest.json":
                manifest = json.loads(data)
                del manifest["finished_at"]
                data = json.dumps(manifest, sort_keys=True).encode()
            found[str(path.relative_to(directory))] = data
    return found


@pytest.mark.parametrize(("concurrency", "read_ahead"), [(1, 1), (8, 4)])
async def test_full_export_under_ten_percent_faults_loses_and_repeats_nothing(
    tmp_path: Path, concurrency: int, read_ahead: int
) -> None:
    clock = FakeClock()  # shared: the client "waits" a Retry-After the server can check
    server = FakeI3DServer(
        token=TOKEN,
        count=300,
        page_cap=40,
        pdf_size=20_000,
        fault_rate=0.10,
        fault_seed=7,
        retry_after=3,
        clock=clock,
    )
    async with server as base_url:
        client = InvoiceClient(
            TOKEN, base_url=base_url, page_size=50, max_retries=12, read_ahead=read_ahead
        )
        use_fake_clock(client, clock)
        options = ExportOptions(out_dir=tmp_path, details=True, pdfs=True, concurrency=concurrency)
        async with client:
            summary = await run_export(client, options)
    faults = [record.fault for record in server.log if record.fault]
    assert {"500", "503", "429", "reset", "truncated"} <= set(faults)  # each kind happened
    assert summary.failures == []
    listed = [json.loads(line) for line in (tmp_path / "invoices.jsonl").read_text().splitlines()]
    assert sorted(row["id"] for row in listed) == sorted(inv.id for inv in server.invoices)
    details = [json.loads(line) for line in (tmp_path / "details.jsonl").read_text().splitlines()]
    assert [row["id"] for row in details] == [row["id"] for row in listed]  # none lost, none twice
    pdfs = sorted((tmp_path / "pdf").iterdir())
    assert len(pdfs) == 300
    for path in pdfs:  # no corrupt file: each is byte for byte the server's PDF
        invoice_id = int(path.stem.rpartition("_")[2])
        assert path.read_bytes() == make_pdf(invoice_id, 20_000)
    assert not list(tmp_path.rglob("*.part"))
    pauses = sum(1 for record in server.log if record.fault in ("429", "503"))
    if concurrency == 1 and read_ahead == 1:
        # One request at a time: none may reach the server before a Retry-After passed.
        assert server.early_requests == 0
    else:
        # Requests already on the wire when a Retry-After is answered cannot be recalled:
        # at most the other requests in flight at that moment arrive "early", never more.
        assert server.early_requests <= pauses * (concurrency - 1)


async def test_listing_while_invoices_are_added_and_paid_misses_and_repeats_none() -> None:
    paid: set[int] = set()
    inserted: set[int] = set()

    def mutate(server: FakeI3DServer, request_number: int) -> None:
        # Paying removes already-read invoices from the head (the list moves left: a plain
        # offset reader would skip); inserting adds new ones at the head (it moves right: a
        # plain reader would repeat). Never both on one request, so neither cancels out, and
        # the payments come first, so that they pay invoices that were there from the start.
        if request_number in (3, 4, 5):
            paid.update(invoice.id for invoice in server.pay(10))
        if request_number in (7, 9, 11):
            inserted.update(invoice.id for invoice in server.insert_at_head(10))

    server = FakeI3DServer(token=TOKEN, count=1200, page_cap=25, on_list_request=mutate)
    async with server as base_url:
        unpaid_before = [inv.id for inv in server.unpaid_invoices]
        client = InvoiceClient(TOKEN, base_url=base_url, page_size=25, read_ahead=1)
        async with client:
            found = [inv.id async for inv in client.unpaid_invoices()]
    assert len(paid) == 30
    assert len(inserted) == 30
    assert paid <= set(unpaid_before)
    starts = [start_of(r.ranged_data) for r in server.log]
    assert any(b < a for a, b in itertools.pairwise(starts))  # it stepped back
    stayed = [i for i in unpaid_before if i not in paid]
    assert len(found) == len(set(found)), "repeated"
    assert [i for i in found if i in set(stayed)] == stayed, "missed or out of order"


async def run_cli(*args: str) -> int:
    process = await asyncio.create_subprocess_exec(
        ENTRY_POINT,
        *args,
        env={**os.environ, "I3D_API_TOKEN": TOKEN},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        await process.communicate()
    assert process.returncode is not None
    return process.returncode


class Killer:
    """Kills the CLI process it runs when the server sees the n-th request to a route."""

    def __init__(self) -> None:
        self.route, self.at = "", 0
        self.victim: asyncio.subprocess.Process | None = None

    def __call__(self, server: FakeI3DServer, route: str) -> None:
        at_the_point = route == self.route and server.requests_per_path[route] == self.at
        if self.victim is not None and at_the_point:
            os.kill(self.victim.pid, signal.SIGKILL)

    async def run_until_killed(
        self, server: FakeI3DServer, route: str, at: int, *args: str
    ) -> None:
        server.reset_stats()
        self.route, self.at = route, at
        self.victim = await asyncio.create_subprocess_exec(
            ENTRY_POINT, *args, env={**os.environ, "I3D_API_TOKEN": TOKEN},
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        async with asyncio.timeout(120):
            assert await self.victim.wait() == -signal.SIGKILL, f"not killed at {route} {at}"
        self.victim = None


@pytest.mark.parametrize(("route", "seed"), [("detail", 1), ("pdf", 2), ("pdf", 3)])
async def test_a_killed_export_resumes_to_the_same_files(
    tmp_path: Path, route: str, seed: int
) -> None:
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    args = ("--details", "--pdfs", "--concurrency", "4")
    kill_at = random.Random(seed).randrange(5, 95)  # a random point of the run
    killer = Killer()
    server = FakeI3DServer(token=TOKEN, count=100, page_cap=30, pdf_size=5000, on_request=killer)
    async with server as base_url:
        assert await run_cli("export", str(clean), *args, "--base-url", base_url) == 0
        await killer.run_until_killed(
            server, route, kill_at, "export", str(killed), *args, "--base-url", base_url
        )
        assert not (killed / "manifest.json").exists()  # it really died mid-run
        before = server.requests_per_path.copy()
        assert await run_cli("export", str(killed), *args, "--base-url", base_url, "--resume") == 0
        resumed = server.requests_per_path - before
    assert files_of(killed) == files_of(clean)
    store = ".invoice-async.sqlite"
    assert content(killed / store) == content(clean / store)
    assert statuses(killed / store) == ["interrupted", "complete"]
    details = (killed / "details.jsonl").read_text().splitlines()
    assert len(details) == len(set(details)) == 100  # no duplicate line
    if route == "pdf":  # the details were complete: not fetched again (the list is re-read)
        assert resumed["detail"] == 0
    assert resumed[route] <= 100 - kill_at + 4  # only what was missing (and what was in flight)


async def test_a_sync_killed_at_seeded_points_and_rerun_ends_exact(tmp_path: Path) -> None:
    rng = random.Random(13)
    points = [  # each rerun is killed at the next point, counted from its own start
        ("list", rng.randrange(2, 4)),
        ("detail", rng.randrange(5, 95)),
        ("pdf", rng.randrange(5, 50)),
        ("pdf", rng.randrange(5, 40)),
    ]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    clean.mkdir()
    killed.mkdir()
    killer = Killer()
    server = FakeI3DServer(token=TOKEN, count=100, page_cap=30, pdf_size=5000, on_request=killer)
    async with server as base_url:

        def sync(folder: Path) -> tuple[str, ...]:
            return ("sync", str(folder / "s.sqlite"), "--pdf-dir", str(folder / "pdf"),
                    "--concurrency", "4", "--base-url", base_url)  # fmt: skip

        assert await run_cli(*sync(clean)) == 0
        fetched: Counter[str] = Counter()
        for route, at in points:
            await killer.run_until_killed(server, route, at, *sync(killed))
            fetched += server.requests_per_path
        server.reset_stats()
        assert await run_cli(*sync(killed)) == 0
        fetched += server.requests_per_path
    assert content(killed / "s.sqlite") == content(clean / "s.sqlite")
    assert files_of(killed / "pdf") == files_of(clean / "pdf")
    assert statuses(killed / "s.sqlite") == ["interrupted"] * len(points) + ["complete"]
    # Nothing fetched twice but what was in flight at a kill (4 at most each time).
    assert fetched["detail"] <= 100 + 4
    assert fetched["pdf"] <= 100 + 2 * 4
    assert not list((killed / "pdf").glob(".*.part"))
