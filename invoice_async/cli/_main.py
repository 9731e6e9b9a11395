"""The ``invoice-async`` command line (also ``python -m invoice_async``): runs one command and
turns what became of it into an exit status.

The token comes from ``I3D_API_TOKEN`` or ``--token-file``, never from a command-line value,
since other users of the machine can read a process's arguments.

Exit status: 0 done; 1 failure (the API, the network, the store, another writer holding the
lock); 2 usage; 3 some invoices failed (they are named, the others are all there: run the
same command again to retry them); 130 interrupted, except ``fake-server``, which Ctrl-C is
how one stops, so 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Final, TextIO

from .. import _logging, errors
from ._fake import fake_server_command
from ._output import Done
from ._parser import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    build_parser,
    parse,
)
from ._reading import list_command, pdf_command, show_command
from ._store_commands import export_command, sync_command
from ._summary import summary_command

__all__ = ["build_parser", "main"]

RETRY_HINT: Final = "run the same command again to retry them"
SHOWN_FAILURES: Final = 5

_COMMANDS: Final[dict[str, Callable[[argparse.Namespace], Coroutine[None, None, Done]]]] = {
    "list": list_command,
    "show": show_command,
    "pdf": pdf_command,
    "summary": summary_command,
    "export": export_command,
    "sync": sync_command,
    "fake-server": fake_server_command,
}


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    args = parse(argv)
    try:
        with _log_lines(args):
            done = asyncio.run(_COMMANDS[args.command](args))
    except KeyboardInterrupt:
        if args.command == "fake-server":
            print("invoice-async: fake server stopped", file=sys.stderr)
            return EXIT_OK
        print("invoice-async: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): what it read was whole
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (errors.InvoiceAsyncError, OSError) as exc:
        return _failed(args, exc)
    return _finish(args, done)


def _failed(args: argparse.Namespace, exc: BaseException) -> int:
    if args.debug:
        traceback.print_exc()
    status = EXIT_USAGE if isinstance(exc, errors.ConfigurationError) else EXIT_FAILURE
    kind = "" if isinstance(exc, errors.StoreLockedError) else f"{type(exc).__name__}: "
    print(f"invoice-async: error: {kind}{exc}", file=sys.stderr)
    return status


def _finish(args: argparse.Namespace, done: Done) -> int:
    if done.line is not None and not args.quiet:
        print(done.line)
    for failure in done.failures[:SHOWN_FAILURES]:
        print(
            f"invoice-async: failed: {failure['what']} of invoice {failure['invoice_id']}: "
            f"{failure['error']}",
            file=sys.stderr,
        )
    if done.failures:
        count = len(done.failures)
        more = f" ({count - SHOWN_FAILURES} not shown)" if count > SHOWN_FAILURES else ""
        print(
            f"invoice-async: {count} {'failure' if count == 1 else 'failures'}{more}; {RETRY_HINT}",
            file=sys.stderr,
        )
    if done.status is not None:
        return done.status
    return EXIT_PARTIAL if done.failures else EXIT_OK
