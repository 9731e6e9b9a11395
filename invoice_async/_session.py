"""The only module that talks aiohttp: requests, authentication, limits, error translation.

Every error of aiohttp is translated here into ``invoice_async.errors`` and never chained:
aiohttp's exceptions carry ``request_info``, whose headers hold the API token.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import aiohttp
import attrs
from aiohttp.client_middlewares import ClientHandlerType, ClientMiddlewareType
from yarl import URL

from . import _args, _protocol, errors
from ._args import Settings
from ._logging import logger, redact
from ._timekeeper import Timekeeper

_ERROR_BODY_LIMIT: Final = 64 * 1024
_MESSAGE_LIMIT: Final = 300
# What aiohttp raises that our translation covers: its own errors, timeouts, and the
# ValueError (UnicodeEncodeError among them) of a header that cannot be sent, whose args hold
# the whole request header block, token included.
_AIOHTTP_ERRORS: Final = (aiohttp.ClientError, TimeoutError, ValueError)


def _plain_length(response: aiohttp.ClientResponse) -> int | None:
    """Content-Length, when it counts the bytes the body will give (no Content-Encoding)."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    return response.content_length if encoding in ("", "identity") else None


async def _read_up_to(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, or its first ``limit`` bytes and a little more when it is longer."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)


def borrowed_pool_size(session: object) -> int:
    """How many connections a borrowed session's pool allows: the smaller non-zero of its
    connector's ``limit`` and ``limit_per_host``; an unlimited pool counts as
    ``_args.DEFAULT_MAX_CONNECTIONS``."""
    if not isinstance(session, aiohttp.ClientSession):
        raise errors.ConfigurationError("session must be an aiohttp.ClientSession or None")
    connector = session.connector
    if connector is None:  # a closed session: it fails at the first request anyway
        return _args.DEFAULT_MAX_CONNECTIONS
    limits = [n for n in (connector.limit, getattr(connector, "limit_per_host", 0)) if n]
    return min(limits) if limits else _args.DEFAULT_MAX_CONNECTIONS


@attrs.frozen
class JsonAnswer:
    """A decoded JSON answer with the response headers the client may need."""

    payload: Any
    headers: Mapping[str, str]
    url: str


@attrs.frozen
class BodyAnswer:
    """A whole answer body (not decoded yet) with the response headers the client may need."""

    body: bytes
    headers: Mapping[str, str]
    url: str


@attrs.frozen
class BodyStream:
    """An answer whose body is read chunk by chunk (``chunks()``), for PDFs.

    ``content_length`` is the announced length of the body as ``chunks()`` gives it: None
    when the answer is compressed (aiohttp inflates it, so the header counts other bytes).
    """

    url: str
    content_type: str | None
    content_length: int | None
    _response: aiohttp.ClientResponse = attrs.field(repr=False)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body in chunks as they arrive; a cut-short body raises TransportError.

        A chunk is what aiohttp holds when it is read: up to a few hundred KiB, since it stops
        reading from the socket past twice its 64 KiB limit. Asking for fixed 64 KiB chunks
        instead (``iter_chunked``) slices each arrived chunk, copying the rest every time:
        that made PDFs a third slower (benchmarks/README.md, P4).
        """
        failure = None
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except _AIOHTTP_ERRORS as exc:
            failure = translate(exc, "GET", self.url)
        if failure is not None:
            raise failure  # raised outside the except block: see translate()


def _server_text(text: str) -> str:
    """Text of an aiohttp error, which it builds from what the server sent (a status line, a
    header, a chunk size, a redirect's Location): redacted, on one line, cut short."""
    text = " ".join(redact(text).split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


def translate(exc: BaseException, method: str, url: str) -> errors.TransportError:
    """Our error for an aiohttp error (or a timeout, or a header that cannot be encoded).

    Raise it *outside* the ``except`` block that caught ``exc``: then neither ``__cause__``
    nor ``__context__`` refers to ``exc``, whose ``request_info`` (or, for a
    UnicodeEncodeError, ``args``) holds the request headers, the token among them, for any
    error reporter that walks the chain. Its text passes through ``redact()``: aiohttp quotes
    the server's bad line in it, and a hostile server can echo the token there.
    """
    if isinstance(exc, TimeoutError):
        return errors.RequestTimeoutError("the request timed out", method=method, url=url)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return errors.TransportError("the answer's body was cut short", method=method, url=url)
    if isinstance(exc, UnicodeError):
        # Its text names only a position; its args hold the header block: neither is kept.
        message = f"{type(exc).__name__}: a request header cannot be encoded"
        return errors.TransportError(message, method=method, url=url)
    if isinstance(exc, aiohttp.ClientResponseError):
        # Its message is the parser's (redacted); its request_info (headers) is dropped.
        message = f"{type(exc).__name__}: {_server_text(exc.message)}"
        return errors.TransportError(message, method=method, url=url)
    message = f"{type(exc).__name__}: {_server_text(str(exc))}"
    return errors.TransportError(message, method=method, url=url)


class HttpSession:
    """Sends GETs to the API with the token attached, and nothing else.

    The token is sent per request (never set on the session), and a client middleware, which
    aiohttp runs again on every redirect hop, takes it off any hop whose origin is not the
    API's: aiohttp would otherwise forward a custom header such as PRIVATE-TOKEN to any host
    a redirect names.
    A borrowed ``aiohttp.ClientSession`` is used as it is: never closed, never changed.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        token: _protocol.Secret,
        time: Timekeeper,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base_url = base_url = settings.base_url
        self._trust_env, self._ssl = settings.trust_env, settings.ssl  # of the session we own
        self._origin = URL(base_url).origin()
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout)
        self._connection_limit = connection_limit = settings.max_connections
        self._max_json_bytes = settings.max_response_bytes
        self._time = time
        self._slots = asyncio.Semaphore(connection_limit)
        self._borrowed = session
        self._owned: aiohttp.ClientSession | None = None
        self._closed = False
        self.requests = 0  # GETs sent (past the timekeeper), retries included
        self.rate_limited = 0  # 429 answers
        self._middlewares: tuple[ClientMiddlewareType, ...] = (
            *(getattr(session, "_middlewares", ()) or ()),
            self._authenticate,
        )

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self._base_url

    def url(self, path: str, query: str = "") -> str:
        """The full URL of ``path`` (already encoded) and ``query`` (already encoded)."""
        return f"{self._base_url}{path}?{query}" if query else f"{self._base_url}{path}"

    async def _authenticate(
        self, request: aiohttp.ClientRequest, handler: ClientHandlerType
    ) -> aiohttp.ClientResponse:
        # Runs for every hop. aiohttp rebuilds a redirected request from the first request's
        # headers, token included, so a hop to another origin has the token taken off here.
        if request.url.origin() != self._origin:
            request.headers.popall(_protocol.TOKEN_HEADER, None)
            request.headers.popall(_protocol.PAGE_TOKEN_HEADER, None)  # the API's, not theirs
        return await handler(request)

    def _session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise errors.ConfigurationError("the client is closed")
        if self._borrowed is not None:
            if self._borrowed.closed:
                raise errors.ConfigurationError("the borrowed aiohttp session is closed")
            return self._borrowed
        if self._owned is None:
            connector = aiohttp.TCPConnector(
                limit=self._connection_limit,
                limit_per_host=self._connection_limit,
                ssl=True if self._ssl is None else self._ssl,
            )
            # trust_env: HTTP(S)_PROXY and NO_PROXY (and ~/.netrc for a proxy's login).
            self._owned = aiohttp.ClientSession(
                connector=connector, raise_for_status=False, trust_env=self._trust_env
            )
        return self._owned

    async def _send(
        self, path: str, query: str, headers: Mapping[str, str]
    ) -> tuple[aiohttp.ClientResponse, str]:
        """Send a GET once a slot is free and no pause holds; returns the response (headers
        read, body not) and its URL. The caller must pass the response to ``_done``."""
        url = self.url(path, query)
        # One slot per request in flight, for the whole client: read-ahead and fan-out share
        # them, and a request waiting for one has not passed the timekeeper yet, so a pause that
        # starts meanwhile holds it too.
        await self._slots.acquire()
        try:
            await self._time.wait()
        except BaseException:
            self._slots.release()
            raise
        try:
            # Asked only now: the client may have been closed while this request waited.
            session = self._session()
            self.requests += 1
            response = await self._start(session, url, headers)
        except errors.ApiError:
            self._slots.release()
            raise  # an error answer: the timekeeper heard it in _start
        except BaseException:
            self._slots.release()
            self._time.no_answer()
            raise
        return response, url

    async def _start(
        self, session: aiohttp.ClientSession, url: str, headers: Mapping[str, str]
    ) -> aiohttp.ClientResponse:
        failure = None
        try:
            response = await session.get(
                URL(url, encoded=True),
                # The token goes into the call, not into a local variable: no frame of a
                # traceback (which error reporters record with its locals) holds it.
                headers={**headers, _protocol.TOKEN_HEADER: self._token.reveal()},
                timeout=self._request_timeout(),
                middlewares=self._middlewares,
                raise_for_status=False,  # even if a borrowed session says otherwise
            )
        except _AIOHTTP_ERRORS as exc:
            logger.debug("GET %s failed: %s", url, type(exc).__name__)
            failure = translate(exc, "GET", url)
        except BaseException as exc:
            # Cancellation (a timeout around the call) or anything unexpected: it goes on as
            # it is, but aiohttp's frames in its traceback hold the request's headers, token
            # included, so their locals are cleared first.
            traceback.clear_frames(exc.__traceback__)
            raise
        if failure is not None:
            raise failure  # outside the except block: see translate()
        logger.debug("GET %s -> %s", url, response.status)
        self._time.answered(response.status, response.headers)
        if response.status < 400:
            return response
        if response.status == 429:
            self.rate_limited += 1
        try:
            error = await self._error_of(response, url)
        finally:
            response.release()
            del response  # no frame of the traceback keeps the request's headers
        raise error

    async def _error_of(self, response: aiohttp.ClientResponse, url: str) -> errors.ApiError:
        # Its own frame, which returns: the raw body (a proxy's error page may echo the
        # request's headers) is in no frame of the error's traceback.
        body = await self._read(response, url, _ERROR_BODY_LIMIT)
        return _protocol.error_from_response(
            response.status,
            body,
            method="GET",
            url=url,
            retry_after=response.headers.get("Retry-After"),
        )

    def _done(self, response: aiohttp.ClientResponse) -> None:
        response.release()
        self._slots.release()

    async def _read(self, response: aiohttp.ClientResponse, url: str, limit: int) -> bytes:
        """The body, or its first ``limit + 1`` bytes when longer; errors translated."""
        failure = None
        length = _plain_length(response)
        try:
            if length is not None and length <= limit:
                return await response.read()
            return await _read_up_to(response, limit + 1)
        except _AIOHTTP_ERRORS as exc:
            failure = translate(exc, "GET", url)
        raise failure  # outside the except block: see translate()

    def _request_timeout(self) -> aiohttp.ClientTimeout:
        """The per-request timeout, cut short by the client's deadline when that is nearer."""
        remaining = self._time.remaining()
        total = self._timeout.total
        if remaining is not None and total is not None and remaining < total:
            return aiohttp.ClientTimeout(total=max(remaining, 0.001))
        return self._timeout

    async def get_body(
        self,
        path: str,
        *,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        limit: tuple[int, str] | None = None,
    ) -> BodyAnswer:
        """GET ``path`` and read its whole body, not decoded yet; raises ApiError,
        InvalidResponseError, TransportError.

        ``limit`` is ``(bytes, name of the setting)``: the answer is refused as it streams once
        it passes that many bytes or ``max_response_bytes``, whichever is fewer (JSON decodes
        to many times its size, so each kind of answer is held to what it can hold).
        """
        most, name = self._max_json_bytes, "max_response_bytes"
        if limit is not None and limit[0] < most:
            most, name = limit
        response, url = await self._send(path, query, headers or {})
        try:
            announced = _plain_length(response)
            if announced is not None and announced > most:
                raise errors.InvalidResponseError(
                    f"the answer announces {announced} bytes, over the limit of {most} ({name})",
                    url=url,
                )
            body = await self._read(response, url, most)
            answer_headers = response.headers
        finally:
            self._done(response)
            del response  # no frame of the traceback keeps the request's headers
        if len(body) > most:
            raise errors.InvalidResponseError(
                f"the answer is over the limit of {most} bytes ({name})", url=url
            )
        return BodyAnswer(body, answer_headers, url)

    async def get_json(
        self,
        path: str,
        *,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        limit: tuple[int, str] | None = None,
    ) -> JsonAnswer:
        """GET ``path`` and decode its JSON answer (``limit`` as :meth:`get_body`); raises
        ApiError, InvalidResponseError, TransportError."""
        answer = await self.get_body(path, query=query, headers=headers, limit=limit)
        return JsonAnswer(
            _protocol.decode_json(answer.body, url=answer.url), answer.headers, answer.url
        )

    @contextlib.asynccontextmanager
    async def stream(self, path: str) -> AsyncIterator[BodyStream]:
        """GET ``path`` and give its body as a stream; the response is released on exit."""
        response, url = await self._send(path, "", {})
        try:
            yield BodyStream(
                url=url,
                content_type=response.headers.get("Content-Type"),
                content_length=_plain_length(response),
                response=response,
            )
        finally:
            self._done(response)
            del response  # no frame of the traceback keeps the request's headers

    async def close(self) -> None:
        """Close the session we own; a borrowed one is left open."""
        self._closed = True
        if self._owned is not None:
            owned, self._owned = self._owned, None
            await owned.close()

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed
