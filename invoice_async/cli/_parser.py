"""The command line's parser: every command, its options, and the global options.

argparse (standard library): no dependency, usage errors exit 2, and it prints the help we
write. A global option may come before or after the command: each is added to the main
parser and to every command it applies to, with ``SUPPRESS`` defaults, so that a value given
on either side survives (after the command wins) and ``parse`` can tell what was given.
Given before a command it does not apply to, it is a usage error; the defaults are filled
in afterwards.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, Final

import attrs

from .. import __version__
from .._args import DEFAULT_MAX_CONCURRENCY, DEFAULT_PAGE_SIZE
from .._protocol import DEFAULT_BASE_URL, TOKEN_ENV_VAR
from ._values import (
    _date,
    _non_negative_int,
    _non_negative_number,
    _port,
    _positive_int,
    _positive_number,
)

BASE_URL_ENV: Final = "I3D_BASE_URL"
"""The base URL when ``--base-url`` is not given (read by the CLI only, never the library)."""

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_CODES: Final = """\
exit status:
  0    ok
  1    failure: the API, the network, the store, or another run holding its lock
  2    usage: a bad option or argument, or a setting the client refuses
  3    partial: some invoices failed; they are named on stderr and the rest is written;
       running the same command again retries them
  130  interrupted (Ctrl-C); fake-server ends that way, so it exits 0
"""
API_COMMANDS: Final = frozenset({"list", "show", "pdf", "summary", "export", "sync"})
COMMANDS: Final = API_COMMANDS | {"fake-server"}


@attrs.frozen
class Global:
    """A global option: its flags, help, default, the commands it applies to, and the rest of
    argparse's keywords."""

    flags: tuple[str, ...]
    help: str
    default: object = None
    commands: Collection[str] = COMMANDS
    options: dict[str, Any] = attrs.Factory(dict)

    @property
    def dest(self) -> str:
        return self.flags[-1].lstrip("-").replace("-", "_")


def _flag(*flags: str, help: str, commands: Collection[str] = COMMANDS) -> Global:
    return Global(flags, help, False, commands, {"action": "store_true"})


def _value(
    flag: str, metavar: str, kind: Callable[[str], object], default: object, help: str,
    commands: Collection[str] = API_COMMANDS,
) -> Global:  # fmt: skip
    return Global((flag,), help, default, commands, {"type": kind, "metavar": metavar})


_TOKEN_HELP: Final = (
    f"read the API token from this file (default: ${TOKEN_ENV_VAR}; never on the command "
    "line, which other users of the machine can read)"
)
GLOBALS: Final = (
    _flag("-v", "--verbose", help="log each retry and pause of the client on stderr"),
    _flag("--debug", help="log each request too, and print the traceback of a failure"),
    _flag("-q", "--quiet", help="no progress bar and no summary line (what a command is "
          "asked to print, and errors, still print)"),
    _value("--base-url", "URL", str, None, "the API's base URL (default: "
           f"${BASE_URL_ENV}, else {DEFAULT_BASE_URL})"),
    _value("--token-file", "PATH", Path, None, _TOKEN_HELP),
    _flag("--demo", commands=API_COMMANDS, help="read an embedded fake server of 1,000 "
          "invoices instead of the API (no token, no network, no proxy)"),
    _value("--ca-bundle", "PATH", Path, None, "verify the API's certificate with the CAs of "
           "this PEM file (a corporate CA) instead of the system's"),
    _value("--timeout", "SECONDS", _positive_number, 30.0, "the most one request may take, "
           "its body included (default 30)"),
    _value("--max-retries", "N", _non_negative_int, 3, "how often a request that failed with "
           "no answer, 408, 429 or 5xx is tried again (default 3)"),
    _value("--max-per-second", "N", _positive_number, None, "never start more than N "
           "requests a second (the client also learns the API's limit from its 429s)"),
    _value("--deadline", "SECONDS", _positive_number, None, "no request starts, and no "
           "retry waits, later than this after the first request"),
    _value("--concurrency", "N", _positive_int, DEFAULT_MAX_CONCURRENCY, "the most requests "
           f"in flight at once (default {DEFAULT_MAX_CONCURRENCY})", {"pdf", "export", "sync"}),
    _value("--page-size", "N", _positive_int, DEFAULT_PAGE_SIZE, "invoices asked per list "
           f"request (default {DEFAULT_PAGE_SIZE})", {"list", "summary", "export", "sync"}),
)  # fmt: skip


