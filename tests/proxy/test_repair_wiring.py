# ruff: noqa: F811  -- compact harness tests
"""A local model that writes its tool call as text drives Claude Code anyway (issue 17 wiring)."""

from __future__ import annotations

import json

import anthropic

from tests.proxy.test_core import env, oa  # noqa: F401  (fixture)

TOOLS = [
    {
        "name": "Bash",
        "description": "run a command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
    }
]


def test_streamed_text_call_becomes_tool_use(env) -> None:
    call = '{"name": "Bash", "arguments": {"command": "echo héllo"}}'
    env["fake"].script = [
        oa({"content": call[:7]}),
        oa({"content": call[7:30]}),
        oa({"content": call[30:]}),
        oa({}, "stop"),
        b"data: [DONE]\n\n",
    ]
    client = anthropic.Anthropic(base_url=env["url"] + "/p/fo", api_key="hcc-testtoken-0123456789", max_retries=0)
    with client.messages.stream(
        model="x", max_tokens=50, tools=TOOLS, messages=[{"role": "user", "content": "list"}]
    ) as s:
        msg = s.get_final_message()
    assert msg.stop_reason == "tool_use"
    assert [b.type for b in msg.content] == ["tool_use"]
    assert msg.content[0].name == "Bash" and msg.content[0].input == {"command": "echo héllo"}


def test_prose_stays_prose_and_nonstream_repair(env) -> None:
    f = env["fake"]
    f.script = [oa({"content": "Just words, no call."}), oa({}, "stop"), b"data: [DONE]\n\n"]
    client = anthropic.Anthropic(base_url=env["url"] + "/p/fo", api_key="hcc-testtoken-0123456789", max_retries=0)
    with client.messages.stream(
        model="x", max_tokens=50, tools=TOOLS, messages=[{"role": "user", "content": "hi"}]
    ) as s:
        msg = s.get_final_message()
    assert msg.stop_reason == "end_turn" and msg.content[0].text == "Just words, no call."
    f.ctype = b"application/json"
    f.script = [
        json.dumps(
            {
                "choices": [
                    {
                        "message": {"content": '```json\n{"name": "Bash", "arguments": {"command": "ls"}}\n```'},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {},
            }
        ).encode()
    ]
    msg2 = client.messages.create(model="x", max_tokens=50, tools=TOOLS, messages=[{"role": "user", "content": "ls"}])
    assert msg2.stop_reason == "tool_use" and msg2.content[-1].input == {"command": "ls"}


def test_passthrough_local_server_text_call_becomes_tool_use(env) -> None:
    from tests.proxy.test_core import START, an

    call = '<tool_call>{"name": "Bash", "arguments": {"command": "ls"}}</tool_call>'

    def delta(t: str) -> bytes:
        return an(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}},
        )

    env["fake"].script = [
        START,
        an(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        delta(call[:20]),
        delta(call[20:]),
        an("content_block_stop", {"type": "content_block_stop", "index": 0}),
        an(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 9},
            },
        ),
        an("message_stop", {"type": "message_stop"}),
    ]
    client = anthropic.Anthropic(base_url=env["url"] + "/p/fa", api_key="hcc-testtoken-0123456789", max_retries=0)
    with client.messages.stream(
        model="x", max_tokens=50, tools=TOOLS, messages=[{"role": "user", "content": "ls"}]
    ) as s:
        msg = s.get_final_message()
    assert msg.stop_reason == "tool_use" and [b.type for b in msg.content] == ["tool_use"]
    assert msg.content[0].input == {"command": "ls"}
