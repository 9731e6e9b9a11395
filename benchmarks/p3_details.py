"""P3 details: 2,000 ids, 20 ms latency, 32 requests in flight.

Target: this client's wall time is at most 1.15 x latency x ceil(2000 / 32), with
``InvoiceClient(..., max_concurrency=32)`` and ``client.invoice_details(ids, concurrency=32)``.
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
    repeat=3,
)

ROUND_TRIPS = math.ceil(SCENARIO.items / SCENARIO.concurrency)


def targets(outcome: Outcome) -> list[Target]:
    """Wall <= 1.15 x latency x ceil(items / concurrency)."""
    return [
        Target(
            "client wall time",
            outcome.row("client").wall_s,
            "<=",
            1.15 * SCENARIO.latency * ROUND_TRIPS,
            " s",
            f"1.15 x {SCENARIO.latency * 1000:g} ms x ceil({SCENARIO.items} / "
            f"{SCENARIO.concurrency})",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run P3; returns the exit status (see ``run_scenario``)."""
    ideal = Ideal("ideal", SCENARIO.latency, ROUND_TRIPS)
    return run_scenario(SCENARIO, ideals=[ideal], targets=targets, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
