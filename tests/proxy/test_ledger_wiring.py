# ruff: noqa: F811  -- compact harness tests
"""The proxy writes one ledger row per request and serves /metrics (issue 14 wiring)."""

from __future__ import annotations

import sqlite3
import time

import httpx

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
    deadline = time.monotonic() + 5  # the record is emitted just after the last byte went out
    while 'provider="fo"' not in app.metrics.render() and time.monotonic() < deadline:
        time.sleep(0.01)
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
