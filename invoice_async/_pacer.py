"""Adaptive pacing of request starts: a token bucket whose rate CUBIC learns from 429s.

One :class:`Pacer` per client, shared by every request. It starts unpaced (or at the user's
fixed ceiling). A throttle (a 429, or a 503 with Retry-After) ends a *run* of requests, from
the end of the previous pause to now; its successes bound what the server sustains: over the
run alone (an upper bound: the server's burst is in it) and over the run and the pause before
it (a lower one). The rate restarts at the geometric middle of the two, at most ``BETA`` times
the upper one (or the pace that failed), and CUBIC climbs back toward that, fast while far
below it and slowly near it (as botocore's adaptive retry mode does). When answers carry
``RateLimit-*`` headers, starts are held once nothing is left of the quota, before any 429.
Pure: no I/O and no clock of its own; every method takes the caller's clock time as ``now``.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Final

import attrs

BETA: Final = 0.7
"""CUBIC's decrease factor: the rate after a throttle is at most this share of the measured one."""
SCALE: Final = 0.004
"""CUBIC's growth, per second cubed, as a share of the rate that failed (botocore's 0.4 at
100 requests/s): back at that rate about 4.2 s after a decrease, then probing above it."""
MIN_RATE: Final = 0.5
"""The slowest pace the learning sets, in requests per second."""
MAX_HOLD: Final = 120.0
"""The longest a rate-limit header may hold request starts, in seconds."""
EPOCH_THRESHOLD: Final = 1e9
"""A reset above this many seconds is read as a Unix time, not as a delay."""
_CALM: Final = 0.25  # a throttle without Retry-After closes the run for this long
_IDLE: Final = 0.25  # nothing in flight for this long: the next start begins a new run
_MIN_SPAN: Final = 1e-3
_FORGET: Final = 300.0  # seconds after which a start nobody answered is forgotten
_RESET_SLACK: Final = 0.25  # how late a reset may come, for a quota that grows back
_NUMBER = re.compile(r"\d{1,15}(?:\.\d{1,9})?")


@attrs.frozen
class RateLimitInfo:
    """What an answer's rate-limit headers say: the quota, what is left, seconds to its reset."""

    limit: int | None
    remaining: int
    reset_after: float | None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    head = text.split(",", 1)[0].split(";", 1)[0].strip()  # "100, 100;w=60" -> "100"
    return float(head) if _NUMBER.fullmatch(head) else None


def parse_rate_limit_headers(headers: Mapping[str, str], now_epoch: float) -> RateLimitInfo | None:
    """Read ``RateLimit-Limit/-Remaining/-Reset`` (the IETF draft's, first) or their
    ``X-RateLimit-*`` twins; a value that is not a plain non-negative number is ignored.

    A reset above :data:`EPOCH_THRESHOLD` is a Unix time (``now_epoch`` turns it into a delay),
    else seconds. Returns None when no usable ``Remaining`` is given; never raises.
    """
    lowered = {key.lower(): value for key, value in headers.items()}

    def first(field: str) -> float | None:
        for prefix in ("ratelimit-", "x-ratelimit-"):
            value = _number(lowered.get(prefix + field))
            if value is not None:
                return value
        return None

    remaining = first("remaining")
    if remaining is None:
        return None
    limit, reset = first("limit"), first("reset")
    if reset is not None and reset > EPOCH_THRESHOLD:
        reset = max(0.0, reset - now_epoch)
    return RateLimitInfo(None if limit is None else int(limit), int(remaining), reset)


class TokenBucket:
    """Request starts at ``rate`` per second, at most ``capacity`` at once after a quiet time.

    Starts are reserved ahead: the tokens go below zero, and each reservation waits its turn.
    """

    def __init__(self, rate: float, capacity: float = 1.0) -> None:
        self._rate, self._capacity = rate, capacity
        self._tokens = capacity
        self._time: float | None = None  # when the tokens were counted

    @property
    def rate(self) -> float:
        """Tokens added per second."""
        return self._rate

    def _refill(self, now: float) -> float:
        if self._time is None or now > self._time:
            if self._time is not None:
                self._tokens += (now - self._time) * self._rate
            self._tokens, self._time = min(self._capacity, self._tokens), now
        return self._time

    def tokens(self, now: float) -> float:
        """Tokens at ``now``; negative when starts are reserved ahead."""
        self._refill(now)
        return self._tokens

    def peek(self, now: float) -> float:
        """Seconds the next start would wait, without reserving it."""
        at = self._refill(now)
        return at - now + max(0.0, 1.0 - self._tokens) / self._rate

    def reserve(self, now: float) -> float:
        """Reserve the next start; return the seconds to wait for it."""
        at = self._refill(now)
        self._tokens -= 1.0
        return at - now + max(0.0, -self._tokens) / self._rate

    def set_rate(self, rate: float, now: float) -> None:
        """Change the rate from ``now`` on: starts reserved ahead keep their last time."""
        self._refill(now)
        if self._tokens < 0:
            self._tokens *= rate / self._rate
        self._rate = rate


