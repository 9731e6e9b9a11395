"""P6 rate limits: the adaptive pacer against limits nobody told the client about.

The fake server runs in its own process with a rate limit: over it, it answers 429 with
``Retry-After: 1``. Latency is 20 ms and the client runs at its defaults (8 at once), once with
the pacer learning (``adaptive=True``, the default) and once without (``adaptive=False``, the
baseline, which only honours each Retry-After). Each is run three times; the median is shown.

Targets (issue 11): "429 share" is 429 answers over all requests sent, retries included.

- token bucket 100/s, burst 10, 600 details: ≤ 1.75 x the ideal 6 s, ≤ 5 % 429s, and no
  request inside a Retry-After;
- token bucket 20/s, burst 5, 160 details: ≤ 1.5 x the ideal 8 s, ≤ 8 % 429s;
- fixed window of 100 per 1 s with RateLimit-* headers, 600 details: ≤ 1.15 x 6 s, ≤ 1 % 429s;
- no limit, 800 details: ≤ 1.15 x ceil(800 / 8) x 20 ms;

and the first and the last rows again with ``download_pdfs`` (20 KB PDFs).
Run: ``python -m benchmarks.p6_rate_limits [--repeat N] [--only KEY]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from invoice_async import InvoiceClient

from ._common import RESULTS_DIR
from ._processes import ServerProcess

LATENCY = 0.02
CONCURRENCY = 8  # the client's default max_concurrency


@attrs.frozen
class Row:
    """One limit and one job, with its targets."""

    key: str
    title: str
    kind: str  # "details" or "pdfs"
    items: int
    server: tuple[str, ...]  # rate-limit options of benchmarks._server
    ideal_s: float
    most_ratio: float
    most_429_share: float | None


ROWS = (
    Row("bucket100", "token bucket 100/s, burst 10", "details", 600,
        ("--rate=100", "--burst=10"), 6.0, 1.75, 0.05),
    Row("bucket20", "token bucket 20/s, burst 5", "details", 160,
        ("--rate=20", "--burst=5"), 8.0, 1.5, 0.08),
    Row("window100", "fixed window 100 per 1 s, RateLimit-* headers", "details", 600,
        ("--rate=100", "--window=1", "--rate-headers"), 6.0, 1.15, 0.01),
    Row("unlimited", "no limit", "details", 800, (),
        math.ceil(800 / CONCURRENCY) * LATENCY, 1.15, None),
    Row("bucket100-pdfs", "token bucket 100/s, burst 10 (PDFs of 20 KB)", "pdfs", 600,
        ("--rate=100", "--burst=10"), 6.0, 1.75, 0.05),
    Row("unlimited-pdfs", "no limit (PDFs of 20 KB)", "pdfs", 800, (),
        math.ceil(800 / CONCURRENCY) * LATENCY, 1.15, None),
)  # fmt: skip


async def _job(row: Row, base_url: str, token: str, *, adaptive: bool) -> dict[str, Any]:
    ids = range(1, row.items + 1)
    async with InvoiceClient(token, base_url=base_url, adaptive=adaptive) as client:
        began = time.perf_counter()
        # Per-item outcomes: an item whose retries all met a 429 fails, and is counted.
        if row.kind == "details":
            failed = sum([not o.ok async for o in client.invoice_details(ids, on_error="yield")])
        else:
            with tempfile.TemporaryDirectory() as folder:
                outcomes = client.download_pdfs(ids, Path(folder), on_error="yield")
                failed = sum([not o.ok async for o in outcomes])
        wall = time.perf_counter() - began
        stats = client.stats
    return {
        "wall_s": wall,
        "failed": failed,
        "requests": stats.requests,
        "rate_limited": stats.rate_limited,
        "paused_s": stats.paused_seconds,
        "rate": stats.rate,
    }


def _run(row: Row, *, adaptive: bool) -> dict[str, Any]:
    with ServerProcess(
        count=row.items, latency=LATENCY, page_cap=100, pdf_size=20_000, extra=row.server
    ) as server:
        result = asyncio.run(_job(row, server.base_url, server.token, adaptive=adaptive))
        seen = server.command("stats")
    result["server_429s"] = seen["rate_limited"]
    result["inside_retry_after"] = seen["ignored_retry_after"]
    return result


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    middle = sorted(runs, key=lambda run: run["wall_s"])[len(runs) // 2]
    share = statistics.median(run["rate_limited"] / run["requests"] for run in runs)
    return {**middle, "share_429": share, "runs": runs}


def _target(label: str, value: float, bound: float) -> dict[str, Any]:
    return {"label": label, "value": value, "op": "<=", "bound": bound, "passed": value <= bound}


def _targets(row: Row, learned: dict[str, Any]) -> list[dict[str, Any]]:
    runs = learned["runs"]
    ratio = learned["wall_s"] / row.ideal_s
    targets = [
        _target(f"{row.key}: wall time / ideal {row.ideal_s:g} s", ratio, row.most_ratio),
        _target(f"{row.key}: items failed", max(run["failed"] for run in runs), 0),
    ]
    if row.most_429_share is not None:
        inside = max(run["inside_retry_after"] for run in runs)
        targets.append(_target(f"{row.key}: 429 share", learned["share_429"], row.most_429_share))
        targets.append(_target(f"{row.key}: requests inside a Retry-After", inside, 0))
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    """Run every row (or ``--only``); print the table; write results/p6_rate_limits.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", action="append", help="row keys to run")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    parser.add_argument("--profile", action="store_true", help="accepted, not used here")
    args = parser.parse_args(argv)
    rows = [row for row in ROWS if not args.only or row.key in args.only]
    print(f"== P6 rate limits: 20 ms latency, {CONCURRENCY} at once, median of {args.repeat}")
    print(f"{'limit':<48} {'mode':<9} {'wall s':>7} {'/ideal':>7} {'429s':>6} "
          f"{'inside':>6} {'failed':>6} {'rate/s':>7}")  # fmt: skip
    results, targets = [], []
    for row in rows:
        measured = {}
        for adaptive in (True, False):
            runs = [_run(row, adaptive=adaptive) for _ in range(args.repeat)]
            median = measured["adaptive" if adaptive else "fixed"] = _median(runs)
            rate = "-" if median["rate"] is None else f"{median['rate']:.1f}"
            inside = max(run["inside_retry_after"] for run in runs)
            print(f"{row.title:<48} {'adaptive' if adaptive else 'fixed':<9} "
                  f"{median['wall_s']:7.2f} {median['wall_s'] / row.ideal_s:7.2f} "
                  f"{median['share_429']:6.1%} {inside:6d} {median['failed']:6d} {rate:>7}",
                  flush=True)  # fmt: skip
        speedup = measured["fixed"]["wall_s"] / measured["adaptive"]["wall_s"]
        print(f"{'':<48} adaptive is {speedup:.2f}x the fixed pacing's speed")
        targets += _targets(row, measured["adaptive"])
        results.append({"row": attrs.asdict(row), **measured, "speedup": speedup})
    for target in targets:
        verdict = "PASS" if target["passed"] else "FAIL"
        print(f"{verdict}  {target['label']}: {target['value']:.3f} <= {target['bound']:.3f}")
    RESULTS_DIR.mkdir(exist_ok=True)
    when = datetime.now(UTC).isoformat()
    document = {"scenario": "p6_rate_limits", "when": when, "rows": results, "targets": targets}
    (RESULTS_DIR / "p6_rate_limits.json").write_text(
        json.dumps(document, indent=1) + "\n", encoding="utf-8"
    )
    missed = any(not target["passed"] for target in targets)
    return 2 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
