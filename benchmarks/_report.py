"""The results of a scenario: rows, ideal rows, targets; the printed table and the JSON file.

The ratio column is the baseline's wall time divided by the row's (so with the same items,
the row's items/s over the baseline's): above 1 is faster than the baseline.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs

from ._common import DESCRIPTIONS, PROJECT_DIR, RESULTS_DIR

__all__ = [
    "RESULTS_DIR",
    "Ideal",
    "Outcome",
    "Row",
    "Target",
    "machine",
    "table",
    "write_document",
]


@attrs.define
class Row:
    """One contender's figures over its runs: the median wall time, the largest peak-RSS
    growth, the median CPU seconds of the contender's process and of the server's, and the
    most requests and requests in flight the server saw in one run."""

    name: str
    items: int
    runs: list[dict[str, Any]] = attrs.field(factory=list)
    error: str | None = None
    wall_s: float | None = None
    rss_growth_mb: float | None = None
    requests: int | None = None
    max_in_flight: int | None = None
    cpu_s: float | None = None
    server_cpu_s: float | None = None

    @property
    def items_per_s(self) -> float | None:
        """Items per second, or None when the contender has no good run."""
        if self.wall_s is None or self.wall_s <= 0:
            return None
        return self.items / self.wall_s


@attrs.frozen
class Ideal:
    """A computed row: ``latency x round_trips`` seconds (never run)."""

    label: str
    latency: float
    round_trips: int

    @property
    def wall_s(self) -> float:
        """The ideal wall time, in seconds."""
        return self.latency * self.round_trips


@attrs.frozen
class Target:
    """One target of a scenario: ``value`` must be ``op`` (``>=``, ``<=`` or ``==``) ``bound``.

    ``value`` is None when it could not be measured (a contender failed): then it is missed.
    With ``op="info"`` it is a figure printed beside the targets (no bound, never missed).
    """

    label: str
    value: float | None
    op: str
    bound: float
    unit: str = ""
    detail: str = ""

    @property
    def passed(self) -> bool:
        """Whether the target is met."""
        if self.op == "info":
            return True
        if self.value is None:
            return False
        if self.op == "==":
            return self.value == self.bound
        return self.value >= self.bound if self.op == ">=" else self.value <= self.bound

    def line(self) -> str:
        """``PASS  label: value >= bound (detail)``, or ``INFO  label: value (detail)``."""
        value = "n/a" if self.value is None else f"{self.value:.3f}{self.unit}"
        op = {">=": "≥", "<=": "≤"}.get(self.op, "=")
        detail = f"  ({self.detail})" if self.detail else ""
        if self.op == "info":
            return f"INFO  {self.label}: {value}{detail}"
        verdict = "PASS" if self.passed else "FAIL"
        return f"{verdict}  {self.label}: {value} {op} {self.bound:.3f}{self.unit}{detail}"

    def as_dict(self) -> dict[str, Any]:
        """For the JSON results."""
        return {**attrs.asdict(self), "passed": self.passed}


@attrs.define
class Outcome:
    """Everything one scenario run produced."""

    scenario: str
    title: str
    baseline: str
    meta: dict[str, Any] = attrs.field(factory=dict)
    parameters: dict[str, Any] = attrs.field(factory=dict)
    notes: list[str] = attrs.field(factory=list)
    rows: list[Row] = attrs.field(factory=list)
    ideals: list[Ideal] = attrs.field(factory=list)
    targets: list[Target] = attrs.field(factory=list)

    def row(self, name: str) -> Row:
        """The row of contender ``name``."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def speed_ratio(self, name: str, reference: str | None = None) -> float | None:
        """``reference``'s wall time over ``name``'s (default reference: the baseline)."""
        mine, theirs = self.row(name).wall_s, self.row(reference or self.baseline).wall_s
        if mine is None or theirs is None or mine <= 0:
            return None
        return theirs / mine


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def table(outcome: Outcome) -> str:
    """The Markdown table of the rows and the ideal rows."""
    base = outcome.row(outcome.baseline).wall_s
    lines = [
        "| contender | wall s | items/s | peak RSS growth MB | ratio vs baseline "
        "| requests | max in flight | client CPU s | server CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in outcome.rows:
        label = row.name + (" (baseline)" if row.name == outcome.baseline else "")
        if row.error:
            label += f" FAILED: {row.error}"
        ratio = outcome.speed_ratio(row.name)
        lines.append(
            f"| {label} | {_fmt(row.wall_s, '.3f')} | {_fmt(row.items_per_s, ',.0f')} "
            f"| {_fmt(row.rss_growth_mb, '.1f')} | {_fmt(ratio, '.2f', 'x')} "
            f"| {_fmt(row.requests, 'd')} | {_fmt(row.max_in_flight, 'd')} "
            f"| {_fmt(row.cpu_s, '.2f')} | {_fmt(row.server_cpu_s, '.2f')} |"
        )
    for ideal in outcome.ideals:
        wall = ideal.wall_s
        items = outcome.rows[0].items
        rate = items / wall if wall > 0 else None
        ratio = base / wall if base is not None and wall > 0 else None
        lines.append(
            f"| {ideal.label}: {ideal.latency * 1000:g} ms x {ideal.round_trips} round trips "
            f"(computed) | {wall:.3f} | {_fmt(rate, ',.0f')} | — | {_fmt(ratio, '.2f', 'x')} "
            f"| {ideal.round_trips} | — | — | — |"
        )
    return "\n".join(lines)


def target_lines(outcome: Outcome) -> str:
    """One PASS/FAIL line per target."""
    return "\n".join(target.line() for target in outcome.targets)


def machine() -> dict[str, Any]:
    """Where and when: date, CPU, cores, Python, and the versions of the contenders."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                "",
            )
    except OSError:
        pass
    date = subprocess.run(["date"], capture_output=True, text=True, check=False).stdout.strip()
    versions = {
        name: _version(name)
        for name in ("invoice_async", "aiohttp", "httpx", "openapi-python-client", "cattrs")
    }
    return {
        "date": date,
        "utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:  # P6 and P7 run without the bench extras
        return "not installed"


def write_document(key: str, document: dict[str, Any]) -> str:
    """Write ``benchmarks/results/<key>.json``; returns its path relative to the project."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = Path(RESULTS_DIR / f"{key}.json")
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return str(path.relative_to(PROJECT_DIR))


def write_json(outcome: Outcome) -> str:
    """Write ``benchmarks/results/<scenario>.json``; returns its path relative to the project."""
    RESULTS_DIR.mkdir(exist_ok=True)
    rows = []
    for row in outcome.rows:
        rows.append(
            {
                **attrs.asdict(row),
                "description": DESCRIPTIONS[row.name],
                "items_per_s": row.items_per_s,
                "ratio_vs_baseline": outcome.speed_ratio(row.name),
            }
        )
    document = {
        "scenario": outcome.scenario,
        "title": outcome.title,
        "baseline": outcome.baseline,
        "machine": outcome.meta,
        "parameters": outcome.parameters,
        "notes": outcome.notes,
        "rows": rows,
        "ideal": [{**attrs.asdict(ideal), "wall_s": ideal.wall_s} for ideal in outcome.ideals],
        "targets": [target.as_dict() for target in outcome.targets],
    }
    path = Path(RESULTS_DIR / f"{outcome.scenario}.json")
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return str(path.relative_to(PROJECT_DIR))
