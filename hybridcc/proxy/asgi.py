"""ASGI plumbing shared by both wires: reading the request, sending bytes, pings, disconnects.

No knowledge of either wire format lives here (shared/STYLE.md, lesson 18). Replaces the
landed ``proxy/streaming.py`` plus the send/read helpers that lived on ``ProxyApp``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from hybridcc.proxy.errors import ProxyError
from hybridcc.proxy.sse import PING_FRAME

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

JSON_HEADERS: Final[Headers] = [(b"content-type", b"application/json")]
SSE_HEADERS: Final[Headers] = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]
# Claude Code (2.1.197 and 2.1.332, measured) honours `x-should-retry: false` on every status but
# 529 / overloaded_error: the error is shown at once instead of after 10 retries with back-off.
NO_RETRY: Final = (b"x-should-retry", b"false")
# JSON nested ~1000 levels deep makes json.loads (or a recursive translator after it) raise
# RecursionError; it must be a 400, never a plain-text 500 (issue 11 item 9). Catching it costs
# nothing on ordinary requests, unlike a depth scan of every body.
TOO_DEEP: Final = ProxyError(400, "request body nests JSON too deeply")


class ClientGone(Exception):
    """The client disconnected; the upstream request is cancelled."""


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    headers: Headers | None = None,
    *,
    head: bool = False,
    replace_type: Headers | None = None,
) -> None:
    """A whole response (JSON unless ``replace_type`` gives other content-type headers)."""
    hdrs = [*(replace_type or JSON_HEADERS), (b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def send_json(send: Send, status: int, data: Any, headers: Headers | None = None, *, head: bool = False) -> None:
    await send_bytes(send, status, json.dumps(data).encode(), headers, head=head)


async def start_sse(send: Send, headers: Headers | None = None) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *(headers or [])]})


def rate_limit_headers() -> Headers:
    # Claude Code reads these for its rate-limit display; translated providers have none.
    reset = str(int(time.time()) + 3600).encode()
    return [(b"anthropic-ratelimit-unified-status", b"allowed"), (b"anthropic-ratelimit-unified-reset", reset)]


async def drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def read_json(scope: Scope, receive: Receive, *, max_body: int) -> dict[str, Any]:
    length = header(scope, b"content-length")
    too_big = ProxyError(413, f"request body over the proxy's limit of {max_body} bytes (proxy.max_body_mb)")
    if length is not None and length.isdigit() and int(length) > max_body:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body:
            raise too_big
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    try:
        data = json.loads(b"".join(chunks))
    except RecursionError as exc:
        raise TOO_DEEP from exc
    except ValueError as exc:
        raise ProxyError(400, f"request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProxyError(400, f"request body must be a JSON object, got {type(data).__name__}")
    return data


class Sender:
    """Sends body chunks, and `ping` frames whenever nothing was sent for ``interval`` seconds.

    Pings go only between whole events (``at_boundary``); the wires relay whole events only.
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self.last = time.monotonic()
        self.closed = False
        self.at_boundary = True

    async def send(self, data: bytes, *, final: bool = False) -> None:
        if self.closed:
            return
        if final:
            self.closed = True
        if data or final:
            self.last = time.monotonic()
            await self._send({"type": "http.response.body", "body": data, "more_body": not final})

    async def ping_loop(self, interval: float) -> None:
        while not self.closed:
            wait = self.last + interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if self.at_boundary:
                await self.send(PING_FRAME)
            else:
                await asyncio.sleep(interval / 10)


async def with_disconnect(receive: Receive, send: Send, work: Callable[[Send], Awaitable[None]]) -> None:
    """Run ``work(send)``; cancel it (and so the upstream request) if the client disconnects
    before the response is complete. Used for streaming AND non-streaming requests: an
    abandoned non-streaming call must not hold an upstream connection (issue 11 item 7)."""
    complete = False

    async def tracking_send(message: Message) -> None:
        nonlocal complete
        await send(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            complete = True

    task = asyncio.ensure_future(work(tracking_send))

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if not complete:
                    task.cancel()
                return

    watcher = asyncio.ensure_future(watch())
    try:
        await task
    except asyncio.CancelledError:
        if watcher.done() and not complete:
            raise ClientGone() from None
        if not complete:
            raise
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
