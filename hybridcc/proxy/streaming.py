"""Moving a streamed response to the client: pings while silent, cancel on disconnect.

Shared by the translated and the passthrough paths; no knowledge of either wire format.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from hybridcc.proxy.sse import PING_FRAME

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ClientGone(Exception):
    """The client disconnected; the upstream request is cancelled."""


class Sender:
    """Sends body chunks and `ping` frames whenever nothing was sent for a while."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.last = time.monotonic()
        self.closed = False
        self.at_boundary = True  # passthrough: pings go only between whole events

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
    before the response is complete."""
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