def _add_globals(parser: argparse.ArgumentParser, command: str | None) -> None:
    """The global options that apply to ``command`` (None: the main parser, all of them)."""
    group = parser.add_argument_group(
        "global options" if command is None else "global options (also before the command)"
    )
    api = group
    if command is None:
        api = parser.add_argument_group("options of the commands that read the API")
    group.add_argument(
        "--version", action="version", version=f"invoice-async {__version__}",
        help="print the version and exit",
    )  # fmt: skip
    for spec in GLOBALS:
        if command is not None and command not in spec.commands:
            continue
        text = spec.help
        if command is None and spec.commands not in (COMMANDS, API_COMMANDS):
            text += f" [{', '.join(sorted(spec.commands))}]"
        (group if spec.commands == COMMANDS else api).add_argument(
            *spec.flags, dest=spec.dest, default=argparse.SUPPRESS, help=text, **spec.options
        )


def _scope_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--unpaid",
        action="store_true",
        help="only the unpaid invoices (the API leaves credit invoices out of them)",
    )
    command.add_argument(
        "--filter", metavar="TEXT", help="only invoices whose description contains TEXT"
    )


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
    shown = command.add_mutually_exclusive_group()
    shown.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show the progress bar on stderr even when it is not a terminal",
    )
    shown.add_argument("--no-progress", dest="progress", action="store_false", help="never show it")


def _output(command: argparse.ArgumentParser, choices: Sequence[str], piped: str) -> None:
    command.add_argument(
        "--output",
        choices=choices,
        default=None,
        help=f"how to print: a table for people "
        f"(the default on a terminal) or {piped} for programs (the default when piped); "
        "tables show money as decimals with the currency sign, the others in integer cents",
    )


def _list(command: argparse.ArgumentParser) -> None:
    _scope_options(command)
    command.add_argument("--limit", type=_positive_int, metavar="N", help="stop after N invoices")
    _output(command, ("table", "json", "jsonl", "csv"), "JSON lines")


def _show(command: argparse.ArgumentParser) -> None:
    command.add_argument("ref", metavar="REF", help="an invoice id (all digits) or number")
    command.add_argument(
        "--number", action="store_true", help="REF is an invoice number even if all digits"
    )
    _output(command, ("table", "json"), "one JSON document")


def _pdf(command: argparse.ArgumentParser) -> None:
    command.add_argument("ids", metavar="ID", nargs="+", type=_positive_int, help="invoice ids")
    command.add_argument(
        "-o",
        "--out",
        metavar="PATH",
        help="a folder (one that exists, a path ending in /, or "
        "any path with more than one ID); with one ID, a file, or - for stdout. "
        "Default: the current folder",
    )


def _summary(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--as-of",
        type=_date,
        metavar="YYYY-MM-DD",
        help="age the invoices as of this day (default: today, UTC)",
    )
    _output(command, ("table", "json"), "one JSON document")


def _export(command: argparse.ArgumentParser) -> None:
    command.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="folder to write into")
    _scope_options(command)
    command.add_argument("--details", action="store_true", help="also fetch every detail")
    command.add_argument("--pdfs", action="store_true", help="also download every PDF")
    command.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        default="jsonl",
        help="the tables' format (default jsonl)",
    )
    command.add_argument(
        "--store", type=Path, metavar="PATH", help="the store (OUT_DIR/.invoice-async.sqlite)"
    )
    _run_options(command, "the store and the files it wrote")


