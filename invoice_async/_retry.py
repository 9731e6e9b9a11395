"""Retries of idempotent GETs: one plain loop, with Retry-After pausing the whole client.

Which failures retry is a pure rule (``is_retryable``), and so are the waits (``pause_of``,
``backoff``). A 429 or 503 that names a ``Retry-After`` does not sleep in the failing call
only: it pauses the client's :class:`Timekeeper`, which every request of the client waits on, so
no worker of a fan-out and no read-ahead window reaches the server before that time.

Each retry is one INFO line of the ``invoice_async`` logger: the request, why it failed, the
wait, and which retry of how many. ``invoice_async.testing.instant_retries()`` makes the
backoff zero (it sets the switch below); a fake clock on the timekeeper does the same for
Retry-After pauses.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar
from urllib.parse import urlsplit

from . import errors
from ._logging import logger
from ._timekeeper import Timekeeper

T = TypeVar("T")

RETRY_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
PAUSING_STATUSES: Final = frozenset({429, 503})
DEFAULT_MAX_RETRY_AFTER: Final = 120.0
WAIT_INITIAL: Final = 0.5
WAIT_MAX: Final = 30.0
WAIT_JITTER: Final = 1.0

_instant_backoff = False  # process-wide, like a test run: see set_instant_backoff()


def set_instant_backoff(enabled: bool) -> bool:
    """Make every client's backoff zero (True) or real (False); returns the previous setting.

    The public switch is ``invoice_async.testing.instant_retries()``. Retry-After pauses are
    not affected: they run on the timekeeper's clock (use a fake clock for them).
    """
    global _instant_backoff
    previous, _instant_backoff = _instant_backoff, enabled
    return previous


def is_retryable(error: BaseException | None) -> bool:
    """Whether a failed GET is worth trying again.

    Yes for no answer (connection failure, reset, timeout, truncated body) and for 408, 429,
    500, 502, 503, 504. No for every other status, for an answer that does not parse, for a
    bad argument and for the client's overall deadline.
    """
    if isinstance(error, errors.DeadlineExceededError):
        return False
    if isinstance(error, errors.TransportError):
        return True
    return isinstance(error, errors.ApiError) and error.status in RETRY_STATUSES


def pause_of(error: BaseException, max_retry_after: float) -> float | None:
    """Seconds the whole client must pause after ``error``: its Retry-After, capped."""
    if not isinstance(error, errors.ApiError) or error.status not in PAUSING_STATUSES:
        return None
    if error.retry_after is None:
        return None
    return min(error.retry_after, max_retry_after)


def backoff(failures: int) -> float:
    """The wait before retry number ``failures``: exponential from WAIT_INITIAL, capped at
    WAIT_MAX, plus up to WAIT_JITTER (the README's "Retries" gives the numbers)."""
    base = min(WAIT_MAX, WAIT_INITIAL * 2.0 ** (failures - 1))
    return base + random.uniform(0, WAIT_JITTER)


def _seconds(value: float) -> str:
    return f"{value:.0f}s" if value >= 100 else f"{value:.3g}s"


def describe_failure(error: BaseException) -> str:
    """``"GET /v3/account/invoice/7: HTTP 503 (errorCode 1): ..."``: the request and why it
    failed, for a log line (the error's text without its trailing "for GET <url>")."""
    method, url = getattr(error, "method", "GET"), getattr(error, "url", "")
    reason = str(error).removesuffix(f" for {method} {url}") if url else str(error)
    if not url:
        return reason
    parts = urlsplit(url)
    return f"{method} {parts.path}{'?' + parts.query if parts.query else ''}: {reason}"


class Retrier:
    """Runs a request again on retryable failures, up to ``max_retries`` more times.

    The waits run on the client's timekeeper: a Retry-After pauses every request of the client,
    and a backoff delays this request only. Both use the timekeeper's clock, so a fake clock
    makes them instant, and neither waits past the client's deadline (DeadlineExceededError).
    ``retries`` counts the attempts after the first (``client.stats``).
    """

    def __init__(
        self,
        time: Timekeeper,
        *,
        max_retries: int,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
    ) -> None:
        self._time = time
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after
        self.retries = 0

    async def call(self, request: Callable[[], Awaitable[T]], *, retries: int | None) -> T:
        """``await request()``, retried as the policy says; the last error is raised itself."""
        most = self._max_retries if retries is None else retries
        retry = 0  # retries made so far
        while True:
            try:
                return await request()
            except Exception as error:
                # The frames below this one have ended; their locals hold the answer that
                # failed (its body, headers, decoded JSON: a hostile server's echo of the
                # token, or a bomb's memory). Error reporters record locals, and an Outcome
                # keeps its error: they are cleared before the error goes on.
                traceback.clear_frames(error.__traceback__)
                if not is_retryable(error):
                    raise
                # A Retry-After pauses the client even when this call gives up: a read-ahead
                # window is tried once, and its pause must still hold the other requests.
                pause = pause_of(error, self._max_retry_after)
                if pause is not None:
                    self._time.pause_until(self._time.now() + pause)
                if retry == most:
                    if pause is not None:
                        self._log(error, pause, None, most, 0.0)
                    raise  # the error itself: chained to no earlier attempt's error
                retry += 1
                wait = 0.0 if pause is not None or _instant_backoff else backoff(retry)
                self._log(error, pause, retry, most, wait)
            # Out of the except block: neither the wait nor the next attempt is chained to the
            # error above (a DeadlineExceededError from the wait has no __context__).
            if wait:
                await self._time.sleep(wait)
            self.retries += 1

    def _log(
        self, error: Exception, pause: float | None, retry: int | None, most: int, wait: float
    ) -> None:
        """One INFO line: the failure, then the pause or the backoff, and which retry."""
        what = describe_failure(error)
        if pause is None:
            logger.info("%s; retry %d of %d in %s", what, retry, most, _seconds(wait))
            return
        asked = getattr(error, "retry_after", None) or pause
        cut = f" (cut to {_seconds(pause)} by max_retry_after)" if asked > pause else ""
        then = "" if retry is None else f"; retry {retry} of {most} after the pause"
        logger.info(
            "%s; the API asked to wait %s%s: pausing every request of the client%s",
            what,
            _seconds(asked),
            cut,
            then,
        )
