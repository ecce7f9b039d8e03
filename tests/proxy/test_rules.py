"""Scenario rules (issue 16): each kind from a Claude-Code-shaped request, and `route explain`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybridcc.config import load_config
from hybridcc.proxy.rules import first_match
from tests.conftest import write_config
from tests.helpers import wait_for

CFG = """
default_profile = "main"
[providers.p]
api = "openai"
base_url = "http://127.0.0.1:9/v1"
[providers.local]
api = "openai"
base_url = "http://127.0.0.1:8/v1"
[profiles.main]
provider = "p"
model = "big"
small_model = "small"
fallback = ["p/backup"]
[[profiles.main.routes]]
when = "background"
use = "cheap"
[[profiles.main.routes]]
when = "subagent"
use = "p/sub-model"
[[profiles.main.routes]]
when = "thinking"
use = "p/reasoner"
[[profiles.main.routes]]
when = "long_context"
use = "p/long"
threshold = 2000
[[profiles.main.routes]]
when = "image"
use = "p/vision"
[profiles.cheap]
provider = "local"
model = "tiny"
"""

TOOLS = [{"name": "Bash", "input_schema": {"type": "object"}}]


@pytest.mark.parametrize(
    ("body", "headers", "want"),
    [
        (
            {"model": "big", "tools": [], "output_config": {"format": {"type": "json_schema"}}, "messages": []},
            {},
            "cheap",
        ),
        ({"model": "big", "tools": TOOLS, "messages": []}, {"x-claude-code-agent-id": "a1"}, "p/sub-model"),
        (
            {"model": "big", "tools": TOOLS, "thinking": {"type": "enabled", "budget_tokens": 9000}, "messages": []},
            {},
            "p/reasoner",
        ),
        (
            {
                "model": "big",
                "tools": TOOLS,
                "thinking": {"type": "adaptive"},
                "messages": [{"role": "user", "content": "x" * 8000}],
            },
            {},
            "p/long",
        ),
        (
            {
                "model": "big",
                "tools": TOOLS,
                "messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}],
            },
            {},
            "p/vision",
        ),
        ({"model": "big", "tools": TOOLS, "thinking": {"type": "adaptive"}, "messages": []}, {}, None),
    ],
)
def test_each_kind(body: dict, headers: dict, want: str | None) -> None:  # type: ignore[type-arg]
    write_config(CFG)
    prof = load_config().profiles["main"]
    from hybridcc.proxy.estimate import estimate_input_tokens

    got = first_match(prof, body, headers, estimate_input_tokens(body))
    assert (got[0].use if got else None) == want


def test_route_explain(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_config(CFG)
    body = tmp_path / "b.json"
    body.write_text(json.dumps({"model": "big", "tools": TOOLS, "thinking": {"type": "enabled"}, "messages": []}))
    r = cli("route", "explain", "--body", str(body))
    lines = r.out.splitlines()
    assert lines[0].startswith("rule: when thinking → p/reasoner")
    assert (
        lines[1].startswith("1. p/reasoner") and lines[2].startswith("2. p/big") and lines[3].startswith("3. p/backup")
    )
    r2 = cli("route", "explain", "--agent", "a7")
    assert "subagent" in r2.out and "p/sub-model" in r2.out


def test_bad_rule_kind_is_a_config_error(cli) -> None:  # type: ignore[no-untyped-def]
    write_config(CFG.replace('when = "image"', 'when = "pictures"'))
    r = cli("config", "validate", code=3)
    assert "routes[4].when" in (r.out + r.err)


def test_the_proxy_routes_by_rule(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import socket
    import threading

    import httpx
    import uvicorn

    from hybridcc.proxy.app import ProxyApp
    from tests.proxy.test_core import Fake, oa

    main, cheap = Fake(), Fake()
    for f in (main, cheap):
        f.script = [oa({"content": "ok"}), oa({}, "stop"), b"data: [DONE]\n\n"]
    write_config(f"""
default_profile = "main"
[providers.p]
api = "openai"
base_url = "http://127.0.0.1:{main.port}/v1"
[providers.c]
api = "openai"
base_url = "http://127.0.0.1:{cheap.port}/v1"
[profiles.main]
provider = "p"
model = "big"
[[profiles.main.routes]]
when = "subagent"
use = "c/tiny"
""")
    app = ProxyApp(load_config(), token="hcc-tok-0123456789")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(10)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", http="httptools", loop="asyncio"))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    wait_for(lambda: server.started, what="the proxy to start")
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1/messages"
    body = {"model": "big", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    try:
        assert httpx.post(url, json=body, headers={"x-api-key": "hcc-tok-0123456789"}).status_code == 200
        assert httpx.post(url, json=body, headers={"x-api-key": "hcc-tok-0123456789",
                                                   "x-claude-code-agent-id": "sub-1"}).status_code == 200  # fmt: skip
        assert [r["model"] for r in main.requests] == ["big"] and [r["model"] for r in cheap.requests] == ["tiny"]
    finally:
        server.should_exit = True
        t.join(5)
        main.close()
        cheap.close()
