"""Requests captured from the real Claude Code 2.1.332 → OpenAI Chat Completions (issue 13).

The fixtures under tests/fixtures/claude_code_2.1.332/ are request bodies the CLI sent to a
recording server on 127.0.0.1 (README there says how), with paths and ids made neutral.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hybridcc.config.quirks import QUIRKS
from hybridcc.proxy.translate.request import reasoning_effort, strict_compatible, to_openai

FIXTURES = Path(__file__).parent.parent / "fixtures" / "claude_code_2.1.332"


def captured(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def tool_names(payload: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in payload.get("tools", [])]


def test_toolsearch_result_names_the_loaded_tool() -> None:
    body = captured("toolsearch_tool_reference")
    result = body["messages"][-1]["content"][0]
    assert result["content"] == [{"type": "tool_reference", "tool_name": "mcp__srv__echo"}]  # as captured
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["generic"])
    tool_msg = payload["messages"][-1]
    assert tool_msg["role"] == "tool"
    assert tool_msg["tool_call_id"] == "toolu_01"
    assert "mcp__srv__echo" in tool_msg["content"]
    assert tool_msg["content"] == "Tool loaded: mcp__srv__echo. It is now available to call."


def test_deferred_tool_is_offered_once_toolsearch_loaded_it() -> None:
    body = captured("toolsearch_tool_reference")
    deferred = {t["name"] for t in body["tools"] if t.get("defer_loading")}
    assert deferred == {"DeferredToolPlaceholder", "mcp__srv__echo"}
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["generic"])
    names = tool_names(payload)
    assert "mcp__srv__echo" in names  # loaded by the tool_reference: callable now
    assert "DeferredToolPlaceholder" not in names  # "never call this tool"
    assert "ToolSearch" in names
    assert all("defer_loading" not in t and "defer_loading" not in t["function"] for t in payload["tools"])


def test_first_turn_hides_deferred_placeholder() -> None:
    body = captured("unknown_model_first_turn")
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["generic"])
    assert "DeferredToolPlaceholder" not in tool_names(payload)
    assert len(payload["tools"]) == len(body["tools"]) - 1


def test_adaptive_thinking_and_effort_map_to_reasoning_effort() -> None:
    body = captured("unknown_model_first_turn")
    assert body["thinking"] == {"type": "adaptive", "display": "omitted"}
    assert body["output_config"] == {"effort": "high"}
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["gemini"])
    assert payload["reasoning_effort"] == "high"
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["openrouter"])
    assert payload["reasoning"] == {"effort": "high"}
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["generic"])  # a row without a reasoning knob
    assert "reasoning_effort" not in payload and "reasoning" not in payload


def test_opus_xhigh_effort_caps_at_high() -> None:
    body = captured("opus_effort_xhigh")
    assert body["output_config"] == {"effort": "xhigh"}
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["gemini"])
    assert payload["reasoning_effort"] == "high"


def test_low_effort_and_task_budget() -> None:
    body = captured("effort_low_task_budget")
    assert body["output_config"]["task_budget"] == {"type": "tokens", "total": 50000}
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["gemini"])
    assert payload["reasoning_effort"] == "low"
    assert "task_budget" not in json.dumps(payload)  # a whole-task budget has no OpenAI equivalent


@pytest.mark.parametrize("name", ["unknown_model_first_turn", "effort_low_task_budget", "opus_effort_xhigh"])
@pytest.mark.parametrize("row", ["generic", "openai", "gemini", "openrouter", "deepseek", "ollama"])
def test_anthropic_only_fields_never_reach_openai_wire(name: str, row: str) -> None:
    body = captured(name)
    assert body["context_management"] == {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}
    payload, _ = to_openai(body, model="m", quirks=QUIRKS[row], stream=True)
    for key in ("context_management", "output_config", "thinking", "metadata", "system", "safeguards"):
        assert key not in payload
    text = json.dumps(payload)
    assert "defer_loading" not in text and "cache_control" not in text
    assert payload["stream_options"] == {"include_usage": True}


def test_structured_output_maps_to_response_format() -> None:
    body = captured("prompt_hook_structured_output")
    fmt = body["output_config"]["format"]
    assert fmt["type"] == "json_schema"
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["generic"])
    assert payload["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": fmt["schema"]},
    }
    assert "reasoning_effort" not in payload  # thinking is disabled on this background request
    assert payload["temperature"] == 1


def test_structured_output_is_strict_on_openai_only_when_schema_qualifies() -> None:
    body = captured("prompt_hook_structured_output")
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["openai"])
    # the captured schema leaves "impossible" optional: OpenAI strict mode would reject it
    assert "strict" not in payload["response_format"]["json_schema"]
    closed = json.loads(json.dumps(body))
    closed["output_config"]["format"]["schema"]["required"] = ["ok", "reason", "impossible"]
    payload, _ = to_openai(closed, model="m", quirks=QUIRKS["openai"])
    assert payload["response_format"]["json_schema"]["strict"] is True


def test_structured_output_per_provider() -> None:
    body = captured("prompt_hook_structured_output")
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["deepseek"])
    assert payload["response_format"] == {"type": "json_object"}
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["gemini"])
    assert "additionalProperties" not in json.dumps(payload["response_format"])  # Gemini rejects it


def test_strict_tool_passes_to_openai_when_schema_qualifies() -> None:
    # 2.1.332 marks built-in tools strict only on first-party Anthropic; the shape is its own.
    body = captured("effort_low_task_budget")
    tool = next(t for t in body["tools"] if t["name"] == "StructuredOutput")
    assert tool["input_schema"]["additionalProperties"] is False
    body["tools"] = [{**tool, "strict": True}]
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["openai"])
    assert payload["tools"][0]["function"]["strict"] is True
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["generic"])
    assert "strict" not in payload["tools"][0]["function"]
    bash = next(t for t in captured("unknown_model_first_turn")["tools"] if t["name"] == "Bash")
    body["tools"] = [{**bash, "strict": True}]  # optional properties: not OpenAI-strict
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["openai"])
    assert "strict" not in payload["tools"][0]["function"]


def test_strict_compatible() -> None:
    ok = {
        "type": "object",
        "properties": {"a": {"type": "object", "properties": {}, "required": [], "additionalProperties": False}},
        "required": ["a"],
        "additionalProperties": False,
    }
    assert strict_compatible(ok)
    nested_open = json.loads(json.dumps(ok))
    del nested_open["properties"]["a"]["additionalProperties"]
    assert not strict_compatible(nested_open)
    assert not strict_compatible({"type": "object", "properties": {"a": {}}, "additionalProperties": False})


def test_reasoning_effort_levels() -> None:
    adaptive = {"type": "adaptive", "display": "omitted"}
    assert reasoning_effort(adaptive, {"effort": "low"}) == "low"
    assert reasoning_effort(adaptive, {"effort": "max"}) == "high"
    assert reasoning_effort(adaptive, None) == "medium"
    assert reasoning_effort({"type": "disabled"}, {"effort": "high"}) is None
    assert reasoning_effort({"type": "enabled", "budget_tokens": 31999, "display": "omitted"}, None) == "high"


def signed_history() -> dict[str, Any]:
    return {
        "model": "m",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "plan it", "signature": "EqQBCkgIARABGAIiQL"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a"}]},
        ],
    }


def test_reasoning_replayed_where_the_provider_needs_it() -> None:
    payload, _ = to_openai(signed_history(), model="m", quirks=QUIRKS["deepseek"])
    assistant = payload["messages"][1]
    assert assistant["reasoning_content"] == "plan it"  # a foreign signature does not matter here
    assert "opaque" not in json.dumps(payload)  # redacted thinking is Anthropic-only


@pytest.mark.parametrize("row", ["generic", "openai", "gemini", "openrouter", "ollama"])
def test_reasoning_dropped_elsewhere(row: str) -> None:
    payload, _ = to_openai(signed_history(), model="m", quirks=QUIRKS[row])
    assert "reasoning_content" not in payload["messages"][1]
    assert "plan it" not in json.dumps(payload) and "opaque" not in json.dumps(payload)
