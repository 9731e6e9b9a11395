"""The ``invoice_async`` logger, with a filter that keeps API tokens out of every record.

The library is quiet: the logger has a ``NullHandler``, so a program that configures no
logging sees nothing (not even through Python's last-resort handler). Retries and pauses are
logged at INFO, one line each; each request and its status at DEBUG. Nothing is logged at
WARNING or above: a failure the caller must see is raised.

The client never logs headers; the filter is the second line of defence. It replaces the
value of every live client's token, and anything after ``PRIVATE-TOKEN``, in each record's
message and arguments, for records logged through this logger (every module of the package
logs through it). ``redact`` also cleans error texts that come from the API's answers.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Final
from urllib.parse import quote

logger: Final = logging.getLogger("invoice_async")
REDACTED: Final = "<redacted>"
_HEADER_RE: Final = re.compile(r"(PRIVATE-TOKEN['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+", re.IGNORECASE)
_tokens: Counter[str] = Counter()  # live clients per token
_forms: dict[str, tuple[str, ...]] = {}  # each live token as it may show in a text


def _shown_forms(token: str) -> tuple[str, ...]:
    """The token as an echo of it may show in a message: as it is, inside the repr of a str
    or of bytes (a quote or backslash escaped; aiohttp's parser quotes the bad line as
    bytes), and percent-encoded (a URL)."""
    forms = {
        token,
        repr(token)[1:-1],
        repr(token.encode("utf-8", "backslashreplace"))[2:-1],
        quote(token, safe=""),
        quote(token),
    }
    return tuple(sorted(forms, key=len, reverse=True))


def remember_token(token: str) -> None:
    """Redact this token from every record while a client uses it."""
    _tokens[token] += 1
    _forms[token] = _shown_forms(token)


def forget_token(token: str) -> None:
    """One client using this token is closed; redaction stops with the last one."""
    _tokens[token] -= 1
    if _tokens[token] <= 0:
        del _tokens[token]
        del _forms[token]


def redact(text: str) -> str:
    """``text`` without any known token and without the value of a PRIVATE-TOKEN header.

    Every text built from what the server sent goes through it before it lands in an
    exception, a log record or a file."""
    for forms in _forms.values():
        for form in forms:
            text = text.replace(form, REDACTED)
    return _HEADER_RE.sub(r"\1" + REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message so that no token survives formatting."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, ()
        return True


logger.addFilter(RedactingFilter())
logger.addHandler(logging.NullHandler())
