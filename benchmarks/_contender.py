"""One contender, one run, in a fresh process: prints one JSON line with what it measured.

``python -m benchmarks._contender KIND NAME --base-url URL --count N [--concurrency C]
[--read-ahead D] [--directory DIR]``, with the token in the ``I3D_API_TOKEN`` environment
variable (never on the command line). ``KIND`` is ``listing``, ``details`` or ``pdfs``;
``NAME`` is ``client``, ``aiohttp``, ``httpx`` or ``generated`` (for PDFs also the variants of
``_common.PDF_CONTENDERS``).

Everything is imported before the clock starts. Measured: the wall time of the work (session
set-up included), the process's CPU time over the same span, the RSS just before it and the
peak RSS (``VmHWM``, reset to the current RSS just before the work; see
``benchmarks._common.peak_rss_kib``) just after it, in KiB, and the tally received. To
profile a contender, run this module under pyinstrument:
``pyinstrument -m benchmarks._contender listing client --base-url ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from typing import Any, cast

import attrs

from . import _generate
from ._common import (
    CONTENDERS,
    PDF_CONTENDERS,
    Tally,
    current_rss_kib,
    peak_rss_kib,
    reset_peak_rss,
    ru_maxrss_kib,
)
from ._workloads import WORKLOADS, Job, Kind, Workload


async def _timed(work: Workload, job: Job, tally: Tally) -> float:
    began = time.perf_counter()
    await work(job, tally)
    return time.perf_counter() - began


def measure(name: str, job: Job) -> dict[str, Any]:
    """Run contender ``name`` on ``job`` once; return the measurements and the tally."""
    work = WORKLOADS[name, job.kind]
    if name == "generated":
        _generate.load()  # import before the clock starts
    tally = Tally()
    gc.collect()
    peak_reset = reset_peak_rss()
    rss_start = current_rss_kib()
    peak_before = peak_rss_kib()
    cpu_before = time.process_time()
    wall = asyncio.run(_timed(work, job, tally))
    cpu = time.process_time() - cpu_before
    peak_after = peak_rss_kib()
    return {
        "contender": name,
        "kind": job.kind,
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_start_kib": rss_start,
        "peak_rss_before_kib": peak_before,
        "peak_rss_kib": peak_after,
        "peak_rss_reset": peak_reset,
        "ru_maxrss_kib": ru_maxrss_kib(),
        "tally": attrs.asdict(tally),
    }


def main() -> None:
    """Parse the arguments, run the contender, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("listing", "details", "pdfs"))
    parser.add_argument("name", choices=sorted({*CONTENDERS, *PDF_CONTENDERS}))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--read-ahead", type=int, default=0)
    parser.add_argument("--directory", default="")
    args = parser.parse_args()
    token = os.environ.get("I3D_API_TOKEN")
    if not token:
        parser.error("set I3D_API_TOKEN to the fake server's token")
    job = Job(
        kind=cast(Kind, args.kind),
        base_url=args.base_url,
        token=token,
        count=args.count,
        concurrency=args.concurrency,
        read_ahead=args.read_ahead,
        directory=args.directory,
    )
    sys.stdout.write(json.dumps(measure(args.name, job)) + "\n")


if __name__ == "__main__":
    main()
