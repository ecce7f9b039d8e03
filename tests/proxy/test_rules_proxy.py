"""Scenario rules inside the running proxy (issue 16): custom header conditions, capability-aware
image and web_search rules, server tools dropped where they cannot run. Real sockets, fake upstreams."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from hybridcc.config import load_config
from hybridcc.proxy.app import ProxyApp
from tests.conftest import write_config
from tests.helpers import wait_for
from tests.proxy.test_core import Fake, oa

TOKEN = "hcc-tok-0123456789"
WEB = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
BASH = {"name": "Bash", "description": "run", "input_schema": {"type": "object", "properties": {}}}


@pytest.fixture
def proxy() -> Iterator[dict[str, Any]]:
    main, other = Fake(), Fake()
    for f in (main, other):
        f.script = [oa({"content": "ok"}), oa({}, "stop"), b"data: [DONE]\n\n"]
    write_config(f"""
default_profile = "main"
[providers.p]
api = "openai"
base_url = "http://127.0.0.1:{main.port}/v1"
[providers.o]
api = "openai"
base_url = "http://127.0.0.1:{other.port}/v1"
[profiles.main]
provider = "p"
model = "big"
[[profiles.main.routes]]
when = "custom"
use = "o/team"
match = {{ header = {{ "x-team" = "ml*" }} }}
[profiles.seer]
provider = "p"
model = "big"
vision = true
[[routes]]
when = "image"
use = "o/eyes"
""")
    app = ProxyApp(load_config(), token=TOKEN)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(10)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", http="httptools", loop="asyncio"))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    wait_for(lambda: server.started, what="the proxy to start")
    yield {"url": f"http://127.0.0.1:{sock.getsockname()[1]}", "main": main, "other": other}
    server.should_exit = True
    t.join(5)
    main.close()
    other.close()


def _post(url: str, profile: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    base = {"model": "big", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(f"{url}/p/{profile}/v1/messages", json={**base, **body},
                      headers={"x-api-key": TOKEN, **headers}, timeout=20)  # fmt: skip


def test_a_custom_header_rule_routes_in_the_proxy(proxy: dict[str, Any]) -> None:
    assert _post(proxy["url"], "main", {}, **{"x-team": "ml-infra"}).status_code == 200
    assert _post(proxy["url"], "main", {}, **{"x-team": "web"}).status_code == 200
    assert [r["model"] for r in proxy["other"].requests] == ["team"]
    assert [r["model"] for r in proxy["main"].requests] == ["big"]


def test_images_move_only_off_a_blind_model(proxy: dict[str, Any]) -> None:
    image = [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                          "data": "iVBORw0KGgo="}}]}]  # fmt: skip
    assert _post(proxy["url"], "main", {"messages": image}).status_code == 200  # top-level rule → o/eyes
    assert _post(proxy["url"], "seer", {"messages": image}).status_code == 200  # vision = true: stays
    assert [r["model"] for r in proxy["other"].requests] == ["eyes"]
    assert len(proxy["main"].requests) == 1


def test_server_tools_are_dropped_where_they_cannot_run(proxy: dict[str, Any]) -> None:
    r = _post(proxy["url"], "main", {"tools": [BASH, WEB]})
    assert r.status_code == 200 and b"ok" in r.content  # not a 400 "only available on Anthropic's API"
    sent = proxy["main"].requests[-1]
    assert [t["function"]["name"] for t in sent["tools"]] == ["Bash"]


def test_breaker_and_stickiness_tuning_follow_the_config() -> None:
    write_config("[proxy]\nbreaker_threshold = 5\nbreaker_cooldown = 12.5\nsticky_seconds = 60\n")
    app = ProxyApp(load_config(), token=TOKEN)
    assert (app.breakers.threshold, app.breakers.cooldown, app.sticky.ttl) == (5, 12.5, 60.0)
    write_config("[proxy]\nsticky_seconds = 0\n")
    app.apply_config(load_config())  # what POST /_hybridcc/reload does
    assert (app.breakers.threshold, app.sticky.ttl) == (3, 0.0)
