"""Rate limits the fake server can enforce: a token bucket or a fixed window, with headers.

:class:`RateLimit` is the configuration (``FakeI3DServer(rate_limit=RateLimit(...))``);
:class:`RateLimiter` is its state. The limiter is pure: every method takes the server's clock
time as ``now``, so it can also drive a simulation in virtual time.
"""

from __future__ import annotations

import math

import attrs

__all__ = ["IGNORED_GRACE", "RateLimit", "RateLimiter"]

IGNORED_GRACE = 0.05
"""Seconds after a 429 is sent during which a request still counts as not knowing of it."""


def _positive(instance: object, attribute: attrs.Attribute[float], value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a finite number > 0, not {value!r}")


def _burst(instance: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"burst must be >= 1, not {value!r}")


def _retry_after(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"retry_after must be a finite number >= 0, not {value!r}")


@attrs.frozen
class RateLimit:
    """A rate limit for :class:`FakeI3DServer` (``rate_limit=RateLimit(100, burst=10)``).

    * By default a token bucket: ``rate`` tokens per second, ``burst`` deep (default:
      ``rate``, at least 1), full at the start. Each request takes a token when it arrives;
      with none left it is answered 429 with ``Retry-After: retry_after``. Requests that
      arrive during the Retry-After are judged by the bucket like any other.
    * ``window=seconds`` makes it a fixed window instead: at most ``rate`` requests (rounded
      down, at least 1) per window; a window opens with the first request after the last one
      closed. ``burst`` is then unused.
    * ``headers=True`` adds ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``
      to every answer, 429s included. A window sends its quota, what is left of it and the
      seconds to its end; a bucket sends ``burst``, the whole tokens left and the seconds until
      it is full. Reset is an integer, rounded up.

    Raises ValueError for a rate, window or burst that is not positive, or a negative
    ``retry_after``.
    """

    rate: float = attrs.field(validator=_positive)
    burst: int | None = attrs.field(default=None, validator=_burst)
    retry_after: float = attrs.field(default=1.0, validator=_retry_after)
    headers: bool = False
    window: float | None = attrs.field(default=None, validator=_positive)

    @property
    def capacity(self) -> int:
        """Requests allowed at once: the bucket's depth, or the window's quota."""
        if self.window is None and self.burst is not None:
            return self.burst
        return max(1, math.floor(self.rate))


class RateLimiter:
    """The state of one :class:`RateLimit`: admits or refuses requests as they arrive.

    It also tells whether a request ignored a Retry-After: it arrived more than
    :data:`IGNORED_GRACE` seconds after a 429 was sent (see :meth:`refusal_sent`) and before
    that 429's Retry-After ran out.
    """

    def __init__(self, config: RateLimit) -> None:
        self.config = config
        self._tokens = float(config.capacity)  # bucket: tokens; window: requests left
        self._updated: float | None = None  # bucket: last refill; window: when it opened
        self._known_since = float("-inf")  # the first 429 of the Retry-After now in force
        self._known_until = float("-inf")

    def _refill(self, now: float) -> None:
        cap, window = self.config.capacity, self.config.window
        if window is None:
            if self._updated is not None:
                elapsed = max(0.0, now - self._updated)
                self._tokens = min(float(cap), self._tokens + elapsed * self.config.rate)
            self._updated = now if self._updated is None else max(now, self._updated)
        elif self._updated is not None and now >= self._updated + window:
            self._tokens, self._updated = float(cap), None

    def admit(self, now: float) -> bool:
        """Judge a request arriving at ``now``: True takes a token (or a place in the window),
        False means it must be answered 429."""
        self._refill(now)
        if self.config.window is not None and self._updated is None:
            self._updated = now  # the first request opens a window
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def ignores_retry_after(self, now: float) -> bool:
        """Whether a request arriving at ``now`` came during a Retry-After its client knew of."""
        return self._known_since + IGNORED_GRACE < now < self._known_until

    def refusal_sent(self, now: float) -> None:
        """Record that a 429 of this limiter was sent at ``now``."""
        if now >= self._known_until:
            self._known_since = now
        self._known_until = max(self._known_until, now + self.config.retry_after)

    def headers(self, now: float) -> dict[str, str]:
        """The ``RateLimit-*`` headers of an answer sent at ``now`` (empty unless ``headers``)."""
        if not self.config.headers:
            return {}
        self._refill(now)
        cap, window = self.config.capacity, self.config.window
        if window is None:
            reset = (cap - self._tokens) / self.config.rate
        else:
            reset = 0.0 if self._updated is None else self._updated + window - now
        return {
            "RateLimit-Limit": str(cap),
            "RateLimit-Remaining": str(math.floor(self._tokens)),
            "RateLimit-Reset": str(max(0, math.ceil(reset - 1e-9))),
        }

    @property
    def retry_after_text(self) -> str:
        """The ``Retry-After`` value of a refusal: integral seconds, or a short decimal."""
        seconds = self.config.retry_after
        if float(seconds).is_integer():
            return str(int(seconds))
        return f"{seconds:.6f}".rstrip("0").rstrip(".")
