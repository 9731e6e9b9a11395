"""Running one scenario: server, warm-up, every contender in its own process, checks, report.

A scenario script defines a :class:`Scenario`, the ideal rows (computed, never run) and its
targets, and calls :func:`run_scenario`. That function:

1. generates the openapi-python-client contender (when it takes part);
2. starts the fake server in its own process and warms it up (for a listing, every window is
   read once, so that the server's one-time JSON encoding of each item is not charged to
   whichever contender comes first);
3. runs each contender ``repeat`` times in a fresh process each (the order rotates per round),
   resetting the server's counters before and reading them after each run;
4. checks every run (item count and id checksums, and for PDFs every byte of every file),
   then prints the table and the targets and writes ``benchmarks/results/<scenario>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import attrs

from invoice_async.testing import iter_pdf_chunks

from . import _generate, _report
from ._common import CONTENDERS, PAGE_SIZE, PROJECT_DIR, expected_tally
from ._processes import ServerProcess, run_contender
from ._report import Ideal, Outcome, Row, Target
from ._workloads import Kind

_WARM_UP_CONCURRENCY = 16
_WARM_UP_TIMEOUT = 300.0


@attrs.frozen
class Scenario:
    """One benchmark scenario: the server's data and latency, and the work to measure.

    ``items`` invoices are listed (``kind="listing"``), or the ids ``1..items`` get their
    details or PDFs fetched with ``concurrency`` requests in flight. ``baseline`` is the
    contender the ratios divide by. ``timeout`` bounds each contender run, in seconds.
    """

    key: str
    title: str
    kind: Kind
    items: int
    latency: float = 0.0
    concurrency: int = 8
    pdf_size: int = 4096
    read_ahead: int = 0
    contenders: tuple[str, ...] = CONTENDERS
    baseline: str = "aiohttp"
    repeat: int = 1
    timeout: float = 300.0
    page_cap: int = PAGE_SIZE

    @property
    def windows(self) -> int:
        """RANGED-DATA windows a sequential listing needs: full ones, then the empty one."""
        return math.ceil(self.items / PAGE_SIZE) + 1

    def parameters(self) -> dict[str, Any]:
        """The scenario's settings, for the JSON results."""
        return attrs.asdict(self)


ScenarioTargets = Callable[[Outcome], list[Target]]


# --- warm-up and checks -----------------------------------------------------------------------


async def _warm_up(scenario: Scenario, base_url: str, token: str) -> None:
    headers = {"PRIVATE-TOKEN": token}
    timeout = aiohttp.ClientTimeout(total=120)
    limit = asyncio.Semaphore(_WARM_UP_CONCURRENCY)
    url = f"{base_url}/v3/account/invoice"

    async def window(start: int) -> int:
        ranged = {"RANGED-DATA": f"start={start},results={PAGE_SIZE}"}
        async with limit, session.get(url, headers=ranged) as response:
            response.raise_for_status()
            return len(await response.json())

    async with (
        asyncio.timeout(_WARM_UP_TIMEOUT),
        aiohttp.ClientSession(headers=headers, timeout=timeout) as session,
    ):
        if scenario.kind == "listing":
            starts = range(0, scenario.windows * PAGE_SIZE, PAGE_SIZE)
            seen = sum(await asyncio.gather(*(window(start) for start in starts)))
            if seen != scenario.items:
                raise RuntimeError(f"warm-up listed {seen} invoices, not {scenario.items}")
        else:
            suffix = "/pdf" if scenario.kind == "pdfs" else ""
            async with session.get(f"{url}/1{suffix}") as response:
                response.raise_for_status()
                await response.read()


def _check_pdf(path: str, invoice_id: int, size: int) -> str | None:
    # Compares every byte with what the fake server sends, a chunk at a time.
    with open(path, "rb") as file:
        for expected in iter_pdf_chunks(invoice_id, size):
            if file.read(len(expected)) != expected:
                return f"PDF {invoice_id} differs from the server's"
        if file.read(1):
            return f"PDF {invoice_id} is longer than {size} bytes"
    return None


def _check(scenario: Scenario, measured: dict[str, Any], stats: dict[str, Any]) -> str | None:
    """Why this run's result is wrong, or None when it is right."""
    tally = measured["tally"]
    got = (tally["count"], tally["id_sum"], tally["id_square_sum"])
    if got != expected_tally(scenario.items):
        return f"received {tally['count']} items, ids not 1..{scenario.items} once each"
    requests = stats["requests_per_path"]
    if requests.get("other"):
        return f"{requests['other']} requests to unknown routes"
    if scenario.kind == "listing" and requests.get("list", 0) < scenario.windows:
        return f"only {requests.get('list', 0)} list requests, {scenario.windows} needed"
    if scenario.kind == "details" and requests.get("detail") != scenario.items:
        return f"{requests.get('detail')} detail requests for {scenario.items} ids"
    if scenario.kind == "pdfs":
        if tally["bytes"] != scenario.items * scenario.pdf_size:
            return f"{tally['bytes']} bytes, not {scenario.items} x {scenario.pdf_size}"
        for invoice_id, path in sorted(tally["files"].items(), key=lambda kv: int(kv[0])):
            problem = _check_pdf(path, int(invoice_id), scenario.pdf_size)
            if problem:
                return problem
    return None


# --- running ----------------------------------------------------------------------------------


