"""P5 memory: peak RSS growth while iterating 200,000 invoices and keeping none of them.

Target: this client's peak RSS growth (``ru_maxrss`` after the run minus the RSS just before
it, in its own fresh process) is at most 40 MB. The other contenders run too, for reference.
Run: ``python -m benchmarks.p5_memory [--repeat N] [--profile] [--strict]``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._harness import Scenario, run_scenario
from ._report import Ideal, Outcome, Target

SCENARIO = Scenario(
    key="p5_memory",
    title="memory, zero latency, 200,000 invoices iterated, none kept",
    kind="listing",
    items=200_000,
    latency=0.0,
    repeat=1,
)


def targets(outcome: Outcome) -> list[Target]:
    """Peak RSS growth <= 40 MB."""
    return [
        Target("client peak RSS growth", outcome.row("client").rss_growth_mb, "<=", 40.0, " MB")
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run P5; returns the exit status (see ``run_scenario``)."""
    ideal = Ideal("ideal", SCENARIO.latency, SCENARIO.windows)
    return run_scenario(SCENARIO, ideals=[ideal], targets=targets, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
