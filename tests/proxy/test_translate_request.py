"""Every request rule of shared/PROTOCOL.md, on fixtures (no network)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hybridcc.config.quirks import QUIRKS
from hybridcc.proxy.errors import ProxyError
from hybridcc.proxy.translate.request import MAX_TOOL_NAME, normalize_tool_id, reasoning_effort, to_openai

GENERIC = QUIRKS["generic"]
GEMINI = QUIRKS["gemini"]
DEEPSEEK = QUIRKS["deepseek"]
OLLAMA = QUIRKS["ollama"]


def tr(body: dict[str, Any], quirks: Any = GENERIC, **kw: Any) -> dict[str, Any]:
    body = {"model": "x", "max_tokens": 100, **body}
    out, _ = to_openai(body, model="up", quirks=quirks, **kw)
    return out


def test_system_string_and_blocks_drop_cache_control() -> None:
    out = tr({"system": "be brief", "messages": [{"role": "user", "content": "hi"}]})
    assert out["messages"][0] == {"role": "system", "content": "be brief"}
    blocks = [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "b"}]
    out = tr({"system": blocks, "messages": [{"role": "user", "content": "hi"}]})
    assert out["messages"][0] == {"role": "system", "content": "a\nb"}
    assert "cache_control" not in json.dumps(out)


def test_mid_conversation_system_in_place_or_folded() -> None:
    msgs = [
        {"role": "user", "content": "a"},
        {"role": "system", "content": "reminder"},
        {"role": "user", "content": "b"},
    ]
    out = tr({"messages": msgs})
    assert out["messages"][1] == {"role": "system", "content": "reminder"}
    out = tr({"messages": msgs}, GEMINI)
    assert out["messages"][1] == {"role": "user", "content": "<system-reminder>\nreminder\n</system-reminder>"}


def test_user_text_image_document() -> None:
    content = [
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc body"}, "title": "T"},
    ]
    parts = tr({"messages": [{"role": "user", "content": content}]})["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "look"}
    assert parts[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    assert parts[2]["image_url"]["url"] == "https://x/y.png"
    assert "doc body" in parts[3]["text"] and '"T"' in parts[3]["text"]


def test_pdf_document_is_a_clear_400() -> None:
    doc = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}}
    with pytest.raises(ProxyError) as info:
        tr({"messages": [{"role": "user", "content": [doc]}]})
    assert info.value.status == 400 and "PDF" in info.value.message


def test_tool_use_and_results_order_is_error_and_text_kept() -> None:
    msgs = [
        {"role": "user", "content": "run it"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "sure"},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
            {"type": "tool_use", "id": "functions.Bash:0", "name": "Bash", "input": {}},
        ]},
        {"role": "user", "content": [
            {"type": "text", "text": "and also this"},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"type": "tool_result", "tool_use_id": "functions.Bash:0", "content": "boom", "is_error": True},
        ]},
    ]  # fmt: skip
    out = tr({"messages": msgs})["messages"]
    assistant = out[1]
    assert assistant["content"] == "sure"
    assert assistant["tool_calls"][0] == {
        "id": "toolu_1",
        "type": "function",
        "function": {"name": "Bash", "arguments": '{"command":"ls"}'},
    }
    assert assistant["tool_calls"][1]["id"] == "functions_Bash_0"
    # tool messages first, right after the assistant turn, then the user's own text
    assert out[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "a\nb"}
    assert out[3] == {"role": "tool", "tool_call_id": "functions_Bash_0", "content": "Error: boom"}
    assert out[4] == {"role": "user", "content": "and also this"}
    assert "is_error" not in json.dumps(out)


def test_assistant_without_text_has_null_content() -> None:
    msgs = [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "X", "input": {}}]}]
    assert tr({"messages": msgs})["messages"][0]["content"] is None


def test_images_in_tool_results() -> None:
    img = {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "QQ"}}
    msgs = [
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "shot"}, img]}
            ],
        }
    ]
    out = tr({"messages": msgs})["messages"]
    assert out[0]["role"] == "tool" and "[image attached in the next message]" in out[0]["content"]
    assert out[1]["role"] == "user" and out[1]["content"][1]["image_url"]["url"] == "data:image/jpeg;base64,QQ"
    out = tr({"messages": msgs}, OLLAMA)["messages"]
    assert len(out) == 1 and "image omitted" in out[0]["content"]  # said, never silently lost


def test_thinking_dropped_or_replayed_for_deepseek() -> None:
    msgs = [
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"}, {"type": "text", "text": "ok"}],
        }
    ]
    assert "reasoning_content" not in tr({"messages": msgs})["messages"][0]
    assert tr({"messages": msgs}, DEEPSEEK)["messages"][0]["reasoning_content"] == "hmm"


def test_tools_long_names_and_schema() -> None:
    long = "mcp__" + "x" * 80
    tools = [
        {
            "name": "Bash",
            "description": "run",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
        },
        {"name": long, "input_schema": {"properties": {}}},
    ]
    body = {
        "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": long, "input": {}}]}],
        "tools": tools,
    }
    out, names = to_openai({"model": "x", "max_tokens": 5, **body}, model="m", quirks=GENERIC)
    assert out["tools"][0] == {
        "type": "function",
        "function": {"name": "Bash", "description": "run", "parameters": tools[0]["input_schema"]},
    }
    short = out["tools"][1]["function"]["name"]
    assert len(short) <= MAX_TOOL_NAME and short != long
    assert out["tools"][1]["function"]["parameters"]["type"] == "object"  # MCP schema without type
    assert out["messages"][0]["tool_calls"][0]["function"]["name"] == short
    assert names.original(short) == long
    assert (
        to_openai({"model": "x", "max_tokens": 5, **body}, model="m", quirks=GENERIC)[0]["tools"][1]["function"]["name"]
        == short
    )


CLAUDE_CODE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "format": "uri", "pattern": "^https://"},
        "n": {"type": "integer", "exclusiveMinimum": 0, "maximum": 9007199254740991, "default": 3},
        "mode": {"anyOf": [{"const": "a"}, {"const": "b"}]},
        "tags": {"type": "object", "propertyNames": {"pattern": "^x"}, "additionalProperties": {"type": "string"}},
        "when": {"type": "string", "format": "date-time"},
    },
    "required": ["url"],
}


def test_gemini_schema_sanitising_and_generic_untouched() -> None:
    tools = [{"name": "WebFetch", "input_schema": CLAUDE_CODE_SCHEMA}]
    generic = tr({"messages": [{"role": "user", "content": "x"}], "tools": tools})["tools"][0]["function"]["parameters"]
    assert generic == CLAUDE_CODE_SCHEMA
    g = tr({"messages": [{"role": "user", "content": "x"}], "tools": tools}, GEMINI)["tools"][0]["function"][
        "parameters"
    ]
    text = json.dumps(g)
    for banned in ("$schema", "additionalProperties", "propertyNames", "exclusiveMinimum", '"uri"', "const", "default"):
        assert banned not in text, banned
    assert g["properties"]["when"]["format"] == "date-time"
    assert g["required"] == ["url"] and g["properties"]["url"]["pattern"] == "^https://"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "Bash"}, {"type": "function", "function": {"name": "Bash"}}),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: Any) -> None:
    tools = [{"name": "Bash", "input_schema": {"type": "object"}}]
    out = tr({"messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": choice})
    assert out["tool_choice"] == expected
    assert "parallel_tool_calls" not in out


def test_disable_parallel_tool_use() -> None:
    tools = [{"name": "Bash", "input_schema": {"type": "object"}}]
    out = tr(
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": tools,
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        }
    )
    assert out["parallel_tool_calls"] is False


def test_stop_sampling_user_and_top_k() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "stop_sequences": ["a", "b", "c", "d", "e"], "temperature": 0.2,
            "top_p": 0.9, "top_k": 5, "metadata": {"user_id": json.dumps({"device_id": "d" * 80, "session_id": "s"})}}  # fmt: skip
    out = tr(body)
    assert out["stop"] == ["a", "b", "c", "d"]
    assert out["temperature"] == 0.2 and out["top_p"] == 0.9 and "top_k" not in out
    assert len(out["user"]) == 64
    assert tr(body, QUIRKS["openrouter"])["top_k"] == 5
    assert "user" not in tr(body, GEMINI)


def test_max_tokens_clamp_and_field() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 64000}
    assert tr(body, max_tokens_cap=8192)["max_tokens"] == 8192
    assert tr(body)["max_tokens"] == 64000
    assert tr(body, QUIRKS["openai"])["max_completion_tokens"] == 64000


@pytest.mark.parametrize(
    ("thinking", "config", "effort"),
    [
        ({"type": "enabled", "budget_tokens": 0}, None, "minimal"),
        ({"type": "enabled", "budget_tokens": 1024}, None, "low"),
        ({"type": "enabled", "budget_tokens": 2048}, None, "medium"),
        ({"type": "enabled", "budget_tokens": 31999}, None, "high"),
        ({"type": "adaptive"}, {"effort": "high"}, "high"),
        ({"type": "adaptive"}, None, "medium"),
        ({"type": "disabled"}, None, None),
    ],
)
def test_thinking_to_reasoning_effort(thinking: dict[str, Any], config: Any, effort: str | None) -> None:
    assert reasoning_effort(thinking, config) == effort
    body = {"messages": [{"role": "user", "content": "x"}], "thinking": thinking, "output_config": config}
    assert tr(body, GEMINI).get("reasoning_effort") == effort
    assert "reasoning_effort" not in tr(body, GENERIC)
    if effort:
        assert tr(body, QUIRKS["openrouter"])["reasoning"]["effort"] in ("low", "medium", "high")


def test_stream_options() -> None:
    out, _ = to_openai({"model": "x", "max_tokens": 5, "messages": []}, model="m", quirks=GENERIC, stream=True)
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}


def test_bad_role_is_400() -> None:
    with pytest.raises(ProxyError, match="role"):
        tr({"messages": [{"role": "robot", "content": "x"}]})


def test_normalize_tool_id_is_stable() -> None:
    assert normalize_tool_id("call_abc|sig==") == "call_abc_sig__"
    assert normalize_tool_id("call_abc|sig==") == normalize_tool_id("call_abc|sig==")
