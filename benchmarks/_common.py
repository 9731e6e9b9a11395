"""What the orchestrating scripts and the contender processes share: paths, checksums, RSS.

Nothing here starts a server or a process; it is imported on both sides of the pipe.
"""

from __future__ import annotations

import inspect
import resource
from pathlib import Path
from typing import Any, Final

import attrs

BENCH_DIR: Final = Path(__file__).resolve().parent
"""The ``benchmarks`` package folder."""

PROJECT_DIR: Final = BENCH_DIR.parent
"""The project root (the working directory of every subprocess)."""

RESULTS_DIR: Final = BENCH_DIR / "results"
"""Where each scenario writes ``<scenario>.json``."""

GENERATED_DIR: Final = BENCH_DIR / "_generated"
"""Where the openapi-python-client contender is generated at benchmark time (git-ignored)."""

GENERATED_PACKAGE: Final = "billing_client"
"""The import name of the generated client."""

OPENAPI_DIR: Final = BENCH_DIR / "openapi"
"""The generator's settings (``config.yaml``)."""

OPENAPI_DOCUMENT: Final = PROJECT_DIR / "invoice_async" / "testing" / "openapi.yaml"
"""The OpenAPI document of the billing endpoints (shipped with the fake server)."""

PAGE_SIZE: Final = 100
"""Items asked per RANGED-DATA window by every contender (the fake server's cap)."""

CONTENDERS: Final = ("client", "aiohttp", "httpx", "generated")
"""Contender names of every scenario, in the order they are listed."""

PDF_CONTENDERS: Final = (
    "client",
    "client-sync-loop",
    "client-sync-batch",
    "aiohttp",
    "aiohttp-fdatasync",
    "httpx",
    "generated",
)
"""P4's contenders: the client, the client with the other ways of syncing its files (the
choices measured), the raw loop without and with an fdatasync per file, httpx, generated."""

DESCRIPTIONS: Final = {
    "client": "invoice_async.InvoiceClient (typed attrs models)",
    "aiohttp": "hand-written aiohttp loop (raw dicts)",
    "httpx": "hand-written httpx.AsyncClient loop (raw dicts)",
    "generated": "openapi-python-client generated client (typed attrs models)",
    "client-sync-loop": "InvoiceClient, each PDF's fdatasync run in the event loop",
    "client-sync-batch": "InvoiceClient, one syncfs per batch of PDFs waiting in the folder",
    "aiohttp-fdatasync": "hand-written aiohttp loop, fdatasync per file before it is closed",
}
"""One line per contender, for the tables."""


@attrs.define
class Tally:
    """Checksums of what a contender received, so the orchestrator can verify it.

    Ids are summed (and their squares, which catches a skipped id repaid by a duplicate)
    rather than kept, so that keeping the tally costs no memory per item.
    """

    count: int = 0
    id_sum: int = 0
    id_square_sum: int = 0
    bytes: int = 0
    files: dict[int, str] = attrs.field(factory=dict)

    def add(self, invoice_id: int) -> None:
        """Count one item with this id."""
        self.count += 1
        self.id_sum += invoice_id
        self.id_square_sum += invoice_id * invoice_id

    def add_file(self, invoice_id: int, path: str, size: int) -> None:
        """Count one PDF written to ``path`` with ``size`` bytes."""
        self.add(invoice_id)
        self.bytes += size
        self.files[invoice_id] = path


def expected_tally(count: int) -> tuple[int, int, int]:
    """``(count, id_sum, id_square_sum)`` for the ids ``1..count``, each seen once."""
    return count, count * (count + 1) // 2, count * (count + 1) * (2 * count + 1) // 6


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def current_rss_kib() -> int:
    """The resident set size of this process now, in KiB (``VmRSS``)."""
    return _status_kib("VmRSS")


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux >= 4.0); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def peak_rss_kib() -> int:
    """The peak resident set size of this process's memory, in KiB (``VmHWM``).

    This is the counter ``getrusage(RUSAGE_SELF).ru_maxrss`` reads, less one thing: after
    ``exec`` ``ru_maxrss`` also keeps the peak of the process image it replaced, which for a
    child of the orchestrator is the orchestrator's own RSS (measured: ~50 MB, more than the
    contender's). ``VmHWM`` belongs to the new image only, and :func:`reset_peak_rss` can
    bring it down to the current RSS before the work starts.
    """
    return _status_kib("VmHWM")


def ru_maxrss_kib() -> int:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in KiB (Linux), kept in the JSON for reference."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def client_read_ahead_supported() -> bool:
    """Whether ``InvoiceClient`` accepts a ``read_ahead`` keyword (inspected, not assumed)."""
    from invoice_async import InvoiceClient

    return "read_ahead" in inspect.signature(InvoiceClient).parameters


def client_options(*, concurrency: int, read_ahead: int) -> dict[str, Any]:
    """Keyword arguments for ``InvoiceClient`` in a benchmark (``read_ahead`` only if > 0)."""
    options: dict[str, Any] = {"page_size": PAGE_SIZE, "max_concurrency": concurrency}
    if read_ahead > 0:
        options["read_ahead"] = read_ahead
        options["max_concurrency"] = max(concurrency, read_ahead)
    return options