def _contender_argv(scenario: Scenario, name: str, server: ServerProcess, folder: str) -> list[str]:
    read_ahead = scenario.read_ahead if name == "client" else 0
    return [
        scenario.kind,
        name,
        f"--base-url={server.base_url}",
        f"--count={scenario.items}",
        f"--concurrency={scenario.concurrency}",
        f"--read-ahead={read_ahead}",
        f"--directory={folder}",
    ]


def _run_once(scenario: Scenario, name: str, server: ServerProcess) -> dict[str, Any]:
    server.command("reset")
    folder = ""
    if scenario.kind == "pdfs":
        os.sync()  # no contender pays for the previous one's dirty pages being written back
        folder = tempfile.mkdtemp(prefix=f"bench-{name}-")
    try:
        argv = _contender_argv(scenario, name, server, folder)
        measured = run_contender(argv, token=server.token, timeout=scenario.timeout)
        stats = server.command("stats")
        error = _check(scenario, measured, stats)
    except (RuntimeError, ValueError, KeyError) as exc:  # failed, or printed no valid result
        return {"contender": name, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    measured["tally"].pop("files", None)
    return {**measured, "server": stats, "error": error}


def _row(scenario: Scenario, name: str, runs: list[dict[str, Any]]) -> Row:
    errors = [run["error"] for run in runs if run.get("error")]
    good = [run for run in runs if not run.get("error")]
    row = Row(name=name, items=scenario.items, runs=runs, error=errors[0] if errors else None)
    if good:
        row.wall_s = statistics.median(run["wall_s"] for run in good)
        row.cpu_s = statistics.median(run["cpu_s"] for run in good)
        row.server_cpu_s = statistics.median(run["server"]["cpu_s"] for run in good)
        row.rss_growth_mb = max((run["peak_rss_kib"] - run["rss_start_kib"]) / 1024 for run in good)
        row.requests = max(sum(run["server"]["requests_per_path"].values()) for run in good)
        row.max_in_flight = max(run["server"]["max_in_flight"] for run in good)
    return row


def _profile_client(scenario: Scenario, server: ServerProcess) -> str:
    """Run the client once more under pyinstrument; returns the text report's path."""
    server.command("reset")
    folder = tempfile.mkdtemp(prefix="bench-profile-") if scenario.kind == "pdfs" else ""
    report = _report.RESULTS_DIR / f"{scenario.key}.client-profile.txt"
    prefix = [
        sys.executable,
        "-m",
        "pyinstrument",
        "--renderer=text",
        "--render-option=time=percent_of_total",
        "--no-color",
        f"--outfile={report}",
        "--show-regex=invoice_async|cattrs|attr|<attrs generated|<cattrs generated",
        "-m",
    ]
    try:
        argv = _contender_argv(scenario, "client", server, folder)
        run_contender(argv, token=server.token, timeout=scenario.timeout * 3, prefix=prefix)
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    return str(report.relative_to(PROJECT_DIR))


def _arguments(scenario: Scenario, argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=scenario.title)
    parser.add_argument(
        "--repeat", type=int, default=scenario.repeat, help="runs per contender (median)"
    )
    parser.add_argument(
        "--timeout", type=float, default=scenario.timeout, help="seconds per contender run"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile this client with pyinstrument (benchmarks/results/*-profile.txt)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    return parser.parse_args(argv)


def run_scenario(
    scenario: Scenario,
    *,
    ideals: Sequence[Ideal],
    targets: ScenarioTargets,
    notes: Sequence[str] = (),
    argv: Sequence[str] | None = None,
) -> int:
    """Run ``scenario``, print its table and targets, write its JSON; return an exit status.

    0 when every contender ran and returned the right result; 1 when one did not; 2 with
    ``--strict`` when every run was right but a target was missed.
    """
    args = _arguments(scenario, argv)
    scenario = attrs.evolve(scenario, repeat=args.repeat, timeout=args.timeout)
    print(f"== {scenario.key}: {scenario.title}", flush=True)
    outcome = Outcome(scenario=scenario.key, title=scenario.title, baseline=scenario.baseline)
    outcome.meta = _report.machine()
    outcome.parameters = scenario.parameters()
    outcome.notes = list(notes)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in scenario.contenders}
    if "generated" in scenario.contenders:
        try:
            outcome.meta["generated_client"] = _generate.generate()
        except (RuntimeError, OSError) as exc:
            runs["generated"].append({"contender": "generated", "error": str(exc)})
    with ServerProcess(
        count=scenario.items,
        latency=scenario.latency,
        page_cap=scenario.page_cap,
        pdf_size=scenario.pdf_size,
    ) as server:
        asyncio.run(_warm_up(scenario, server.base_url, server.token))
        for round_index in range(scenario.repeat):
            shift = round_index % len(scenario.contenders)
            order = scenario.contenders[shift:] + scenario.contenders[:shift]
            for name in order:
                if runs[name] and runs[name][-1].get("error"):
                    continue  # a contender that failed once is not run again
                print(f"   run {round_index + 1}/{scenario.repeat}: {name} ...", flush=True)
                runs[name].append(_run_once(scenario, name, server))
        if args.profile:
            outcome.meta["profile"] = _profile_client(scenario, server)
    outcome.rows = [_row(scenario, name, runs[name]) for name in scenario.contenders]
    outcome.ideals = list(ideals)
    outcome.targets = targets(outcome)
    print(_report.table(outcome))
    print(_report.target_lines(outcome))
    path = _report.write_json(outcome)
    print(f"results: {path}")
    if any(row.error for row in outcome.rows):
        return 1
    if args.strict and not all(target.passed for target in outcome.targets):
        return 2
    return 0
