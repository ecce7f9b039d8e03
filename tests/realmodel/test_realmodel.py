"""The real `claude` CLI → `hybridcc run` → real llama-server → real Qwen2.5-Coder-0.5B (issue 17).

Structure is asserted, never wording: the model is tiny. Prompts are short (``--tools Bash`` and a
one-line system prompt: ~880 prompt tokens) so prefill takes seconds on a CPU.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from hybridcc import paths
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
