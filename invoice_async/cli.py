"""The ``invoice-async`` command line (also ``python -m invoice_async``).

Parsing is argparse (standard library: no dependency, and its usage errors exit 2); the
progress bar is rich. The token comes from ``I3D_API_TOKEN`` or ``--token-file``, never from a
command-line value, since other users of the machine can read a process's arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import sys
import traceback
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from . import InvoiceClient, _logging, errors
from ._export import ExportOptions, ExportSummary, run_export

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``invoice-async``."""
    parser = argparse.ArgumentParser(
        prog="invoice-async", description="Export i3D.net invoices, details and PDFs."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    export = commands.add_parser(
        "export",
        help="export invoices (and details, PDFs) into a folder",
        description="Export invoices into OUT_DIR: invoices.<fmt>, details.<fmt> with "
        "--details, pdf/ with --pdfs, and manifest.json. The token is read from "
        "I3D_API_TOKEN or --token-file.",
    )
    export.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="folder to write into")
    export.add_argument("--unpaid", action="store_true", help="only unpaid invoices")
    export.add_argument("--filter", metavar="TEXT", help="only descriptions containing TEXT")
    export.add_argument("--details", action="store_true", help="also fetch every detail")
    export.add_argument("--pdfs", action="store_true", help="also download every PDF")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--page-size", type=_positive_int, default=100, metavar="N")
    export.add_argument(
        "--concurrency", type=_positive_int, default=8, metavar="N", help="requests at once"
    )
    export.add_argument("--base-url", default="https://api.i3d.net", metavar="URL")
    export.add_argument(
        "--token-file", type=Path, metavar="PATH", help="read the API token from this file"
    )
    export.add_argument(
        "--resume", action="store_true", help="skip PDFs already complete in OUT_DIR/pdf"
    )
    export.add_argument(
        "--demo", action="store_true", help="export from the embedded fake server (no token)"
    )
    shown = export.add_mutually_exclusive_group()
    shown.add_argument(
        "--progress", dest="progress", action="store_true", default=None, help="always show"
    )
    shown.add_argument("--no-progress", dest="progress", action="store_false")
    export.add_argument(
        "-v", "--verbose", action="store_true", help="show retries and pauses on stderr"
    )
    export.add_argument(
        "--debug", action="store_true", help="also show each request, and tracebacks on failure"
    )
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
        return os.environ.get("I3D_API_TOKEN")
    try:
        return Path(args.token_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise errors.ConfigurationError(
            f"cannot read --token-file {str(args.token_file)!r}: {exc.strerror}"
        ) from None


@contextlib.asynccontextmanager
async def _api(args: argparse.Namespace) -> AsyncIterator[InvoiceClient]:
    """The client to export with: against the real API, or a fake server for --demo.

    ``--concurrency N`` is the most requests at once for the whole export, so it is the
    client's ``max_connections`` (any N works, above 100 too) and its fan-outs' default.
    """
    if not args.demo:
        client = InvoiceClient(
            _read_token(args),
            base_url=args.base_url,
            page_size=args.page_size,
            max_concurrency=args.concurrency,
            max_connections=args.concurrency,
        )
        async with client:
            yield client
        return
    from .testing import FakeI3DServer  # only the demo needs the fake server

    token = secrets.token_urlsafe(24)
    server = FakeI3DServer(token=token, count=DEMO_INVOICES, latency=DEMO_LATENCY)
    async with (
        server as base_url,
        InvoiceClient(
            token,
            base_url=base_url,
            page_size=args.page_size,
            max_concurrency=args.concurrency,
            max_connections=args.concurrency,
        ) as client,
    ):
        yield client


async def _export(args: argparse.Namespace) -> ExportSummary:
    show = sys.stderr.isatty() if args.progress is None else args.progress
    options = ExportOptions(
        out_dir=args.out_dir,
        unpaid=args.unpaid,
        filter=args.filter,
        details=args.details,
        pdfs=args.pdfs,
        format=args.format,
        concurrency=args.concurrency,
        resume=args.resume,
        progress=show,
    )
    async with _api(args) as client:
        return await run_export(client, options)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage error)."""
    args = build_parser().parse_args(argv)
    try:
        with _log_lines(args):
            summary = asyncio.run(_export(args))
    except KeyboardInterrupt:
        print("invoice-async: interrupted", file=sys.stderr)
        return 130
    except (errors.InvoiceAsyncError, OSError) as exc:
        if args.debug:
            traceback.print_exc()
        status = EXIT_USAGE if isinstance(exc, errors.ConfigurationError) else EXIT_FAILURE
        print(f"invoice-async: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return status
    print(summary.line())
    for failure in summary.failures[:5]:
        print(
            f"invoice-async: failed: {failure['what']} of invoice {failure['invoice_id']}: "
            f"{failure['error']}",
            file=sys.stderr,
        )
    return EXIT_FAILURE if summary.failures else EXIT_OK
