"""A lean HTTP/1.1 client for upstream calls: asyncio protocol + httptools' C parser.

Why not httpx here: profiled on a real-traffic stream (one SSE event per upstream write), httpx's
pure-Python HTTP/1.1 stack (h11 + httpcore) took ~9.8 µs of the proxy's ~25 µs CPU per event —
more than our whole translation. httptools (already installed: uvicorn's parser) decodes chunked
bodies in C, and an asyncio Protocol hands over everything one socket read brought as one chunk,
so the events of one read become one write to the client. httpx stays for everything that is not
the hot path (probes, doctor, Ollama).

Errors are raised as httpx's exception types so the error mapping stays in one place
(:mod:`hybridcc.proxy.upstream`).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Final, cast
from urllib.parse import urlsplit

import httptools
import httpx

KEEPALIVE_EXPIRY: Final = 60.0
MAX_IDLE_PER_HOST: Final = 64
_Key = tuple[str, str, int]


class _Conn(asyncio.Protocol):
    """One connection; one request at a time. Parser callbacks only record; the reader awaits."""

    def __init__(self, key: _Key) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.complete = False
        self.got_bytes = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.idle_since = 0.0

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check here.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # pragma: no cover - never asked for
            self.error = httpx.RemoteProtocolError("unexpected protocol upgrade")
        except httptools.HttpParserError as exc:
            self.error = httpx.RemoteProtocolError(f"malformed HTTP response: {exc}")
        self._wake()

    def _eof_delimited(self) -> bool:
        names = {name for name, _ in self.headers}
        chunked = any(n == b"transfer-encoding" and b"chunked" in v.lower() for n, v in self.headers)
        return self.headers_done and b"content-length" not in names and not chunked

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.complete and self.error is None and exc is None and self._eof_delimited():
            self.complete = True  # a body without length or chunking ends when the server closes
        if not self.complete and self.error is None:
            if not self.headers_done and not self.got_bytes:
                self.error = httpx.RemoteProtocolError("server disconnected without sending a response")
            else:
                self.error = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        self.transport = None
        self._wake()

    # -- httptools callbacks ------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True

    # -- reader side -------------------------------------------------------------------------
    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def wait(self, timeout: float) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self.waiter, timeout)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no data from the server for {timeout:g} s") from None
        finally:
            self.waiter = None

    def reset(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.headers = []
        self.body = []
        self.headers_done = self.complete = self.got_bytes = False
        self.error = None

    def reusable(self) -> bool:
        return (
            self.complete
            and self.error is None
            and self.transport is not None
            and not self.transport.is_closing()
            and self.parser.should_keep_alive()
        )

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class H1Response:
    """What the exchange needs of a response: status, headers, the body as it arrives."""

    def __init__(self, pool: H1Pool, conn: _Conn, read_timeout: float) -> None:
        self._pool = pool
        self._conn = conn
        self._timeout = read_timeout
        self.status_code = conn.parser.get_status_code()
        self.headers = httpx.Headers(conn.headers)
        self._closed = False

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            if conn.body:
                chunk = b"".join(conn.body) if len(conn.body) > 1 else conn.body[0]
                conn.body.clear()
                yield chunk
                continue
            if conn.complete:
                return
            if conn.error is not None:
                raise conn.error
            await conn.wait(self._timeout)

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.aiter_raw()])

    @property
    def content(self) -> bytes:  # only after aread(); kept for symmetry with httpx
        return b""

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._conn.reusable():
            self._pool.release(self._conn)
        else:
            self._conn.close()  # mid-body: the upstream sees the disconnect and stops generating


class H1Pool:
    """Keep-alive connections per (scheme, host, port), reused one request at a time."""

    def __init__(self, *, connect_timeout: float = 10.0) -> None:
        self._idle: dict[_Key, deque[_Conn]] = {}
        self._connect_timeout = connect_timeout
        self._ssl: ssl.SSLContext | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            try:
                import certifi

                self._ssl = ssl.create_default_context(cafile=certifi.where())
            except ImportError:  # pragma: no cover - certifi comes with httpx
                self._ssl = ssl.create_default_context()
        return self._ssl

    def release(self, conn: _Conn) -> None:
        idle = self._idle.setdefault(conn.key, deque())
        if len(idle) >= MAX_IDLE_PER_HOST:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def _reuse(self, key: _Key) -> _Conn | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if (
                conn.transport is not None
                and not conn.transport.is_closing()
                and now - conn.idle_since < KEEPALIVE_EXPIRY
            ):
                return conn
            conn.close()
        return None

    async def _connect(self, key: _Key) -> _Conn:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Conn(key), host, port,
                    ssl=self._ssl_context() if scheme == "https" else None,
                    server_hostname=host if scheme == "https" else None,
                ),
                self._connect_timeout,
            )  # fmt: skip
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} took over {self._connect_timeout:g} s") from None
        except OSError as exc:
            raise httpx.ConnectError(f"{exc.strerror or exc} ({host}:{port})") from exc
        return conn

    async def send(self, request: httpx.Request, *, read_timeout: float) -> H1Response:
        """Send ``request`` (its body already in memory); return once the headers arrived."""
        url = urlsplit(str(request.url))
        scheme = url.scheme
        port = url.port or (443 if scheme == "https" else 80)
        key: _Key = (scheme, url.hostname or "", port)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        body = request.content
        head = [f"{request.method} {target} HTTP/1.1\r\nhost: {url.netloc.rsplit('@', 1)[-1]}\r\n".encode("latin-1")]
        for name, value in request.headers.raw:
            lname = name.lower()
            if lname in (b"host", b"content-length", b"transfer-encoding", b"connection"):
                continue
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-length: " + str(len(body)).encode() + b"\r\n\r\n")
        payload = b"".join(head) + body
        for attempt in (0, 1):
            conn = self._reuse(key) if attempt == 0 else None
            fresh = conn is None
            if conn is None:
                conn = await self._connect(key)
            else:
                conn.reset()
            assert conn.transport is not None
            conn.transport.write(payload)
            try:
                while not conn.headers_done:
                    if conn.error is not None:
                        raise conn.error
                    await conn.wait(read_timeout)
            except httpx.RemoteProtocolError:
                conn.close()
                if not fresh and not conn.got_bytes:
                    continue  # a pooled connection the server had closed: once more on a new one
                raise
            except BaseException:
                conn.close()
                raise
            return H1Response(self, conn, read_timeout)
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


def read_timeout_of(request: httpx.Request, default: float = 600.0) -> float:
    timeout: Any = request.extensions.get("timeout") or {}
    value = timeout.get("read") if isinstance(timeout, dict) else None
    return float(value) if value else default