class CubicCalculator:
    """CUBIC's rate curve: after a decrease from ``w_max`` to a start at time ``origin``,
    ``rate(t) = w_max * (1 + scale * (t - origin - k) ** 3)``: back at ``w_max`` at
    ``origin + k``, then probing above it."""

    def __init__(self, *, beta: float = BETA, scale: float = SCALE) -> None:
        self.beta, self.scale = beta, scale
        self.w_max = self.k = self.origin = 0.0

    def decrease(self, w_max: float, origin: float, start: float | None = None) -> float:
        """Restart the curve at ``start`` (default ``beta * w_max``) at time ``origin``."""
        start = w_max * self.beta if start is None else min(start, w_max)
        self.w_max, self.origin = w_max, origin
        self.k = ((w_max - start) / (self.scale * w_max)) ** (1 / 3) if w_max > 0 else 0.0
        return start

    def rate(self, now: float) -> float:
        """The curve's rate at ``now`` (flat at its start before ``origin``)."""
        elapsed = max(0.0, now - self.origin)
        return self.w_max * (1.0 + self.scale * (elapsed - self.k) ** 3)


@attrs.define
class Run:
    """One run of requests: from the end of a pause (or the first start) to a throttle."""

    pause_before: float | None  # None: the first run, which no pause came before
    start: float | None = None
    successes: int = 0

    def bounds(self, end: float, pause: float) -> tuple[float, float]:
        """The server's sustained rate, bounded: successes over the run and the pause before
        it (the server refilled during that pause), and over the run alone (its burst too)."""
        span = max(_MIN_SPAN, end - (end if self.start is None else self.start))
        successes = max(1, self.successes)  # a run with none still ran this long
        return successes / (span + pause), successes / span


class Quota:
    """What the server's rate-limit headers say is left, and until when.

    A quota that grows back before its reset (a token bucket: its reset is when it is full)
    says little about what may be sent; once seen, the headers are no longer followed.
    """

    def __init__(self) -> None:
        self.left = 0.0  # remaining, less the requests in flight or started since
        self.remaining: int | None = None
        self.reset_at = -math.inf
        self.refills = False

    def update(self, info: RateLimitInfo, now: float, starts: Iterable[float]) -> None:
        """Take an answer's headers; ``starts`` (of requests not answered yet) that come
        before the reset will use some of what is left."""
        if info.reset_after is None or self.refills:
            return
        reset_at = now + min(info.reset_after, MAX_HOLD)
        if now < self.reset_at:
            if info.remaining > (self.remaining or 0):
                if now < self.reset_at - _RESET_SLACK:
                    self.refills, self.reset_at = True, -math.inf  # grew back before its reset
                    return
            else:
                reset_at = min(self.reset_at, reset_at)  # rounded up: the earliest is closest
        self.reset_at, self.remaining = reset_at, info.remaining
        self.left = info.remaining - sum(1 for start in starts if start < reset_at)

    def take(self, now: float) -> float:
        """When a start asked for at ``now`` may come: ``now``, or the reset when none is left."""
        if now >= self.reset_at:
            return now
        return self.reset_at if self.left < 1 else now

    def count(self, start: float) -> None:
        """Count a start reserved at ``start`` against what is left."""
        if start < self.reset_at:
            self.left -= 1


