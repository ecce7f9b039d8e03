"""The status line's prefill suffix (issue 17): asked from the proxy over loopback, never slower
than its timeout, never failing the line when the proxy does not answer."""

from __future__ import annotations

import io
import json
import socket
import time
from typing import Any

import pytest

from hybridcc.usage.statusline import PROGRESS_TIMEOUT, main, progress_line, progress_suffix, settings_entry
from tests.fakes.upstream import FakeUpstream, RecordedRequest, Reply
from tests.helpers import free_port

SESSION = "5f0c2a52-8a4e-4c2b-a1f0-3d1e2b9c7a10"
TOKEN = "hcc-test-token-abc"
READING = {"phase": "prefill", "request_id": "req_1", "started": 1.0, "elapsed_s": 80.4,
           "total": 18700, "processed": 8400, "cache": 0}  # fmt: skip


def line(env: dict[str, str], session: str = SESSION) -> str:
    out = io.StringIO()
    data = {"session_id": session, "model": {"id": "local"}}
    assert main(io.StringIO(json.dumps(data)), out, env, db="/nonexistent/usage.db", argv=[]) == 0
    return out.getvalue().rstrip("\n")


def answering(payload: dict[str, Any]) -> FakeUpstream:
    def handler(req: RecordedRequest) -> Reply:
        if req.headers.get("authorization") != f"Bearer {TOKEN}":
            return Reply(status=401, body=b"{}")
        return Reply(headers={"content-type": "application/json"}, body=json.dumps(payload).encode())

    return FakeUpstream(handler)


def env_for(url: str) -> dict[str, str]:
    return {"ANTHROPIC_BASE_URL": f"{url}/p/llamacpp", "ANTHROPIC_AUTH_TOKEN": TOKEN}


def test_suffix_while_the_model_reads_the_prompt() -> None:
    with answering(READING) as proxy:
        got = line(env_for(proxy.url))
        assert got == "llamacpp · local · $0.00 · reading prompt 44% (8.4k/18.7k)"
        req = proxy.requests[0]
        assert req.method == "GET" and req.path == f"/_hybridcc/progress?session={SESSION}"


@pytest.mark.parametrize(
    ("payload", "suffix"),
    [
        ({"phase": "prefill", "elapsed_s": 80.4}, " · waiting 1m20s"),
        ({"phase": "prefill", "elapsed_s": 1.2}, ""),  # every request waits a little: not shown
        ({"phase": "idle"}, ""),
    ],
)
def test_waiting_and_idle(payload: dict[str, Any], suffix: str) -> None:
    with answering(payload) as proxy:
        assert line(env_for(proxy.url)) == "llamacpp · local · $0.00" + suffix


def test_wrong_token_or_odd_session_shows_nothing() -> None:
    with answering(READING) as proxy:
        assert line({**env_for(proxy.url), "ANTHROPIC_AUTH_TOKEN": "wrong"}) == "llamacpp · local · $0.00"
        assert line(env_for(proxy.url), session="x y&z=1") == "llamacpp · local · $0.00"
        assert len(proxy.requests) == 1  # the odd session id was never sent


def test_no_proxy_no_delay() -> None:
    started = time.monotonic()
    assert line(env_for(f"http://127.0.0.1:{free_port()}")) == "llamacpp · local · $0.00"
    assert line({"ANTHROPIC_BASE_URL": "https://api.example.com/p/x", "ANTHROPIC_AUTH_TOKEN": TOKEN}).startswith("x ·")
    assert time.monotonic() - started < PROGRESS_TIMEOUT


def test_a_proxy_that_never_answers_costs_at_most_the_timeout() -> None:
    with socket.socket() as silent:  # accepts (the kernel's backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        started = time.monotonic()
        got = line(env_for(f"http://127.0.0.1:{silent.getsockname()[1]}"))
        took = time.monotonic() - started
    assert got == "llamacpp · local · $0.00"
    assert PROGRESS_TIMEOUT * 0.9 <= took < PROGRESS_TIMEOUT + 0.25


def test_print_mode_line() -> None:
    text = json.dumps(READING)
    assert progress_line(text) == "the local model is reading the prompt: 44% (8.4k/18.7k tokens, 1m20s)"
    assert progress_line(json.dumps({"phase": "prefill", "elapsed_s": 12})) == (
        "waiting for the local model's first token (12s)"
    )
    assert progress_line(json.dumps({"phase": "prefill", "elapsed_s": 2}), min_wait=6) is None
    assert progress_line("not json") is None and progress_suffix(None) is None


def test_settings_entry_refreshes_for_local_providers() -> None:
    assert "refreshInterval" not in settings_entry()  # cloud: Claude Code's own events refresh it
    entry = settings_entry(local=True)
    assert isinstance(entry["refreshInterval"], int) and 1 <= entry["refreshInterval"] <= 10
