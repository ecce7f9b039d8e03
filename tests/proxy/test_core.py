# ruff: noqa: E741, RUF015, SIM117  -- compact harness tests
"""Staging smoke tests of the salvaged proxy core over real sockets (127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
import uvicorn

from hybridcc.config.load import load_config
from hybridcc.proxy.app import ProxyApp
from tests.helpers import wait_for


class Fake:
    """A raw asyncio upstream: a script of (bytes, delay) writes per request."""

    def __init__(self) -> None:
        self.script: list[bytes] = []
        self.status = b"200 OK"
        self.ctype = b"text/event-stream"
        self.headers = b""
        self.requests: list[dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        srv = self.loop.run_until_complete(asyncio.start_server(self._handle, sock=self.sock))
        self.loop.run_forever()
        with contextlib.suppress(ValueError, OSError):  # a test may have closed the listener itself
            srv.close()

    def close(self) -> None:
        """Stop listening; whoever made the fake calls this in its finalizer."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.sock.close()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            head = await r.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await r.readexactly(length)
            self.requests.append(json.loads(body))
            if self.ctype == b"text/event-stream":
                w.write(
                    b"HTTP/1.1 "
                    + self.status
                    + b"\r\ncontent-type: text/event-stream\r\n"
                    + self.headers
                    + b"connection: close\r\n\r\n"
                )
                await w.drain()
                for part in self.script:
                    w.write(part)
                    await w.drain()
                    await asyncio.sleep(0.01)
            else:
                payload = b"".join(self.script)
                w.write(
                    b"HTTP/1.1 "
                    + self.status
                    + b"\r\ncontent-type: "
                    + self.ctype
                    + b"\r\n"
                    + self.headers
                    + b"content-length: "
                    + str(len(payload)).encode()
                    + b"\r\nconnection: close\r\n\r\n"
                    + payload
                )
                await w.drain()
            w.close()
        except Exception:
            w.close()


@pytest.fixture
def env(tmp_path, monkeypatch) -> Iterator[dict[str, Any]]:
    fake = Fake()
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dport = dead.getsockname()[1]
    dead.close()
    monkeypatch.setenv("HYBRIDCC_HOME", str(tmp_path))
    monkeypatch.setenv("FAKE_KEY", "sk-fake-SECRET-abcdef123456")
    (tmp_path / "config.toml").write_text(f"""
default_profile = "fo"
[providers.fo]
api = "openai"
base_url = "http://127.0.0.1:{fake.port}/v1"
api_key_env = "FAKE_KEY"
[providers.fa]
api = "anthropic"
base_url = "http://127.0.0.1:{fake.port}"
api_key_env = "FAKE_KEY"
[providers.dead]
api = "openai"
base_url = "http://127.0.0.1:{dport}/v1"
[profiles.fo]
provider = "fo"
model = "up-model"
[profiles.fa]
provider = "fa"
model = "fa-model"
[profiles.dead]
provider = "dead"
model = "m"
[profiles.nokey]
provider = "nokey"
model = "m"
[providers.nokey]
api = "openai"
base_url = "http://127.0.0.1:{fake.port}/v1"
api_key_env = "NOT_SET_KEY"
""")
    app = ProxyApp(load_config(), token="hcc-testtoken-0123456789", ping_interval=0.2, commit_after=1.0)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(100)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", http="httptools", loop="asyncio"))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    wait_for(lambda: server.started, what="the proxy to start")
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield {"fake": fake, "url": url, "app": app}
    server.should_exit = True
    t.join(5)
    fake.close()


TOKEN_ = "hcc-testtoken-0123456789"


def oa(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return (
        b"data: "
        + json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}, ensure_ascii=False).encode()
        + b"\n\n"
    )


def client(env: dict[str, Any], profile: str = "fo") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=env["url"] + f"/p/{profile}", api_key="hcc-testtoken-0123456789", max_retries=0)


