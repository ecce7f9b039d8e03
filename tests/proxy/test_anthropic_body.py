"""Pure rewrites of Anthropic request bodies: foreign thinking, ToolSearch (issue 13)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from hybridcc.config.quirks import QUIRKS
from hybridcc.proxy.translate.anthropic_body import resolve_tool_search, strip_foreign_thinking

FIXTURES = Path(__file__).parent.parent / "fixtures" / "claude_code_2.1.332"

SIGNED = {"type": "thinking", "thinking": "plan", "signature": "EqQBCkgIARABGAIiQLsignedbyanthropic"}
UNSIGNED = {"type": "thinking", "thinking": "translated reasoning", "signature": ""}  # hybridcc's OpenAI-wire path
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}
TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}


def session(*assistant_blocks: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": "m",
        "max_tokens": 32000,
        "thinking": {"type": "adaptive", "display": "omitted"},
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": list(assistant_blocks)},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
        ],
    }


def block_types(body: dict[str, Any]) -> list[list[str]]:
    return [[b["type"] for b in m["content"]] if isinstance(m["content"], list) else ["str"] for m in body["messages"]]


def test_foreign_provider_gets_no_thinking() -> None:
    body = session(SIGNED, REDACTED, {"type": "text", "text": "running"}, TOOL_USE)
    before = copy.deepcopy(body)
    out = strip_foreign_thinking(body, keep=False)
    assert block_types(out) == [["str"], ["text", "tool_use"], ["tool_result"]]
    assert body == before  # the input is not mutated
    assert out["thinking"] == body["thinking"]  # only history changes; the request's own setting stays


def test_anthropic_keeps_its_signed_thinking_and_drops_unsigned() -> None:
    anthropic = QUIRKS["anthropic"]
    body = session(SIGNED, REDACTED, TOOL_USE)
    out = strip_foreign_thinking(body, keep=anthropic.keep_thinking, require_signature=anthropic.signed_thinking)
    assert out is body  # nothing to change: the same object back
    # a session started on an OpenAI-wire provider, resumed on Anthropic
    body = session(UNSIGNED, TOOL_USE)
    out = strip_foreign_thinking(body, keep=True, require_signature=True)
    assert block_types(out)[1] == ["tool_use"]
    # the tool loop's latest assistant turn lost its thinking: Anthropic would 400 with thinking on
    assert out["thinking"] == {"type": "disabled"}
    assert body["thinking"] == {"type": "adaptive", "display": "omitted"}


def test_thinking_stays_on_when_only_older_turns_lost_blocks() -> None:
    body = session(UNSIGNED, TOOL_USE)
    body["messages"] += [{"role": "assistant", "content": [SIGNED, {"type": "text", "text": "done"}]}]
    out = strip_foreign_thinking(body, keep=True, require_signature=True)
    assert out["thinking"] == body["thinking"]
    assert block_types(out)[1] == ["tool_use"] and block_types(out)[3] == ["thinking", "text"]


def test_replaying_provider_keeps_readable_thinking_but_not_redacted() -> None:
    deepseek = QUIRKS["deepseek"]
    out = strip_foreign_thinking(
        session(SIGNED, UNSIGNED, REDACTED, TOOL_USE),
        keep=deepseek.keep_thinking,
        require_signature=deepseek.signed_thinking,
    )
    assert block_types(out)[1] == ["thinking", "thinking", "tool_use"]


def test_assistant_turn_left_empty_is_removed() -> None:
    body = session(SIGNED)
    body["messages"] = [*body["messages"][:2], {"role": "user", "content": "go on"}]
    out = strip_foreign_thinking(body, keep=False)
    assert [m["role"] for m in out["messages"]] == ["user", "user"]


def test_user_and_string_content_untouched() -> None:
    body = {"messages": [{"role": "assistant", "content": "plain"}, {"role": "user", "content": [SIGNED]}]}
    assert strip_foreign_thinking(body, keep=False) is body


@pytest.mark.parametrize("row", sorted(QUIRKS))
def test_every_quirks_row_is_consistent(row: str) -> None:
    q = QUIRKS[row]
    assert not (q.signed_thinking and not q.keep_thinking)  # verifying implies taking them back
    assert not (q.tool_search and row != "anthropic")  # only Anthropic expands tool_reference


def captured() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "toolsearch_tool_reference.json").read_text(encoding="utf-8"))
    return data


def test_resolve_tool_search_on_captured_request() -> None:
    body = captured()
    before = copy.deepcopy(body)
    out = resolve_tool_search(body)
    assert body == before
    names = [t["name"] for t in out["tools"]]
    assert "mcp__srv__echo" in names and "DeferredToolPlaceholder" not in names
    assert not any("defer_loading" in t for t in out["tools"])
    result = out["messages"][-1]["content"][0]
    assert result["content"] == [{"type": "text", "text": "Tool loaded: mcp__srv__echo. It is now available to call."}]
    assert result["cache_control"] == {"type": "ephemeral"}  # the rest of the block is kept


def test_resolve_tool_search_without_references_hides_deferred_tools() -> None:
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "DeferredToolPlaceholder", "input_schema": {"type": "object"}, "defer_loading": True}],
        "tool_choice": {"type": "auto"},
    }
    out = resolve_tool_search(body)
    assert "tools" not in out and "tool_choice" not in out
    assert out["messages"] == body["messages"]
