"""A fake inference upstream for the benchmarks and the soak: both wires, real-looking streams, injectable faults.

Run as ``python bench/fake_upstream.py PORT``. Serves ``POST /v1/chat/completions`` (OpenAI wire) and
``POST /v1/messages`` (Anthropic wire) over plain HTTP/1.1 with keep-alive. It is a raw asyncio server
rather than an ASGI app so that it costs little next to the proxies it feeds, and so that it controls the
bytes on the wire: every SSE event is its own chunked write, flushed before the next one is produced, as
real providers do (they emit one token at a time). A fake that sends a whole stream in one write lets the
proxy parse thousands of events per socket read and flatters it.

What to answer is read from a marker anywhere in the request body (the proxies forward message text
unchanged), so one upstream serves every profile and every proxy:

``@@bench:deltas:N@@``  N text deltas          ``@@bench:slow:MS@@``   first byte after MS ms, then success
``@@bench:reset:K@@``   K deltas then a TCP reset (non-stream: reset before the body)
``@@bench:http500@@``   500 with an error body  ``@@bench:http429@@``  429 with ``retry-after: 1``
``@@bench:malformed@@`` a stream with one non-JSON ``data:`` line (non-stream: a 200 non-JSON body)
``@@bench:trunc@@``     a stream that ends cleanly with no finish reason, ``[DONE]`` or ``message_stop``
                        (non-stream: a body shorter than its content-length, then close)

Without a marker it answers "tok tok " in two deltas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import struct
import sys
import time
from typing import Any

MARKER = re.compile(rb"@@bench:([a-z0-9]+)(?::(\d+))?@@")
SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"


def _oa(delta: dict[str, Any], finish: str | None = None) -> bytes:
    data = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1764000000,
        "model": "bench-model",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def _an(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


OA_FIRST = _oa({"role": "assistant", "content": ""})
OA_DELTA = _oa({"content": "tok "})
OA_END = [
    _oa({}, "stop"),
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764000000,"model":"bench-model",'
    b'"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":10,"total_tokens":110}}\n\n',
    b"data: [DONE]\n\n",
]
AN_FIRST = [
    _an("message_start", {"type": "message_start", "message": {
        "id": "msg_bench", "type": "message", "role": "assistant", "model": "bench-model", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 100, "output_tokens": 1}}}),
    _an("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
]  # fmt: skip
AN_DELTA = _an("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "tok "}})  # fmt: skip
AN_END = [
    _an("content_block_stop", {"type": "content_block_stop", "index": 0}),
    _an("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                          "usage": {"output_tokens": 10}}),
    _an("message_stop", {"type": "message_stop"}),
]  # fmt: skip
OA_BAD = b'data: {"choices": [{"delta": {"content": "x"\n\n'
AN_BAD = b'event: content_block_delta\ndata: {"type": "content_block_delta", "ind\n\n'


def _full_body(anthropic: bool, text: str) -> bytes:
    if anthropic:
        body: dict[str, Any] = {
            "id": "msg_bench", "type": "message", "role": "assistant", "model": "bench-model",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": 10}}  # fmt: skip
    else:
        body = {
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 1764000000, "model": "bench-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}  # fmt: skip
    return json.dumps(body).encode()


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def _error(status: str, kind: str, message: str, anthropic: bool, extra: str = "") -> bytes:
    if anthropic:
        body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        body = {"error": {"message": message, "type": kind, "code": None}}
    return _response(status, json.dumps(body).encode(), extra)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST, as a crashed upstream or a dropped connection does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _stream(writer: asyncio.StreamWriter, anthropic: bool, n: int, kind: str, arg: int) -> bool:
    """Write one SSE response, each event its own chunk and its own write; False when the connection is gone."""

    async def put(event: bytes) -> None:
        writer.write(b"%x\r\n%s\r\n" % (len(event), event))
        await writer.drain()
        await asyncio.sleep(0)  # the next token is "produced" after this one went out

    writer.write(SSE_HEAD)
    for event in AN_FIRST if anthropic else [OA_FIRST]:
        await put(event)
    delta = AN_DELTA if anthropic else OA_DELTA
    for i in range(n):
        if kind == "reset" and i == arg:
            _abort(writer)
            return False
        if kind == "malformed" and i == n // 2:
            await put(AN_BAD if anthropic else OA_BAD)
        await put(delta)
    if kind == "reset":
        _abort(writer)
        return False
    if kind != "trunc":
        for event in AN_END if anthropic else OA_END:
            await put(event)
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True


async def _answer(body: bytes, path: str, writer: asyncio.StreamWriter) -> bool:
    """Write the response the marker asks for; False when the connection must not be reused."""
    anthropic = path.startswith("/v1/messages")
    if not (anthropic or path.startswith("/v1/chat/completions")):
        writer.write(_response("404 Not Found", b'{"error":"not found"}'))
        return True
    found = MARKER.search(body)
    kind, arg = (found.group(1).decode(), int(found.group(2) or 0)) if found else ("deltas", 2)
    try:
        stream = bool(json.loads(body).get("stream"))
    except ValueError:
        writer.write(_error("400 Bad Request", "invalid_request_error", "body is not JSON", anthropic))
        return True
    if kind == "slow":
        await asyncio.sleep(arg / 1000)
    if kind == "http500":
        writer.write(_error("500 Internal Server Error", "api_error", "upstream exploded", anthropic))
        return True
    if kind == "http429":
        msg = "rate limited, slow down"
        writer.write(_error("429 Too Many Requests", "rate_limit_error", msg, anthropic, "retry-after: 1\r\n"))
        return True
    n = arg if kind == "deltas" else 20
    if stream:
        return await _stream(writer, anthropic, n, kind, arg)
    if kind == "reset":
        _abort(writer)
        return False
    if kind == "malformed":
        writer.write(_response("200 OK", b"<html>upstream gateway page</html>"))
        return True
    full = _full_body(anthropic, "tok " * n)
    if kind == "trunc":
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(full)}\r\n\r\n"
        writer.write(head.encode() + full[: len(full) // 2])
        await writer.drain()
        writer.close()
        return False
    writer.write(_response("200 OK", full))
    return True


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                return b"".join(parts)
            parts.append(data[:-2])
    return await reader.readexactly(int(headers.get("content-length", "0")))


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
            body = await _read_body(reader, headers)
            if method == "GET":
                writer.write(_response("200 OK", b'{"status":"ok"}'))
                await writer.drain()
                continue
            if not await _answer(body, path.split("?")[0], writer):
                return
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024, limit=2**20)
    print(f"fake upstream on 127.0.0.1:{port} at {time.time():.3f}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    import uvloop  # the proxy's own loop: the fake must not be the slowest process on the machine

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main(int(sys.argv[1])))
