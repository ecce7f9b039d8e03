"""OpenAI Chat Completions response → Anthropic Messages response (non-streaming). Pure."""

from __future__ import annotations

import json
import secrets
from typing import Any

from hybridcc.proxy.translate.request import ToolNames, normalize_tool_id

FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def new_tool_id() -> str:
    return "toolu_" + secrets.token_hex(12)


def stop_reason(finish: str | None, has_tools: bool) -> str:
    if has_tools:
        return "tool_use"  # Ollama and others end tool turns with "stop"
    return FINISH_TO_STOP.get(finish or "stop", "end_turn")


def convert_usage(usage: Any) -> dict[str, int]:
    """OpenAI usage → Anthropic usage, with cached tokens counted once (PROTOCOL.md example)."""
    if not isinstance(usage, dict):
        return {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    prompt = int(usage.get("prompt_tokens") or 0)
    details = usage.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or usage.get("prompt_cache_hit_tokens") or 0)
    created = int(details.get("cache_creation_tokens") or details.get("cache_write_tokens") or 0)
    return {
        "input_tokens": max(prompt - cached - created, 0),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": cached,
    }


def parse_arguments(raw: Any) -> dict[str, Any]:
    """Tool arguments: ``""`` → ``{}``; unparseable JSON stays visible instead of becoming ``{}``."""
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {"_invalid_json_arguments": str(raw)}
    return value if isinstance(value, dict) else {"_value": value}


class ToolIds:
    """Normalised, unique tool ids for one response."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def make(self, raw: Any) -> str:
        tool_id = normalize_tool_id(str(raw)) if raw else ""
        if not tool_id or tool_id in self.seen or tool_id == "toolu_empty":
            tool_id = new_tool_id()
        self.seen.add(tool_id)
        return tool_id


def to_anthropic(
    resp: dict[str, Any], *, model: str, names: ToolNames, stop_sequences: list[str] | None = None
) -> dict[str, Any]:
    choices = resp.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    msg = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = msg.get("content")
    if isinstance(text, list):  # some servers answer with parts
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    ids = ToolIds()
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": ids.make(call.get("id")),
                "name": names.original(str(fn.get("name", ""))),
                "input": parse_arguments(fn.get("arguments")),
            }
        )
    has_tools = any(b["type"] == "tool_use" for b in content)
    finish = choice.get("finish_reason")
    reason = stop_reason(finish, has_tools)
    matched = choice.get("stop_reason")  # vLLM and others say which stop string matched
    stop_sequence = matched if isinstance(matched, str) and stop_sequences and matched in stop_sequences else None
    if stop_sequence:
        reason = "stop_sequence"
    return {
        "id": new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": stop_sequence,
        "usage": convert_usage(resp.get("usage")),
    }