def test_utf8_split_across_writes(env) -> None:
    whole = oa({"content": "héllo 中文 🎉"})
    cut = whole.index("é".encode()) + 1  # inside é
    env["fake"].script = [whole[:cut], whole[cut:], oa({}, "stop"), b"data: [DONE]\n\n"]
    with client(env).messages.stream(model="x", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as s:
        text = "".join(s.text_stream)
    assert text == "héllo 中文 🎉"


def test_truncated_translated_stream_is_an_error(env) -> None:
    env["fake"].script = [oa({"content": "half"})]
    with pytest.raises(anthropic.APIStatusError) as err:
        with client(env).messages.stream(model="x", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as s:
            "".join(s.text_stream)
    assert "incomplete" in str(err.value)


def an(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


START = an(
    "message_start",
    {
        "type": "message_start",
        "message": {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "fa-model",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 5, "output_tokens": 0},
        },
    },
)


def test_passthrough_truncated_and_utf8(env) -> None:
    delta = an(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "中文"}},
    )
    cut = delta.index("中".encode()) + 2
    env["fake"].script = [
        START,
        an(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        delta[:cut],
        delta[cut:],
    ]
    with pytest.raises(anthropic.APIStatusError) as err:
        with client(env, "fa").messages.stream(
            model="x", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        ) as s:
            "".join(s.text_stream)
    assert "before message_stop" in str(err.value)


def test_passthrough_complete_stream_bytes_identical(env) -> None:
    parts = [
        START,
        an(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        an(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
        ),
        an("content_block_stop", {"type": "content_block_stop", "index": 0}),
        an(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 1},
            },
        ),
        an("message_stop", {"type": "message_stop"}),
    ]
    env["fake"].script = parts
    r = httpx.post(
        env["url"] + "/p/fa/v1/messages",
        json={"model": "x", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "hcc-testtoken-0123456789"},
    )
    assert r.content == b"".join(parts)


def test_passthrough_malformed_event(env) -> None:
    env["fake"].script = [START, b"event: content_block_start\ndata: {not json\n\n"]
    r = httpx.post(
        env["url"] + "/p/fa/v1/messages",
        json={"model": "x", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "hcc-testtoken-0123456789"},
    )
    assert b"event: error" in r.content and b"malformed" in r.content and b"{not json" not in r.content


