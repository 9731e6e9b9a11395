"""A local user who can write to OUT_DIR (or to the store) plants rows and files: what the
export reads back is checked as if the API had sent it, and what it opens there is never
followed through a symbolic link, never blocks on a FIFO, and is refused with one clear line
when it is not what the export made."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from invoice_async import InvoiceClient, InvoiceStore, errors
from invoice_async.cli._export import ExportOptions, ExportSummary, run_export
from invoice_async.testing import FakeI3DServer
from tests._stores import query

TOKEN = "folder-token-Hq4v"
STORE = ".invoice-async.sqlite"
ENTRY_POINT = str(Path(sys.executable).parent / "invoice-async")
SAFETY = 30  # seconds: only an unfixed client ever waits this long (on a FIFO)


@pytest.fixture
async def server() -> AsyncIterator[FakeI3DServer]:
    fake = FakeI3DServer(token=TOKEN, count=6, pdf_size=3000)
    async with fake:
        yield fake


async def export(server: FakeI3DServer, out: Path, **options: Any) -> ExportSummary:
    async with InvoiceClient(TOKEN, base_url=server.base_url) as client:
        return await run_export(client, ExportOptions(out_dir=out, **options))


def plant(store: Path, sql: str, args: tuple[Any, ...] = ()) -> None:
    """Change the store with a connection of our own, as a local user could."""
    with contextlib.closing(sqlite3.connect(store, isolation_level=None)) as conn:
        conn.execute(sql, args)


def requested(server: FakeI3DServer) -> list[str]:
    return [record.path for record in server.log]


async def run_cli(server: FakeI3DServer, out: Path, *options: str) -> tuple[int, list[str]]:
    """``invoice-async export OUT ...`` in a process of its own: its exit status and stderr
    lines. A process that hangs (only one without the fix would) is killed after SAFETY."""
    process = await asyncio.create_subprocess_exec(
        *(ENTRY_POINT, "export", str(out), *options, "--base-url", server.base_url),
        env={**os.environ, "I3D_API_TOKEN": TOKEN},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(SAFETY):
            _, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, ["(killed: it hung)"]
    assert process.returncode is not None
    return process.returncode, stderr.decode().splitlines()


@contextlib.contextmanager
def released(fifo: Path) -> Iterator[None]:
    """After the block, a writer opens the FIFO, writes and closes, so that a reader blocked
    on it (only a client without the fix ever is) ends instead of hanging the test run."""
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.write(fd, b"x" * 64)
            os.close(fd)


# --- rows read back from the store ---------------------------------------------------------------


async def test_a_pdf_row_whose_path_leaves_the_folder_is_refused(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out, victim = tmp_path / "out", tmp_path / "victim.pdf"
    victim.write_bytes(b"%PDF-mine")
    await export(server, out, pdfs=True)
    plant(out / STORE, "UPDATE pdfs SET path = '../../victim.pdf' WHERE invoice_id = 1")
    with pytest.raises(errors.StoreError, match=r"a PDF path '\.\./\.\./victim\.pdf'"):
        await export(server, out, pdfs=True)
    assert victim.read_bytes() == b"%PDF-mine"


async def test_a_detail_value_of_another_type_is_refused(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    await export(server, out, details=True)
    plant(out / STORE, "UPDATE details SET vat_amount = X'00ff' WHERE invoice_id = 2")
    with pytest.raises(errors.StoreError, match="vat_amount=b'\\\\x00\\\\xff' in the details row"):
        await export(server, out, details=True)


async def test_a_departed_id_that_is_not_an_invoice_id_is_refused_before_its_request(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    await export(server, out, unpaid=True)
    columns = [row[1] for row in query(out / STORE, "PRAGMA table_info(invoices)")]
    copied = ", ".join("0" if name == "id" else name for name in columns)
    plant(
        out / STORE,
        f"INSERT INTO invoices SELECT {copied} FROM invoices LIMIT 1",  # noqa: S608  # test
    )
    plant(out / STORE, "UPDATE invoices SET payment_status = 0, removed_at = NULL WHERE id = 0")
    with pytest.raises(errors.StoreError, match="an invoice id 0 in invoices"):
        await export(server, out, unpaid=True)
    assert not any(path.endswith("/0") for path in requested(server))


async def test_an_id_changed_while_a_sync_runs_is_refused_before_its_request(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    path = tmp_path / "store.sqlite"

    def change_an_id(phase: str, done: int, total: int | None) -> None:
        if phase == "pdfs" and done == 0:  # after the listing, before the PDFs are read
            plant(path, "UPDATE invoices SET id = -7 WHERE id = 1")

    async with (
        InvoiceClient(TOKEN, base_url=server.base_url) as client,
        InvoiceStore(path) as store,
    ):
        with pytest.raises(errors.StoreError, match="an invoice id -7"):
            await store.sync(client, details=False, pdf_dir=tmp_path / "pdf", progress=change_an_id)
    assert server.requests_per_path["pdf"] == 0
    assert not any("-7" in path for path in requested(server))


async def test_a_remembered_pdf_folder_outside_the_store_folder_is_refused(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    await export(server, out, pdfs=True)
    plant(out / STORE, "UPDATE meta SET value = '../../../etc' WHERE key = 'pdf_dir'")
    with pytest.raises(errors.StoreError, match=r"pdf_dir='\.\./\.\./\.\./etc' in meta"):
        await export(server, out, pdfs=True)


# --- files inside OUT_DIR ----------------------------------------------------------------------


async def test_a_symlinked_store_file_is_refused_and_where_it_points_stays_untouched(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out, target = tmp_path / "out", tmp_path / "elsewhere.sqlite"
    out.mkdir()
    (out / STORE).symlink_to(target)  # dangling: SQLite would create it
    with pytest.raises(errors.StoreError, match="is a symbolic link"):
        await export(server, out)
    assert not target.exists()
    assert requested(server) == []


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
async def test_a_symlinked_sqlite_side_file_is_refused_and_where_it_points_stays_untouched(
    server: FakeI3DServer, tmp_path: Path, suffix: str
) -> None:
    out, victim = tmp_path / "out", tmp_path / "victim"
    victim.write_bytes(b"precious\n" * 4096)
    await export(server, out)  # a store in WAL mode, closed
    Path(f"{out / STORE}{suffix}").symlink_to(victim)
    with pytest.raises(errors.StoreError, match=f"sqlite{suffix} is a symbolic link"):
        await export(server, out)
    assert victim.read_bytes() == b"precious\n" * 4096


async def test_a_fifo_as_the_store_file_is_refused_at_once(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / STORE)
    code, lines = await run_cli(server, out)
    assert (code, len(lines)) == (1, 1)
    assert f"{out / STORE} is a FIFO" in lines[0]
    assert requested(server) == []


@pytest.mark.parametrize(
    ("name", "kind"),
    [(".invoice-async.lock", "symlink"), (".invoice-async.sqlite.lock", "fifo")],
)
async def test_a_lock_file_that_is_not_a_regular_file_is_refused_with_one_clear_line(
    server: FakeI3DServer, tmp_path: Path, name: str, kind: str
) -> None:
    out, target = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    if kind == "symlink":
        (out / name).symlink_to(target)
    else:
        os.mkfifo(out / name)
    with released(out / name), pytest.raises(errors.StoreError) as info:
        await asyncio.wait_for(export(server, out), SAFETY)
    assert str(info.value).startswith(
        f"{out / name} is a {'symbolic link' if kind == 'symlink' else 'FIFO'}"
    )
    assert not target.exists()


async def test_a_symlinked_pdf_folder_is_refused_and_nothing_lands_where_it_points(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "pdf").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(errors.StoreError, match="pdf is a symbolic link, not a folder"):
        await export(server, out, pdfs=True)
    assert list(elsewhere.iterdir()) == []
    assert server.requests_per_path["pdf"] == 0


async def test_a_pdf_replaced_by_a_symlink_to_another_pdf_is_refused(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out, other = tmp_path / "out", tmp_path / "other.pdf"
    await export(server, out, pdfs=True)
    first = sorted((out / "pdf").iterdir())[0]
    other.write_bytes(b"%PDF-" + b"y" * (first.stat().st_size - 5))  # same size, a "PDF"
    first.unlink()
    first.symlink_to(other)
    with pytest.raises(errors.StoreError, match="is a symbolic link"):
        await export(server, out, pdfs=True)
    assert other.read_bytes().startswith(b"%PDF-y")


async def test_a_pdf_replaced_by_a_fifo_is_refused_at_once(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    await export(server, out, pdfs=True)
    first = sorted((out / "pdf").iterdir())[0]
    first.unlink()
    os.mkfifo(first)
    code, lines = await run_cli(server, out, "--pdfs")
    assert (code, len(lines)) == (1, 1)
    assert f"{first} is a FIFO" in lines[0]


async def test_out_dir_itself_may_be_a_symlink(server: FakeI3DServer, tmp_path: Path) -> None:
    real, link = tmp_path / "real", tmp_path / "link"
    real.mkdir()
    link.symlink_to(real, target_is_directory=True)
    summary = await export(server, link, pdfs=True)
    assert (summary.invoices, summary.pdfs) == (6, 6)
    assert len(list((real / "pdf").iterdir())) == 6


async def test_the_old_checkpoint_goes_without_following_links_or_taking_other_files(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out, victim = tmp_path / "out", tmp_path / "victim.jsonl"
    victim.write_text("mine\n")
    old = out / ".checkpoint"
    old.mkdir(parents=True)
    for name in ("listing.jsonl", "listing.done", "scope.json"):
        (old / name).write_text("{}\n")
    (old / "details.jsonl").symlink_to(victim)
    (old / "notes.txt").write_text("a user's file\n")
    await export(server, out)
    assert sorted(path.name for path in old.iterdir()) == ["details.jsonl", "notes.txt"]
    assert (old / "details.jsonl").is_symlink()
    assert victim.read_text() == "mine\n"


async def test_a_symlinked_old_checkpoint_is_left_alone(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "listing.jsonl").write_text("{}\n")
    out.mkdir()
    (out / ".checkpoint").symlink_to(elsewhere, target_is_directory=True)
    await export(server, out)
    assert (elsewhere / "listing.jsonl").read_text() == "{}\n"
    assert (out / ".checkpoint").is_symlink()


async def test_skip_existing_does_not_take_a_symlink_for_the_pdf(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    folder, other = tmp_path / "pdf", tmp_path / "other.pdf"
    folder.mkdir()
    other.write_bytes(b"%PDF-someone else's")
    (folder / "invoice_1.pdf").symlink_to(other)
    async with InvoiceClient(TOKEN, base_url=server.base_url) as client:
        [download] = [d async for d in client.download_pdfs([1], folder, skip_existing=True)]
    assert download.skipped is False
    assert not download.path.is_symlink()
    assert download.path.read_bytes().startswith(b"%PDF-")
    assert other.read_bytes() == b"%PDF-someone else's"


async def test_the_cli_refuses_a_planted_folder_with_one_line_and_exit_1(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "pdf").symlink_to(tmp_path, target_is_directory=True)
    code, lines = await run_cli(server, out, "--pdfs")
    assert code == 1
    assert lines == [
        f"invoice-async: error: StoreError: {out / 'pdf'} is a symbolic link, not a folder "
        "invoice_async made there: refusing to use it (move it away, or use another folder)"
    ]


# --- temp files of a killed run (issue 14, finding 6) ---------------------------------------------


async def test_stale_temp_removal_takes_only_the_temp_files_the_library_makes(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out, victim = tmp_path / "out", tmp_path / "victim"
    victim.write_text("mine\n")
    await export(server, out, pdfs=True)
    pdf = out / "pdf"
    ours = [
        out / ".invoices.jsonl.abcd_123.part",
        out / ".manifest.json.k3j4h5g6.part",
        pdf / f".{sorted(pdf.iterdir())[0].name}.zz9yx8w7.part",
    ]
    for path in ours:
        path.write_text("left by a killed run")
    users = [out / ".thesis.part", pdf / ".notes.part", out / ".invoices.jsonl.TOOLONG12.part"]
    for path in users:
        path.write_text("a user's file")
    (out / ".dir.part").mkdir()
    (pdf / ".dir.part").mkdir()
    (out / ".details.jsonl.linkxxxx.part").symlink_to(victim)
    summary = await export(server, out, pdfs=True)
    assert summary.pdfs_skipped == 6
    assert not any(path.exists() for path in ours)
    assert all(path.read_text() == "a user's file" for path in users)
    assert (out / ".dir.part").is_dir()
    assert (pdf / ".dir.part").is_dir()
    assert (out / ".details.jsonl.linkxxxx.part").is_symlink()
    assert victim.read_text() == "mine\n"
