"""The command line's progress bar (rich): a sync's ``progress`` callback, a bar per phase."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Final

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from .._stats import ClientStats

LABELS: Final = {
    "invoices": "invoices",
    "departed": "left list",
    "details": "details",
    "verify": "verify",
    "pdfs": "PDFs",
}
_EVERY: Final = 0.05  # seconds between redraws of one bar; the last value always shows


class ProgressBar:
    """``with ProgressBar(show, lambda: client.stats) as bar: await store.sync(client,
    progress=bar)``.

    On stderr, and only when ``show`` (the caller decides: a terminal, or ``--progress``).
    With ``stats``, each bar also shows the client's pace now and its 429s so far.
    """

    def __init__(self, show: bool, stats: Callable[[], ClientStats] | None = None) -> None:
        self._show = show
        self._stats = stats
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[pace]}"),
            console=Console(stderr=True, file=None if show else io.StringIO()),
            disable=not show,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._shown: dict[str, float] = {}

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        """Move the bar of ``phase`` to ``done`` of ``total`` (None: not known yet)."""
        if not self._show:
            return
        task = self._tasks.get(phase)
        if task is None:
            task = self._progress.add_task(LABELS.get(phase, phase), total=total, pace="")
            self._tasks[phase] = task
        moment = time.monotonic()
        if done in (0, total) or moment - self._shown.get(phase, 0.0) >= _EVERY:
            self._shown[phase] = moment
            self._progress.update(task, completed=done, total=total, pace=self._pace())

    def _pace(self) -> str:
        """``"paced at 96/s, 5 429s"``, ``"unpaced, 0 429s"``, or "" without stats."""
        if self._stats is None:
            return ""
        stats = self._stats()
        pace = "unpaced" if stats.rate is None else f"paced at {stats.rate:.0f}/s"
        return f"{pace}, {stats.rate_limited:,} 429s"

    def __enter__(self) -> ProgressBar:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.__exit__(None, None, None)
