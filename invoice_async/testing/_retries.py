"""The testing switch for retry backoff."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .. import _retry


@contextlib.contextmanager
def instant_retries(enabled: bool = True) -> Iterator[None]:
    """Make the retry backoff of every client zero inside the block (also a decorator).

    Retries still happen, as many as ``max_retries`` says; only the backoff between them
    (0.5 s doubling, plus jitter) is skipped. ``Retry-After`` pauses are not affected: they
    run on the client's clock, so use :class:`FakeClock` with :func:`use_fake_clock` for them.

    ``instant_retries(False)`` gives the real backoff again inside the block (for a test of
    the backoff itself on a fake clock). Blocks nest; each restores the setting it found.
    The setting is process-wide (every client, every thread), like a test run.

    With pytest, the plugin ``invoice_async.testing.pytest_plugin`` offers it as the fixture
    ``instant_retries``.
    """
    previous = _retry.set_instant_backoff(enabled)
    try:
        yield
    finally:
        _retry.set_instant_backoff(previous)