def _sync(command: argparse.ArgumentParser) -> None:
    command.add_argument("store", metavar="STORE", type=Path, help="the SQLite file")
    command.add_argument(
        "--pdf-dir", type=Path, metavar="DIR", help="keep the PDFs in DIR (remembered)"
    )
    command.add_argument(
        "--no-details", dest="details", action="store_false", help="fetch no details"
    )
    _scope_options(command)
    _run_options(command, "the store")


def _fake_server(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--port",
        type=_port,
        default=0,
        metavar="N",
        help="the port on 127.0.0.1 (default 0: a free one)",
    )
    command.add_argument(
        "--count",
        type=_non_negative_int,
        default=1000,
        metavar="N",
        help="how many invoices it holds (default 1000)",
    )
    command.add_argument(
        "--latency-ms",
        type=_non_negative_number,
        default=0.0,
        metavar="N",
        help="milliseconds it waits before each answer (default 0)",
    )


_TOKEN_NOTE: Final = f" The token is read from ${TOKEN_ENV_VAR} or --token-file."
Adder = Callable[[argparse.ArgumentParser], None]
_COMMAND_TABLE: Final[tuple[tuple[str, Adder, str, str], ...]] = (
    (
        "list",
        _list,
        "list invoices",
        "List the invoices, newest first: a table with totals per currency on a terminal, JSON "
        "lines when piped." + _TOKEN_NOTE,
    ),
    (
        "show",
        _show,
        "show one invoice's detail",
        "Show the detail of one invoice, by id (REF all digits) or number." + _TOKEN_NOTE,
    ),
    (
        "pdf",
        _pdf,
        "download invoice PDFs",
        "Download the PDF of each ID, each file whole or not at all." + _TOKEN_NOTE,
    ),
    (
        "summary",
        _summary,
        "what is outstanding, and how long past due",
        "The outstanding amount per currency (the remaining amounts of the unpaid invoices; the "
        "API leaves credit invoices out of them), and its aging by whole UTC days past the due "
        "date: not yet due, 1-30, 31-60, 61-90, over 90." + _TOKEN_NOTE,
    ),
    (
        "export",
        _export,
        "export invoices (and details, PDFs) into a folder",
        "Export invoices into OUT_DIR: invoices.<fmt>, details.<fmt> with --details, pdf/ with "
        "--pdfs, and manifest.json. Runs on a store (OUT_DIR/.invoice-async.sqlite), so each run "
        "fetches only what is new, changed or missing." + _TOKEN_NOTE,
    ),
    (
        "sync",
        _sync,
        "bring a SQLite store of the invoices up to date",
        "List every invoice into STORE (a SQLite file), then fetch the details and PDFs that are "
        "new, changed or missing." + _TOKEN_NOTE,
    ),
    (
        "fake-server",
        _fake_server,
        "run a fake i3D.net API to try the commands on",
        "Serve the embedded fake API on 127.0.0.1 until Ctrl-C, and print its URL and token: "
        "every command can then be tried, and your own tools tested, without an account.",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``invoice-async``."""
    return _build()[0]


def _build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser, and the parser of each command."""
    parser = argparse.ArgumentParser(
        prog="invoice-async",
        description=textwrap.fill(
            "Read, summarise and export your i3D.net invoices. Global options may come "
            "before or after the command; 'invoice-async COMMAND --help' tells its own.",
            88,
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    _add_globals(parser, None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    each = {}
    for name, add_options, summary, description in _COMMAND_TABLE:
        command = each[name] = commands.add_parser(
            name,
            help=summary,
            description=textwrap.fill(description, 88),
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,
        )
        add_options(command)
        _add_globals(command, name)
    return parser, each


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments, every global option filled in; a usage error exits 2 (SystemExit)."""
    parser, commands = _build()
    args = parser.parse_args(argv)
    command = commands[args.command]
    for spec in GLOBALS:
        if not hasattr(args, spec.dest):
            setattr(args, spec.dest, spec.default)
        elif args.command not in spec.commands:
            command.error(f"{spec.flags[-1]} does not apply to {args.command}")
    if args.demo and args.base_url is not None:
        command.error("--demo reads the embedded fake server: it takes no --base-url")
    return args
