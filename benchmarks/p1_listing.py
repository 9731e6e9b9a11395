"""P1 listing: 200,000 invoices at zero latency; typed items/s against the raw loops.

Targets (issue 16): this client's typed items/s is at least 1.2x the raw-dict aiohttp loop's
and at least 3x the openapi-python-client generated client's, medians of 5 rounds.
Run: ``python -m benchmarks.p1_listing [--repeat N] [--profile] [--strict]``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._harness import Scenario, run_scenario
from ._report import Ideal, Outcome, Target

SCENARIO = Scenario(
    key="p1_listing",
    title="listing, zero latency, 200,000 invoices (page cap 100)",
    kind="listing",
    items=200_000,
    latency=0.0,
    repeat=5,
)


def targets(outcome: Outcome) -> list[Target]:
    """Typed items/s >= 1.2x the raw aiohttp loop and >= 3x the generated client."""
    return [
        Target(
            "client items/s ÷ raw-dict aiohttp loop items/s",
            outcome.speed_ratio("client", "aiohttp"),
            ">=",
            1.2,
            "x",
        ),
        Target(
            "client items/s ÷ generated client items/s",
            outcome.speed_ratio("client", "generated"),
            ">=",
            3.0,
            "x",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run P1; returns the exit status (see ``run_scenario``)."""
    ideal = Ideal("ideal", SCENARIO.latency, SCENARIO.windows)
    return run_scenario(SCENARIO, ideals=[ideal], targets=targets, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
