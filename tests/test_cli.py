"""The real ``invoice-async`` entry point (export and sync) in a subprocess, against the fake
server."""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from invoice_async import ClientStats, InvoiceClient, InvoiceStore, cli
from invoice_async._logging import logger
from invoice_async.cli._export import neutralize_csv_cell
from invoice_async.cli._progress import ProgressBar
from invoice_async.testing import FakeI3DServer, make_invoices
from tests._cli import TOKEN, Run, invoke
from tests._stores import query, statuses


@pytest.fixture
async def server() -> AsyncIterator[FakeI3DServer]:
    fake = FakeI3DServer(token=TOKEN, count=60, page_cap=25, pdf_size=3000)
    async with fake:
        yield fake


def all_text(directory: Path) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in directory.rglob("*") if p.is_file())


async def test_jsonl_export_writes_invoices_and_manifest(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    run = await invoke("export", str(tmp_path), "--base-url", server.base_url)
    assert run.code == 0, run.stderr
    assert "exported 60 invoices" in run.stdout
    lines = (tmp_path / "invoices.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert sorted(r["id"] for r in rows) == sorted(inv.id for inv in server.invoices)
    assert all(isinstance(r["amount_inc_vat"], int) for r in rows)
    assert rows[0]["creation_date"].endswith("+00:00")
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] is True
    assert manifest["counts"]["invoices"] == 60
    assert TOKEN not in all_text(tmp_path) + run.stdout + run.stderr


async def test_csv_export_has_a_header_and_neutralises_formulas(tmp_path: Path) -> None:
    invoices = [
        attrs.evolve(inv, description='=HYPERLINK("http://evil")' if inv.id == 1 else "ok")
        for inv in make_invoices(5)
    ]
    async with FakeI3DServer(token=TOKEN, invoices=invoices) as base_url:
        run = await invoke("export", str(tmp_path), "--format", "csv", "--base-url", base_url)
    assert run.code == 0, run.stderr
    with (tmp_path / "invoices.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 5
    by_id = {row["id"]: row for row in rows}
    assert by_id["1"]["description"] == '\'=HYPERLINK("http://evil")'
    assert by_id["2"]["description"] == "ok"
    assert all(row["amount_inc_vat"].lstrip("-").isdigit() for row in rows)


@pytest.mark.parametrize(
    "cell",
    [
        "=1+1",
        "+1",
        "-1",
        "@SUM(A1)",
        "|cmd",
        "\t=1",
        "\r=1",
        " =1",
        "\u00a0=1",  # NBSP
        "\ufeff=1",  # BOM
        "\u200b=1",  # zero-width space
        "\x0b=1",  # VT
        "\x0c=1",  # FF
        "\u3000=1",  # ideographic space
        "\u2028=1",  # line separator
        " \u200b\u00a0 @x",
        "\uff1d1",  # full-width =
        "\uff0b1",  # full-width +
        "\uff0d1",  # full-width -
        "\uff201",  # full-width @
        "\uff5ccmd",  # full-width |
        "\ufe661",  # small =
    ],
)
def test_csv_cells_a_spreadsheet_would_run_get_a_leading_apostrophe(cell: str) -> None:
    assert neutralize_csv_cell(cell) == "'" + cell


@pytest.mark.parametrize("value", ["ok", "a=b", "", " x", "\u00a0x", "2024/0001", -463900, 0, None])
def test_other_csv_cells_and_numbers_stay_as_they_are(value: object) -> None:
    assert neutralize_csv_cell(value) == value


async def test_details_and_pdfs_then_resume_fetches_no_pdf_again(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    args = ("export", str(tmp_path), "--details", "--pdfs", "--base-url", server.base_url)
    first = await invoke(*args)
    assert first.code == 0, first.stderr
    details = (tmp_path / "details.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(details) == 60
    assert len(list((tmp_path / "pdf").iterdir())) == 60
    assert server.requests_per_path["pdf"] == 60

    second = await invoke(*args, "--resume")
    assert second.code == 0, second.stderr
    assert server.requests_per_path["pdf"] == 60  # not one PDF requested again
    assert "60 already on disk" in second.stdout
    assert len(list((tmp_path / "pdf").iterdir())) == 60


async def test_concurrency_of_one_works(server: FakeI3DServer, tmp_path: Path) -> None:
    run = await invoke(
        "export", str(tmp_path), "--details", "--concurrency", "1", "--base-url", server.base_url
    )
    assert run.code == 0, run.stderr
    assert server.max_in_flight == 1


async def test_concurrency_above_100_works(server: FakeI3DServer, tmp_path: Path) -> None:
    run = await invoke(
        "export", str(tmp_path), "--details", "--concurrency", "150", "--base-url", server.base_url
    )
    assert run.code == 0, run.stderr
    details = (tmp_path / "details.jsonl").read_text().splitlines()
    assert len(details) == 60


async def test_unpaid_with_filter(server: FakeI3DServer, tmp_path: Path) -> None:
    run = await invoke(
        "export", str(tmp_path), "--unpaid", "--filter", "&", "--base-url", server.base_url
    )
    assert run.code == 0, run.stderr
    rows = [json.loads(line) for line in (tmp_path / "invoices.jsonl").read_text().splitlines()]
    expected = {inv.id for inv in server.invoices if inv.is_unpaid and "&" in inv.description}
    assert {r["id"] for r in rows} == expected


async def test_token_file_is_read(server: FakeI3DServer, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    out = tmp_path / "out"
    run = await invoke(
        "export", str(out), "--token-file", str(token_file), "--base-url", server.base_url,
        token=None,
    )  # fmt: skip
    assert run.code == 0, run.stderr


async def test_bad_token_exits_1_with_one_line_and_no_traceback(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    run = await invoke(
        "export", str(tmp_path), "--base-url", server.base_url, token="wrong-token-value"
    )
    assert run.code == 1
    assert len(run.stderr.strip().splitlines()) == 1
    assert "AuthenticationError" in run.stderr
    assert "Traceback" not in run.stderr
    assert "wrong-token-value" not in run.stderr + run.stdout
    assert not (tmp_path / "invoices.jsonl").exists()


async def test_failed_items_exit_3_and_the_same_command_retries_only_them(
    tmp_path: Path,
) -> None:
    async with FakeI3DServer(token=TOKEN, count=10, non_pdf_ids={3}) as base_url:
        server_args = ("export", str(tmp_path), "--pdfs", "--base-url", base_url)
        run = await invoke(*server_args)
        assert run.code == 3
        manifest = json.loads((tmp_path / "manifest.json").read_text())
        assert manifest["complete"] is False
        assert [(f["invoice_id"], f["what"]) for f in manifest["failures"]] == [(3, "pdf")]
        assert len(list((tmp_path / "pdf").iterdir())) == 9  # the others are all there
        assert "failed: pdf of invoice 3" in run.stderr
        assert "run the same command again to retry them" in run.stderr
    async with FakeI3DServer(token=TOKEN, count=10) as base_url:  # the API works again
        server_args = ("export", str(tmp_path), "--pdfs", "--base-url", base_url)
        retried = await invoke(*server_args)
    assert retried.code == 0, retried.stderr
    assert "10 PDFs" in retried.stdout
    assert "9 already on disk" in retried.stdout
    assert json.loads((tmp_path / "manifest.json").read_text())["complete"] is True


async def test_a_corrupt_store_is_one_clear_line_and_fresh_starts_over(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    (tmp_path / ".invoice-async.sqlite").write_bytes(b"not a database at all " * 200)
    run = await invoke("export", str(tmp_path), "--base-url", server.base_url)
    assert run.code == 1
    assert "is not an invoice_async store" in run.stderr
    assert "--fresh" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr
    assert sum(server.requests_per_path.values()) == 0
    fresh = await invoke("export", str(tmp_path), "--fresh", "--base-url", server.base_url)
    assert fresh.code == 0, fresh.stderr


async def test_another_scope_on_the_same_store_is_a_usage_error_until_fresh(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    args = ("export", str(tmp_path), "--details", "--base-url", server.base_url)
    assert (await invoke(*args)).code == 0
    unpaid = await invoke(*args, "--unpaid")
    assert unpaid.code == 2
    assert "holds all invoices, not unpaid invoices" in unpaid.stderr
    assert "--fresh" in unpaid.stderr
    fresh = await invoke(
        "export", str(tmp_path), "--unpaid", "--fresh", "--base-url", server.base_url
    )
    assert fresh.code == 0, fresh.stderr
    assert not (tmp_path / "details.jsonl").exists()  # --fresh removed what the export wrote
    rows = (tmp_path / "invoices.jsonl").read_text().splitlines()
    assert len(rows) == len(server.unpaid_invoices)
    assert statuses(tmp_path / ".invoice-async.sqlite") == ["complete"]


async def test_sync_prints_the_changes_and_keeps_the_store_current(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    store, pdfs = tmp_path / "inv.sqlite", tmp_path / "pdf"
    args = ("sync", str(store), "--pdf-dir", str(pdfs), "--base-url", server.base_url)
    first = await invoke(*args)
    assert first.code == 0, first.stderr
    assert first.stdout.startswith(
        f"synced 60 invoices into {store}: 60 new, 0 changed, 0 paid, 0 removed, 0 unchanged; "
        "fetched 60 details, 60 PDFs in "
    )
    paid = server.pay(2)
    server.insert_at_head(1)
    server.reset_stats()
    second = await invoke(*args)
    assert second.code == 0, second.stderr
    assert ": 1 new, 0 changed, 2 paid, 0 removed, 58 unchanged; fetched 3 details, 3 PDFs" in (
        second.stdout
    )
    assert server.requests_per_path["detail"] == server.requests_per_path["pdf"] == 3
    events = query(store, "SELECT invoice_id FROM payment_events ORDER BY 1")
    assert events == sorted((inv.id,) for inv in paid)
    assert len(list(pdfs.glob("*.pdf"))) == 61
    bare = await invoke("sync", str(store), "--no-details", "--base-url", server.base_url)
    assert bare.code == 0, bare.stderr
    assert "fetched 0 details, 0 PDFs" in bare.stdout


async def test_a_sync_of_a_store_in_use_stops_at_once_and_the_holder_goes_on(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    path = tmp_path / "inv.sqlite"
    async with (
        InvoiceClient(TOKEN, base_url=server.base_url) as client,
        InvoiceStore(path) as holder,
    ):
        run = await invoke("sync", str(path), "--base-url", server.base_url)
        assert run.code == 1
        assert run.stderr.splitlines() == [
            f"invoice-async: error: another sync or export is using {path} (pid {os.getpid()})"
        ]
        assert sum(server.requests_per_path.values()) == 0
        assert (await holder.sync(client)).new == 60


async def test_two_exports_into_one_folder_the_second_stops_and_the_first_is_unharmed(
    tmp_path: Path,
) -> None:
    gate, waiting = asyncio.Event(), asyncio.Event()

    @web.middleware
    async def hold(request: web.Request, handler: Handler) -> web.StreamResponse:
        waiting.set()
        await gate.wait()
        return await handler(request)

    server = FakeI3DServer(token=TOKEN, count=60, page_cap=25, pdf_size=3000)
    server.app.middlewares.append(hold)
    async with server as base_url:
        args = ("export", str(tmp_path), "--details", "--pdfs", "--base-url", base_url)
        first = asyncio.create_task(invoke(*args))
        async with asyncio.timeout(60):
            await waiting.wait()  # the first export holds the folder and waits on the API
        pid = next(int(line) for line in (tmp_path / ".invoice-async.lock").read_text().split())
        second = await invoke(*args)
        gate.set()
        done = await first
    assert second.code == 1
    assert second.stderr.splitlines() == [
        f"invoice-async: error: another export is using {tmp_path} (pid {pid})"
    ]
    assert done.code == 0, done.stderr
    assert len((tmp_path / "details.jsonl").read_text().splitlines()) == 60
    assert len(list((tmp_path / "pdf").glob("*.pdf"))) == 60
    assert json.loads((tmp_path / "manifest.json").read_text())["complete"] is True


async def test_missing_token_is_a_usage_error(tmp_path: Path) -> None:
    run = await invoke("export", str(tmp_path), token=None)
    assert run.code == 2
    assert "I3D_API_TOKEN" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("export", "out", "--no-such-option"),
        ("export",),
        ("export", "out", "--page-size", "0"),
        ("export", "out", "--format", "xml"),
        ("export", "out", "--fresh", "--resume"),
        ("sync",),
        ("sync", "s.sqlite", "--pdf-dir"),
        ("sync", "s.sqlite", "--details"),
        ("frobnicate",),
    ],
)
async def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    run = await invoke(*args)
    assert run.code == 2
    assert "usage:" in run.stderr


async def test_demo_exits_0_and_writes_files(tmp_path: Path) -> None:
    run = await invoke("export", str(tmp_path), "--demo", "--pdfs", token=None)
    assert run.code == 0, run.stderr
    assert len((tmp_path / "invoices.jsonl").read_text().splitlines()) == 1000
    assert len(list((tmp_path / "pdf").glob("*.pdf"))) == 1000
    assert "exported 1000 invoices" in run.stdout


async def test_python_dash_m_runs_the_same_command() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "invoice_async", "--help",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == 0
    assert b"export" in out
    assert b"sync" in out


async def test_verify_without_pdfs_is_a_usage_error_before_any_request(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    run = await invoke("export", str(tmp_path), "--verify", "--base-url", server.base_url)
    assert run.code == 2
    assert "pass pdf_dir too" in run.stderr
    assert sum(server.requests_per_path.values()) == 0


# --- log lines: main() in this process (a thread, so the server runs on the test's loop) ---


async def run_main(
    server: FakeI3DServer, out: Path, *args: str, capsys: pytest.CaptureFixture[str]
) -> Run:
    code = await asyncio.to_thread(
        cli.main, ["export", str(out), "--base-url", server.base_url, "--no-progress", *args]
    )
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("I3D_API_TOKEN", TOKEN)


@pytest.mark.usefixtures("token_env")
async def test_verbose_puts_one_line_per_retry_on_stderr(
    server: FakeI3DServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.fail_next("500", endpoint="list")
    # No read-ahead: the fault is the first window's, which is retried (a window asked ahead
    # is tried once, without a log line), whichever request reaches the server first.
    run = await run_main(server, tmp_path, "-v", "--concurrency", "1", capsys=capsys)
    assert run.code == 0, run.stderr
    assert run.stderr.splitlines() == [
        "invoice-async: INFO: GET /v3/account/invoice: HTTP 500 (errorCode 10500): "
        "Internal server error; retry 1 of 3 in 0s"
    ]
    assert logger.handlers == [h for h in logger.handlers if isinstance(h, logging.NullHandler)]
    assert logger.level == logging.NOTSET  # main() left the library's logger as it was


@pytest.mark.usefixtures("token_env")
async def test_without_verbose_stderr_has_no_log_lines(
    server: FakeI3DServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.fail_next("500", endpoint="list")
    server.fail_next("429", endpoint="detail")
    server.retry_after = 0.01
    run = await run_main(server, tmp_path, "--details", capsys=capsys)
    assert run.code == 0, run.stderr
    assert run.stderr == ""
    assert run.stdout.startswith("exported 60 invoices, 60 details in ")


@pytest.mark.usefixtures("token_env")
async def test_the_summary_line_gives_the_clients_numbers(
    server: FakeI3DServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.fail_next("503", endpoint="list", count=2)
    server.retry_after = 0.01
    run = await run_main(server, tmp_path, "--concurrency", "1", capsys=capsys)  # no read-ahead
    assert run.code == 0, run.stderr
    requests = server.requests_per_path["list"]
    # two 503s with Retry-After: the pacer keeps a learned pace from then on
    numbers = rf"s \({requests} requests, 2 retries, 0 rate-limited, paused 0.0s, paced at \d+/s\)"
    assert re.search(numbers + "$", run.stdout.rstrip()), run.stdout


@pytest.mark.usefixtures("token_env")
async def test_max_per_second_is_the_clients_ceiling(
    server: FakeI3DServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_main(server, tmp_path, "--max-per-second", "5000", capsys=capsys)
    assert run.code == 0, run.stderr
    assert run.stdout.rstrip().endswith(", paced at 5000/s)")


@pytest.mark.parametrize("value", ["0", "-1", "fast", "nan"])
async def test_a_bad_max_per_second_is_a_usage_error(
    server: FakeI3DServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as info:
        await run_main(server, tmp_path, "--max-per-second", value, capsys=capsys)
    assert info.value.code == 2


def test_the_progress_bar_shows_the_pace_and_the_429s() -> None:
    stats = ClientStats(rate_limited=5, rate=96.4)
    assert ProgressBar(True, lambda: stats)._pace() == "paced at 96/s, 5 429s"
    assert ProgressBar(True, lambda: ClientStats())._pace() == "unpaced, 0 429s"
    assert ProgressBar(True)._pace() == ""


async def test_debug_shows_each_request_and_the_traceback_of_a_failure(
    server: FakeI3DServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("I3D_API_TOKEN", "wrong-token-value")
    run = await run_main(server, tmp_path, "--debug", capsys=capsys)
    assert run.code == 1
    assert "invoice-async: DEBUG: GET http://127.0.0.1" in run.stderr
    assert "Traceback (most recent call last)" in run.stderr
    last = run.stderr.rstrip().splitlines()[-1]
    assert last.startswith("invoice-async: error: AuthenticationError: HTTP 401")
    assert "wrong-token-value" not in run.stderr + run.stdout
