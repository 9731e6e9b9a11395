"""One measured run in a fresh process: a CLI command, or a bare listing; prints one JSON line.

``python -m benchmarks._cli_run cli ARGS...`` runs ``invoice_async.cli.main(ARGS)`` (what
``invoice-async ARGS...`` runs); ``python -m benchmarks._cli_run list --base-url URL
[--concurrency N]`` iterates ``client.invoices()`` keeping nothing, with the client the CLI
makes (page size 100, ``max_connections`` N, so the same read-ahead): what the listing alone
costs. The token comes in ``I3D_API_TOKEN``.

The last stdout line is ``{"exit", "main_s", "peak_rss_kib", "ru_maxrss_kib", "listed"}``.
``peak_rss_kib`` is this process's ``VmHWM`` at the end: the whole process, imports included.
``ru_maxrss`` would also hold the orchestrator's peak, inherited across ``exec`` (see
``_common.peak_rss_kib``); it is kept for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from ._common import PAGE_SIZE, peak_rss_kib, ru_maxrss_kib


async def _listing(base_url: str, concurrency: int) -> int:
    from invoice_async import InvoiceClient

    token = os.environ["I3D_API_TOKEN"]
    listed = 0
    client = InvoiceClient(
        token,
        base_url=base_url,
        page_size=PAGE_SIZE,
        max_concurrency=concurrency,
        max_connections=concurrency,
    )
    async with client:
        async for _ in client.invoices():
            listed += 1
    return listed


def main() -> None:
    """Run what the arguments say; print the JSON line."""
    began = time.perf_counter()
    kind, rest = sys.argv[1], sys.argv[2:]
    listed, code = 0, 0
    if kind == "cli":
        from invoice_async import cli

        code = cli.main(rest)
    elif kind == "list":
        parser = argparse.ArgumentParser(prog="benchmarks._cli_run list")
        parser.add_argument("--base-url", required=True)
        parser.add_argument("--concurrency", type=int, default=8)
        args = parser.parse_args(rest)
        listed = asyncio.run(_listing(args.base_url, args.concurrency))
    else:
        sys.exit(f"unknown kind {kind!r}: cli or list")
    sys.stdout.flush()
    result = {
        "exit": code,
        "main_s": time.perf_counter() - began,
        "peak_rss_kib": peak_rss_kib(),
        "ru_maxrss_kib": ru_maxrss_kib(),
        "listed": listed,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
