"""A strict checker for the Anthropic SSE grammar of shared/PROTOCOL.md, used across tests."""

from __future__ import annotations

import json
from typing import Any

from hybridcc.proxy.sse import SSEDecoder

DELTA_FOR = {"text": "text_delta", "tool_use": "input_json_delta", "thinking": {"thinking_delta", "signature_delta"}}
STOP_REASONS = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"}


def parse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    dec = SSEDecoder()
    events = dec.feed(raw) + dec.flush()
    out = []
    for ev in events:
        assert ev.event is not None, f"frame without an event: line: {ev.data!r}"
        data = json.loads(ev.data)
        assert data["type"] == ev.event, (ev.event, data)
        out.append((ev.event, data))
    return out


def check(events: list[tuple[str, dict[str, Any]]], *, allow_error: bool = False) -> dict[str, Any]:
    """Assert the grammar; return the assembled message (content blocks with their inputs)."""
    names = [e for e, _ in events if e != "ping"]
    assert names, "no events"
    assert names[0] == "message_start", names
    assert names.count("message_start") == 1, "duplicate message_start"
    start = events[[e for e, _ in events].index("message_start")][1]["message"]
    assert start["usage"]["input_tokens"] > 0, "input_tokens must be a real estimate, not 0"
    if names[-1] == "error":
        assert allow_error, f"unexpected error event: {events[-1]}"
        return {"error": events[-1][1]["error"]}
    assert names[-1] == "message_stop", names
    assert names[-2] == "message_delta", names
    open_index: int | None = None
    next_index = 0
    blocks: list[dict[str, Any]] = []
    partial: dict[int, str] = {}
    for event, data in events:
        if event == "content_block_start":
            assert open_index is None, "two blocks open at once"
            assert data["index"] == next_index, "block indexes must count up from 0"
            block = dict(data["content_block"])
            if block["type"] == "tool_use":
                assert block.get("input") == {}, "tool_use start must carry input: {}"
                assert block["id"] and all(c.isalnum() or c in "_-" for c in block["id"])
            blocks.append(block)
            open_index = data["index"]
            partial[open_index] = ""
        elif event == "content_block_delta":
            assert data["index"] == open_index, "delta for a block that is not open"
            kind = blocks[open_index]["type"]
            allowed = DELTA_FOR[kind]
            dtype = data["delta"]["type"]
            assert dtype in allowed if isinstance(allowed, set) else dtype == allowed, (kind, dtype)
            if dtype == "text_delta":
                blocks[open_index]["text"] += data["delta"]["text"]
            elif dtype == "thinking_delta":
                blocks[open_index]["thinking"] += data["delta"]["thinking"]
            elif dtype == "input_json_delta":
                partial[open_index] += data["delta"]["partial_json"]
        elif event == "content_block_stop":
            assert data["index"] == open_index
            block = blocks[open_index]
            if block["type"] == "tool_use":
                block["input"] = json.loads(partial[open_index] or "{}")
            if block["type"] == "text":
                assert block["text"], "empty text block"
            open_index = None
            next_index += 1
        elif event == "message_delta":
            assert open_index is None, "message_delta with a block open"
            assert data["delta"]["stop_reason"] in STOP_REASONS, data
            assert "output_tokens" in data["usage"]
    assert b"[DONE]" not in json.dumps([d for _, d in events]).encode()
    final = events[-2][1]
    return {
        "content": blocks,
        "stop_reason": final["delta"]["stop_reason"],
        "usage": final["usage"],
        "model": start["model"],
    }
