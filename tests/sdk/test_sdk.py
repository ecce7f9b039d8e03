"""hybridcc.sdk with the real claude-agent-sdk and its bundled CLI, through the real proxy (issue 15)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import e2e_config
from tests.fakes.upstream import RecordedRequest, Reply, openai_json, openai_text_stream, openai_tool_stream
from tests.helpers import require_tool

# claude-agent-sdk is a dev dependency (extra `sdk`): a missing one fails at import, never skips.


def _agent(r: RecordedRequest) -> Reply:
    body = r.json() or {}
    if not body.get("tools"):
        return openai_text_stream(['{"title": "sdk"}']) if body.get("stream") else openai_json('{"title": "sdk"}')
    msgs = body.get("messages", [])
    if msgs and msgs[-1]["role"] == "tool":
        return openai_text_stream(["env says: ", msgs[-1]["content"].strip()[:2000]])
    return openai_tool_stream("Bash", {"command": "env | sort", "description": "show env"}, call_id="call_sdk_1")


def _run(prompt: str, **kw: Any) -> list[Any]:
    from hybridcc.sdk import hybrid_query

    async def collect() -> list[Any]:
        return [m async for m in hybrid_query(prompt, **kw)]

    return asyncio.run(collect())


def test_hybrid_query_bash_round_trip_keys_scrubbed_and_settings_guarded(upstream, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    up = upstream(_agent)
    e2e_config(openai_url=up.url)
    monkeypatch.setenv("FAKE_KEY", "sk-fake-sdk-SECRET")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-SECRET-sdk")
    monkeypatch.setenv("CLAUDE_CODE_USE_BEDROCK", "1")  # would send the CLI to Bedrock: neutralised
    settings = Path(os.environ["HOME"]) / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"env": {"ANTHROPIC_MODEL": "from-user-settings"}}))  # outranked by ours
    monkeypatch.setenv("IS_SANDBOX", "1")
    messages = _run("Show me the environment with Bash.", provider="fake-openai",
                    permission_mode="bypassPermissions", allowed_tools=["Bash"])  # fmt: skip
    result = messages[-1]
    assert type(result).__name__ == "ResultMessage" and not result.is_error, result
    posts = [r for r in up.requests if r.method == "POST"]
    assert posts and all((r.json() or {}).get("model") == "fake-big" for r in posts if (r.json() or {}).get("tools"))
    tool_out = [m["content"] for r in posts for m in (r.json() or {}).get("messages", []) if m.get("role") == "tool"]
    assert tool_out, "the Bash round trip did not happen"
    dumped = "\n".join(tool_out)
    assert "SECRET" not in dumped  # no provider key reached the CLI's tools
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1" in dumped


def test_dead_provider_fails_fast_with_the_cause(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from hybridcc.errors import ServiceError
    from tests.helpers import free_port

    e2e_config(openai_url=f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("FAKE_KEY", "k")
    with pytest.raises(ServiceError, match="unreachable"):
        _run("hi", provider="fake-openai")


def test_agent_env_and_select_provider(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from hybridcc.sdk import agent_env, select_provider

    e2e_config()
    env = agent_env("fake-openai", base={"OPENROUTER_API_KEY": "x", "CLAUDE_CODE_USE_BEDROCK": "1", "PATH": "/bin"})
    assert "OPENROUTER_API_KEY" not in env and "CLAUDE_CODE_USE_BEDROCK" not in env and env["PATH"] == "/bin"
    assert env["ANTHROPIC_BASE_URL"].endswith("/p/fake-openai")
    assert select_provider("medium")[0]  # the default profile
    _ = require_tool  # the CLI comes bundled with the SDK wheel
