"""Circuit-breaker state in `hybridcc status` and `/health` with the token (issue 16)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import httpx

from hybridcc.cli.status_view import breakers_line
from hybridcc.proxy.breaker import Breakers
from hybridcc.proxy_token import ensure_token
from hybridcc.services.state import read_state
from tests.conftest import CliResult, write_config
from tests.proxy.test_core import Fake, oa


def test_breakers_line_and_snapshot() -> None:
    now = [0.0]
    b = Breakers(threshold=2, cooldown=30, clock=lambda: now[0])
    b.failure("a")
    b.failure("a")
    b.failure("z")
    now[0] = 10
    snap = b.snapshot()
    assert snap == {"a": {"state": "open", "failures": 2, "probe_in_s": 20.0}, "z": {"state": "closed", "failures": 1}}
    assert breakers_line(snap) == "a open (2 failures, probe in 20.0 s), z closed (1 failure)"
    assert breakers_line({}) == "all closed"


def test_status_shows_an_open_breaker(cli: Callable[..., CliResult], proxy_config: Callable[[str], Path]) -> None:
    backup = Fake()
    backup.script = [oa({"content": "from backup"}), oa({}, "stop"), b"data: [DONE]\n\n"]
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()  # nothing listens there: connections are refused
    proxy_config("")  # its finalizer stops the daemon
    write_config(f"""
default_profile = "main"
[providers.gone]
api = "openai"
base_url = "http://127.0.0.1:{dead_port}/v1"
[providers.sec]
api = "openai"
base_url = "http://127.0.0.1:{backup.port}/v1"
[profiles.main]
provider = "gone"
model = "m"
fallback = ["sec/b"]
[proxy]
port = 0
""")
    cli("proxy", "start")
    state = read_state("proxy")
    assert state is not None
    url = f"http://127.0.0.1:{state.port}"
    headers = {"x-api-key": ensure_token()}
    body = {"model": "m", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    r = cli("status", "--json")
    assert json.loads(r.out)["proxy"]["breakers"] == {}
    assert "breakers         all closed" in cli("status").out
    for _ in range(3):
        assert b"from backup" in httpx.post(url + "/v1/messages", json=body, headers=headers, timeout=20).content
    r = cli("status", "--json")
    gone = json.loads(r.out)["proxy"]["breakers"]["gone"]
    assert gone["state"] == "open" and gone["failures"] == 3 and gone["probe_in_s"] > 0
    assert "gone open (3 failures, probe in" in cli("status").out
    # /health shows them only with the token
    assert httpx.get(url + "/health", headers=headers).json()["breakers"]["gone"]["state"] == "open"
    assert "breakers" not in httpx.get(url + "/health").json()