def test_dead_provider_fast_no_retry_header(env) -> None:
    t0 = time.monotonic()
    r = httpx.post(
        env["url"] + "/p/dead/v1/messages",
        json={"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "hcc-testtoken-0123456789"},
    )
    assert r.status_code == 503 and r.headers["x-should-retry"] == "false"
    assert "tried 3 times" in r.json()["error"]["message"] and time.monotonic() - t0 < 4


def test_missing_key_not_retryable(env) -> None:
    r = httpx.post(
        env["url"] + "/p/nokey/v1/messages",
        json={"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "hcc-testtoken-0123456789"},
    )
    assert r.status_code == 401 and r.headers["x-should-retry"] == "false" and "NOT_SET_KEY is not set" in r.text


def test_upstream_401_echoing_key_is_redacted(env) -> None:
    f = env["fake"]
    f.ctype = b"application/json"
    f.status = b"401 Unauthorized"
    f.script = [b'{"error":{"message":"Incorrect API key provided: sk-fake-SECRET-abcdef123456"}}']
    r = httpx.post(
        env["url"] + "/p/fo/v1/messages",
        json={"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "hcc-testtoken-0123456789"},
    )
    assert r.status_code == 401 and "SECRET" not in r.text and r.headers["x-should-retry"] == "false"
    assert "$FAKE_KEY" in r.json()["error"]["message"]


def test_500_retried_then_no_retry(env) -> None:
    f = env["fake"]
    f.ctype = b"application/json"
    f.status = b"500 Internal Server Error"
    f.script = [b'{"error":{"message":"boom"}}']
    r = httpx.post(
        env["url"] + "/p/fo/v1/messages",
        json={"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "hcc-testtoken-0123456789"},
    )
    assert r.status_code == 500 and len(f.requests) == 3 and r.headers["x-should-retry"] == "false"


def test_host_check_and_health(env) -> None:
    r = httpx.get(env["url"] + "/health", headers={"host": "evil.example"})
    assert r.status_code == 403
    r = httpx.get(env["url"] + "/health")
    assert set(r.json()) == {"status", "service", "version"}
    r = httpx.get(env["url"] + "/health", headers={"x-api-key": "hcc-testtoken-0123456789"})
    assert "token_id" in r.json()
    assert httpx.head(env["url"] + "/api/hello").status_code == 200


def test_deep_json_is_400(env) -> None:
    body = b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"
    r = httpx.post(
        env["url"] + "/v1/messages",
        content=body,
        headers={"x-api-key": "hcc-testtoken-0123456789", "content-type": "application/json"},
    )
    assert r.status_code == 400 and "too deeply" in r.text


def test_non_streaming_disconnect_cancels_upstream(env) -> None:
    f = env["fake"]
    closed: list[float] = []

    async def hang(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
        await r.readexactly(length)
        t0 = time.monotonic()
        got = await asyncio.wait_for(r.read(1), 10)  # b"" when the proxy hangs up
        closed.append(time.monotonic() - t0 if got == b"" else -1)
        w.close()

    f._handle = hang  # type: ignore[method-assign]
    # the server was started with the bound method: swap through a fresh server on the same loop
    srv_sock = socket.socket()
    srv_sock.bind(("127.0.0.1", 0))
    port = srv_sock.getsockname()[1]
    asyncio.run_coroutine_threadsafe(asyncio.start_server(hang, sock=srv_sock), f.loop).result()
    app = env["app"]
    import dataclasses

    cfg = app.config
    prov = dataclasses.replace(cfg.providers["fo"], base_url=f"http://127.0.0.1:{port}/v1")
    app.apply_config(dataclasses.replace(cfg, providers={**cfg.providers, "fo": prov}))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            env["url"] + "/p/fo/v1/messages",
            json={"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": "hcc-testtoken-0123456789"},
            timeout=0.5,
        )
    wait_for(lambda: closed, timeout=5, what="the upstream connection to be closed")
    assert 0 <= closed[0] < 2


def test_chunked_stream_cut_mid_chunk_is_error_event(env) -> None:
    f = env["fake"]

    async def cut(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
        await r.readexactly(length)
        w.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        part = oa({"content": "half"})
        w.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        w.write(b"100\r\nabc")  # a chunk announced, then the connection drops
        await w.drain()
        w.close()

    srv_sock = socket.socket()
    srv_sock.bind(("127.0.0.1", 0))
    port = srv_sock.getsockname()[1]
    asyncio.run_coroutine_threadsafe(asyncio.start_server(cut, sock=srv_sock), f.loop).result()
    import dataclasses

    app = env["app"]
    cfg = app.config
    prov = dataclasses.replace(cfg.providers["fo"], base_url=f"http://127.0.0.1:{port}/v1")
    app.apply_config(dataclasses.replace(cfg, providers={**cfg.providers, "fo": prov}))
    r = httpx.post(
        env["url"] + "/p/fo/v1/messages",
        json={"model": "x", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "hcc-testtoken-0123456789"},
    )
    assert (
        r.status_code == 200
        and b"half" in r.content
        and b"event: error" in r.content
        and b"message_stop" not in r.content
    )


def test_reload_endpoint(env, tmp_path) -> None:
    r = httpx.post(env["url"] + "/_hybridcc/reload", headers={"x-api-key": "hcc-testtoken-0123456789"})
    assert r.status_code == 200 and r.json()["fingerprint"] == env["app"].fingerprint
    assert httpx.post(env["url"] + "/_hybridcc/reload").status_code == 401
