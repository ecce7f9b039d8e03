from __future__ import annotations

from hybridcc.proxy.translate.request import ToolNames
from hybridcc.proxy.translate.response import convert_usage, parse_arguments, to_anthropic


def resp(message: dict[str, object], finish: str = "stop", usage: dict[str, object] | None = None) -> dict[str, object]:
    return {"choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage or {}}


def test_order_thinking_text_tools_and_finish() -> None:
    names = ToolNames()
    short = names.shorten("mcp__" + "y" * 90)
    r = resp(
        {"content": "hello", "reasoning_content": "think", "tool_calls": [
            {"id": "call|1", "type": "function", "function": {"name": short, "arguments": '{"a": 1}'}},
            {"id": "call|1", "type": "function", "function": {"name": "Bash", "arguments": ""}},
            {"type": "function", "function": {"name": "Bash", "arguments": "{not json"}},
        ]},
        finish="stop",
    )  # fmt: skip
    m = to_anthropic(r, model="up", names=names)
    kinds = [b["type"] for b in m["content"]]
    assert kinds == ["thinking", "text", "tool_use", "tool_use", "tool_use"]
    tools = m["content"][2:]
    assert tools[0]["name"] == "mcp__" + "y" * 90 and tools[0]["input"] == {"a": 1}
    assert tools[1]["input"] == {}  # "" → {}
    assert tools[2]["input"] == {"_invalid_json_arguments": "{not json"}  # kept visible
    ids = [t["id"] for t in tools]
    assert len(set(ids)) == 3 and all(i.replace("_", "").replace("-", "").isalnum() for i in ids)
    assert m["stop_reason"] == "tool_use"  # Ollama ends tool turns with "stop"
    assert m["model"] == "up" and m["id"].startswith("msg_")


def test_finish_reasons() -> None:
    for finish, reason in [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        ("weird", "end_turn"),
    ]:
        assert to_anthropic(resp({"content": "x"}, finish), model="m", names=ToolNames())["stop_reason"] == reason


def test_stop_sequence_reported_when_known() -> None:
    r = {"choices": [{"message": {"content": "x"}, "finish_reason": "stop", "stop_reason": "END"}]}
    m = to_anthropic(r, model="m", names=ToolNames(), stop_sequences=["END"])
    assert (m["stop_reason"], m["stop_sequence"]) == ("stop_sequence", "END")


def test_usage_cached_not_double_counted() -> None:
    u = convert_usage({"prompt_tokens": 7009, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 7001}})
    assert u == {
        "input_tokens": 8,
        "output_tokens": 4,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 7001,
    }
    assert (
        convert_usage({"prompt_tokens": 100, "prompt_cache_hit_tokens": 60, "completion_tokens": 1})["input_tokens"]
        == 40
    )


def test_parse_arguments() -> None:
    assert parse_arguments(None) == {} and parse_arguments("  ") == {}
    assert parse_arguments("[1]") == {"_value": [1]}
