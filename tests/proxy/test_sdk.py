"""The official `anthropic` SDK as the client: a real client validates our grammar and shapes."""

from __future__ import annotations

import json
from collections.abc import Callable

import anthropic
import pytest

from tests.fakes.upstream import (
    FakeUpstream,
    Handler,
    RecordedRequest,
    Reply,
    anthropic_tool_stream,
    error_reply,
    openai_json,
    openai_stream,
    openai_text_stream,
    openai_tool_stream,
)
from tests.fakes.upstream import openai_chunk as ch
from tests.proxy.conftest import RunningProxy, config_text

Start = Callable[..., RunningProxy]
Up = Callable[[Handler], FakeUpstream]
TOOLS = [
    {
        "name": "Bash",
        "description": "Run a shell command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
    }
]


def test_create_text_and_tool(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    def handle(r: RecordedRequest) -> Reply:
        if r.json().get("tools"):
            return openai_json(
                tool_calls=[
                    {"id": "call_9", "type": "function", "function": {"name": "Bash", "arguments": '{"command": "ls"}'}}
                ],
                finish="tool_calls",
            )
        return openai_json(
            "plain answer",
            usage={"prompt_tokens": 30, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 10}},
        )

    up = upstream(handle)
    client = start_proxy(config_text(up.url)).client()
    msg = client.messages.create(model="claude-sonnet-4-6", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].type == "text" and msg.content[0].text == "plain answer"
    assert (msg.usage.input_tokens, msg.usage.cache_read_input_tokens, msg.usage.output_tokens) == (20, 10, 2)
    msg = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=50, tools=TOOLS, messages=[{"role": "user", "content": "list"}]
    )  # type: ignore[arg-type]
    assert msg.stop_reason == "tool_use"
    block = msg.content[0]
    assert (
        block.type == "tool_use" and block.name == "Bash" and block.input == {"command": "ls"} and block.id == "call_9"
    )


def test_stream_tool_round_trip(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    def handle(r: RecordedRequest) -> Reply:
        msgs = r.json()["messages"]
        if msgs[-1]["role"] == "tool":
            return openai_text_stream([f"saw: {msgs[-1]['content']}"])
        return openai_tool_stream("Bash", {"command": "echo hi"}, call_id="call_x")

    up = upstream(handle)
    client = start_proxy(config_text(up.url)).client()
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=50, tools=TOOLS, messages=[{"role": "user", "content": "go"}]
    ) as s:  # type: ignore[arg-type]
        first = s.get_final_message()
    tool = first.content[0]
    assert first.stop_reason == "tool_use" and tool.type == "tool_use" and tool.input == {"command": "echo hi"}
    history = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "hi\n"}]},
    ]
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=50, tools=TOOLS, messages=history) as s:  # type: ignore[arg-type]
        text = "".join(s.text_stream)
    assert text == "saw: hi\n"
    sent = up.requests[-1].json()["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "call_x" and sent[2] == {
        "role": "tool",
        "tool_call_id": "call_x",
        "content": "hi\n",
    }


def test_stream_thinking_and_parallel_tools(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    up = upstream(lambda r: openai_stream([
        ch({"reasoning_content": "let me think"}),
        ch({"content": "Doing two things."}),
        ch({"tool_calls": [{"index": 0, "id": "a", "type": "function", "function": {"name": "Bash", "arguments": '{"command":'}},
                           {"index": 1, "id": "b", "type": "function", "function": {"name": "Bash", "arguments": '{"command": "pwd"}'}}]}),
        ch({"tool_calls": [{"index": 0, "function": {"arguments": ' "ls"}'}}]}),
        ch({}, "tool_calls"),
        {"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 20}},
    ]))  # fmt: skip
    client = start_proxy(config_text(up.url)).client()
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=50, tools=TOOLS, messages=[{"role": "user", "content": "x"}]
    ) as s:  # type: ignore[arg-type]
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert [b.input for b in final.content if b.type == "tool_use"] == [{"command": "ls"}, {"command": "pwd"}]
    assert final.usage.output_tokens == 20


def test_count_tokens_via_sdk(keys: dict[str, str], start_proxy: Start) -> None:
    client = start_proxy(config_text()).client()
    n = client.messages.count_tokens(model="claude-sonnet-4-6", system="You are terse.", tools=TOOLS,  # type: ignore[arg-type]
                                     messages=[{"role": "user", "content": "hello there"}])  # fmt: skip
    assert n.input_tokens > 10


def test_passthrough_stream_via_sdk(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    up = upstream(lambda r: anthropic_tool_stream("Bash", {"command": "ls"}, model=r.json()["model"]))
    client = start_proxy(config_text(anthropic_url=up.url)).client("fa")
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=50, tools=TOOLS, messages=[{"role": "user", "content": "x"}]
    ) as s:  # type: ignore[arg-type]
        final = s.get_final_message()
    assert (
        final.model == "fa-main" and final.content[0].type == "tool_use" and final.content[0].input == {"command": "ls"}
    )


def test_sdk_sees_typed_errors(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    up = upstream(lambda r: error_reply(429, {"error": {"message": "quota"}}, {"retry-after": "1"}))
    proxy = start_proxy(config_text(up.url))
    with pytest.raises(anthropic.RateLimitError) as info:
        proxy.client().messages.create(
            model="claude-sonnet-4-6", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert "quota" in json.dumps(info.value.body)
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=proxy.url, api_key="nope", max_retries=0).messages.create(
            model="x", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
