"""Retries of idempotent GETs, on stamina, with Retry-After pausing the whole client.

Which failures retry is a pure rule (``is_retryable``); the backoff (exponential, jittered,
capped) is stamina's. A 429 or 503 that names a ``Retry-After`` does not sleep in the failing
call only: it pauses the client's :class:`Throttle`, which every request of the client waits
on, so no worker of a fan-out and no read-ahead window reaches the server before that time.

stamina's testing switch (``stamina.set_testing(True, attempts=..., cap=True)``) makes its
backoff zero; a fake clock on the throttle does the same for Retry-After pauses. stamina logs
each retry with the repr of the retried function's arguments: we retry a context block with no
arguments, and no exception of ours holds the token.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import stamina

from . import errors
from ._throttle import Throttle

T = TypeVar("T")

RETRY_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
PAUSING_STATUSES: Final = frozenset({429, 503})
DEFAULT_MAX_RETRY_AFTER: Final = 120.0
WAIT_INITIAL: Final = 0.5
WAIT_MAX: Final = 30.0
WAIT_JITTER: Final = 1.0

logger = logging.getLogger("invoice_async")


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
    """The wait before retry number ``failures``: exponential from 0.5 s, capped at 30 s, plus
    up to 1 s of jitter (full jitter on top, as stamina computes it)."""
    base = min(WAIT_MAX, WAIT_INITIAL * 2.0 ** (failures - 1))
    return base + random.uniform(0, WAIT_JITTER)


class Retrier:
    """Runs a request again on retryable failures, up to ``max_retries`` more times.

    stamina drives the attempts (its cap, its testing switch, its retry logging); the waits
    run on the client's throttle: a Retry-After pauses every request of the client, and a
    backoff delays this request only. Both use the throttle's clock, so a fake clock makes
    them instant, and neither waits past the client's deadline (DeadlineExceededError).
    """

    def __init__(
        self,
        throttle: Throttle,
        *,
        max_retries: int,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
    ) -> None:
        self._throttle = throttle
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after

    async def call(self, request: Callable[[], Awaitable[T]], *, retries: int | None) -> T:
        """``await request()``, retried as the policy says; the last error is raised."""
        attempts = 1 + (self._max_retries if retries is None else retries)
        wait = 0.0
        failures = 0

        def on_failure(error: Exception) -> bool | float:
            nonlocal wait, failures
            if not is_retryable(error):
                return False
            failures += 1
            pause = pause_of(error, self._max_retry_after)
            if pause is not None:
                self._throttle.pause_until(self._throttle.now() + pause)
                logger.warning(
                    "the API asked to wait %.3gs; pausing every request (%s)", pause, error
                )
                wait = 0.0
            else:
                wait = 0.0 if stamina.is_testing() else backoff(failures)
                if failures < attempts:  # stamina asks after the last attempt too
                    logger.info("retrying in %.3gs after %s", wait, error)
            return 0.0  # the wait happens below, on the throttle's clock

        async for attempt in stamina.retry_context(
            on=on_failure, attempts=attempts, timeout=None, wait_initial=0.0, wait_jitter=0.0
        ):
            with attempt:
                if wait:
                    await self._throttle.sleep(wait)
                return await request()
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover
