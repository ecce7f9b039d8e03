# ruff: noqa: F811  -- compact harness tests
"""The proxy writes one ledger row per request and serves /metrics (issue 14 wiring)."""

from __future__ import annotations

import sqlite3

import httpx

from tests.helpers import wait_for
from tests.proxy.test_core import TOKEN_, env, oa  # noqa: F401  (fixture)


def test_rows_and_metrics(env, tmp_path) -> None:
    env["fake"].script = [
        oa({"content": "hi"}),
        oa({}, "stop"),
        b'data: {"choices":[],"usage":{"prompt_tokens":120,"completion_tokens":7}}\n\n',
        b"data: [DONE]\n\n",
    ]
    r = httpx.post(
        env["url"] + "/p/fo/v1/messages",
        headers={"x-api-key": TOKEN_, "x-claude-code-session-id": "sess-1", "x-claude-code-agent-id": "agent-9"},
        json={
            "model": "claude-sonnet-4-5",
            "max_tokens": 5,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert r.status_code == 200
    app = env["app"]
    assert app.ledger is not None
    # The record is emitted just after the last byte went out.
    wait_for(lambda: 'provider="fo"' in app.metrics.render(), timeout=5, what="the request's metrics")
    app.ledger.close()  # flush
    db = next(tmp_path.rglob("*.sqlite3"))
    rows = (
        sqlite3.connect(db)
        .execute("select session_id, agent_id, input_tokens, output_tokens, provider, status from requests")
        .fetchall()
    )
    assert rows == [("sess-1", "agent-9", 120, 7, "fo", 200)]
    m = httpx.get(env["url"] + "/metrics", headers={"x-api-key": TOKEN_})
    assert m.status_code == 200 and "fo" in m.text
    assert httpx.get(env["url"] + "/metrics").status_code == 401


def test_kind_main_subagent_background(env, tmp_path) -> None:
    """Claude Code's title/summary requests (no tools, the small slot) are `background` rows."""
    sent = [
        ({"x-claude-code-session-id": "s"}, {"tools": [{"name": "Bash", "input_schema": {"type": "object"}}]}),
        ({"x-claude-code-session-id": "s", "x-claude-code-agent-id": "a1"}, {}),
        ({"x-claude-code-session-id": "s"}, {"model": "claude-haiku-4-5"}),
    ]
    for headers, extra in sent:
        env["fake"].script = [oa({"content": "x"}), oa({}, "stop"), b"data: [DONE]\n\n"]
        body = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 5,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        }
        body.update(extra)
        r = httpx.post(env["url"] + "/p/fo/v1/messages", headers={"x-api-key": TOKEN_, **headers}, json=body)
        assert r.status_code == 200
    app = env["app"]
    assert app.ledger is not None
    # Each record is emitted just after its last byte went out.
    wait_for(lambda: sum(app.metrics.requests.values()) >= len(sent), timeout=5, what="a record per request")
    app.ledger.close()  # flush
    db = next(tmp_path.rglob("*.sqlite3"))
    kinds = sqlite3.connect(db).execute("select kind from requests order by ts").fetchall()
    assert [k for (k,) in kinds] == ["main", "subagent", "background"]
