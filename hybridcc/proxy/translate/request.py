"""Anthropic Messages request → OpenAI Chat Completions request (shared/PROTOCOL.md).

Pure: no I/O. Raises :class:`hybridcc.proxy.errors.ProxyError` (400) for input that cannot be
expressed upstream, naming the block.

Fields Claude Code 2.1.33x sends that have no OpenAI equivalent are dropped on purpose:
``context_management`` (server-side clearing of old thinking / tool results), ``output_config.
task_budget`` (a budget over a whole agentic task, not one response), ``safeguards``,
``thinking.display``. What has an equivalent is mapped: ``output_config.effort`` →
``reasoning_effort``, ``output_config.format`` → ``response_format``, tool ``strict`` →
``function.strict``, deferred tools and ToolSearch's ``tool_reference`` blocks → ordinary tools
and text (:mod:`hybridcc.proxy.translate.anthropic_body`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from hybridcc.config.quirks import Quirks
from hybridcc.proxy.errors import ProxyError
from hybridcc.proxy.translate.anthropic_body import (
    offered_tools,
    referenced_tools,
    tool_reference_names,
    tool_reference_text,
)

MAX_TOOL_NAME = 64
_ID_BAD = re.compile(r"[^a-zA-Z0-9_-]")
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass
class ToolNames:
    """Tool names shortened for the upstream (OpenAI caps them at 64) and mapped back."""

    to_upstream: dict[str, str] = field(default_factory=dict)
    to_client: dict[str, str] = field(default_factory=dict)

    def shorten(self, name: str) -> str:
        if len(name) <= MAX_TOOL_NAME:
            return name
        if name in self.to_upstream:
            return self.to_upstream[name]
        digest = hashlib.sha256(name.encode()).hexdigest()[:10]
        short = f"{name[: MAX_TOOL_NAME - 11]}_{digest}"
        self.to_upstream[name] = short
        self.to_client[short] = name
        return short

    def original(self, name: str) -> str:
        return self.to_client.get(name, name)


def normalize_tool_id(tool_id: str) -> str:
    """Ids must match ``^[a-zA-Z0-9_-]+$``; the same input always gives the same output."""
    clean = _ID_BAD.sub("_", tool_id)
    return clean or "toolu_empty"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text" and b.get("text")
        )
    return ""


def _image_part(block: dict[str, Any]) -> dict[str, Any]:
    source = block.get("source") or {}
    kind = source.get("type")
    if kind == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif kind == "url":
        url = str(source.get("url", ""))
    else:
        raise ProxyError(400, f"image block with source type {kind!r} cannot be sent to this provider")
    return {"type": "image_url", "image_url": {"url": url}}


def _document_text(block: dict[str, Any]) -> str:
    source = block.get("source") or {}
    title = block.get("title")
    kind = source.get("type")
    if kind == "text":
        text = str(source.get("data", ""))
    elif kind == "content":
        text = _text_of(source.get("content"))
    else:
        raise ProxyError(
            400,
            f"document blocks with {kind!r} sources (e.g. PDF) cannot be translated for an OpenAI-wire provider; "
            "send the text instead, or use an Anthropic-wire profile",
        )
    return f"<document title={json.dumps(title)}>\n{text}\n</document>" if title else text


def _user_parts(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for b in blocks:
        kind = b.get("type")
        if kind == "text":
            if b.get("text"):
                parts.append({"type": "text", "text": b["text"]})
        elif kind == "image":
            parts.append(_image_part(b))
        elif kind == "document":
            parts.append({"type": "text", "text": _document_text(b)})
        elif kind in ("thinking", "redacted_thinking"):
            continue
        else:
            raise ProxyError(400, f"content block type {kind!r} in a user message is not supported")
    return parts


def _collapse(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Plain text when every part is text (widest provider support), parts otherwise."""
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _tool_result(block: dict[str, Any], quirks: Quirks) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One `tool` message, plus image parts that have to travel in a following user message."""
    content = block.get("content")
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        # ToolSearch results hold only tool_reference blocks; without this the tool message is empty.
        loaded = tool_reference_names(content)
        if loaded:
            texts.append(tool_reference_text(loaded))
        for item in content:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "text":
                texts.append(str(item.get("text", "")))
            elif item.get("type") == "image":
                if quirks.tool_result_images:
                    images.append(_image_part(item))
                    texts.append("[image attached in the next message]")
                else:
                    texts.append("[image omitted: this provider cannot receive images in tool results]")
            elif item.get("type") == "document":
                texts.append(_document_text(item))
    text = "\n".join(texts)
    if block.get("is_error"):
        # OpenAI has no is_error field and some providers 400 on unknown ones: say it in the text.
        text = f"Error: {text}" if text else "Error"
    msg = {"role": "tool", "tool_call_id": normalize_tool_id(str(block.get("tool_use_id", ""))), "content": text}
    return msg, images


def _user_message(content: Any, quirks: Quirks) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise ProxyError(400, "messages[].content must be a string or a list of blocks")
    out: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    tool_images: list[dict[str, Any]] = []
    for b in content:
        if not isinstance(b, dict):
            raise ProxyError(400, "messages[].content blocks must be objects")
        if b.get("type") == "tool_result":
            msg, images = _tool_result(b, quirks)
            out.append(msg)  # tool messages come first, right after the assistant's tool_calls
            tool_images.extend(images)
        else:
            rest.append(b)
    parts = _user_parts(rest)
    if tool_images:
        parts = [{"type": "text", "text": "Images from the tool results above:"}, *tool_images, *parts]
    if parts:
        out.append({"role": "user", "content": _collapse(parts)})
    return out


def _assistant_message(content: Any, quirks: Quirks, names: ToolNames) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for b in content if isinstance(content, list) else []:
        kind = b.get("type") if isinstance(b, dict) else None
        if kind == "text":
            texts.append(str(b.get("text", "")))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": normalize_tool_id(str(b.get("id", ""))),
                    "type": "function",
                    "function": {"name": names.shorten(str(b.get("name", ""))), "arguments": _json(b.get("input", {}))},
                }
            )
        elif kind == "thinking":
            # Readable reasoning, whichever provider wrote it (signatures mean nothing here);
            # redacted_thinking is encrypted for Anthropic only and is never replayed.
            reasoning.append(str(b.get("thinking", "")))
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        msg["tool_calls"] = calls
    if quirks.replay_reasoning and reasoning:
        # DeepSeek thinking mode answers 400 unless reasoning_content is passed back.
        msg["reasoning_content"] = "".join(reasoning)
    elif quirks.replay_reasoning and calls:
        msg["reasoning_content"] = ""
    return msg


_GEMINI_MCP_DEFAULT = {"type": "object", "properties": {}}


def sanitize_schema(schema: Any, quirks: Quirks) -> Any:
    """Remove the JSON-schema keywords a provider rejects (the quirks table decides which)."""
    if not quirks.schema_drop and quirks.allowed_formats is None:
        return schema
    if isinstance(schema, list):
        return [sanitize_schema(s, quirks) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in quirks.schema_drop:
            continue
        if key == "format" and quirks.allowed_formats is not None and value not in quirks.allowed_formats:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {k: sanitize_schema(v, quirks) for k, v in value.items()}
        elif isinstance(value, dict | list):
            out[key] = sanitize_schema(value, quirks)
        else:
            out[key] = value
    return out


def strict_compatible(schema: Any) -> bool:
    """True when OpenAI's strict mode accepts ``schema``: every object closes its properties
    (``additionalProperties: false``) and requires all of them. Anthropic's strict mode is
    looser, so a tool Claude Code marks strict may still not qualify; then it goes non-strict."""
    if isinstance(schema, list):
        return all(strict_compatible(s) for s in schema)
    if not isinstance(schema, dict):
        return True
    props = schema.get("properties")
    if schema.get("type") == "object" or isinstance(props, dict):
        props = props if isinstance(props, dict) else {}
        if schema.get("additionalProperties") is not False or set(schema.get("required") or []) != set(props):
            return False
        if not all(strict_compatible(v) for v in props.values()):
            return False
    return all(strict_compatible(v) for k, v in schema.items() if k not in ("properties", "enum", "const", "default"))


def _tool(tool: dict[str, Any], quirks: Quirks, names: ToolNames) -> dict[str, Any]:
    if tool.get("type") not in (None, "custom") and "input_schema" not in tool:
        raise ProxyError(
            400, f"server tool {tool.get('type')!r} ({tool.get('name')}) is only available on Anthropic's API"
        )
    schema = tool.get("input_schema") or {}
    if not isinstance(schema, dict) or not schema:
        schema = dict(_GEMINI_MCP_DEFAULT)
    if "type" not in schema:
        schema = {"type": "object", **schema}  # MCP servers sometimes omit it
    schema = sanitize_schema(schema, quirks)
    if schema.get("type") == "object" and "properties" not in schema:
        schema["properties"] = {}
    fn: dict[str, Any] = {"name": names.shorten(str(tool.get("name", ""))), "parameters": schema}
    if tool.get("description"):
        fn["description"] = tool["description"]
    if tool.get("strict") is True and quirks.strict_tools and strict_compatible(schema):
        fn["strict"] = True
    return {"type": "function", "function": fn}


def _tool_choice(choice: Any, names: ToolNames) -> Any:
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "auto":
        return "auto"
    if kind == "any":
        return "required"
    if kind == "none":
        return "none"
    if kind == "tool":
        return {"type": "function", "function": {"name": names.shorten(str(choice.get("name", "")))}}
    return None


# Anthropic effort levels → OpenAI's (which stop at "high"; Claude Code sends "xhigh" for Opus).
_EFFORT = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}


def reasoning_effort(thinking: Any, output_config: Any) -> str | None:
    """Anthropic ``thinking`` (+ ``output_config.effort``) → OpenAI ``reasoning_effort``.

    None: don't ask for reasoning (thinking disabled or absent).
    """
    if not isinstance(thinking, dict):
        return None
    kind = thinking.get("type")
    if kind == "enabled":
        budget = int(thinking.get("budget_tokens") or 0)
        if budget >= 4096:
            return "high"
        if budget >= 2048:
            return "medium"
        if budget >= 1024:
            return "low"
        return "minimal"
    if kind == "adaptive":
        effort = output_config.get("effort") if isinstance(output_config, dict) else None
        return _EFFORT.get(str(effort), "medium")
    return None


def response_format(output_config: Any, quirks: Quirks) -> dict[str, Any] | None:
    """``output_config.format`` (structured output, e.g. Claude Code's prompt hooks) →
    ``response_format``; None when absent or the provider has no such mode."""
    fmt = output_config.get("format") if isinstance(output_config, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or quirks.response_format == "none":
        return None
    if quirks.response_format == "json_object":
        return {"type": "json_object"}
    schema = sanitize_schema(fmt.get("schema") or {"type": "object"}, quirks)
    spec: dict[str, Any] = {"name": "output", "schema": schema}
    if quirks.strict_tools and strict_compatible(schema):
        spec["strict"] = True
    return {"type": "json_schema", "json_schema": spec}


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    return _text_of(system)


def clamp_max_tokens(requested: Any, cap: int | None) -> int:
    value = int(requested) if isinstance(requested, int) and requested > 0 else 4096
    return min(value, cap) if cap else value


def to_openai(
    body: dict[str, Any], *, model: str, quirks: Quirks, max_tokens_cap: int | None = None, stream: bool = False
) -> tuple[dict[str, Any], ToolNames]:
    """The OpenAI request for an Anthropic ``body`` bound for ``model``."""
    names = ToolNames()
    messages: list[dict[str, Any]] = []
    system = _system_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})  # cache_control is dropped
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list):
        raise ProxyError(400, "messages: expected a list")
    for i, msg in enumerate(raw_messages):
        if not isinstance(msg, dict):
            raise ProxyError(400, f"messages[{i}]: expected an object")
        role = msg.get("role")
        content = msg.get("content")
        if role == "user":
            messages.extend(_user_message(content, quirks))
        elif role == "assistant":
            messages.append(_assistant_message(content, quirks, names))
        elif role == "system":
            text = _system_text(content)
            if not text:
                continue
            if quirks.system_in_place:
                messages.append({"role": "system", "content": text})
            else:
                messages.append({"role": "user", "content": f"<system-reminder>\n{text}\n</system-reminder>"})
        else:
            raise ProxyError(400, f"messages[{i}].role: expected user, assistant or system, got {role!r}")
    out: dict[str, Any] = {"model": model, "messages": messages}
    out[quirks.max_tokens_field] = clamp_max_tokens(body.get("max_tokens"), max_tokens_cap)
    # Deferred tools are offered once ToolSearch has loaded them, as Anthropic's API would.
    tools = offered_tools(body.get("tools"), referenced_tools(raw_messages))
    if tools:
        out["tools"] = [_tool(t, quirks, names) for t in tools]
        choice = body.get("tool_choice")
        if choice is not None:
            mapped = _tool_choice(choice, names)
            if mapped is not None:
                out["tool_choice"] = mapped
            if isinstance(choice, dict) and choice.get("disable_parallel_tool_use"):
                out["parallel_tool_calls"] = False
    stops = body.get("stop_sequences")
    if isinstance(stops, list) and stops:
        out["stop"] = [str(s) for s in stops][:4]  # OpenAI accepts at most 4
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    if quirks.top_k and body.get("top_k") is not None:
        out["top_k"] = body["top_k"]
    metadata = body.get("metadata")
    if quirks.send_user and isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        user = metadata["user_id"]
        out["user"] = user if len(user) <= 64 else hashlib.sha256(user.encode()).hexdigest()[:64]
    effort = reasoning_effort(body.get("thinking"), body.get("output_config"))
    if effort and quirks.reasoning_param == "reasoning_effort":
        out["reasoning_effort"] = effort
    elif effort and quirks.reasoning_param == "openrouter":
        out["reasoning"] = {"effort": "low" if effort == "minimal" else effort}
    fmt = response_format(body.get("output_config"), quirks)
    if fmt:
        out["response_format"] = fmt
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out, names
