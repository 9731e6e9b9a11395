"""A forward proxy on 127.0.0.1 for the proxy tests: plain HTTP (absolute-form requests) and
HTTPS (CONNECT tunnels). It forwards only to loopback, and keeps every byte a client sent it,
so a test can say what the proxy could read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import attrs
from yarl import URL

_LOOPBACK = ("127.0.0.1", "localhost")


@attrs.define
class Proxy:
    """What the proxy saw: the target of each connection and every byte clients sent."""

    url: str = ""
    targets: list[str] = attrs.Factory(list)  # "CONNECT 127.0.0.1:443" or "GET http://..."
    received: bytearray = attrs.Factory(bytearray)

    @property
    def tunnels(self) -> list[str]:
        """The host:port of each CONNECT tunnel."""
        return [t.split()[1] for t in self.targets if t.startswith("CONNECT ")]


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: bytearray | None
) -> None:
    try:
        while chunk := await reader.read(65536):
            if seen is not None:
                seen += chunk
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def _target(head: bytes) -> tuple[str, str, int]:
    """``(request line, host, port)`` of the first request on a connection."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    method, target, _ = line.split(" ", 2)
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        return f"CONNECT {target}", host, int(port)
    url = URL(target)
    if url.host is None or url.port is None:
        raise ConnectionError(f"not an absolute-form request: {line}")
    return f"{method} {target}", url.host, url.port


@contextlib.asynccontextmanager
async def forward_proxy() -> AsyncIterator[Proxy]:
    """A proxy on 127.0.0.1 on a free port, for ``HTTP_PROXY``/``HTTPS_PROXY``."""
    proxy = Proxy()
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            proxy.received += head
            line, host, port = _target(head)
            proxy.targets.append(line)
            if host not in _LOOPBACK:  # a test proxy never reaches past this machine
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            up_reader, upstream = await asyncio.open_connection(host, port)
            if line.startswith("CONNECT "):
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:  # the first request goes on as it is: the fake server reads absolute-form
                upstream.write(head)
            await asyncio.gather(
                _pipe(reader, upstream, proxy.received), _pipe(up_reader, writer, None)
            )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        finally:
            writer.close()
            if upstream is not None:
                upstream.close()

    def start(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(handle(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(start, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy.url = f"http://127.0.0.1:{port}"
    try:
        yield proxy
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
