"""P4 PDFs: 300 PDFs of 2 MiB, 8 requests in flight, streamed to files.

Targets: this client's peak RSS growth is at most 30 MB; its throughput, each PDF durable
(fdatasync) before its rename, is at least 0.9x the raw aiohttp loop's (which streams 64 KiB
chunks to files too, without the client's checks, temp file, sync and rename) and at least
1.0x the same raw loop with an fdatasync per file (issue 16), medians of 5 rounds. The client's
other ways of syncing (in the event loop; one syncfs per batch) run as contenders of their own,
for the record. The server answers at once, so the figures measure the clients' per-byte
costs, not waiting. Every byte of every file is compared with what the server sent, after the
run.
Run: ``python -m benchmarks.p4_pdfs [--repeat N] [--profile] [--strict]``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

from ._common import PDF_CONTENDERS
from ._harness import Scenario, run_scenario
from ._report import Ideal, Outcome, Target

PDF_SIZE = 2 * 1024 * 1024

SCENARIO = Scenario(
    key="p4_pdfs",
    title="PDFs, zero latency, 300 x 2 MiB, concurrency 8, streamed to disk",
    kind="pdfs",
    items=300,
    latency=0.0,
    concurrency=8,
    pdf_size=PDF_SIZE,
    repeat=5,
    contenders=PDF_CONTENDERS,
)


def _mb_per_s(outcome: Outcome, name: str) -> str:
    wall = outcome.row(name).wall_s
    if wall is None:
        return f"{name}: n/a"
    return f"{name}: {SCENARIO.items * PDF_SIZE / wall / 2**20:,.0f} MB/s"


def targets(outcome: Outcome) -> list[Target]:
    """Peak RSS growth <= 30 MB; throughput >= 0.9x the raw loop, >= 1.0x it with fdatasync."""
    return [
        Target("client peak RSS growth", outcome.row("client").rss_growth_mb, "<=", 30.0, " MB"),
        Target(
            "client throughput ÷ raw aiohttp streaming",
            outcome.speed_ratio("client", "aiohttp"),
            ">=",
            0.9,
            "x",
            f"{_mb_per_s(outcome, 'client')}, {_mb_per_s(outcome, 'aiohttp')}",
        ),
        Target(
            "client throughput ÷ raw aiohttp streaming with an fdatasync per file",
            outcome.speed_ratio("client", "aiohttp-fdatasync"),
            ">=",
            1.0,
            "x",
            f"{_mb_per_s(outcome, 'client')}, {_mb_per_s(outcome, 'aiohttp-fdatasync')}",
        ),
        *(
            Target(
                f"{name} throughput ÷ client's (sync in a thread)",
                outcome.speed_ratio(name, "client"),
                "info",
                0.0,
                "x",
                _mb_per_s(outcome, name),
            )
            for name in ("client-sync-loop", "client-sync-batch")
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run P4; returns the exit status (see ``run_scenario``)."""
    ideal = Ideal("ideal", SCENARIO.latency, math.ceil(SCENARIO.items / SCENARIO.concurrency))
    return run_scenario(SCENARIO, ideals=[ideal], targets=targets, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
