"""The real `claude` CLI → `hybridcc run` → real llama-server → real Qwen2.5-Coder-0.5B (issue 17).

Structure is asserted, never wording: the model is tiny. Prompts are short (``--tools Bash`` and a
one-line system prompt: ~1.5k prompt tokens with 2.1.332) so prefill takes seconds on a CPU; the
later requests of a session are served mostly from llama.cpp's prompt cache.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from hybridcc import paths
from tests.e2e.conftest import ClaudeRun
from tests.realmodel.conftest import ALIAS, PROFILES, TINY_CTX, LlamaServer, realmodel_config

pytestmark = [pytest.mark.realmodel, pytest.mark.timeout(300)]
Run = Callable[..., ClaudeRun]
SYSTEM = "You are a terse assistant."
SHORT = ["--tools", "Bash", "--system-prompt", SYSTEM, "--output-format", "stream-json", "--verbose"]
# How the 0.5B model is told to call a tool: it then writes exactly this JSON as text. (Without the
# example it copies the tool's long description into the arguments until the output cap.)
TOOL_SYSTEM = (
    'You are a terse assistant. To run a shell command, reply with only a JSON object such as {"name": "Bash", '
    '"arguments": {"command": "ls"}}. After the command ran, reply with its output in plain text.'
)
TOOL_ARGS = ["--tools", "Bash", "--system-prompt", TOOL_SYSTEM, "--allowedTools", "Bash",
             "--output-format", "stream-json", "--verbose"]  # fmt: skip


def _blocks(run: ClaudeRun, role: str) -> list[dict[str, Any]]:
    """Content blocks of the stream-json messages of one role, in order."""
    out: list[dict[str, Any]] = []
    for e in run.events:
        if e.get("type") == role and isinstance(e.get("message"), dict):
            content = e["message"].get("content")
            if isinstance(content, list):
                out += [b for b in content if isinstance(b, dict)]
    return out


def _tasks(server: LlamaServer) -> int:
    """Requests the server worked on (its log names each task; request paths are not logged)."""
    return server.log_text().count("processing task")


def _records() -> list[dict[str, Any]]:
    """The proxy's request log: one record per request, with the wire it spoke upstream."""
    path = paths.request_log_file()
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("profile", PROFILES)
def test_prompt_answered(profile: str, llama: LlamaServer, run_claude: Run) -> None:
    realmodel_config(llama)
    before = _tasks(llama)
    res = run_claude(profile, ["-p", "What is 2 + 2? Answer with one number.", *SHORT], timeout=240)
    assert res.code == 0, res.output[-3000:]
    result = res.result
    assert result["subtype"] == "success" and result["is_error"] is False, result
    assert isinstance(result["result"], str) and result["result"].strip(), result
    assert [b for b in _blocks(res, "assistant") if b.get("type") == "text"], res.events
    usage = result["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0, usage
    assert _tasks(llama) > before, "llama-server did no work"
    wire = "openai" if profile == "local-openai" else "anthropic"
    served = [r for r in _records() if r["path"] == "/v1/messages" and r.get("provider") == profile]
    assert served and all(r["wire"] == wire and r["upstream_status"] == 200 for r in served), served
    assert served[-1]["input_tokens"] > 0, served[-1]


@pytest.mark.parametrize("attempt", [1, 2, 3])
@pytest.mark.parametrize("profile", PROFILES)
def test_bash_round_trip_through_repair(profile: str, attempt: int, llama: LlamaServer, run_claude: Run) -> None:
    """The 0.5B model writes its Bash call as text JSON (llama-server passes it on as prose); the
    repair makes it a `tool_use`, claude runs the command, the output goes back and the model is
    asked again with it. Repeated with different commands: it must not be flaky.

    The model's second answer is not asserted: greedy decoding makes the 0.5B model repeat the
    call rather than summarise, so ``--max-turns 2`` ends the session after that answer."""
    realmodel_config(llama, max_output=128)
    marker = f"hybridcc-ok-{attempt}"
    args = ["-p", f"Run the shell command: echo {marker}", *TOOL_ARGS, "--max-turns", "2"]
    res = run_claude(profile, args, timeout=240)
    calls = [b for b in _blocks(res, "assistant") if b.get("type") == "tool_use"]
    assert calls, f"no tool_use reached claude: {json.dumps(res.events)[-3000:]}"
    assert calls[0]["name"] == "Bash" and calls[0]["input"]["command"] == f"echo {marker}", calls
    results = [b for b in _blocks(res, "user") if b.get("type") == "tool_result"]
    assert results and results[0]["tool_use_id"] == calls[0]["id"], res.events
    assert results[0]["content"] == marker and not results[0].get("is_error"), results[0]  # claude really ran it
    served = [r for r in _records() if r["path"] == "/v1/messages" and r.get("provider") == profile]
    assert len(served) >= 2 and all(r["upstream_status"] == 200 for r in served), served  # asked again
    assert served[0].get("repaired_tool_calls") == 1, served[0]  # the call was text until the repair


@pytest.mark.parametrize("profile", PROFILES)
def test_overflow_from_the_server_reaches_claude_as_prompt_too_long(
    profile: str, llama_tiny: LlamaServer, run_claude: Run
) -> None:
    """The profile claims a large window, so Claude Code sends its ~1.5k-token prompt to a server
    with 512: llama.cpp answers 400 ``exceed_context_size_error``, hybridcc rewrites it to
    ``prompt is too long: N tokens > 512 maximum`` and Claude Code recognises an overflow (it tries
    to compact, cannot for a single exchange, and says so) instead of retrying or showing a raw 400."""
    realmodel_config(llama_tiny, context_window=200_000)
    res = run_claude(profile, ["-p", "Say hello.", *SHORT], timeout=120)
    served = [r for r in _records() if r["path"] == "/v1/messages" and r.get("provider") == profile]
    assert len(served) == 1 and served[0]["upstream_status"] == 400 and served[0]["status"] == 400, served
    result = res.result
    assert result.get("terminal_reason") == "prompt_too_long", result
    assert result["result"].startswith("Prompt is too long") and f"(limit {TINY_CTX})" in result["result"], result
    assert result.get("api_error_status") == 400, result


@pytest.mark.parametrize("profile", PROFILES)
def test_small_window_from_props_makes_claude_compact_first(
    profile: str, llama_tiny: LlamaServer, run_claude: Run
) -> None:
    """Without a profile window hybridcc reads n_ctx from /props and tells Claude Code: it knows
    before sending that the prompt does not fit, tries to compact, and reports the overflow; the
    server never gets the request."""
    realmodel_config(llama_tiny)
    res = run_claude(profile, ["-p", "Say hello.", *SHORT], timeout=120)
    assert any(e.get("type") == "system" and e.get("status") == "compacting" for e in res.events), res.events
    assert res.result["result"].startswith("Prompt is too long"), res.result
    assert not [r for r in _records() if r["path"] == "/v1/messages"], _records()


@pytest.fixture
def proxy_url(llama: LlamaServer) -> Iterator[Callable[[str], str]]:
    """The real proxy daemon on this config: ``url(profile)`` → its /v1/messages for that profile."""
    from hybridcc.config.load import load_config
    from hybridcc.envplan import proxy_base_url
    from hybridcc.services import proxy as svc

    realmodel_config(llama, max_output=128)
    state, _ = svc.start(load_config(), owner="user")
    yield lambda profile: proxy_base_url(state.host, state.port, profile) + "/v1/messages"
    svc.stop()


@pytest.mark.parametrize("profile", PROFILES)
def test_non_streaming_text_call_is_repaired(profile: str, proxy_url: Callable[[str], str]) -> None:
    """Not streamed (Claude Code's non-streaming fallback, SDK callers): the whole message is
    repaired — the model's text JSON becomes a `tool_use` block with `stop_reason: tool_use`."""
    from hybridcc.proxy_token import ensure_token

    weather = {"name": "get_weather", "description": "Get the current weather for a city.",
               "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}  # fmt: skip
    body = {"model": ALIAS, "max_tokens": 64, "stream": False, "tools": [weather],
            "messages": [{"role": "user", "content": "What is the weather in Paris? Use the get_weather tool."}]}  # fmt: skip
    headers = {"x-api-key": ensure_token(), "anthropic-version": "2023-06-01"}
    resp = httpx.post(proxy_url(profile), json=body, headers=headers, timeout=120)
    assert resp.status_code == 200, resp.text
    message = resp.json()
    assert message["type"] == "message" and message["stop_reason"] == "tool_use", message
    calls = [b for b in message["content"] if b["type"] == "tool_use"]
    assert len(calls) == 1 and calls[0]["name"] == "get_weather" and calls[0]["input"] == {"city": "Paris"}, message
    assert message["usage"]["input_tokens"] + message["usage"].get("cache_read_input_tokens", 0) > 1, message
    served = [r for r in _records() if r["path"] == "/v1/messages" and r.get("provider") == profile]
    assert served[-1]["stream"] is False and served[-1].get("repaired_tool_calls") == 1, served[-1]
