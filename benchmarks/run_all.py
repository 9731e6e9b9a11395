"""Every scenario in sequence (what ``make bench`` runs), then a summary of the targets.

``python -m benchmarks.run_all [--strict] [--profile]``: the options go to every scenario.
Exit status: the worst of the scenarios' (1: a contender failed or returned a wrong result;
2 with ``--strict``: a target was missed).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence

from . import (
    p1_listing,
    p2_listing_latency,
    p3_details,
    p4_pdfs,
    p5_memory,
    p7_export_memory,
    p8_resync,
)
from ._common import RESULTS_DIR

SCENARIOS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "p1_listing": p1_listing.main,
    "p2_listing_latency": p2_listing_latency.main,
    "p3_details": p3_details.main,
    "p4_pdfs": p4_pdfs.main,
    "p5_memory": p5_memory.main,
    "p7_export_memory": p7_export_memory.main,
    "p8_resync": p8_resync.main,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run each scenario with the same arguments; print every target line at the end."""
    args = list(sys.argv[1:] if argv is None else argv)
    statuses = {}
    for key, scenario_main in SCENARIOS.items():
        statuses[key] = scenario_main(args)
        print(flush=True)
    print("== summary")
    for key, status in statuses.items():
        path = RESULTS_DIR / f"{key}.json"
        if not path.exists():
            print(f"{key}: no results (exit status {status})")
            continue
        for target in json.loads(path.read_text(encoding="utf-8"))["targets"]:
            value = "n/a" if target["value"] is None else f"{target['value']:.3f}"
            if target["op"] == "info":
                print(f"INFO  {key}: {target['label']}: {value}")
                continue
            verdict = "PASS" if target["passed"] else "FAIL"
            op = "≥" if target["op"] == ">=" else "≤"
            print(f"{verdict}  {key}: {target['label']}: {value} {op} {target['bound']:.3f}")
    return max(statuses.values(), default=0)


if __name__ == "__main__":
    sys.exit(main())
