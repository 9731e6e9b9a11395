"""P8 nightly re-sync: 20,000 invoices with details and PDFs at 20 ms, then again a night later.

The first ``invoice-async sync STORE --pdf-dir DIR --concurrency 32`` fills the store (20,000
details and 20,000 PDFs: at the CLI's default of 8 requests at once it would take ~100 s of
latency alone; 32 keep it near 25 s). Then a server with the same data a night later (200 of
the invoices with a new hash and amounts, 50 new ones at the head: ``benchmarks._server
--changed 200 --new 50``) is synced with the same command. For reference, a bare listing of that
list with the same client settings counts the list windows a listing needs (those asked ahead
past the end included).

Targets: the re-sync sends the list windows and exactly 250 detail and 250 PDF requests, and
its wall time (the whole process) is at most 10% of the first sync's.
Run: ``python -m benchmarks.p8_resync [--timeout S] [--strict]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._processes import ServerProcess, run_cli_measured
from ._report import Target, machine, write_document

KEY = "p8_resync"
COUNT, CHANGED, NEW = 20_000, 200, 50
LATENCY, CONCURRENCY, PDF_SIZE = 0.02, 32, 4096


def _server(night: bool) -> ServerProcess:
    extra = [f"--changed={CHANGED}", f"--new={NEW}", "--mutation-seed=1"] if night else []
    return ServerProcess(count=COUNT, latency=LATENCY, page_cap=100, pdf_size=PDF_SIZE, extra=extra)


def _sync(server: ServerProcess, folder: Path, timeout: float) -> dict[str, Any]:
    server.command("reset")
    argv = [
        "cli", "sync", str(folder / "store.sqlite"), "--pdf-dir", str(folder / "pdf"),
        f"--concurrency={CONCURRENCY}", "--no-progress", f"--base-url={server.base_url}",
    ]  # fmt: skip
    run = run_cli_measured(argv, token=server.token, timeout=timeout)
    return {**run, "requests": server.command("stats")["requests_per_path"]}


def _last_counts(store: Path) -> dict[str, Any]:
    with sqlite3.connect(store) as conn:
        (counts,) = conn.execute("SELECT counts FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    conn.close()
    result: dict[str, Any] = json.loads(counts)
    return result


def _row(name: str, run: dict[str, Any]) -> str:
    requests = run["requests"]
    return (
        f"| {name} | {run['process_s']:.2f} | {run['main_s']:.2f} | {requests.get('list', 0)} "
        f"| {requests.get('detail', 0):,} | {requests.get('pdf', 0):,} "
        f"| {sum(requests.values()):,} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run P8; 0 when every run was right, 1 when one was not, 2 with --strict on a miss."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per process")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    parser.add_argument("--repeat", type=int, default=1, help="ignored: one run")
    parser.add_argument("--profile", action="store_true", help="ignored")
    args = parser.parse_args(argv)
    print(f"== {KEY}: nightly re-sync, 20 ms latency, {COUNT:,} invoices, details and PDFs")
    folder = Path(tempfile.mkdtemp(prefix="bench-p8-"))
    try:
        with _server(night=False) as server:
            print("   first sync ...", flush=True)
            first = _sync(server, folder, args.timeout)
        first_counts = _last_counts(folder / "store.sqlite")
        with _server(night=True) as server:
            print("   re-sync, a night later ...", flush=True)
            again = _sync(server, folder, args.timeout)
            again_counts = _last_counts(folder / "store.sqlite")
            server.command("reset")
            base = f"--base-url={server.base_url}"
            listing = run_cli_measured(
                ["list", base, f"--concurrency={CONCURRENCY}"], token=server.token, timeout=60
            )
            listing["requests"] = server.command("stats")["requests_per_path"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    expected = {"listed": COUNT + NEW, "new": NEW, "changed": CHANGED, "details_fetched": 250}
    errors = [
        f"{name}: {again_counts.get(name)} not {value}"
        for name, value in {**expected, "pdfs_fetched": 250}.items()
        if again_counts.get(name) != value
    ]
    if first_counts["details_fetched"] != COUNT or first_counts["pdfs_fetched"] != COUNT:
        errors.append(f"the first sync fetched {first_counts}")
    for route in ("detail", "pdf"):  # exactly one request per new or changed invoice
        if again["requests"].get(route, 0) != CHANGED + NEW:
            errors.append(
                f"{again['requests'].get(route, 0)} {route} requests, not {CHANGED + NEW}"
            )
    others = set(again["requests"]) - {"list", "detail", "pdf"}
    if others:
        errors.append(f"requests to {sorted(others)}")
    ratio = again["process_s"] / first["process_s"]
    windows = again["requests"].get("list", 0) - listing["requests"].get("list", 0)
    targets = [
        Target("re-sync detail requests", again["requests"].get("detail", 0), "==", CHANGED + NEW),
        Target("re-sync PDF requests", again["requests"].get("pdf", 0), "==", CHANGED + NEW),
        Target(
            "re-sync list requests beyond a bare listing's",
            windows,
            "<=",
            0,
            detail=f"{again['requests'].get('list', 0)} against "
            f"{listing['requests'].get('list', 0)}",
        ),
        Target("re-sync wall ÷ first sync wall", ratio, "<=", 0.10, "x"),
    ]
    print("| run | process wall s | in-process wall s | list | detail | pdf | all requests |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(_row("first sync (20,000 new)", first))
    print(_row("re-sync (200 changed, 50 new)", again))
    print(_row("bare listing of the re-synced list (reference)", listing))
    print(f"ratio re-sync ÷ first sync: {ratio:.3f}x (in-process: "
          f"{again['main_s'] / first['main_s']:.3f}x)")  # fmt: skip
    print(f"re-sync summary: {again['stdout']}")
    for target in targets:
        print(target.line())
    document = {
        "scenario": KEY,
        "title": "nightly re-sync of 20,000 invoices with details and PDFs at 20 ms",
        "machine": machine(),
        "parameters": {
            "count": COUNT,
            "changed": CHANGED,
            "new": NEW,
            "latency": LATENCY,
            "concurrency": CONCURRENCY,
            "pdf_size": PDF_SIZE,
        },
        "runs": {"first": first, "again": again, "listing": listing},
        "counts": {"first": first_counts, "again": again_counts},
        "errors": errors,
        "targets": [target.as_dict() for target in targets],
    }
    print(f"results: {write_document(KEY, document)}")
    if errors:
        print("FAILED: " + "; ".join(errors))
        return 1
    return 2 if args.strict and not all(t.passed for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
