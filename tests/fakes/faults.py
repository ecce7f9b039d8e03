"""Fault-injection helpers for the fault matrix (tests/proxy/test_fault_matrix.py, issue 11).

The builders below give what a faulty provider sends on either wire (``OAI``: Chat Completions,
``ANT``: Anthropic Messages), streaming or not, on top of ``tests/fakes/upstream.py``.
``ResetServer`` is a raw TCP upstream that answers with a script of bytes and then resets the
connection (RST, not FIN): what the HTTP-level ``FakeUpstream`` cannot do. ``TeeTransport``
lets the official ``anthropic`` client parse a response while the test keeps its raw bytes for
the strict grammar checker, and turns a stream that outlives the case's deadline into a failure
(pings would otherwise keep a hung stream alive for ever). ``check_failed_stream`` is the
grammar of a stream that ends in ``event: error``.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2

from tests.fakes.grammar import DELTA_FOR
from tests.fakes.upstream import (
    Reply,
    anthropic_json,
    anthropic_text_stream,
    error_reply,
    openai_chunk,
    openai_json,
    openai_text_stream,
    sse,
)

OAI, ANT = "openai", "anthropic"
PARTIAL = "Hello partial "  # what the upstream says before it fails mid-stream


# -- what a faulty upstream sends (both wires) ------------------------------------------------


def oai_err(message: str, etype: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": etype, "code": code}}


def ant_err(etype: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": etype, "message": message}}


def partial_frames(wire: str) -> list[bytes]:
    """The start of an answer: some text, no finish."""
    if wire == OAI:
        return [sse(openai_chunk({"role": "assistant", "content": ""})), sse(openai_chunk({"content": PARTIAL}))]
    return [bytes(f) for f in list(anthropic_text_stream([PARTIAL]).chunks or [])[:3] if isinstance(f, bytes)]


def finish_frames(wire: str) -> list[bytes]:
    """The proper end of an answer: after a fault it must never make the stream look complete."""
    if wire == OAI:
        usage = {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}}
        return [sse(openai_chunk({}, "stop")), sse(usage), sse("[DONE]")]
    return [bytes(f) for f in list(anthropic_text_stream([PARTIAL]).chunks or [])[3:] if isinstance(f, bytes)]


def success(wire: str, stream: bool) -> Reply:
    if stream:
        return openai_text_stream([PARTIAL]) if wire == OAI else anthropic_text_stream([PARTIAL])
    return openai_json(PARTIAL) if wire == OAI else anthropic_json(PARTIAL)


def json_body(wire: str) -> bytes:
    return success(wire, False).body


def sse_reply(frames: list[bytes]) -> Reply:
    return Reply(headers={"content-type": "text/event-stream"}, chunks=frames)


def http_error(status: int, oai: dict[str, Any], ant: dict[str, Any], **headers: str) -> Callable[[str, bool], Reply]:
    return lambda wire, _stream: error_reply(status, oai if wire == OAI else ant, headers or None)


HTML = b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"


def malformed(wire: str, stream: bool) -> Reply:
    if stream:  # a hole in the middle of an answer that otherwise ends properly
        bad = (
            b'data: {"choices": [{"delta": {"content\n\n'
            if wire == OAI
            else (b'event: content_block_delta\ndata: {"type": "content_block_delta", "ind\n\n')
        )
        return sse_reply([*partial_frames(wire), bad, *finish_frames(wire)])
    # JSON, but not a response: a JSON array where an object must be
    return Reply(headers={"content-type": "application/json"}, body=b'[{"unexpected": true}]')


def truncated(wire: str, stream: bool) -> Reply:
    if stream:  # a clean end of the chunked body: no finish_reason, no [DONE] / no message_stop
        return sse_reply(partial_frames(wire))
    body = json_body(wire)
    return Reply(headers={"content-type": "application/json"}, chunks=[body[: len(body) // 2]])


def error_in_200(wire: str, stream: bool) -> Reply:
    if stream:
        if wire == OAI:
            err = sse(oai_err("upstream model crashed", "server_error"))
        else:
            err = sse(ant_err("api_error", "upstream model crashed"), "error")
        return sse_reply([*partial_frames(wire), err])
    body = oai_err("upstream model crashed", "server_error") if wire == OAI else ant_err("api_error", "crashed")
    return Reply(headers={"content-type": "application/json"}, body=json.dumps(body).encode())


def reset_mid(wire: str, stream: bool) -> bytes:
    if stream:
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        return head + b"".join(f"{len(f):x}\r\n".encode() + f + b"\r\n" for f in partial_frames(wire))
    body = json_body(wire)
    start = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    return start.encode() + body[: len(body) // 2]


Script = Callable[[bytes], bytes]  # the request's bytes → what to send before the reset


class ResetServer:
    """Reads one request per connection, sends ``script(request)``, then resets the connection."""

    def __init__(self) -> None:
        self.script: Script = lambda _req: b""
        self.requests = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)  # accept() wakes up to notice __exit__
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ResetServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    got = conn.recv(65536)
                    if not got:
                        return
                    data += got
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(body) < length:
                    got = conn.recv(65536)
                    if not got:
                        return
                    body += got
                self.requests += 1
                prefix = self.script(head + b"\r\n\r\n" + body)
                if prefix:
                    conn.sendall(prefix)
                    time.sleep(0.05)  # let the proxy read the prefix before the reset discards it
            except OSError:
                return
            # SO_LINGER 0: close() sends RST instead of FIN.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def refused_port() -> tuple[socket.socket, str]:
    """A bound socket that does not listen (keep it open): connecting to its port is refused,
    and no other process can take the port meanwhile."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


