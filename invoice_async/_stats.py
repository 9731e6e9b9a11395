"""ClientStats: a snapshot of what a client has done, from counters kept where things happen.

The session counts requests and 429 answers, the retrier counts retries, the timekeeper counts
pauses and their length. Fields are keyword-only with defaults, so adding one (a later
``rate``) breaks no caller.
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class ClientStats:
    """What an :class:`~invoice_async.InvoiceClient` has done so far (``client.stats``).

    A frozen snapshot: read ``client.stats`` again for newer numbers.

    Attributes:
        requests: GET requests sent (once past the rate cap and any pause), retries included.
        retries: how many of those requests were retries of a failed one.
        rate_limited: answers with status 429 (Too Many Requests).
        pauses: ``Retry-After`` answers that started or extended the client-wide pause.
        paused_seconds: the length of the union of the client's pauses, in seconds (a pause
            that begins inside another one adds only what it extends).
        rate: the pace of request starts the client keeps now, in requests per second (the
            adaptive pacer's learned rate, or ``max_per_second``); None while unpaced.
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    pauses: int = 0
    paused_seconds: float = 0.0
    rate: float | None = None
