"""What the fake server can be told to do wrong: random or queued faults, and lists that
misbehave. Each is one small settings object (``Faults``, ``ListQuirks``), in the style of
httpx's ``Timeout`` and ``Limits``; the server's flat keywords are shortcuts for them."""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final, Literal, TypeVar

import attrs

FaultKind = Literal["500", "503", "429", "reset", "truncated"]
"""A fault the server can inject: an error status, a reset mid-body, or a truncated body."""

FAULT_KINDS: Final[tuple[FaultKind, ...]] = ("500", "503", "429", "reset", "truncated")
"""Every fault kind, the default of ``Faults.kinds``."""

FaultRoutes = str | Collection[str] | Callable[[str, str], bool] | None
"""Where random faults may strike: None (every billing route), a route name or endpoint kind
(``"list"``, ``"detail"``, ``"pdf"``), a collection of them, or ``(route, raw_path) -> bool``."""

S = TypeVar("S")


def _check_faults(faults: Faults, *_: object) -> None:
    unknown = set(faults.kinds) - set(FAULT_KINDS)
    if unknown or not faults.kinds or not 0.0 <= faults.rate <= 1.0:
        raise ValueError(f"bad fault kinds {sorted(unknown)} or fault rate {faults.rate}")


@attrs.frozen
class Faults:
    """Seeded random faults: each eligible request fails with probability ``rate``, with a
    kind drawn from ``kinds``, on the ``routes`` given; 429 and 503 faults send
    ``Retry-After: retry_after`` (an integral value as ``"1"``, a fractional one as ``"0.05"``).

    One random draw is made per eligible request (plus one for the kind), so faults repeat
    for a seed and an order of requests. Raises ValueError for an unknown kind or a rate
    outside 0..1.
    """

    rate: float = 0.0
    seed: int = 0
    kinds: Collection[FaultKind] = FAULT_KINDS
    routes: FaultRoutes = None
    retry_after: float = 1.0

    def __attrs_post_init__(self) -> None:
        _check_faults(self)


@attrs.frozen
class ListQuirks:
    """How the list endpoints answer: a ``page_cap`` (at most this many items per answer,
    whatever RANGED-DATA asks), and servers that misbehave, to prove a client's pager ends:
    ``ignore_ranged_data`` (every list request gets the first 25 items), ``stuck_at_offset=N``
    (honest up to offset N, then the window at N for every later offset), ``duplicate_ids``
    (the first window holds its second item twice) and ``page_token_loop`` (every list answer
    hands out a fresh ``PAGE-TOKEN``, and a request with a token gets the first item again).
    """

    page_cap: int | None = None
    ignore_ranged_data: bool = False
    stuck_at_offset: int | None = None
    duplicate_ids: bool = False
    page_token_loop: bool = False

    def __attrs_post_init__(self) -> None:
        if self.page_cap is not None and self.page_cap < 1:
            raise ValueError("page_cap must be >= 1")


def settings(cls: type[S], given: S | None, **shortcuts: Any) -> S:
    """``given``, or ``cls`` built from the shortcut keywords that were passed (not None);
    both at once is a ValueError."""
    passed = {name: value for name, value in shortcuts.items() if value is not None}
    if given is None:
        return cls(**passed)
    if passed:
        raise ValueError(f"pass {cls.__name__}(...) or its shortcuts {sorted(passed)}, not both")
    return given


@attrs.define
class _Forced:
    kind: FaultKind
    endpoint: str | None
    remaining: int


class FaultPicker:
    """Decides each request's fault: queued ones first (``force``), then random ones."""

    def __init__(self, faults: Faults, routes: Mapping[str, str]) -> None:
        self.faults = faults
        self._routes = routes
        self._rng = random.Random(faults.seed)
        self._kinds = tuple(kind for kind in FAULT_KINDS if kind in faults.kinds)
        self._forced: list[_Forced] = []

    def force(self, kind: FaultKind, endpoint: str | None, count: int) -> None:
        """Fail the next ``count`` requests (to ``endpoint`` only, if given) with ``kind``."""
        if kind not in FAULT_KINDS or count < 1:
            raise ValueError(f"unknown fault kind {kind!r} or count {count}")
        if endpoint is not None and endpoint not in self._routes:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        self._forced.append(_Forced(kind, endpoint, count))

    def pick(self, route: str, path: str, rate: float) -> FaultKind | None:
        """The fault for a request to ``route`` (``rate``: the server's current fault rate)."""
        endpoint = self._routes[route]
        for forced in self._forced:
            if forced.endpoint in (None, route, endpoint):
                forced.remaining -= 1
                if not forced.remaining:
                    self._forced.remove(forced)
                return forced.kind
        where = self.faults.routes
        if rate <= 0.0 or route == "other":
            return None
        if callable(where):
            eligible = where(route, path)
        elif isinstance(where, str):
            eligible = where in (route, endpoint)
        else:
            eligible = where is None or route in where or endpoint in where
        if eligible and self._rng.random() < rate:
            return self._rng.choice(self._kinds)
        return None
