"""Passthrough drops thinking another provider signed and resolves ToolSearch where it is off (issue 13 wiring)."""

from __future__ import annotations

import httpx

from tests.conftest import write_config
from tests.fakes.upstream import anthropic_json
from tests.helpers import wait_for


def test_foreign_thinking_is_dropped_on_the_way_to_another_provider(upstream) -> None:  # type: ignore[no-untyped-def]
    import socket
    import threading

    import uvicorn

    from hybridcc.config import load_config
    from hybridcc.proxy.app import ProxyApp

    up = upstream(lambda r: anthropic_json("ok"))
    write_config(f"""
[providers.other]
api = "anthropic"
base_url = "{up.url}"
[profiles.other]
provider = "other"
model = "o-model"
""")
    app = ProxyApp(load_config(), token="hcc-tok-0123456789")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(10)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", http="httptools", loop="asyncio"))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    wait_for(lambda: server.started, what="the proxy to start")
    try:
        body = {"model": "o-model", "max_tokens": 10, "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "mine", "signature": "sig-from-anthropic"},
                {"type": "text", "text": "hello"}]},
            {"role": "user", "content": "again"}]}  # fmt: skip
        r = httpx.post(f"http://127.0.0.1:{sock.getsockname()[1]}/p/other/v1/messages", json=body,
                       headers={"x-api-key": "hcc-tok-0123456789"})  # fmt: skip
        assert r.status_code == 200, r.text
        sent = up.requests[-1].json()
        assistant = sent["messages"][1]["content"]
        assert [b["type"] for b in assistant] == ["text"]  # the foreign signed thinking is gone
    finally:
        server.should_exit = True
        t.join(5)
