"""P3 details: 2,000 ids, 20 ms latency, 32 requests in flight.

Target (issue 16): this client, ``InvoiceClient(..., max_concurrency=32)`` and
``client.invoice_details(ids, concurrency=32)``, is at least as fast as the raw aiohttp
``Semaphore`` + ``gather`` loop in the same run (median of 5 rounds); its wall time over the
ideal, 20 ms x ceil(2000 / 32), is printed beside it.
Run: ``python -m benchmarks.p3_details [--repeat N] [--profile] [--strict]``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

from ._harness import Scenario, run_scenario
from ._report import Ideal, Outcome, Target

SCENARIO = Scenario(
    key="p3_details",
    title="details, 20 ms latency, 2,000 ids, concurrency 32",
    kind="details",
    items=2_000,
    latency=0.02,
    concurrency=32,
    repeat=5,
)

ROUND_TRIPS = math.ceil(SCENARIO.items / SCENARIO.concurrency)


def targets(outcome: Outcome) -> list[Target]:
    """Client speed >= 1.0x the raw aiohttp loop's; its wall over the ideal, for reference."""
    ideal = SCENARIO.latency * ROUND_TRIPS
    wall = outcome.row("client").wall_s
    raw = outcome.row("aiohttp").wall_s
    return [
        Target(
            "client speed ÷ raw aiohttp Semaphore + gather loop",
            outcome.speed_ratio("client", "aiohttp"),
            ">=",
            1.0,
            "x",
            f"client {wall or 0:.3f} s, raw {raw or 0:.3f} s",
        ),
        Target(
            "client wall time ÷ ideal",
            None if wall is None else wall / ideal,
            "info",
            0.0,
            "x",
            f"ideal {SCENARIO.latency * 1000:g} ms x ceil({SCENARIO.items} / "
            f"{SCENARIO.concurrency}) = {ideal:.3f} s; raw loop "
            f"{'n/a' if raw is None else f'{raw / ideal:.3f}x'}",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run P3; returns the exit status (see ``run_scenario``)."""
    ideal = Ideal("ideal", SCENARIO.latency, ROUND_TRIPS)
    return run_scenario(SCENARIO, ideals=[ideal], targets=targets, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
