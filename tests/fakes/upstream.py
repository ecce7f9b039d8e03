"""A scriptable fake provider: a real HTTP server on 127.0.0.1 in a thread.

Each test gives it a handler ``(RecordedRequest) -> Reply``; every request is recorded, and a
client that goes away mid-stream is noticed (``disconnects``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: Iterable[bytes | float] | None = None  # bytes are written and flushed, floats are pauses
    delay_headers: float = 0.0
    abort: bool = False  # drop the connection after the chunks, without the final chunk


Handler = Callable[[RecordedRequest], Reply]


def sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


def openai_chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m", "choices": [choice], **extra}


def openai_stream(chunks: list[dict[str, Any]], *, done: bool = True) -> Reply:
    body = [sse(c) for c in chunks] + ([sse("[DONE]")] if done else [])
    return Reply(headers={"content-type": "text/event-stream"}, chunks=body)


def openai_text_stream(text_parts: list[str], usage: dict[str, Any] | None = None) -> Reply:
    chunks = [openai_chunk({"role": "assistant", "content": ""})]
    chunks += [openai_chunk({"content": t}) for t in text_parts]
    chunks.append(openai_chunk({}, "stop"))
    chunks.append({"id": "chatcmpl-1", "choices": [], "usage": usage or {"prompt_tokens": 10, "completion_tokens": 3}})
    return openai_stream(chunks)


def openai_tool_stream(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> Reply:
    args = json.dumps(arguments)
    half = len(args) // 2
    return openai_stream(
        [
            openai_chunk(
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                    ],
                }
            ),
            openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[:half]}}]}),
            openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[half:]}}]}),
            openai_chunk({}, "tool_calls"),
            {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 5}},
        ]
    )


def openai_json(
    text: str = "",
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str = "stop",
    usage: dict[str, Any] | None = None,
) -> Reply:
    msg: dict[str, Any] = {"role": "assistant", "content": text or None}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    data = {"id": "chatcmpl-1", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
            "usage": usage or {"prompt_tokens": 10, "completion_tokens": 3}}  # fmt: skip
    return Reply(headers={"content-type": "application/json"}, body=json.dumps(data).encode())


def _message_start(model: str, input_tokens: int) -> bytes:
    message = {"id": "msg_up", "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": None,
               "stop_sequence": None, "usage": {"input_tokens": input_tokens, "output_tokens": 1}}  # fmt: skip
    return sse({"type": "message_start", "message": message}, "message_start")


def anthropic_text_stream(
    text_parts: list[str], model: str = "m", *, input_tokens: int = 11, output_tokens: int = 4
) -> Reply:
    frames = [
        _message_start(model, input_tokens),
        sse(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            "content_block_start",
        ),
    ]
    frames += [
        sse(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}},
            "content_block_delta",
        )
        for t in text_parts
    ]
    frames += [
        sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
            "message_delta",
        ),
        sse({"type": "message_stop"}, "message_stop"),
    ]
    return Reply(
        headers={
            "content-type": "text/event-stream",
            "anthropic-ratelimit-unified-status": "allowed_warning",
            "request-id": "req_up",
        },
        chunks=frames,
    )


def anthropic_tool_stream(
    name: str, arguments: dict[str, Any], tool_id: str = "toolu_fake1", model: str = "m"
) -> Reply:
    args = json.dumps(arguments)
    frames = [
        _message_start(model, 30),
        sse(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": tool_id, "name": name, "input": {}},
            },
            "content_block_start",
        ),
        sse(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": args}},
            "content_block_delta",
        ),
        sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 9},
            },
            "message_delta",
        ),
        sse({"type": "message_stop"}, "message_stop"),
    ]
    return Reply(headers={"content-type": "text/event-stream"}, chunks=frames)


def anthropic_json(text: str, model: str = "m") -> Reply:
    data = {"id": "msg_up", "type": "message", "role": "assistant", "model": model, "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 2}}  # fmt: skip
    return Reply(headers={"content-type": "application/json"}, body=json.dumps(data).encode())


def error_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Reply(status=status, headers={"content-type": "application/json", **(headers or {})}, body=raw)


class _QuietServer(ThreadingHTTPServer):
    """A client going away mid-answer is part of the tests, not an error to print."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeUpstream:
    def __init__(self, handler: Handler | None = None) -> None:
        self.handler: Handler = handler or (lambda _r: openai_text_stream(["hi"]))
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0
        self.completed = 0
        self._lock = threading.Lock()
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                req = RecordedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with outer._lock:
                    outer.requests.append(req)
                reply = outer.handler(req)
                try:
                    if reply.delay_headers:
                        time.sleep(reply.delay_headers)
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    if reply.chunks is None:
                        self.send_header("content-length", str(len(reply.body)))
                        self.end_headers()
                        self.wfile.write(reply.body)
                    else:
                        self.send_header("transfer-encoding", "chunked")
                        self.end_headers()
                        for part in reply.chunks:
                            if isinstance(part, float | int):
                                time.sleep(part)
                                continue
                            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                            self.wfile.flush()
                        if reply.abort:
                            import socket

                            self.connection.shutdown(socket.SHUT_RDWR)
                            self.close_connection = True
                            return
                        self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    with outer._lock:
                        outer.completed += 1
                except (BrokenPipeError, ConnectionResetError):
                    with outer._lock:
                        outer.disconnects += 1
                    self.close_connection = True

            do_GET = do_POST = do_HEAD = _handle

        self.server = _QuietServer(("127.0.0.1", 0), _H)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeUpstream:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, path_part: str = "") -> list[Any]:
        return [r.json() for r in self.requests if path_part in r.path and r.method == "POST"]
