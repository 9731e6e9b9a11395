"""The ``invoice-async`` command line (also ``python -m invoice_async``): ``sync`` and ``export``.

Parsing is argparse (standard library: no dependency, and its usage errors exit 2); the
progress bar is rich. The token comes from ``I3D_API_TOKEN`` or ``--token-file``, never from a
command-line value, since other users of the machine can read a process's arguments.

Exit status: 0 done; 1 failure (the API, the store, another writer holding the lock);
2 usage; 3 some invoices failed (the others are all there: run the same command again to
retry them); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import secrets
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import attrs

from .. import InvoiceClient, InvoiceStore, SyncSummary, _logging, errors
from .._args import DEFAULT_MAX_CONCURRENCY, DEFAULT_PAGE_SIZE
from .._protocol import DEFAULT_BASE_URL, TOKEN_ENV_VAR
from ._export import ExportOptions, client_numbers, run_export, split_failure
from ._progress import ProgressBar

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
RETRY_HINT = "run the same command again to retry them"
DEMO_INVOICES = 1000
DEMO_LATENCY = 0.01  # seconds per answer: enough to watch the progress bar move


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def _scope_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--unpaid", action="store_true", help="only unpaid invoices")
    command.add_argument("--filter", metavar="TEXT", help="only descriptions containing TEXT")


def _run_options(command: argparse.ArgumentParser, discards: str) -> None:
    mode = command.add_mutually_exclusive_group()
    mode.add_argument("--fresh", action="store_true", help=f"discard {discards}; start over")
    mode.add_argument(
        "--resume",
        action="store_true",
        help="accepted for old scripts: every run continues where the last one stopped",
    )
    command.add_argument(
        "--verify", action="store_true", help="also compare every PDF's sha256 (reads them all)"
    )


def _client_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--page-size", type=_positive_int, default=DEFAULT_PAGE_SIZE, metavar="N")
    command.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_MAX_CONCURRENCY,
        metavar="N",
        help="requests at once",
    )
    command.add_argument(
        "--max-per-second",
        type=_positive_number,
        metavar="N",
        help="never start more than N requests a second (the client also learns the API's "
        "limit from its 429s)",
    )
    command.add_argument("--base-url", default=DEFAULT_BASE_URL, metavar="URL")
    command.add_argument(
        "--token-file", type=Path, metavar="PATH", help="read the API token from this file"
    )
    command.add_argument(
        "--demo", action="store_true", help="read the embedded fake server (no token)"
    )
    shown = command.add_mutually_exclusive_group()
    shown.add_argument(
        "--progress", dest="progress", action="store_true", default=None, help="always show"
    )
    shown.add_argument("--no-progress", dest="progress", action="store_false")
    command.add_argument(
        "-v", "--verbose", action="store_true", help="show retries and pauses on stderr"
    )
    command.add_argument(
        "--debug", action="store_true", help="also show each request, and tracebacks on failure"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``invoice-async``."""
    parser = argparse.ArgumentParser(
        prog="invoice-async",
        description="Keep a local copy of i3D.net invoices (sync) and export them (export).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sync = commands.add_parser(
        "sync",
        help="bring a SQLite store of the invoices up to date",
        description="List every invoice into STORE (a SQLite file), then fetch the details "
        "and PDFs that are new, changed or missing. The token is read from I3D_API_TOKEN "
        "or --token-file.",
    )
    sync.add_argument("store", metavar="STORE", type=Path, help="the SQLite file")
    sync.add_argument(
        "--pdf-dir", type=Path, metavar="DIR", help="keep the PDFs in DIR (remembered)"
    )
    sync.add_argument("--no-details", dest="details", action="store_false", help="fetch no details")
    _scope_options(sync)
    _run_options(sync, "the store")
    _client_options(sync)
    export = commands.add_parser(
        "export",
        help="export invoices (and details, PDFs) into a folder",
        description="Export invoices into OUT_DIR: invoices.<fmt>, details.<fmt> with "
        "--details, pdf/ with --pdfs, and manifest.json. Runs on a store "
        "(OUT_DIR/.invoice-async.sqlite), so each run fetches only what is new, changed or "
        "missing. The token is read from I3D_API_TOKEN or --token-file.",
    )
    export.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="folder to write into")
    _scope_options(export)
    export.add_argument("--details", action="store_true", help="also fetch every detail")
    export.add_argument("--pdfs", action="store_true", help="also download every PDF")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument(
        "--store", type=Path, metavar="PATH", help="the store (OUT_DIR/.invoice-async.sqlite)"
    )
    _run_options(export, "the store and the files it wrote")
    _client_options(export)
    return parser


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes each record as one line to the current ``sys.stderr``, looked up per record:
    rich's progress bar replaces it while it is shown, to keep its lines clear of the bar."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


