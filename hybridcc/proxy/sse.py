"""Incremental Server-Sent Events decoding and encoding; no network here.

The decoder takes arbitrary byte chunks (``feed``) and returns complete events; ``flush`` hands
over an event the stream ended without a blank line after. Lines may end in LF, CRLF or CR.

Bytes become text once per complete line, never per socket read: a UTF-8 sequence never
contains the bytes of CR or LF, so splitting the bytes at line ends first and decoding whole
lines is exactly an incremental decoder — a character split across two reads stays whole
(shared/STYLE.md, lesson 16).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str | None
    data: str


def decode_line(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # truly invalid bytes (not a split character): keep the rest
        return raw.decode("utf-8", errors="replace")


class LineSplitter:
    """Bytes in, complete lines (still bytes, without their ending) out."""

    __slots__ = ("_buf", "_pending_cr")

    def __init__(self) -> None:
        self._buf = b""
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._pending_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]  # the LF of a CRLF split across two reads
        self._pending_cr = chunk[-1:] == b"\r"
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf = self._buf + chunk if self._buf else chunk
        if b"\n" not in buf:
            self._buf = buf
            return []
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        return lines

    def rest(self) -> bytes:
        rest, self._buf = self._buf, b""
        return rest


class SSEDecoder:
    """Complete SSE events from arbitrary byte (or text) chunks."""

    __slots__ = ("_data", "_event", "_lines")

    def __init__(self) -> None:
        self._lines = LineSplitter()
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes | str) -> list[SSEEvent]:
        raw = chunk.encode() if isinstance(chunk, str) else chunk
        out: list[SSEEvent] = []
        for line in self._lines.feed(raw):
            ev = self._line(decode_line(line))
            if ev is not None:
                out.append(ev)
        return out

    def flush(self) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        rest = self._lines.rest()
        if rest:
            ev = self._line(decode_line(rest))
            if ev is not None:
                out.append(ev)
        ev = self._line("")
        if ev is not None:
            out.append(ev)
        return out

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._data and self._event is None:
                return None
            ev = SSEEvent(self._event, "\n".join(self._data))
            self._event, self._data = None, []
            return ev
        if line[0] == ":":
            return None  # a comment (keep-alive)
        if line.startswith("data:"):
            value = line[5:]
            self._data.append(value[1:] if value[:1] == " " else value)
            return None
        field, _, value = line.partition(":")
        if field == "event":
            self._event = value[1:] if value[:1] == " " else value
        return None


dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode(event: str, data: dict[str, Any]) -> bytes:
    """One Anthropic-style frame: an ``event:`` line and a ``data:`` line."""
    return f"event: {event}\ndata: {dumps(data)}\n\n".encode()


PING_FRAME = encode("ping", {"type": "ping"})


def error_frame(error_type: str, message: str) -> bytes:
    return encode("error", {"type": "error", "error": {"type": error_type, "message": message}})
