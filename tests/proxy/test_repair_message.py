"""repair_message on complete Anthropic messages, and the tool_repair setting (issue 17)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hybridcc.config.schema import Provider
from hybridcc.proxy.translate.repair import (
    offered_tools,
    repair_message,
    tool_call_verdict,
    tool_repair_enabled,
)
from tests.proxy.test_repair import TOOLS


def message(*blocks: dict[str, Any], stop: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "qwen2.5-coder:0.5b",
        "content": list(blocks),
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 878, "output_tokens": 21},
    }


def test_text_call_becomes_tool_use_with_stop_reason_tool_use() -> None:
    msg = message({"type": "text", "text": '{"name": "Bash", "arguments": {"command": "echo hybridcc-ok"}}'})
    before = copy.deepcopy(msg)
    out, count = repair_message(msg, TOOLS)
    assert count == 1
    assert msg == before  # the input is not changed in place
    [block] = out["content"]
    assert block["type"] == "tool_use"
    assert block["name"] == "Bash"
    assert block["input"] == {"command": "echo hybridcc-ok"}
    assert block["id"].startswith("toolu_")
    assert out["stop_reason"] == "tool_use"
    assert out["usage"] == msg["usage"]
    assert out["id"] == "msg_1"


def test_prose_and_thinking_are_kept_around_the_call() -> None:
    thinking = {"type": "thinking", "thinking": "The user wants files.", "signature": ""}
    text = 'I will list them.\n```json\n{"name": "Bash", "arguments": {"command": "ls"}}\n```\nDone soon.'
    out, count = repair_message(message(thinking, {"type": "text", "text": text}), TOOLS)
    assert count == 1
    assert [b["type"] for b in out["content"]] == ["thinking", "text", "tool_use", "text"]
    assert out["content"][1]["text"] == "I will list them."
    assert out["content"][3]["text"] == "Done soon."


def test_two_calls_get_distinct_ids() -> None:
    text = '[{"name": "Bash", "arguments": {"command": "ls"}}, {"name": "Bash", "arguments": {"command": "pwd"}}]'
    out, count = repair_message(message({"type": "text", "text": text}), TOOLS)
    assert count == 2
    assert len({b["id"] for b in out["content"]}) == 2


@pytest.mark.parametrize(
    "msg",
    [
        message({"type": "text", "text": "Paris is sunny today."}),
        message({"type": "text", "text": '{"name": "DeferredToolPlaceholder", "arguments": {}}'}),
        message(
            {"type": "text", "text": '{"name": "Bash", "arguments": {"command": "ls"}}'},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "pwd"}},
            stop="tool_use",
        ),  # native calls already: leave the message alone
        {"type": "error", "error": {"type": "api_error", "message": "x"}},
    ],
)
def test_left_alone(msg: dict[str, Any]) -> None:
    out, count = repair_message(msg, TOOLS)
    assert count == 0
    assert out is msg


def test_no_tools_offered() -> None:
    msg = message({"type": "text", "text": '{"name": "Bash", "arguments": {"command": "ls"}}'})
    assert repair_message(msg, []) == (msg, 0)
    assert repair_message(msg, None) == (msg, 0)


def test_offered_tools_respects_tool_choice_none() -> None:
    assert offered_tools({"tools": TOOLS}) == TOOLS
    assert offered_tools({"tools": TOOLS, "tool_choice": {"type": "auto"}}) == TOOLS
    assert offered_tools({"tools": TOOLS, "tool_choice": {"type": "none"}}) is None
    assert offered_tools({"tools": []}) is None
    assert offered_tools({}) is None


def test_probe_verdict() -> None:
    call = '{"name": "Bash", "arguments": {"command": "ls"}}'
    native = message({"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}})
    assert tool_call_verdict(native, TOOLS) == "native"
    assert tool_call_verdict(message({"type": "text", "text": call}), TOOLS) == "repaired"
    assert tool_call_verdict(message({"type": "text", "text": "I cannot run commands."}), TOOLS) == "prose"


# -- the setting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (Provider(name="ollama", api="ollama", quirks="ollama"), True),
        (Provider(name="box", api="ollama"), True),
        (Provider(name="llamacpp", api="openai", base_url="http://10.0.0.5:8080/v1"), True),
        (Provider(name="mine", api="openai", base_url="http://gpu.lan:8000/v1", quirks="vllm"), True),
        (Provider(name="lmstudio", api="openai", base_url="http://192.168.1.2:1234/v1"), True),
        (Provider(name="local", api="anthropic", base_url="http://127.0.0.1:8080"), True),
        (Provider(name="local6", api="openai", base_url="http://[::1]:8080/v1"), True),
        (Provider(name="lh", api="openai", base_url="http://localhost:1234/v1"), True),
        (Provider(name="openrouter", api="openai", base_url="https://openrouter.ai/api/v1"), False),
        (Provider(name="deepseek", api="anthropic", base_url="https://api.deepseek.com/anthropic"), False),
        (Provider(name="tricky", api="openai", base_url="https://127.0.0.1.example.com/v1"), False),
        (Provider(name="ollama", api="ollama", tool_repair=False), False),
        (Provider(name="openrouter", api="openai", base_url="https://openrouter.ai/api/v1", tool_repair=True), True),
    ],
)
def test_tool_repair_default_is_on_for_local_servers_only(provider: Provider, expected: bool) -> None:
    assert tool_repair_enabled(provider) is expected
