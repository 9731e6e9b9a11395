"""P2 listing: 20,000 invoices with 20 ms latency; read-ahead against sequential loops.

Targets: this client's wall time is at most 1.25 x latency x ceil(windows / depth), and it is
at least 6x faster than the sequential raw-dict aiohttp loop. ``windows`` is 201 (200 full
windows of 100, then the empty one that ends the list); ``depth`` is the client's read-ahead
depth: ``READ_AHEAD`` when ``InvoiceClient`` accepts ``read_ahead=`` (its signature is
inspected), else 1 (one window at a time).
Run: ``python -m benchmarks.p2_listing_latency [--repeat N] [--profile] [--strict]``.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Sequence

import attrs

from ._common import client_read_ahead_supported
from ._harness import Scenario, run_scenario
from ._report import Ideal, Outcome, Target

READ_AHEAD = 8
"""The read-ahead depth asked of the client when it has the option."""

SCENARIO = Scenario(
    key="p2_listing_latency",
    title="listing, 20 ms latency, 20,000 invoices (page cap 100)",
    kind="listing",
    items=20_000,
    latency=0.02,
    repeat=3,
)


def depth_of(scenario: Scenario) -> int:
    """The client's read-ahead depth in this scenario (1 without read-ahead)."""
    return max(scenario.read_ahead, 1)


def targets(scenario: Scenario, outcome: Outcome) -> list[Target]:
    """Wall <= 1.25 x latency x ceil(windows / depth); >= 6x the sequential aiohttp loop."""
    depth = depth_of(scenario)
    round_trips = math.ceil(scenario.windows / depth)
    return [
        Target(
            f"client wall time, read-ahead depth {depth}",
            outcome.row("client").wall_s,
            "<=",
            1.25 * scenario.latency * round_trips,
            " s",
            f"1.25 x {scenario.latency * 1000:g} ms x ceil({scenario.windows} / {depth})",
        ),
        Target(
            "client speed ÷ sequential raw-dict aiohttp loop",
            outcome.speed_ratio("client", "aiohttp"),
            ">=",
            6.0,
            "x",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run P2; returns the exit status (see ``run_scenario``)."""
    supported = client_read_ahead_supported()
    scenario = attrs.evolve(SCENARIO, read_ahead=READ_AHEAD if supported else 0)
    depth = depth_of(scenario)
    ideals = [Ideal("ideal, sequential", scenario.latency, scenario.windows)]
    if depth > 1:
        ideals.append(
            Ideal(f"ideal, depth {depth}", scenario.latency, math.ceil(scenario.windows / depth))
        )
    note = (
        f"InvoiceClient accepts read_ahead: run with read_ahead={READ_AHEAD}"
        if supported
        else "InvoiceClient has no read_ahead option yet: depth 1 (one window at a time)"
    )
    return run_scenario(
        scenario,
        ideals=ideals,
        targets=functools.partial(targets, scenario),
        notes=[note],
        argv=argv,
    )


if __name__ == "__main__":
    sys.exit(main())
