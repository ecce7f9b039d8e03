"""A fast fake OpenAI-compatible upstream for the benchmarks: canned streams, no work.

Run as ``python bench/fake_openai.py PORT``. ``"model": "deltas-N"`` asks for N text deltas.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import uvicorn


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    data = {
        "id": "c",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(data).encode() + b"\n\n"


USAGE = b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":100,"completion_tokens":10}}\n\ndata: [DONE]\n\n'
SMALL = (
    _chunk({"role": "assistant", "content": ""})
    + _chunk({"content": "Hello"})
    + _chunk({"content": " world"})
    + _chunk({}, "stop")
    + USAGE
)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    model = ""
    if body:
        with contextlib.suppress(ValueError):
            model = json.loads(body).get("model", "")
    payload = SMALL
    if model.startswith("deltas-"):
        n = int(model.split("-", 1)[1])
        payload = (
            _chunk({"role": "assistant", "content": ""})
            + b"".join(_chunk({"content": "x"}) for _ in range(n))
            + _chunk({}, "stop")
            + USAGE
        )
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    await send({"type": "http.response.body", "body": payload})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
    )