@contextlib.contextmanager
def _log_lines(args: argparse.Namespace) -> Iterator[None]:
    """With -v (INFO) or --debug (DEBUG), the invoice_async log lines go to stderr."""
    if not (args.verbose or args.debug):
        yield
        return
    logger = _logging.logger
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("invoice-async: %(levelname)s: %(message)s"))
    level = logger.level
    logger.setLevel(logging.DEBUG if args.debug else logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:  # main() may run again in the same process (tests): leave the logger as it was
        logger.removeHandler(handler)
        logger.setLevel(level)


def _read_token(args: argparse.Namespace) -> str | None:
    if args.token_file is None:
        return os.environ.get(TOKEN_ENV_VAR)
    try:
        return Path(args.token_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise errors.ConfigurationError(
            f"cannot read --token-file {str(args.token_file)!r}: {exc.strerror}"
        ) from None


@contextlib.asynccontextmanager
async def _api(args: argparse.Namespace) -> AsyncIterator[InvoiceClient]:
    """The client to read with: the real API, or a fake server for --demo.

    ``--concurrency N`` is the most requests at once for the whole run, so it is the
    client's ``max_connections`` (any N works, above 100 too) and its fan-outs' default.
    """
    limits: dict[str, Any] = {
        "max_concurrency": args.concurrency,
        "max_connections": args.concurrency,
        "max_per_second": args.max_per_second,
    }
    if not args.demo:
        client = InvoiceClient(
            _read_token(args), base_url=args.base_url, page_size=args.page_size, **limits
        )
        async with client:
            yield client
        return
    from ..testing import FakeI3DServer  # only the demo needs the fake server

    token = secrets.token_urlsafe(24)
    server = FakeI3DServer(token=token, count=DEMO_INVOICES, latency=DEMO_LATENCY)
    async with (
        server as base_url,
        InvoiceClient(token, base_url=base_url, page_size=args.page_size, **limits) as client,
    ):
        yield client


@attrs.frozen
class _Done:
    """What a command prints at the end: its summary line, and what failed."""

    line: str
    failures: Sequence[dict[str, object]] = ()


def _show_progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


async def _export(args: argparse.Namespace) -> _Done:
    options = ExportOptions(
        out_dir=args.out_dir,
        unpaid=args.unpaid,
        filter=args.filter,
        details=args.details,
        pdfs=args.pdfs,
        format=args.format,
        concurrency=args.concurrency,
        resume=args.resume,
        progress=_show_progress(args),
        store=args.store,
        fresh=args.fresh,
        verify=args.verify,
    )
    async with _api(args) as client:
        summary = await run_export(client, options)
    return _Done(summary.line(), summary.failures)


async def _sync(args: argparse.Namespace) -> _Done:
    began = time.monotonic()
    async with _api(args) as client:
        store = InvoiceStore(args.store, fresh=args.fresh)
        with ProgressBar(_show_progress(args), lambda: client.stats) as bar:
            async with store:
                summary = await store.sync(
                    client,
                    details=args.details,
                    pdf_dir=args.pdf_dir,
                    unpaid=args.unpaid,
                    filter=args.filter,
                    progress=bar,
                    verify=args.verify,
                )
        line = _sync_line(args.store, summary, time.monotonic() - began)
        line += f" ({client_numbers(client.stats)})"
    return _Done(line, [split_failure(*failure) for failure in summary.failures])


def _sync_line(store: Path, summary: SyncSummary, seconds: float) -> str:
    text = (
        f"synced {summary.listed:,} invoices into {store}: {summary.new:,} new, "
        f"{summary.changed:,} changed, {summary.paid:,} paid, {summary.removed:,} removed, "
        f"{summary.unchanged:,} unchanged; fetched {summary.details_fetched:,} details, "
        f"{summary.pdfs_fetched:,} PDFs"
    )
    if summary.failures:
        text += f"; {len(summary.failures):,} FAILED"
    return text + f" in {seconds:.1f}s"


_COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[None, None, _Done]]] = {
    "export": _export,
    "sync": _sync,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    args = build_parser().parse_args(argv)
    try:
        with _log_lines(args):
            done = asyncio.run(_COMMANDS[args.command](args))
    except KeyboardInterrupt:
        print("invoice-async: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (errors.InvoiceAsyncError, OSError) as exc:
        if args.debug:
            traceback.print_exc()
        status = EXIT_USAGE if isinstance(exc, errors.ConfigurationError) else EXIT_FAILURE
        kind = "" if isinstance(exc, errors.StoreLockedError) else f"{type(exc).__name__}: "
        print(f"invoice-async: error: {kind}{exc}", file=sys.stderr)
        return status
    print(done.line)
    for failure in done.failures[:5]:
        print(
            f"invoice-async: failed: {failure['what']} of invoice {failure['invoice_id']}: "
            f"{failure['error']}",
            file=sys.stderr,
        )
    if done.failures:
        count = len(done.failures)
        print(
            f"invoice-async: {count} {'failure' if count == 1 else 'failures'}; {RETRY_HINT}",
            file=sys.stderr,
        )
        return EXIT_PARTIAL
    return EXIT_OK
