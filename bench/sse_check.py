"""A strict checker for Anthropic Messages SSE streams and error bodies (docs/PROTOCOL.md's event grammar).

``check_stream(events, leftover)`` returns the grammar violations (empty when the stream is well formed)
and how it ended: ``"stop"`` (``message_stop``), ``"error"`` (``event: error``) or ``"cut"`` (neither).
"""

from __future__ import annotations

import json
from typing import Any

from bench.client import Event

NAMES = {"message_start", "content_block_start", "content_block_delta", "content_block_stop",
         "message_delta", "message_stop", "ping", "error"}  # fmt: skip
DELTA_FOR = {"text": {"text_delta", "citations_delta"}, "tool_use": {"input_json_delta"},
             "server_tool_use": {"input_json_delta"}, "thinking": {"thinking_delta", "signature_delta"},
             "redacted_thinking": set()}  # fmt: skip


def is_error_body(data: Any) -> bool:
    """Anthropic-shaped error: ``{"type": "error", "error": {"type": str, "message": str}}``."""
    err = data.get("error") if isinstance(data, dict) else None
    return (
        isinstance(err, dict)
        and data.get("type") == "error"
        and isinstance(err.get("type"), str)
        and isinstance(err.get("message"), str)
    )


def is_message_body(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and data.get("type") == "message"
        and data.get("role") == "assistant"
        and isinstance(data.get("content"), list)
        and "stop_reason" in data
    )


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def check_stream(events: list[Event], leftover: bytes) -> tuple[list[str], str]:
    problems: list[str] = []
    ended = "cut"
    started = False
    open_block: tuple[int, str] | None = None
    next_index = 0
    delta_seen = False
    for i, ev in enumerate(events):
        where = f"event {i} ({ev.name or 'no name'})"
        if ended != "cut":
            problems.append(f"{where} after the stream ended with {ended}")
            break
        if ev.name not in NAMES:
            problems.append(f"{where}: unknown or missing event name")
            continue
        data = ev.data
        if not isinstance(data, dict) or data.get("type") != ev.name:
            problems.append(f"{where}: data is not a JSON object of the same type: {ev.raw[:120]!r}")
            continue
        if ev.name == "ping":
            continue
        if ev.name == "error":
            if not is_error_body(data):
                problems.append(f"{where}: error event without error.type/error.message")
            ended = "error"
            continue
        if not started:
            if ev.name != "message_start":
                problems.append(f"{where}: first event is not message_start")
            started = True
            if ev.name == "message_start":
                if not isinstance(data.get("message"), dict):
                    problems.append(f"{where}: message_start without message")
                continue
        if ev.name == "message_start":
            problems.append(f"{where}: second message_start")
        elif ev.name == "content_block_start":
            block = data.get("content_block")
            if open_block is not None or data.get("index") != next_index or not isinstance(block, dict):
                problems.append(f"{where}: block start out of order (open {open_block}, index {data.get('index')})")
            elif delta_seen:
                problems.append(f"{where}: block start after message_delta")
            else:
                open_block = (next_index, str(block.get("type")))
                next_index += 1
        elif ev.name == "content_block_delta":
            delta = data.get("delta")
            kind = delta.get("type") if isinstance(delta, dict) else None
            if open_block is None or data.get("index") != open_block[0]:
                problems.append(f"{where}: delta for a block that is not open")
            elif kind not in DELTA_FOR.get(open_block[1], {kind}):
                problems.append(f"{where}: {kind} inside a {open_block[1]} block")
        elif ev.name == "content_block_stop":
            if open_block is None or data.get("index") != open_block[0]:
                problems.append(f"{where}: stop for a block that is not open")
            open_block = None
        elif ev.name == "message_delta":
            if open_block is not None:
                problems.append(f"{where}: message_delta while block {open_block[0]} is open")
            if not isinstance(data.get("delta"), dict):
                problems.append(f"{where}: message_delta without delta")
            delta_seen = True
        elif ev.name == "message_stop":
            if open_block is not None or not delta_seen:
                problems.append(f"{where}: message_stop with a block open or no message_delta")
            ended = "stop"
    if leftover.strip():
        problems.append(f"unterminated event at the end: {leftover[:120]!r}")
    return problems, ended
