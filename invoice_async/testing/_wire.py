"""How the fake server reads requests and what it records: its routes, its own RANGED-DATA
parser (independent of the client's code, so that it can catch the client's mistakes), error
objects, and the log record of each request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import attrs

from ._faults import FaultKind

ERROR_CODES: Final[dict[int, int]] = {
    400: 10_400,
    401: 10_401,
    403: 10_403,
    404: 10_001,
    405: 10_405,
    429: 10_429,
    500: 10_500,
    503: 10_503,
}
"""The `errorCode` the fake server puts in its error object, by HTTP status."""


ROUTES: Final[dict[str, str]] = {
    "list": "list",
    "unpaid": "list",
    "detail": "detail",
    "detail_by_number": "detail",
    "pdf": "pdf",
    "other": "other",
}
"""Route name (the keys of ``requests_per_path``) -> endpoint kind (for ``fault_paths``)."""


@attrs.frozen(slots=True)
class RequestRecord:
    """One answered request in :attr:`FakeI3DServer.log` (never holds the token's value).

    ``path`` is the raw (still percent-encoded) path, ``query`` the raw query string,
    ``status`` the status line sent (200 for a ``reset``/``truncated`` fault; 0 when the
    request was cancelled before any answer, e.g. by :meth:`FakeI3DServer.stop`), ``arrived_at``
    the server clock at arrival, ``early`` whether it came before a Retry-After had elapsed.
    """

    method: str
    path: str
    route: str
    query: str
    ranged_data: str | None
    status: int
    fault: FaultKind | None
    arrived_at: float
    token_ok: bool
    early: bool
    ids: tuple[int, ...] = ()
    """The invoice ids of a list answer, in its order (empty for other answers)."""


def _is_digits(text: str) -> bool:
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def read_ranged_data(value: str) -> tuple[int, int] | None:
    """Parse a ``RANGED-DATA`` value ``"start=<offset>,results=<count>"`` into (start, results).

    Either order and spaces around the parts are accepted; anything else gives ``None``.
    """
    fields: dict[str, int] = {}
    for part in value.split(","):
        key, _, number = part.partition("=")
        if not _is_digits(number.strip()):
            return None
        fields[key.strip().lower()] = int(number)
    if fields.keys() != {"start", "results"} or value.count(",") != 1:
        return None
    return fields["start"], fields["results"]


def error_object(
    status: int, message: str, errors: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """The API v3 error object the fake server answers with HTTP ``status``.

    ``errors`` holds ``(property, message)`` pairs.
    """
    return {
        "errorCode": ERROR_CODES.get(status, 10_000 + status),
        "errorMessage": message,
        "errors": [{"property": prop, "message": text} for prop, text in errors],
    }


parse_ranged_data = read_ranged_data
"""The name ``invoice_async.testing`` exports the fake server's parser under (kept)."""
