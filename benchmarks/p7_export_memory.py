"""P7 export memory: the peak RSS of ``invoice-async export --details`` at 20,000 and 200,000.

Each export runs in a fresh process (``benchmarks._cli_run cli export OUT --details``, the
CLI's defaults: 8 requests at once) against the fake server in its own process, zero latency.
Measured: that process's peak RSS (``VmHWM``, the whole process, imports included). For
reference, a process that only iterates ``client.invoices()`` over the same list, keeping
nothing, shows what the client's listing alone costs (its pager keeps the ids it has seen).

Targets: the 200,000 export peaks at <= 100 MB, and at <= 1.25x the 20,000 export.
Every run is checked: both files hold every invoice once, in list order, and the manifest is
complete. Run: ``python -m benchmarks.p7_export_memory [--timeout S] [--strict]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._processes import ServerProcess, run_cli_measured
from ._report import Target, machine, write_document

KEY = "p7_export_memory"
SIZES = (20_000, 200_000)
MB = 1024  # KiB per MB (2^20 bytes)


def _check(folder: Path, count: int) -> str | None:
    """Why the export in ``folder`` is wrong, or None. The fake list is ids count..1."""
    for name in ("invoices.jsonl", "details.jsonl"):
        index = -1
        with (folder / name).open(encoding="utf-8") as file:
            for index, line in enumerate(file):
                if json.loads(line)["id"] != count - index:
                    return f"{name} line {index + 1} is out of list order"
        if index + 1 != count:
            return f"{name} holds {index + 1} lines, not {count}"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if not manifest["complete"] or manifest["counts"]["details"] != count:
        return f"the manifest is not complete: {manifest['counts']}"
    return None


def _measure(count: int, timeout: float) -> dict[str, Any]:
    print(f"   {count:,} invoices ...", flush=True)
    with ServerProcess(count=count, latency=0.0, page_cap=100, pdf_size=4096) as server:
        folder = Path(tempfile.mkdtemp(prefix="bench-p7-"))
        try:
            base = f"--base-url={server.base_url}"
            argv = ["cli", "export", str(folder), "--details", "--no-progress", base]
            export = run_cli_measured(argv, token=server.token, timeout=timeout)
            requests = server.command("stats")["requests_per_path"]
            problem = _check(folder, count)
            server.command("reset")
            listing = run_cli_measured(["list", base], token=server.token, timeout=timeout)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if listing["listed"] != count:
        problem = problem or f"the bare listing saw {listing['listed']} invoices"
    return {
        "count": count,
        "export_peak_mb": export["peak_rss_kib"] / MB,
        "listing_peak_mb": listing["peak_rss_kib"] / MB,
        "export_ru_maxrss_mb": export["ru_maxrss_kib"] / MB,
        "export_s": export["process_s"],
        "requests": requests,
        "summary": export["stdout"],
        "error": problem,
    }


def _table(runs: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| invoices | export peak RSS MB | listing-only peak RSS MB | export - listing MB "
        "| export wall s | requests |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run['count']:,} | {run['export_peak_mb']:.1f} | {run['listing_peak_mb']:.1f} "
            f"| {run['export_peak_mb'] - run['listing_peak_mb']:.1f} | {run['export_s']:.1f} "
            f"| {sum(run['requests'].values()):,} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run P7; 0 when every run was right, 1 when one was not, 2 with --strict on a miss."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per process")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    parser.add_argument("--repeat", type=int, default=1, help="ignored: one run per size")
    parser.add_argument("--profile", action="store_true", help="ignored")
    args = parser.parse_args(argv)
    print(f"== {KEY}: export memory, zero latency, 20,000 then 200,000 invoices with details")
    runs = [_measure(count, args.timeout) for count in SIZES]
    small, large = runs
    growth = large["export_peak_mb"] / small["export_peak_mb"]
    listing_growth = large["listing_peak_mb"] / small["listing_peak_mb"]
    targets = [
        Target("200,000 export peak RSS", large["export_peak_mb"], "<=", 100.0, " MB"),
        Target(
            "200,000 ÷ 20,000 export peak RSS",
            growth,
            "<=",
            1.25,
            "x",
            detail=f"the bare listing alone: {listing_growth:.2f}x",
        ),
    ]
    print(_table(runs))
    print(f"ratio 200,000 ÷ 20,000: export {growth:.3f}x, bare listing {listing_growth:.3f}x")
    for target in targets:
        print(target.line())
    document = {
        "scenario": KEY,
        "title": "export memory, 20,000 and 200,000 invoices with details",
        "machine": machine(),
        "parameters": {"sizes": SIZES, "latency": 0.0, "concurrency": 8, "page_size": 100},
        "runs": runs,
        "targets": [target.as_dict() for target in targets],
    }
    print(f"results: {write_document(KEY, document)}")
    if any(run["error"] for run in runs):
        print("FAILED: " + "; ".join(run["error"] for run in runs if run["error"]))
        return 1
    return 2 if args.strict and not all(t.passed for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
