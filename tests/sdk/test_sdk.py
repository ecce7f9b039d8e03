"""hybridcc.sdk with the real claude-agent-sdk and its bundled CLI, through the real proxy (issue 15)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import e2e_config
from tests.fakes.upstream import RecordedRequest, Reply, openai_json, openai_text_stream, openai_tool_stream
from tests.helpers import require_tool, wait_for
from tests.sdk.conftest import KEYS, World

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


# --- through the world of fake providers (tests/sdk/conftest.py) -----------------------------


async def _result(prompt: str, options: Any) -> Any:
    from claude_agent_sdk import ResultMessage, query

    results = [m async for m in query(prompt=prompt, options=options) if isinstance(m, ResultMessage)]
    assert results, "no ResultMessage"
    return results[-1]


def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)


def test_per_query_model_on_another_provider_priced_at_its_prices(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from hybridcc.sdk import session
    from hybridcc.usage.prices import shipped_catalog

    _keys(monkeypatch)
    with session("deepseek") as s:
        assert "openrouter/qwen/qwen3-coder" in s.models()
        opts = s.options(model="openrouter/qwen/qwen3-coder", strict_models=True)
        result = asyncio.run(_result("Say hi.", opts))
        corrected = s.corrected_cost(result)
        # The proxy's ledger agrees (rows land a moment after each request).
        ledger = wait_for(lambda: s.usage(result.session_id), what="the ledger rows of the query")
        overall = s.usage()
    assert result.result == "[openrouter qwen/qwen3-coder] I have seen: Say hi."
    assert not [b for b in world.deepseek.bodies() if b.get("tools")]  # the query went to the other provider
    # Claude Code priced it as Sonnet; the correction uses each model's real price per million
    # (OpenRouter's list price plus its fee; DeepSeek's for the profile's own side requests).
    fee = 1 + shipped_catalog().providers["openrouter"]["fee_pct"] / 100
    prices = {"openrouter/qwen/qwen3-coder": (0.2 * fee, 0.8 * fee)}
    expected = sum(
        (u["inputTokens"] * prices.get(name, (0.28, 0.42))[0] + u["outputTokens"] * prices.get(name, (0.28, 0.42))[1])
        / 1e6
        for name, u in result.model_usage.items()
    )
    assert result.model_usage["openrouter/qwen/qwen3-coder"]["inputTokens"] == 1000
    assert corrected == pytest.approx(expected) and corrected < result.total_cost_usd
    by_model = {(m["provider"], m["model"]): m for m in ledger["models"]}
    qwen = by_model[("openrouter", "qwen/qwen3-coder")]
    assert qwen["cost_usd"] == pytest.approx((1000 * 0.2 + 100 * 0.8) * fee / 1e6, abs=1e-6)  # reports round to 1e-6
    assert overall is not None and overall["total"]["requests"] >= 1


def test_strict_models_and_the_callers_own_settings(world: World) -> None:
    from hybridcc.errors import NotFoundError
    from hybridcc.sdk import options

    with pytest.raises(NotFoundError, match=r'model "gpt-9" is not a model of profile deepseek'):
        options("deepseek", model="gpt-9", strict_models=True)
    mine = options("deepseek", settings='{"permissions": {"deny": ["Bash"]}, "env": {"ANTHROPIC_MODEL": "theirs"}}')
    merged = json.loads(Path(str(mine.settings)).read_text())
    assert merged["permissions"] == {"deny": ["Bash"]}  # the caller's settings are kept…
    assert merged["env"]["ANTHROPIC_MODEL"] == "deepseek-chat"  # …but our routing wins
    assert options("deepseek", model="sonnet", strict_models=True).model == "sonnet"  # slot aliases are fine


def test_fallback_model_after_a_dead_primary(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from hybridcc.sdk import session
    from tests.fakes.upstream import error_reply

    _keys(monkeypatch)
    alive = world.deepseek.handler
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    world.deepseek.handler = lambda r: alive(r) if r.method == "GET" else error_reply(529, overloaded)
    with session("deepseek") as s:
        opts = s.options(model="deepseek-chat", fallback_model="openrouter/qwen/qwen3-coder")
        result = asyncio.run(_result("Say hi.", opts))
    assert result.result == "[openrouter qwen/qwen3-coder] I have seen: Say hi.", result


@pytest.mark.parametrize("tool_search", [True, False], ids=["tool-search-on", "tool-search-off"])
def test_sdk_mcp_tool_with_tool_search_on_and_off(world: World, monkeypatch, tool_search: bool) -> None:  # type: ignore[no-untyped-def]
    from claude_agent_sdk import create_sdk_mcp_server, tool

    from hybridcc.sdk import session

    _keys(monkeypatch)

    @tool("add", "Add two integers", {"a": int, "b": int})
    async def add(args: dict[str, Any]) -> dict[str, Any]:
        return {"content": [{"type": "text", "text": str(args["a"] + args["b"])}]}

    with session("openrouter") as s:
        opts = s.options(mcp_servers={"calc": create_sdk_mcp_server("calc", tools=[add])},
                         allowed_tools=["mcp__calc__add"], tool_search=tool_search)  # fmt: skip
        result = asyncio.run(_result("What is 19 + 23?", opts))
    assert result.result == "[openrouter] the tool said: 42"
    first = next(b for b in world.openrouter.bodies() if b.get("tools"))
    offered = {t["function"]["name"] for t in first["tools"]}
    # On: the tool hides behind ToolSearch until loaded; off: it is offered from the start.
    assert ("mcp__calc__add" in offered) is not tool_search and ("ToolSearch" in offered) is tool_search


def test_interrupt_cancels_the_upstream_request(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from claude_agent_sdk import ClaudeSDKClient, ResultMessage

    from hybridcc.sdk import session
    from tests.fakes.upstream import openai_chunk, sse

    _keys(monkeypatch)
    answer = world.openrouter.handler
    sent: list[int] = []  # words of the story the upstream wrote, per story request
    stopped = threading.Event()

    def story() -> Iterator[bytes | float]:
        sent.append(0)
        try:
            yield sse(openai_chunk({"role": "assistant", "content": ""}))
            for i in range(600):  # a minute of story, unless the request is cancelled
                yield sse(openai_chunk({"content": f"word{i} "}))
                sent[-1] += 1
                yield 0.1
        finally:
            stopped.set()

    def slow(r: RecordedRequest) -> Reply:
        if r.method == "GET" or not (r.json() or {}).get("tools"):
            return answer(r)
        return Reply(headers={"content-type": "text/event-stream"}, chunks=story())

    world.openrouter.handler = slow

    async def interrupted() -> Any:
        with session("openrouter") as s:
            async with ClaudeSDKClient(s.options()) as client:
                await client.query("Tell me a long story.")
                deadline = time.monotonic() + 60
                while not [b for b in world.openrouter.bodies() if b.get("tools")]:
                    assert time.monotonic() < deadline, "the query never reached the upstream"
                    await asyncio.sleep(0.05)
                await client.interrupt()
                return [m async for m in client.receive_response() if isinstance(m, ResultMessage)][-1]

    started = time.monotonic()
    result = asyncio.run(interrupted())
    assert time.monotonic() - started < 45  # not the minute the story would take
    assert result.terminal_reason in ("aborted_streaming", "aborted_tools"), result
    wait_for(stopped.is_set, timeout=15, what="the upstream request to be cancelled")
    assert len(sent) == 1 and sent[0] < 300, sent  # cut off mid-story, not served to the end


# --- no CLI spawned -------------------------------------------------------------------------


def test_nested_sessions_keep_the_proxy_until_the_last_one_ends(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from hybridcc.config import load_config
    from hybridcc.sdk import session
    from hybridcc.services import leases
    from hybridcc.services import proxy as proxy_svc

    _keys(monkeypatch)
    config = load_config()
    with session("deepseek"):
        with session("openrouter"):
            pass
        # One lease file per program: the inner session must not drop it under the outer one.
        assert [lease.pid for lease in leases.active("proxy")] == [os.getpid()]
        assert proxy_svc.status(config).healthy
    assert not leases.active("proxy")
    assert not proxy_svc.status(config).running  # the last session out stopped it


def test_stderr_filter_drops_only_the_unrecognized_model_line() -> None:
    from hybridcc.sdk import quiet_stderr

    seen: list[str] = []
    handle = quiet_stderr(seen.append)
    handle('[claude-code:unrecognized_model] {"model":"qwen/qwen3-coder","query_source":"sdk"}')
    handle("Error: something real")
    assert seen == ["Error: something real"]


def test_sensitive_session_is_local_only_and_refuses_a_cloud_profile(world: World, tmp_path: Path) -> None:
    from hybridcc.errors import ConfigError
    from hybridcc.sdk import options

    with pytest.raises(ConfigError, match="profile openrouter is not local and sensitive=True"):
        options("openrouter", sensitive=True)
    project = tmp_path / "project"
    project.mkdir()
    (project / ".hybridcc.toml").write_text("sensitive = true\n")
    with pytest.raises(ConfigError, match="marks this project sensitive"):
        options("deepseek", cwd=str(project))
    local = options("llamacpp", cwd=str(project))
    assert local.env["ANTHROPIC_BASE_URL"].endswith("/p/llamacpp~local")  # the proxy enforces it per request
    settings = json.loads(Path(str(local.settings)).read_text())
    assert {"WebFetch", "WebSearch"} <= set(settings["permissions"]["deny"])
    assert settings["env"]["ANTHROPIC_BASE_URL"] == local.env["ANTHROPIC_BASE_URL"]
