"""Incremental Server-Sent Events decoding and encoding; no network here.

The decoder takes arbitrary byte chunks (``feed``) and returns complete events; ``flush`` hands
over an event the stream ended without a blank line after. Lines may end in LF, CRLF or CR.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str | None
    data: str


class SSEDecoder:
    __slots__ = ("_buf", "_data", "_event", "_pending_cr")

    def __init__(self) -> None:
        self._buf = ""
        self._event: str | None = None
        self._data: list[str] = []
        self._pending_cr = False

    def feed(self, chunk: bytes | str) -> list[SSEEvent]:
        text = chunk.decode("utf-8", errors="replace") if isinstance(chunk, bytes) else chunk
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]  # the LF of a CRLF split across two chunks
        self._pending_cr = text.endswith("\r")
        self._buf += text
        if "\r" in self._buf:
            self._buf = self._buf.replace("\r\n", "\n").replace("\r", "\n")
        out: list[SSEEvent] = []
        while True:
            nl = self._buf.find("\n")
            if nl < 0:
                break
            line = self._buf[:nl]
            self._buf = self._buf[nl + 1 :]
            ev = self._line(line)
            if ev is not None:
                out.append(ev)
        return out

    def flush(self) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        if self._buf:
            ev = self._line(self._buf)
            self._buf = ""
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
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        return None


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode(event: str, data: dict[str, Any]) -> bytes:
    """One Anthropic-style frame: an ``event:`` line and a ``data:`` line."""
    return f"event: {event}\ndata: {_dumps(data)}\n\n".encode()


PING_FRAME = encode("ping", {"type": "ping"})


def error_frame(error_type: str, message: str) -> bytes:
    return encode("error", {"type": "error", "error": {"type": error_type, "message": message}})
