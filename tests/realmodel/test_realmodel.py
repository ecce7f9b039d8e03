"""The real `claude` CLI → `hybridcc run` → real llama-server → real Qwen2.5-Coder-0.5B (issue 17).

Structure is asserted, never wording: the model is tiny. Prompts are short (``--tools Bash`` and a
one-line system prompt: ~880 prompt tokens) so prefill takes seconds on a CPU.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import ClaudeRun
from tests.realmodel.conftest import TINY_CTX, LlamaServer, realmodel_config

pytestmark = [pytest.mark.realmodel, pytest.mark.timeout(300)]
Run = Callable[..., ClaudeRun]
SYSTEM = "You are a terse assistant."
SHORT = ["--tools", "Bash", "--system-prompt", SYSTEM, "--output-format", "stream-json", "--verbose"]
PROFILES = ["local-openai", "local-anthropic"]  # /v1/chat/completions, /v1/messages


def _blocks(run: ClaudeRun, role: str) -> list[dict[str, Any]]:
    """Content blocks of the stream-json messages of one role, in order."""
    out: list[dict[str, Any]] = []
    for e in run.events:
        if e.get("type") == role and isinstance(e.get("message"), dict):
            content = e["message"].get("content")
            if isinstance(content, list):
                out += [b for b in content if isinstance(b, dict)]
    return out


def _requests_served(server: LlamaServer, path: str) -> int:
    return server.log_text().count(f"POST {path}")


@pytest.mark.parametrize("profile", PROFILES)
def test_prompt_answered(profile: str, llama: LlamaServer, run_claude: Run) -> None:
    realmodel_config(llama)
    path = "/v1/chat/completions" if profile == "local-openai" else "/v1/messages"
    before = _requests_served(llama, path)
    res = run_claude(profile, ["-p", "What is 2 + 2? Answer with one number.", *SHORT], timeout=240)
    assert res.code == 0, res.output[-3000:]
    result = res.result
    assert result["subtype"] == "success" and result["is_error"] is False, result
    assert isinstance(result["result"], str) and result["result"].strip(), result
    assert [b for b in _blocks(res, "assistant") if b.get("type") == "text"], res.events
    usage = result["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0, usage
    assert _requests_served(llama, path) > before, "the request did not reach llama-server on the expected endpoint"


@pytest.mark.parametrize("attempt", [1, 2, 3])
@pytest.mark.parametrize("profile", PROFILES)
def test_bash_round_trip_through_repair(profile: str, attempt: int, llama: LlamaServer, run_claude: Run) -> None:
    """The 0.5B model writes its Bash call as text JSON; the repair makes it a `tool_use`, claude
    runs the command, the output goes back and the model answers. Repeated: it must not be flaky."""
    realmodel_config(llama)
    marker = f"hybridcc-ok-{attempt}"
    prompt = f"Run the shell command: echo {marker}"
    res = run_claude(profile, ["-p", prompt, *SHORT, "--allowedTools", "Bash", "--max-turns", "3"], timeout=240)
    calls = [b for b in _blocks(res, "assistant") if b.get("type") == "tool_use"]
    assert calls, f"no tool_use reached claude: {json.dumps(res.events)[-3000:]}"
    assert calls[0]["name"] == "Bash" and marker in calls[0]["input"]["command"], calls
    results = [b for b in _blocks(res, "user") if b.get("type") == "tool_result"]
    assert results and results[0]["tool_use_id"] == calls[0]["id"], res.events
    content = results[0]["content"]
    text = content if isinstance(content, str) else json.dumps(content)
    assert marker in text and not results[0].get("is_error"), results[0]  # claude really ran it
    assert res.result["num_turns"] >= 2, res.result  # the model was asked again with the result


@pytest.mark.parametrize("profile", PROFILES)
def test_context_overflow_is_reported_as_prompt_too_long(
    profile: str, llama_tiny: LlamaServer, run_claude: Run
) -> None:
    realmodel_config(llama_tiny)
    res = run_claude(profile, ["-p", "Say hello.", *SHORT], timeout=240)
    assert "exceed_context_size_error" in llama_tiny.log_text() or "exceeds the available context" in (
        llama_tiny.log_text()
    )
    assert res.result["is_error"] is True, res.result
    assert "prompt is too long" in json.dumps(res.events).lower(), res.output[-3000:]
    assert f"> {TINY_CTX}" in json.dumps(res.events), res.output[-3000:]
