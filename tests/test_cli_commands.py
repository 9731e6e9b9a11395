"""The commands for people and programs (list, show, pdf, summary, fake-server), the global
options and every exit status, through the real ``invoice-async`` entry point."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import signal
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import attrs
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

import invoice_async
from invoice_async import to_dict
from invoice_async._converter import structure_detail, structure_invoice
from invoice_async._store_schema import INVOICE_FIELDS
from invoice_async.testing import (
    OPENAPI_PATH,
    FakeI3DServer,
    FakeInvoice,
    make_invoices,
    make_pdf,
    to_detail_item,
    to_list_item,
)
from tests._cli import TOKEN, invoke, invoke_on_terminal, running

DAY = 86_400
AS_OF = date(2024, 6, 1)
MIDNIGHT = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp())


@pytest.fixture
async def server() -> AsyncIterator[FakeI3DServer]:
    fake = FakeI3DServer(token=TOKEN, count=60, page_cap=25, pdf_size=3000)
    async with fake:
        yield fake


def records(server: FakeI3DServer, unpaid: bool = False) -> list[dict[str, object]]:
    """What the API lists, as ``to_dict`` gives it (structured as the client does)."""
    invoices = server.unpaid_invoices if unpaid else server.invoices
    return [to_dict(structure_invoice(to_list_item(inv))) for inv in invoices]


def cents(amount: int, sign: str) -> str:
    whole, part = divmod(abs(amount), 100)
    return f"{'-' if amount < 0 else ''}{sign}{whole:,}.{part:02d}"


# --- list --------------------------------------------------------------------------------------


async def test_list_piped_prints_json_lines_in_integer_cents(server: FakeI3DServer) -> None:
    run = await invoke("list", "--base-url", server.base_url)
    assert run.code == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert rows == records(server)
    assert all(type(row["amount_inc_vat"]) is int for row in rows)
    assert run.stderr == ""


async def test_list_json_is_one_array_and_csv_has_the_fields_with_formulas_neutralised() -> None:
    invoices = [
        attrs.evolve(inv, description="=cmd|' /C calc'!A0" if inv.id == 2 else inv.description)
        for inv in make_invoices(8)
    ]
    async with FakeI3DServer(token=TOKEN, invoices=invoices) as url:
        as_json = await invoke("list", "--output", "json", "--base-url", url)
        as_csv = await invoke("list", "--output", "csv", "--base-url", url)
    assert as_json.code == as_csv.code == 0, as_json.stderr + as_csv.stderr
    array = json.loads(as_json.stdout)
    assert [row["id"] for row in array] == list(range(8, 0, -1))
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(rows[0]) == list(INVOICE_FIELDS)
    by_id = {row["id"]: row for row in rows}
    assert by_id["2"]["description"] == "'=cmd|' /C calc'!A0"
    assert [int(row["amount_inc_vat"]) for row in rows] == [r["amount_inc_vat"] for r in array]


async def test_list_unpaid_with_filter_and_limit_stops_after_n(server: FakeI3DServer) -> None:
    expected = [r for r in records(server, unpaid=True) if "server" in str(r["description"])]
    assert len(expected) > 3
    run = await invoke(
        "list", "--unpaid", "--filter", "server", "--limit", "3", "--base-url", server.base_url
    )
    assert run.code == 0, run.stderr
    assert [json.loads(line) for line in run.stdout.splitlines()] == expected[:3]
    assert server.requests_per_route["list"] == 0
    assert all("filter=server" in r.query for r in server.log)


async def test_list_table_shows_decimals_with_the_sign_and_totals_per_currency(
    server: FakeI3DServer,
) -> None:
    run = await invoke("list", "--output", "table", "--base-url", server.base_url)
    assert run.code == 0, run.stderr
    first = server.invoices[0]
    assert first.invoice_number in run.stdout
    assert cents(first.amount_inc_vat, first.currency_sign) in run.stdout
    for currency in {inv.currency for inv in server.invoices}:
        mine = [inv for inv in server.invoices if inv.currency == currency]
        total = cents(sum(inv.amount_inc_vat for inv in mine), mine[0].currency_sign)
        line = next(line for line in run.stdout.splitlines() if f"total {currency}" in line)
        assert line.split() == ["total", currency, str(len(mine)), "invoices", total]


async def test_list_on_a_terminal_is_a_table_for_people(server: FakeI3DServer) -> None:
    run = await invoke_on_terminal("list", "--limit", "5", "--base-url", server.base_url)
    assert run.code == 0, run.stderr
    header = next(line for line in run.stdout.splitlines() if "Number" in line).split()
    assert header == ["Number", "Date", "Due", "Description", "Amount", "Status"]
    for inv in server.invoices[:5]:
        line = next(line for line in run.stdout.splitlines() if inv.invoice_number in line)
        assert datetime.fromtimestamp(inv.due_date, UTC).date().isoformat() in line
        assert cents(inv.amount_inc_vat, inv.currency_sign) in line
    assert server.invoices[5].invoice_number not in run.stdout
    assert "{" not in run.stdout  # no JSON


async def test_a_description_cannot_send_escape_sequences_to_the_terminal() -> None:
    invoices = [
        attrs.evolve(inv, description="evil\x1b]0;pwned\x07\x1b[2J") for inv in make_invoices(1)
    ]
    async with FakeI3DServer(token=TOKEN, invoices=invoices) as url:
        run = await invoke("list", "--output", "table", "--base-url", url)
    assert run.code == 0, run.stderr
    assert "\x1b" not in run.stdout
    assert "\x07" not in run.stdout
    assert "evil\N{REPLACEMENT CHARACTER}]0;pwned" in run.stdout


# --- show --------------------------------------------------------------------------------------


async def test_show_by_id_or_by_number_prints_one_json_document(server: FakeI3DServer) -> None:
    expected = to_dict(structure_detail(to_detail_item(server.invoices[-5])))
    by_id = await invoke("show", "5", "--base-url", server.base_url)
    by_number = await invoke("show", "2024/000005", "--base-url", server.base_url)
    assert by_id.code == by_number.code == 0, by_id.stderr + by_number.stderr
    assert json.loads(by_id.stdout) == json.loads(by_number.stdout) == expected
    assert server.requests_per_route["detail"] == server.requests_per_route["detail_by_number"] == 1


async def test_show_number_forces_a_number_even_when_all_digits(server: FakeI3DServer) -> None:
    run = await invoke("show", "5", "--number", "--base-url", server.base_url)
    assert run.code == 1
    assert "NotFoundError" in run.stderr
    assert server.requests_per_route["detail_by_number"] == 1
    assert server.requests_per_route["detail"] == 0


async def test_show_table_has_the_amounts_with_the_sign(server: FakeI3DServer) -> None:
    inv = server.invoices[-7]
    run = await invoke("show", "7", "--output", "table", "--base-url", server.base_url)
    assert run.code == 0, run.stderr
    assert f"Invoice {inv.invoice_number}" in run.stdout
    for label, amount in (
        ("amount incl. VAT", inv.amount_inc_vat),
        ("amount excl. VAT", inv.amount_excl_vat),
        (f"VAT {inv.vat_percentage}%", inv.vat_amount),
    ):
        line = next(line for line in run.stdout.splitlines() if label in line)
        assert cents(amount, inv.currency_sign) in line


# --- pdf ---------------------------------------------------------------------------------------


async def test_pdf_of_several_ids_goes_into_a_folder_it_creates(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    out = tmp_path / "new" / "pdfs"
    run = await invoke("pdf", "3", "1", "2", "-o", str(out), "--base-url", server.base_url)
    assert run.code == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"invoice_{i}.pdf" for i in (1, 2, 3)]
    assert (out / "invoice_2.pdf").read_bytes() == make_pdf(2, 3000)
    assert run.stdout.splitlines() == [str(out / f"invoice_{i}.pdf") for i in (3, 1, 2)]


@pytest.mark.parametrize(("name", "folder"), [("one.pdf", False), ("here/", True), (".", True)])
async def test_pdf_of_one_id_goes_to_a_file_or_into_a_folder(
    server: FakeI3DServer, tmp_path: Path, name: str, folder: bool
) -> None:
    target = tmp_path / name
    run = await invoke("pdf", "4", "-o", str(target) + ("/" if name.endswith("/") else ""),
                       "--base-url", server.base_url)  # fmt: skip
    assert run.code == 0, run.stderr
    written = target / "invoice_4.pdf" if folder else target
    assert written.read_bytes() == make_pdf(4, 3000)
    assert [p.name for p in tmp_path.rglob("*") if p.name.startswith(".invoice-async")] == []


async def test_pdf_to_stdout_writes_the_bytes_alone(server: FakeI3DServer) -> None:
    async with running("pdf", "6", "-o", "-", "--base-url", server.base_url) as process:
        async with asyncio.timeout(60):
            body, err = await process.communicate()
    assert process.returncode == 0, err
    assert body == make_pdf(6, 3000)


async def test_pdf_with_one_missing_invoice_exits_3_names_it_and_writes_the_rest(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    run = await invoke("pdf", "1", "999", "2", "-o", str(tmp_path), "--base-url", server.base_url)
    assert run.code == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["invoice_1.pdf", "invoice_2.pdf"]
    assert "failed: pdf of invoice 999: NotFoundError" in run.stderr
    assert "run the same command again to retry them" in run.stderr


async def test_pdf_where_nothing_could_be_written_exits_1(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    run = await invoke("pdf", "998", "999", "-o", str(tmp_path), "--base-url", server.base_url)
    assert run.code == 1
    assert run.stderr.count("failed: pdf of invoice") == 2
    assert list(tmp_path.iterdir()) == []


# --- summary -----------------------------------------------------------------------------------

# Days past due on 2024-06-01 -> the bucket it must land in.
AGES = {-3: "not_due", 0: "not_due", 1: "1-30", 30: "1-30", 31: "31-60", 60: "31-60",
        61: "61-90", 90: "61-90", 91: "over_90", 400: "over_90"}  # fmt: skip


def aged_invoices() -> list[FakeInvoice]:
    """Unpaid EUR invoices, one per entry of AGES (due at 23:59 UTC of their day), two USD
    ones due today, and a paid and a credit invoice that the unpaid list leaves out."""
    base = make_invoices(len(AGES) + 4, all_unpaid=True)
    late = (MIDNIGHT - days * DAY + DAY - 60 for days in AGES)  # 23:59 of the day
    made = [
        attrs.evolve(inv, currency="EUR", currency_sign="€", due_date=due)
        for inv, due in zip(base, late, strict=False)
    ]
    for inv in base[len(AGES) : len(AGES) + 2]:
        made.append(attrs.evolve(inv, currency="USD", currency_sign="$", due_date=MIDNIGHT))
    paid, credit = base[-2:]
    made.append(attrs.evolve(paid, payment_status=1, payment_date=MIDNIGHT, remaining_amount=0))
    made.append(attrs.evolve(credit, is_credit=True, remaining_amount=-500))
    return made


async def test_summary_json_ages_the_unpaid_list_by_whole_utc_days() -> None:
    invoices = aged_invoices()
    async with FakeI3DServer(token=TOKEN, invoices=invoices) as url:
        run = await invoke("summary", "--as-of", AS_OF.isoformat(), "--base-url", url)
    assert run.code == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["as_of"] == "2024-06-01"
    assert "credit invoices" in document["note"].lower()
    eur, usd = document["currencies"]
    assert (eur["currency"], usd["currency"]) == ("EUR", "USD")
    euros = invoices[: len(AGES)]
    assert eur["outstanding"] == sum(inv.remaining_amount for inv in euros)
    assert eur["invoices"] == len(AGES)
    for bucket in eur["aging"]:
        due = [
            inv for inv, key in zip(euros, AGES.values(), strict=True) if key == bucket["bucket"]
        ]
        assert bucket["invoices"] == len(due), bucket
        assert bucket["amount"] == sum(inv.remaining_amount for inv in due), bucket
    assert [bucket["invoices"] for bucket in usd["aging"]] == [2, 0, 0, 0, 0]  # due today


async def test_summary_table_on_a_terminal_has_a_bar_per_bucket_and_piped_none() -> None:
    async with FakeI3DServer(token=TOKEN, invoices=aged_invoices()) as url:
        args = ("summary", "--as-of", "2024-06-01", "--base-url", url)
        terminal = await invoke_on_terminal(*args)
        piped = await invoke(*args, "--output", "table")
    assert terminal.code == piped.code == 0, terminal.stderr + piped.stderr
    for run, bars in ((terminal, True), (piped, False)):
        lines = run.stdout.splitlines()
        assert any(line.startswith("EUR: €") and "outstanding" in line for line in lines)
        labels = ("not yet due", "1-30 days", "31-60 days", "61-90 days", "over 90 days")
        rows = [line for line in lines if line.strip().startswith(labels)]
        assert len(rows) == 10  # five buckets, two currencies
        assert any("\N{FULL BLOCK}" in line for line in rows) is bars
        assert "Credit invoices are not counted" in run.stdout


# --- fake-server -------------------------------------------------------------------------------


async def test_fake_server_prints_its_url_and_token_serves_until_ctrl_c_and_exits_0() -> None:
    async with running("fake-server", "--count", "25", "--latency-ms", "1", token=None) as process:
        assert process.stdout is not None
        lines = [(await process.stdout.readline()).decode() for _ in range(4)]
        exports = dict(line.removeprefix("export ").strip().split("=", 1) for line in lines[2:])
        url = exports["I3D_BASE_URL"]
        assert url.startswith("http://127.0.0.1:")
        listed = await invoke("list", token=exports["I3D_API_TOKEN"], env={"I3D_BASE_URL": url})
        async with aiohttp.ClientSession() as session, session.get(url + OPENAPI_PATH) as resp:
            document = await resp.text()
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            _, err = await process.communicate()
    assert listed.code == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 25
    assert "openapi: 3.0.3" in document
    assert process.returncode == 0
    assert err.decode().splitlines() == ["invoice-async: fake server stopped"]


async def test_fake_server_on_a_port_in_use_exits_1_in_one_line() -> None:
    taken = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = taken.sockets[0].getsockname()[1]
    try:
        run = await invoke("fake-server", "--port", str(port), token=None)
    finally:
        taken.close()
        await taken.wait_closed()
    assert run.code == 1
    assert run.stdout == ""
    assert run.stderr.startswith("invoice-async: error: OSError: ")
    assert len(run.stderr.strip().splitlines()) == 1


# --- global options and exit codes --------------------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
async def test_global_options_go_before_or_after_the_command(
    server: FakeI3DServer, where: str
) -> None:
    options = ("--base-url", server.base_url, "--page-size", "7", "--max-retries", "0")
    args = (*options, "list") if where == "before" else ("list", *options)
    run = await invoke(*args)
    assert run.code == 0, run.stderr
    assert len(run.stdout.splitlines()) == 60
    assert all(r.ranged_data is not None and "results=7" in r.ranged_data for r in server.log)


async def test_the_base_url_variable_is_read_by_the_cli(server: FakeI3DServer) -> None:
    run = await invoke("list", "--limit", "1", env={"I3D_BASE_URL": server.base_url})
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["id"] == server.invoices[0].id


@pytest.mark.parametrize("where", ["before", "after"])
async def test_version_prints_the_version(where: str) -> None:
    run = await invoke(*(["--version", "list"] if where == "before" else ["list", "--version"]))
    assert run.code == 0
    assert run.stdout == f"invoice-async {invoice_async.__version__}\n"


async def test_help_documents_every_command_and_exit_status() -> None:
    run = await invoke("--help")
    assert run.code == 0
    for word in ("list", "show", "pdf", "summary", "export", "sync", "fake-server"):
        assert f"    {word} " in run.stdout, word
    for code in ("0", "1", "2", "3", "130"):
        assert f"\n  {code} " in run.stdout, code


async def test_quiet_drops_the_summary_line_but_not_what_was_asked(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    exported = await invoke("-q", "export", str(tmp_path), "--base-url", server.base_url)
    listed = await invoke("list", "-q", "--limit", "2", "--base-url", server.base_url)
    assert exported.code == listed.code == 0, exported.stderr + listed.stderr
    assert exported.stdout == exported.stderr == ""
    assert (tmp_path / "invoices.jsonl").is_file()
    assert len(listed.stdout.splitlines()) == 2


async def test_max_retries_and_timeout_reach_the_client(server: FakeI3DServer) -> None:
    server.fail_next("503", endpoint="detail")
    no_retry = await invoke("show", "1", "--max-retries", "0", "--base-url", server.base_url)
    assert no_retry.code == 1
    assert "ServerError: HTTP 503" in no_retry.stderr
    server.latency = 1.0
    slow = await invoke("show", "1", "--timeout", "0.05", "--max-retries", "0",
                        "--base-url", server.base_url)  # fmt: skip
    assert slow.code == 1
    assert "RequestTimeoutError" in slow.stderr


async def test_a_deadline_stops_the_run_with_exit_1(server: FakeI3DServer) -> None:
    server.latency = 1.0
    run = await invoke("list", "--deadline", "0.05", "--base-url", server.base_url)
    assert run.code == 1
    assert "Deadline" in run.stderr or "timed out" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("--concurrency", "2", "show", "1"),
        ("show", "1", "--concurrency", "2"),
        ("--base-url", "https://x.example", "fake-server"),
        ("list", "--demo", "--base-url", "https://x.example"),
        ("list", "--output", "xml"),
        ("list", "--limit", "0"),
        ("show",),
        ("show", "1", "--output", "csv"),
        ("pdf",),
        ("pdf", "abc"),
        ("summary", "--as-of", "2024-13-01"),
        ("--timeout", "0", "list"),
        ("fake-server", "--port", "70000"),
    ],
)
async def test_usage_errors_exit_2_with_the_usage(args: tuple[str, ...]) -> None:
    run = await invoke(*args)
    assert run.code == 2
    assert "usage:" in run.stderr


async def test_a_setting_the_client_refuses_exits_2_in_one_line(
    server: FakeI3DServer, tmp_path: Path
) -> None:
    bad_ca = tmp_path / "ca.pem"
    bad_ca.write_text("not a certificate")
    for args in (("show", "0"), ("list", "--ca-bundle", str(bad_ca)),
                 ("pdf", "1", "-o", str(tmp_path / "missing" / "x.pdf")),
                 ("pdf", "1", "2", "-o", "-")):  # fmt: skip
        run = await invoke(*args, "--base-url", server.base_url)
        assert run.code == 2, (args, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert run.stderr.startswith("invoice-async: error: ConfigurationError: ")
    assert sum(server.requests_per_route.values()) == 0


@pytest.mark.parametrize(
    "command", [("list",), ("show", "3"), ("pdf", "3", "-o", "-"), ("summary",), ("sync", "s.db")]
)
async def test_an_api_failure_exits_1_without_the_token(
    server: FakeI3DServer, tmp_path: Path, command: tuple[str, ...]
) -> None:
    if command[0] == "sync":
        command = ("sync", str(tmp_path / "s.db"))
    run = await invoke(*command, "--base-url", server.base_url, token="wrong-token-value")
    assert run.code == 1
    assert run.stderr.startswith("invoice-async: error: AuthenticationError: HTTP 401")
    assert "wrong-token-value" not in run.stdout + run.stderr


async def test_ctrl_c_exits_130() -> None:
    arrived = asyncio.Event()

    @web.middleware
    async def hold(request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived.set()
        await asyncio.Event().wait()  # never answers; the server's stop cancels it
        return await handler(request)

    server = FakeI3DServer(token=TOKEN, count=5)
    server.app.middlewares.append(hold)
    async with server as url, running("list", "--base-url", url) as process:
        async with asyncio.timeout(60):
            await arrived.wait()  # the command waits on the API
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            out, err = await process.communicate()
    assert process.returncode == 130
    assert err.decode().splitlines() == ["invoice-async: interrupted"]
    assert out == b""


async def test_sync_with_a_failed_pdf_exits_3(tmp_path: Path) -> None:
    async with FakeI3DServer(token=TOKEN, count=6, non_pdf_ids={4}) as url:
        run = await invoke("sync", str(tmp_path / "s.sqlite"), "--pdf-dir", str(tmp_path / "p"),
                           "--base-url", url)  # fmt: skip
    assert run.code == 3
    assert "failed: pdf of invoice 4" in run.stderr
    assert len(list((tmp_path / "p").glob("*.pdf"))) == 5