class Pacer:
    """Paces every request start of a client: a fixed ceiling, a learned rate, the quota.

    It starts unpaced (or at ``max_per_second``, a ceiling never exceeded). A throttle ends a
    run of requests: the pacer measures it and restarts CUBIC below what the server sustained;
    ``RateLimit-*`` headers hold starts until the reset once nothing is left. ``adaptive=False``
    turns learning and headers off, leaving the ceiling. ``epoch`` gives Unix time, for a reset
    sent as one. Raises ValueError for a ``max_per_second`` that is not a positive number.

    Call :meth:`delay` before each request, then exactly one of :meth:`on_success`,
    :meth:`on_throttle` or :meth:`on_no_answer` for it. Starts are counted from the end of the
    last Retry-After, so those reserved during a pause are spaced after it; a start whose wait
    a newer pause overtook should be given back (:meth:`on_no_answer`) and reserved again.
    """

    def __init__(
        self,
        max_per_second: float | None = None,
        *,
        adaptive: bool = True,
        epoch: Callable[[], float] = time.time,
    ) -> None:
        if max_per_second is not None and not (
            math.isfinite(max_per_second) and max_per_second > 0
        ):
            raise ValueError(f"max_per_second must be a number > 0, not {max_per_second!r}")
        self._ceiling, self._adaptive, self._epoch = max_per_second, adaptive, epoch
        self._bucket = None if max_per_second is None else TokenBucket(max_per_second)
        self._cubic: CubicCalculator | None = None  # None until the first throttle
        self._quota = Quota()
        self._run = Run(pause_before=None)
        self._closed: tuple[Run, float, float] | None = None  # the last throttle's run, its
        # end and the pace then, while answers to requests sent before it still come
        self._calm_until = self._paused_until = -math.inf
        self._starts: deque[float] = deque()  # of the requests not answered yet, in order
        self._last_answer = -math.inf
        self._rate = max_per_second

    @property
    def rate(self) -> float | None:
        """The pace in requests per second as of the last call; None while unpaced."""
        return self._rate

    def _target(self, now: float) -> float | None:
        rates = [] if self._ceiling is None else [self._ceiling]
        if self._cubic is not None:
            rates.append(max(MIN_RATE, self._cubic.rate(now)))
        return min(rates) if rates else None

    def delay(self, now: float) -> float:
        """Reserve a request start; return the seconds to wait for it (0.0 while unpaced).

        Starts wait for the end of the last Retry-After, for the pace, and for the quota's
        reset when the headers said nothing is left (at most :data:`MAX_HOLD`).
        """
        at = max(now, self._paused_until)
        at = self._quota.take(at) if self._adaptive else at
        if self._run.start is None:
            self._run.start = at
        elif not self._starts and at - self._last_answer > _IDLE:
            # The client was idle (a backoff, a pause in the caller's work): a run measures
            # what the server sustained while the client was sending, so it starts again here.
            self._run.start, self._run.successes = at, 0
        self._rate = target = self._target(at)
        if target is None:
            self._bucket = None
        else:
            if self._bucket is None:
                self._bucket = TokenBucket(target)
            wait = 0.0
            for _ in range(3):  # a start reserved ahead is paced at the rate it has by then
                self._bucket.set_rate(self._target(at + wait) or target, at)
                wait = self._bucket.peek(at)
            at += self._bucket.reserve(at)
        self._quota.count(at)
        while self._starts and self._starts[0] < now - _FORGET:
            self._starts.popleft()  # never answered: a caller forgot to say
        self._starts.append(at)
        return at - now

    def _answered(self, now: float) -> None:
        self._last_answer = now
        if self._starts:
            self._starts.popleft()

    def on_success(self, now: float, headers: Mapping[str, str] | None = None) -> None:
        """An answer that was not a throttle (any status); ``headers`` may hold rate limits."""
        self._answered(now)
        if now < self._calm_until and self._closed is not None:
            self._closed[0].successes += 1  # sent before the throttle: it belongs to that run
            self._learn(*self._closed)
        elif self._run.start is not None:
            self._run.successes += 1
        if headers and self._adaptive:
            info = parse_rate_limit_headers(headers, self._epoch())
            if info is not None:
                self._quota.update(info, now, self._starts)
        self._rate = self._target(now)

    def on_throttle(self, now: float, retry_after: float | None) -> None:
        """A 429, or a 503 with Retry-After: slow down, once per Retry-After.

        Throttles answered before that Retry-After ends (requests already on the wire) add
        nothing; the successes answered meanwhile still count toward the run it ended.
        """
        self._answered(now)
        pause = max(0.0, retry_after or 0.0)
        self._paused_until = max(self._paused_until, now + pause)
        if self._adaptive and now >= self._calm_until:
            self._calm_until = now + max(pause, _CALM)
            self._closed = (self._run, now, self._rate or math.inf)
            self._run = Run(pause_before=pause)
            self._learn(*self._closed)
        self._rate = self._target(now)

    def on_no_answer(self, now: float) -> None:
        """A reserved start that got no answer: not sent, or failed on the way."""
        self._answered(now)

    def _learn(self, run: Run, end: float, failed: float) -> None:
        pause = run.pause_before
        if pause is None:  # the first run: count the pause that follows it instead
            pause = max(0.0, self._paused_until - end)
        lower, upper = run.bounds(end, pause)
        w_max = min(failed, upper)
        self._cubic = self._cubic or CubicCalculator()
        start = min(self._cubic.beta * w_max, math.sqrt(lower * upper))
        self._cubic.decrease(w_max, max(end, self._paused_until), start)
