"""A lean HTTP/1.1 client and SSE parser for the benchmarks and the soak (asyncio streams, keep-alive).

Not httpx: its pure-Python chunked decoding costs ~10 µs a chunk, which would cap what the benchmark can
see at the speed of the client rather than the proxy when a proxy writes each event as its own chunk.
This client decodes chunks with a few ``readexactly`` calls and parses every SSE event (fields, then
``json.loads`` of ``data``) as Claude Code's SDK does. TTFB is the first byte of the response body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    name: str  # "" when the event had no ``event:`` field (OpenAI wire)
    data: Any  # parsed JSON, the string "[DONE]", or None when ``data`` was missing or not JSON
    raw: bytes


@dataclass
class Response:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""  # the whole body when it is not SSE
    events: list[Event] = field(default_factory=list)  # every event, or only the last unless keep_events
    event_count: int = 0
    ttfb: float = 0.0  # seconds from sending the request to the response body's first byte
    elapsed: float = 0.0
    complete: bool = False  # the body ended as HTTP framing says (final chunk / content-length)
    leftover: bytes = b""  # bytes after the last blank line: an unterminated event


class SSEParser:
    """Incremental SSE parser: feed bytes, get events. Keeps every event only when ``keep`` is set."""

    def __init__(self, keep: bool) -> None:
        self.buf = b""
        self.keep = keep
        self.events: list[Event] = []
        self.count = 0
        self.last: Event | None = None

    def feed(self, data: bytes) -> None:
        buf = self.buf + data
        if b"\r" in buf:  # the SSE grammar allows CRLF; normalise (a split "\r|\n" stays in buf)
            buf = buf.replace(b"\r\n", b"\n")
        start = 0
        while True:
            end = buf.find(b"\n\n", start)
            if end < 0:
                break
            self._event(buf[start:end])
            start = end + 2
        self.buf = buf[start:]

    def _event(self, raw: bytes) -> None:
        name = ""
        data: list[bytes] = []
        for line in raw.split(b"\n"):
            if line.startswith(b"data:"):
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line.startswith(b"event:"):
                name = line[6:].strip().decode()
        if not data:
            if name or (raw.strip(b"\n") and not raw.startswith(b":")):  # a comment (": ping") is no event
                self._add(Event(name, None, raw))
            return
        payload = b"\n".join(data)
        value: Any = "[DONE]"
        if payload != b"[DONE]":
            try:
                value = json.loads(payload)
            except ValueError:
                value = None
        self._add(Event(name, value, raw))

    def _add(self, event: Event) -> None:
        self.count += 1
        self.last = event
        if self.keep:
            self.events.append(event)


class Conn:
    """One keep-alive connection to ``127.0.0.1:port``; reconnects when the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        keep_events: bool = False,
    ) -> Response:
        """Send one request and read the whole response, parsing SSE bodies event by event."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2**22)
        reader, writer = self.reader, self.writer
        assert reader is not None
        head = f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{self.port}\r\ncontent-length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        resp = Response()
        t0 = time.perf_counter()
        writer.write(head.encode() + b"\r\n" + body)
        try:
            await self._read(reader, resp, t0, keep_events)
        finally:
            resp.elapsed = time.perf_counter() - t0
            if not resp.complete or resp.headers.get("connection", "").lower() == "close":
                await self.close()
        return resp

    async def _read(self, reader: asyncio.StreamReader, resp: Response, t0: float, keep: bool) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        resp.status = int(lines[0].split(" ", 2)[1])
        resp.headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
        sse = resp.headers.get("content-type", "").startswith("text/event-stream")
        parser = SSEParser(keep) if sse else None
        parts: list[bytes] = []

        def take(data: bytes) -> None:
            if not resp.ttfb:
                resp.ttfb = time.perf_counter() - t0
            if parser is not None:
                parser.feed(data)
            else:
                parts.append(data)

        try:
            if resp.headers.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    size = int((await reader.readline()).split(b";")[0], 16)
                    if size == 0:
                        await reader.readline()
                        resp.complete = True
                        break
                    take((await reader.readexactly(size + 2))[:-2])
            elif "content-length" in resp.headers:
                length = int(resp.headers["content-length"])
                if length:
                    take(await reader.readexactly(length))
                resp.complete = True
            else:  # the body runs until the server closes
                while data := await reader.read(65536):
                    take(data)
                resp.complete = True
                resp.headers["connection"] = "close"
        finally:
            resp.body = b"".join(parts)
            if parser is not None:
                resp.events, resp.event_count, resp.leftover = parser.events, parser.count, parser.buf
                if not keep and parser.last is not None:
                    resp.events = [parser.last]