class CaseDeadline(AssertionError):
    """The proxy kept the response open past the case's deadline: a hang."""


class _TeeStream(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, tee: TeeTransport) -> None:
        self._inner = inner
        self._tee = tee

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._tee.raw += chunk
            if time.monotonic() > self._tee.deadline:
                raise CaseDeadline(f"response still open after the deadline; got {bytes(self._tee.raw)[-300:]!r}")
            yield chunk

    def close(self) -> None:
        self._inner.close()


class TeeTransport(httpx2.BaseTransport):
    """An httpx2 transport for ``anthropic.Anthropic(http_client=…)`` that keeps the raw response."""

    def __init__(self, deadline_s: float) -> None:
        self._inner = httpx2.HTTPTransport()
        self.deadline_s = deadline_s
        self.deadline = 0.0
        self.raw = bytearray()
        self.status: int | None = None
        self.headers: dict[str, str] = {}

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.deadline = time.monotonic() + self.deadline_s
        self.raw = bytearray()
        resp = self._inner.handle_request(request)
        self.status = resp.status_code
        self.headers = {k.lower(): v for k, v in resp.headers.items()}
        assert isinstance(resp.stream, httpx2.SyncByteStream)
        resp.stream = _TeeStream(resp.stream, self)
        return resp

    def close(self) -> None:
        self._inner.close()


def check_failed_stream(events: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], str]:
    """Assert the grammar of a stream that fails: ``[message_start, whole blocks…, an open block…]``
    or nothing, then exactly one ``event: error`` as the last event; never ``message_delta`` or
    ``message_stop`` (a failed answer must not look finished). Returns (the error object, the
    text delivered before it)."""
    names = [e for e, _ in events if e != "ping"]
    assert names, "no events at all"
    assert names[-1] == "error", f"a failed stream must end with event: error, got {names}"
    assert names.count("error") == 1, names
    assert "message_stop" not in names and "message_delta" not in names, f"fake success: {names}"
    body = [(e, d) for e, d in events if e not in ("ping", "error")]
    if body:
        assert body[0][0] == "message_start", names
        assert [e for e, _ in body].count("message_start") == 1, "duplicate message_start"
        assert body[0][1]["message"]["usage"]["input_tokens"] > 0, "input_tokens must be a real estimate"
    open_kind: str | None = None
    open_index: int | None = None
    next_index = 0
    text = ""
    for event, data in body[1:]:
        if event == "content_block_start":
            assert open_index is None, "two blocks open at once"
            assert data["index"] == next_index, "block indexes must count up from 0"
            open_index, open_kind = data["index"], data["content_block"]["type"]
            if open_kind == "tool_use":
                assert data["content_block"].get("input") == {}, "tool_use start must carry input: {}"
        elif event == "content_block_delta":
            assert data["index"] == open_index and open_kind is not None, "delta for a block that is not open"
            allowed = DELTA_FOR[open_kind]
            dtype = data["delta"]["type"]
            assert dtype in allowed if isinstance(allowed, set) else dtype == allowed, (open_kind, dtype)
            if dtype == "text_delta":
                text += data["delta"]["text"]
        elif event == "content_block_stop":
            assert data["index"] == open_index, "stop for a block that is not open"
            open_index = open_kind = None
            next_index += 1
        else:
            raise AssertionError(f"unexpected event {event} in a failed stream")
    error = next(d for e, d in events if e == "error")
    assert error["type"] == "error" and isinstance(error.get("error"), dict), error
    assert isinstance(error["error"].get("type"), str) and isinstance(error["error"].get("message"), str), error
    return error["error"], text
