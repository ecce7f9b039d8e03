"""Fallback chains, circuit breaker, stickiness (issue 16) over real sockets."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from hybridcc.config.load import load_config
from hybridcc.proxy.app import ProxyApp
from hybridcc.proxy.breaker import Breakers, Stickiness
from tests.fakes.upstream import anthropic_text_stream
from tests.helpers import wait_for
from tests.proxy.test_core import Fake, oa

TOKEN = "hcc-testtoken-0123456789"
H = {"x-api-key": TOKEN}


def _dead_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@pytest.fixture
def fb(tmp_path, monkeypatch) -> Iterator[dict[str, Any]]:
    primary, second = Fake(), Fake()
    dead = _dead_port()
    silent = socket.socket()  # accepts connections (the kernel does) but never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    monkeypatch.setenv("HYBRIDCC_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text(f"""
default_profile = "main"
[providers.prim]
api = "openai"
base_url = "http://127.0.0.1:{primary.port}/v1"
[providers.primant]
api = "anthropic"
base_url = "http://127.0.0.1:{primary.port}"
[providers.dead]
api = "anthropic"
base_url = "http://127.0.0.1:{dead}"
[providers.sec]
api = "openai"
base_url = "http://127.0.0.1:{second.port}/v1"
[profiles.main]
provider = "prim"
model = "p-model"
fallback = ["backup"]
[profiles.deadant]
provider = "dead"
model = "d-model"
fallback = ["sec/s-direct"]
[profiles.backup]
provider = "sec"
model = "s-model"
[providers.silent]
api = "anthropic"
base_url = "http://127.0.0.1:{silent.getsockname()[1]}"
timeout = 0.5
[profiles.quiet]
provider = "silent"
model = "q-model"
fallback = ["backup"]
[profiles.antmain]
provider = "primant"
model = "p-model"
fallback = ["backup"]
""")
    app = ProxyApp(load_config(), token=TOKEN, ping_interval=0.2, commit_after=2.0)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(100)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", http="httptools", loop="asyncio"))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    wait_for(lambda: server.started, what="the proxy to start")
    second.script = [oa({"content": "from backup"}), oa({}, "stop"), b"data: [DONE]\n\n"]
    yield {"primary": primary, "second": second, "url": f"http://127.0.0.1:{sock.getsockname()[1]}", "app": app}
    server.should_exit = True
    t.join(5)
    silent.close()
    primary.close()
    second.close()


def _msg(url: str, profile: str, *, stream: bool = True, session: str | None = None) -> httpx.Response:
    headers = dict(H)
    if session:
        headers["x-claude-code-session-id"] = session
    return httpx.post(
        f"{url}/p/{profile}/v1/messages",
        headers=headers,
        timeout=20,
        json={"model": "p-model", "max_tokens": 5, "stream": stream, "messages": [{"role": "user", "content": "hi"}]},
    )


def _error(f: Fake, status: bytes, body: bytes, headers: bytes = b"") -> None:
    f.ctype, f.status, f.script, f.headers = b"application/json", status, [body], headers


def test_refused_primary_falls_back_across_wires(fb) -> None:
    r = _msg(fb["url"], "deadant")
    assert r.status_code == 200 and b"from backup" in r.content and b"message_stop" in r.content
    assert fb["second"].requests[-1]["model"] == "s-direct"


@pytest.mark.parametrize("status", [b"429 Too Many Requests", b"500 Internal Server Error", b"529 Overloaded"])
@pytest.mark.parametrize("stream", [True, False])
def test_error_status_falls_back(fb, status: bytes, stream: bool) -> None:
    _error(fb["primary"], status, b'{"error":{"message":"nope"}}')
    if not stream:
        fb["second"].ctype = b"application/json"
        fb["second"].script = [
            json.dumps(
                {"choices": [{"message": {"content": "from backup"}, "finish_reason": "stop"}], "usage": {}}
            ).encode()
        ]
    r = _msg(fb["url"], "main", stream=stream)
    assert r.status_code == 200 and b"from backup" in r.content
    assert len(fb["primary"].requests) == 1  # left at once, not retried: there is somewhere to go


def test_no_fallback_after_first_byte(fb) -> None:
    fb["primary"].script = [oa({"content": "half"})]  # ends without finish: truncated
    r = _msg(fb["url"], "main")
    assert b"half" in r.content and b"event: error" in r.content and not fb["second"].requests


def test_no_fallback_after_first_byte_on_the_anthropic_wire(fb) -> None:
    whole = anthropic_text_stream(["half"], "p-model").chunks
    fb["primary"].script = [c for c in whole[:3] if isinstance(c, bytes)]  # then the connection closes: no message_stop
    r = _msg(fb["url"], "antmain")
    assert r.status_code == 200 and b"half" in r.content and b"event: error" in r.content
    assert len(fb["primary"].requests) == 1 and not fb["second"].requests


@pytest.mark.parametrize("status", [b"429 Too Many Requests", b"500 Internal Server Error", b"529 Overloaded"])
def test_error_status_falls_back_from_the_anthropic_wire(fb, status: bytes) -> None:
    _error(fb["primary"], status, b'{"type":"error","error":{"type":"api_error","message":"nope"}}')
    r = _msg(fb["url"], "antmain")
    assert r.status_code == 200 and b"from backup" in r.content
    assert len(fb["primary"].requests) == 1 and fb["second"].requests[-1]["model"] == "s-model"


class _Then(Fake):
    """Answers the first request with ``first`` (status, headers, body), later ones as a Fake does."""

    def __init__(self, first: tuple[bytes, bytes, bytes]) -> None:
        super().__init__()
        self.first: tuple[bytes, bytes, bytes] | None = first

    async def _handle(self, r, w) -> None:  # type: ignore[no-untyped-def]
        if self.first is None:
            await super()._handle(r, w)
            return
        status, headers, body = self.first
        self.first = None
        head = await r.readuntil(b"\r\n\r\n")
        length = next(int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length:"))
        self.requests.append(json.loads(await r.readexactly(length)))
        w.write(b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n" + headers
                + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode() + body)  # fmt: skip
        await w.drain()
        w.close()


@pytest.mark.parametrize(("after", "waited"), [(b"0.3", True), (b"30", False)])
@pytest.mark.parametrize("profile", ["main", "antmain"])
def test_429_short_retry_after_is_waited_out_long_one_falls_back(fb, after: bytes, waited: bool, profile: str) -> None:
    port = fb["primary"].port
    fb["primary"].sock.close()  # its listener is replaced by one that limits the first answer
    then = _Then((b"429 Too Many Requests", b"retry-after: " + after + b"\r\n",
                  b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}'))  # fmt: skip
    if profile == "main":
        then.script = [oa({"content": "from primary"}), oa({}, "stop"), b"data: [DONE]\n\n"]
    else:
        then.script = [c for c in anthropic_text_stream(["from primary"], "p-model").chunks if isinstance(c, bytes)]
    app = fb["app"]
    prov = app.config.providers["prim" if profile == "main" else "primant"]
    from dataclasses import replace

    app.config.providers[prov.name] = replace(prov, base_url=prov.base_url.replace(str(port), str(then.port)))
    started = time.monotonic()
    r = _msg(fb["url"], profile)
    took = time.monotonic() - started
    assert r.status_code == 200
    if waited:
        assert b"from primary" in r.content and len(then.requests) == 2 and not fb["second"].requests
        assert took >= 0.3
    else:
        assert b"from backup" in r.content and len(then.requests) == 1 and took < 10


@pytest.mark.parametrize("stream", [True, False])
def test_timeout_before_the_first_byte_falls_back(fb, stream: bool) -> None:
    if not stream:
        fb["second"].ctype = b"application/json"
        fb["second"].script = [json.dumps({"choices": [{"message": {"content": "from backup"},
                                                        "finish_reason": "stop"}], "usage": {}}).encode()]  # fmt: skip
    r = _msg(fb["url"], "quiet", stream=stream)
    assert r.status_code == 200 and b"from backup" in r.content


def test_4xx_is_not_a_fallback_reason(fb) -> None:
    _error(fb["primary"], b"400 Bad Request", b'{"error":{"message":"bad"}}')
    r = _msg(fb["url"], "main", stream=False)
    assert r.status_code == 400 and not fb["second"].requests


def test_breaker_opens_and_skips_the_primary(fb) -> None:
    _error(fb["primary"], b"503 Service Unavailable", b'{"error":{"message":"down"}}')
    for _ in range(3):
        assert _msg(fb["url"], "main").status_code == 200
    assert len(fb["primary"].requests) == 3
    assert fb["app"].breakers.state("prim") == "open"
    assert _msg(fb["url"], "main").status_code == 200
    assert len(fb["primary"].requests) == 3  # skipped while open
    health = httpx.get(fb["url"] + "/health", headers=H).json()
    assert health["breakers"]["prim"]["state"] == "open"


def test_session_sticks_to_the_fallback(fb, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger="hybridcc.proxy")
    _error(fb["primary"], b"503 Service Unavailable", b'{"error":{"message":"down"}}')
    assert _msg(fb["url"], "main", session="s1").status_code == 200
    fb["primary"].ctype, fb["primary"].status = b"text/event-stream", b"200 OK"
    fb["primary"].script = [oa({"content": "primary"}), oa({}, "stop")]
    assert b"from backup" in _msg(fb["url"], "main", session="s1").content  # sticky
    assert b"primary" in _msg(fb["url"], "main", session="s2").content  # other sessions: primary
    # the user is told once, when the session moved, not on every sticky request
    told = [r.getMessage() for r in caplog.records if "served by fallback" in r.getMessage()]
    assert told == ["served by fallback sec/s-model (prim/p-model: HTTP 503)"]


def test_breaker_transitions_with_a_clock() -> None:
    now = [0.0]
    b = Breakers(threshold=2, cooldown=10, clock=lambda: now[0])
    b.failure("p")
    assert b.state("p") == "closed" and b.allow("p")
    b.failure("p")
    assert b.state("p") == "open" and not b.allow("p")
    now[0] = 11
    assert b.state("p") == "half-open" and b.allow("p") and not b.allow("p")  # one probe
    b.failure("p")
    assert b.state("p") == "open"
    now[0] = 22
    assert b.allow("p")
    b.success("p")
    assert b.state("p") == "closed"


def test_stickiness_expires() -> None:
    now = [0.0]
    s = Stickiness(ttl=5, clock=lambda: now[0])
    s.set("a", "x/y")
    assert s.get("a") == "x/y"
    now[0] = 6
    assert s.get("a") is None and s.get(None) is None


def test_privacy_local_refuses_remote_routes(tmp_path, monkeypatch) -> None:
    local = Fake()
    local.script = [oa({"content": "local answer"}), oa({}, "stop"), b"data: [DONE]\n\n"]
    remote = Fake()  # stands for a remote provider: same loopback fake, declared by a non-loopback base_url
    monkeypatch.setenv("HYBRIDCC_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text(f"""
