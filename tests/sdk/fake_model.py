"""A tiny scripted "model" for Agent SDK tests, on either wire (Anthropic passthrough or OpenAI).

It answers like a model would, from what the request holds, so the examples can use natural
prompts: a tool result is echoed back; `19 + 23` with an ``add`` tool offered calls it; a command
in backquotes with Bash offered runs it; otherwise it says which provider/model answered and the
user prompts it saw (which shows what history a resume, fork or checkpoint carried).
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from tests.fakes.upstream import (
    RecordedRequest,
    Reply,
    anthropic_json,
    anthropic_text_stream,
    anthropic_tool_stream,
    openai_json,
    openai_text_stream,
    openai_tool_stream,
)

_ids = itertools.count(1)
_TAGGED = re.compile(r"<([a-z][a-z-]*)>.*?</\1>", re.DOTALL)


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]


def _tool_result(msg: dict[str, Any]) -> str | None:
    if msg.get("role") == "tool":  # OpenAI wire
        return " ".join(_texts(msg.get("content")))
    blocks = msg.get("content")
    if msg.get("role") == "user" and isinstance(blocks, list):
        for b in blocks:
            if isinstance(b, dict) and b.get("type") == "tool_result":
                inner = b.get("content")
                text = " ".join(_texts(inner)) if not isinstance(inner, str) else inner
                return ("error: " if b.get("is_error") else "") + text
    return None


def prompts(body: dict[str, Any]) -> list[str]:
    """The user's own prompts in a request (no system reminders, no tool results)."""
    out = []
    for msg in body.get("messages", []):
        if msg.get("role") == "user" and _tool_result(msg) is None:
            # The OpenAI wire joins a turn's blocks into one string: drop the reminders Claude Code adds.
            texts = [_TAGGED.sub("", t).strip() for t in _texts(msg.get("content"))]
            out += [t for t in texts if t]
    return out


def _tool_names(body: dict[str, Any]) -> set[str]:
    """The tools offered; a deferred one (Anthropic wire) only once ToolSearch loaded it."""
    loaded = set(re.findall(r'"tool_name": "([^"]+)"', json.dumps(body.get("messages", []))))
    return {
        t.get("name") or (t.get("function") or {}).get("name")
        for t in body.get("tools") or []
        if not t.get("defer_loading") or t.get("name") in loaded
    }


def _called(body: dict[str, Any]) -> set[str]:
    names = set()
    for msg in body.get("messages", []):
        for call in msg.get("tool_calls") or []:  # OpenAI wire
            names.add((call.get("function") or {}).get("name"))
        if msg.get("role") == "assistant" and isinstance(msg.get("content"), list):
            names |= {b.get("name") for b in msg["content"] if isinstance(b, dict) and b.get("type") == "tool_use"}
    return names


def decide(body: dict[str, Any], who: str) -> tuple[str, dict[str, Any]] | str:
    """A tool call (name, input) or the text to answer."""
    messages = body.get("messages", [])
    said = prompts(body)
    last = said[-1] if said else ""
    tools, called = _tool_names(body), _called(body)
    sum_ = re.search(r"(\d+)\s*\+\s*(\d+)", last)
    if sum_ and "mcp__calc__add" in tools and "mcp__calc__add" not in called:
        return "mcp__calc__add", {"a": int(sum_.group(1)), "b": int(sum_.group(2))}
    if sum_ and "mcp__calc__add" not in tools and "ToolSearch" in tools and "ToolSearch" not in called:
        return "ToolSearch", {"query": "select:mcp__calc__add", "max_results": 1}
    command = re.search(r"`([^`]+)`", last)
    if command and "Bash" in tools and "Bash" not in called:
        return "Bash", {"command": command.group(1), "description": "run it"}
    result = _tool_result(messages[-1]) if messages else None
    if result is not None:
        return f"[{who}] the tool said: {result.strip()[:300]}"
    return f"[{who} {body.get('model')}] I have seen: " + " | ".join(said)


def anthropic_model(who: str) -> Any:
    def handle(r: RecordedRequest) -> Reply:
        if r.method == "GET":
            return anthropic_json("models")  # preflight: any 200
        body = r.json() or {}
        if "count_tokens" in r.path:
            return Reply(headers={"content-type": "application/json"}, body=b'{"input_tokens": 100}')
        if not body.get("tools"):
            text = '{"title": "example"}'
            return anthropic_text_stream([text]) if body.get("stream") else anthropic_json(text)
        what = decide(body, who)
        if isinstance(what, str):
            return anthropic_text_stream([what], model=str(body.get("model")), input_tokens=1000, output_tokens=100)
        return anthropic_tool_stream(what[0], what[1], tool_id=f"toolu_fake{next(_ids)}")

    return handle


def openai_model(who: str) -> Any:
    def handle(r: RecordedRequest) -> Reply:
        if r.method == "GET":
            return Reply(headers={"content-type": "application/json"}, body=json.dumps({"data": []}).encode())
        body = r.json() or {}
        if not body.get("tools"):
            text = '{"title": "example"}'
            return openai_text_stream([text]) if body.get("stream") else openai_json(text)
        what = decide(body, who)
        if isinstance(what, str):
            return openai_text_stream([what], usage={"prompt_tokens": 1000, "completion_tokens": 100})
        return openai_tool_stream(what[0], what[1], call_id=f"call_fake{next(_ids)}")

    return handle
