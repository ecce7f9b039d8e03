"""Tool-call repair on an Anthropic-wire stream (llama.cpp / Ollama /v1/messages), re-encoded."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hybridcc.proxy.sse import SSEDecoder, encode
from hybridcc.proxy.translate.repair_sse import AnthropicStreamRepair
from tests.proxy.test_repair import TOOLS

CALL = '{"name": "Bash", "arguments": {"command": "echo hybridcc-ok"}}'


def upstream(pieces: list[str], *, thinking: str | None = None) -> bytes:
    """The frames llama-server sends for a streamed /v1/messages answer."""
    frames = [
        encode("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "qwen", "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 878, "output_tokens": 0, "cache_read_input_tokens": 0}}}),
    ]  # fmt: skip
    index = 0
    if thinking:
        frames += [
            encode("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "thinking", "thinking": ""}}),
            encode("content_block_delta", {"type": "content_block_delta", "index": 0,
                                           "delta": {"type": "thinking_delta", "thinking": thinking}}),
            encode("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ]  # fmt: skip
        index = 1
    frames.append(encode("content_block_start", {"type": "content_block_start", "index": index,
                                                 "content_block": {"type": "text", "text": ""}}))  # fmt: skip
    for piece in pieces:
        delta = {"type": "text_delta", "text": piece}
        frames.append(encode("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
    frames += [
        encode("content_block_stop", {"type": "content_block_stop", "index": index}),
        encode("ping", {"type": "ping"}),
        encode("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                 "usage": {"output_tokens": 21}}),
        encode("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    return b"".join(frames)


def relay(raw: bytes, tools: Any = TOOLS) -> tuple[list[tuple[str | None, dict[str, Any]]], int]:
    """Bytes through the decoder and the repairer, cut into 7-byte reads; the events a client sees."""
    rep = AnthropicStreamRepair(tools)
    dec = SSEDecoder()
    out = b""
    for i in range(0, len(raw), 7):
        for ev in dec.feed(raw[i : i + 7]):
            out += rep.feed(ev)
    out += rep.finish()
    events = [(ev.event, json.loads(ev.data)) for ev in SSEDecoder().feed(out)]
    return events, rep.repaired


def message_of(events: list[tuple[str | None, dict[str, Any]]]) -> dict[str, Any]:
    """Assemble the message as a client does, checking the grammar of shared/PROTOCOL.md on the way."""
    names = [e for e, _ in events]
    assert names[0] == "message_start"
    assert names[-1] == "message_stop"
    blocks: list[dict[str, Any]] = []
    open_index: int | None = None
    stop = None
    for name, data in events:
        assert data["type"] == name
        if name == "content_block_start":
            assert open_index is None, "one block open at a time"
            assert data["index"] == len(blocks), "indexes 0, 1, 2…"
            block = dict(data["content_block"])
            if block["type"] == "tool_use":
                assert block["input"] == {}
                block["json"] = ""
            blocks.append(block)
            open_index = data["index"]
        elif name == "content_block_delta":
            assert data["index"] == open_index
            delta, block = data["delta"], blocks[data["index"]]
            if delta["type"] == "text_delta":
                assert block["type"] == "text"
                block["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                block["json"] += delta["partial_json"]
            else:
                assert block["type"] == "thinking"
                block["thinking"] += delta["thinking"]
        elif name == "content_block_stop":
            assert data["index"] == open_index
            open_index = None
        elif name == "message_delta":
            stop = data["delta"]["stop_reason"]
            assert data["usage"]["output_tokens"] == 21, data
    assert open_index is None
    for block in blocks:
        if block["type"] == "tool_use":
            block["input"] = json.loads(block.pop("json"))
        if block["type"] == "text":
            assert block["text"], "never an empty text block"
    return {"content": blocks, "stop_reason": stop}


def test_text_call_becomes_a_tool_use_block() -> None:
    events, repaired = relay(upstream(['{"name": "Ba', 'sh", "arguments": {"comm', 'and": "echo hybridcc-ok"}}']))
    msg = message_of(events)
    assert repaired == 1
    [block] = msg["content"]
    assert block["type"] == "tool_use"
    assert block["name"] == "Bash"
    assert block["input"] == {"command": "echo hybridcc-ok"}
    assert block["id"].startswith("toolu_")
    assert msg["stop_reason"] == "tool_use"


def test_thinking_and_prose_keep_their_place() -> None:
    raw = upstream(["I'll run it.\n", "```json\n", CALL, "\n```"], thinking="The user wants a command.")
    msg = message_of(relay(raw)[0])
    assert [b["type"] for b in msg["content"]] == ["thinking", "text", "tool_use"]
    assert msg["content"][0]["thinking"] == "The user wants a command."
    assert msg["content"][1]["text"] == "I'll run it.\n"
    assert msg["stop_reason"] == "tool_use"


def test_prose_stream_is_unchanged() -> None:
    events, repaired = relay(upstream(["Bonjour, ", "ça va ? 日本", "語"]))
    assert repaired == 0
    msg = message_of(events)
    assert msg["content"] == [{"type": "text", "text": "Bonjour, ça va ? 日本語"}]
    assert msg["stop_reason"] == "end_turn"
    assert ("ping", {"type": "ping"}) in events
    assert events[0][1]["message"]["usage"]["input_tokens"] == 878


def test_no_tools_offered_passes_text_through() -> None:
    events, repaired = relay(upstream([CALL]), tools=[])
    assert repaired == 0
    assert message_of(events)["content"] == [{"type": "text", "text": CALL}]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, len(CALL) + 20), max_size=8), st.sampled_from(["", "Sure.\n", "Voilà 🎉\n\n"]))
def test_any_split_gives_the_same_message(cuts: list[int], prose: str) -> None:
    text = prose + CALL
    bounds = [0, *sorted(c for c in set(cuts) if c < len(text)), len(text)]
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    msg = message_of(relay(upstream(pieces))[0])
    call = {"type": "tool_use", "name": "Bash", "input": {"command": "echo hybridcc-ok"}}
    assert [{k: v for k, v in b.items() if k != "id"} for b in msg["content"]] == (
        # the line break ending the prose stays; the blank line before the call does not
        [{"type": "text", "text": prose.rstrip() + "\n"}, call] if prose.strip() else [call]
    )