default_profile = "priv"
[providers.loc]
api = "openai"
base_url = "http://127.0.0.1:{local.port}/v1"
[providers.cloud]
api = "openai"
base_url = "http://cloud.invalid/v1"
[profiles.priv]
provider = "loc"
model = "small"
privacy = "local"
fallback = ["cloud/big"]
""")
    app = ProxyApp(load_config(), token=TOKEN)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(10)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", http="httptools", loop="asyncio"))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    wait_for(lambda: server.started, what="the proxy to start")
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        ok = httpx.post(
            url + "/p/priv/v1/messages",
            headers=H,
            json={"model": "small", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert b"local answer" in ok.content
        # a `/model cloud/big` switch inside Claude Code: refused, nothing sent anywhere
        r = httpx.post(
            url + "/p/priv/v1/messages",
            headers=H,
            json={"model": "cloud/big", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert r.status_code == 403 and "local-only" in r.text and r.headers["x-should-retry"] == "false"
        assert len(local.requests) == 1 and not remote.requests
    finally:
        server.should_exit = True
        t.join(5)
        local.close()
        remote.close()


def test_sensitive_session_never_falls_back_to_a_remote_provider(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A `~local` session (a sensitive project, `run --sensitive`) whose local primary is down:
    the remote fallback is refused and named in the log, never tried; the error says so."""
    monkeypatch.setenv("HYBRIDCC_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text(f"""
default_profile = "box"
[providers.loc]
api = "openai"
base_url = "http://127.0.0.1:{_dead_port()}/v1"
[providers.cloud]
api = "openai"
base_url = "http://cloud.invalid/v1"
[profiles.box]
provider = "loc"
model = "small"
fallback = ["cloud/big"]
""")
    records: list[dict[str, Any]] = []
    app = ProxyApp(load_config(), token=TOKEN, sinks=(records.append,))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(10)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", http="httptools", loop="asyncio"))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    wait_for(lambda: server.started, what="the proxy to start")
    try:
        r = _msg(f"http://127.0.0.1:{sock.getsockname()[1]}", "box~local", stream=False)
        assert r.status_code >= 500 and "cloud" not in r.text
        wait_for(lambda: records, what="the request record")  # emitted just after the answer went out
        hops = records[-1]["hops"]
        assert any(h.startswith("cloud/big: refused (not local") for h in hops)
        assert not any("cloud.invalid" in h for h in hops)  # never resolved, never connected
    finally:
        server.should_exit = True
        t.join(5)
