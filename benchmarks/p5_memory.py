"""P5 memory: peak RSS growth while iterating 200,000 invoices and keeping none of them.

Target (issue 16): this client's peak RSS growth (``VmHWM`` after the run minus the RSS just
before it, in its own fresh process; the largest of 5 rounds) is at most 10 MB. The other
contenders run too, for reference.
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
    repeat=5,
)


def targets(outcome: Outcome) -> list[Target]:
    """Peak RSS growth <= 10 MB; the raw loop's growth beside it."""
    growth, raw = outcome.row("client").rss_growth_mb, outcome.row("aiohttp").rss_growth_mb
    return [
        Target(
            "client peak RSS growth",
            growth,
            "<=",
            10.0,
            " MB",
            f"{'n/a' if growth is None else f'{growth / 10.0:.2f}x'} the bound; raw aiohttp "
            f"loop: {'n/a' if raw is None else f'{raw:.1f} MB'}",
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run P5; returns the exit status (see ``run_scenario``)."""
    ideal = Ideal("ideal", SCENARIO.latency, SCENARIO.windows)
    return run_scenario(SCENARIO, ideals=[ideal], targets=targets, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
