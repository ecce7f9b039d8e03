"""Pure rewrites of an Anthropic Messages request body, shared by both wires (issue 13).

- Sessions across providers: thinking blocks carry a signature only the provider that wrote
  them can verify; another provider answers "Invalid signature in thinking block" or chokes on
  ``redacted_thinking``. On passthrough the proxy tags what a provider signs with that provider
  (:func:`tag_signature`, ``hcc1.<tag>.<original>``), and :func:`strip_foreign_thinking` drops
  what the target cannot take: blocks tagged for another provider, and by the quirks rules the
  untagged ones (sessions recorded before tagging, or without hybridcc).
- ToolSearch (Claude Code 2.1.33x): deferred tools (``defer_loading: true``) stay hidden until a
  ``tool_result`` names them in ``{"type": "tool_reference", "tool_name": …}`` blocks; Anthropic
  expands those server-side. For a provider without that feature, :func:`resolve_tool_search`
  does it here: the references become text and the referenced tools become ordinary tools.

Nothing here mutates its input: changed containers are copied, untouched ones are shared.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final
from urllib.parse import urlsplit

THINKING_TYPES: Final = frozenset({"thinking", "redacted_thinking"})
# Where each thinking type keeps what only its writer can verify.
_SEALED: Final = {"thinking": "signature", "redacted_thinking": "data"}
TAG_PREFIX: Final = "hcc1."


# --- signature tags ------------------------------------------------------------------------


def provider_tag(name: str, base_url: str) -> str:
    """A short stable id of one provider endpoint, for tagged signatures: the provider's name and
    the base URL's scheme, host and path. No userinfo or query: the tag ends up in session
    transcripts, and no secret may go there, even hashed."""
    parts = urlsplit(base_url)
    seed = f"{name}\n{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path.rstrip('/')}"
    return hashlib.sha256(seed.encode()).hexdigest()[:12]


def tag_signature(tag: str, value: str) -> str:
    """``value`` marked as written by the provider ``tag`` names (an empty one stays empty:
    nothing was signed, and the unsigned-thinking rules still apply to it)."""
    return f"{TAG_PREFIX}{tag}.{value}" if value else value


def split_signature(value: Any) -> tuple[str, str] | None:
    """``(tag, original)`` of a tagged signature; None for an untagged one."""
    if not isinstance(value, str) or not value.startswith(TAG_PREFIX):
        return None
    tag, sep, original = value[len(TAG_PREFIX) :].partition(".")
    return (tag, original) if sep and tag else None


def tag_block(block: Any, tag: str) -> Any:
    """A copy of a ``thinking`` / ``redacted_thinking`` block with its signature (or encrypted
    ``data``) tagged; any other block, or one with nothing signed, is returned as it is."""
    field = _SEALED.get(str(block.get("type"))) if isinstance(block, dict) else None
    value = block.get(field) if field else None
    if not isinstance(value, str) or not value:
        return block
    return {**block, field: tag_signature(tag, value)}


def tag_message(message: dict[str, Any], tag: str) -> dict[str, Any] | None:
    """A non-streamed answer with its thinking signatures tagged; None when nothing changed."""
    content = message.get("content")
    if not isinstance(content, list):
        return None
    tagged = [tag_block(b, tag) for b in content]
    if all(a is b for a, b in zip(tagged, content, strict=True)):
        return None
    return {**message, "content": tagged}


def strip_foreign_thinking(
    body: dict[str, Any], *, keep: bool, require_signature: bool = False, tag: str | None = None
) -> dict[str, Any]:
    """``body`` without the thinking blocks its target provider cannot take back.

    ``keep=False`` (the target did not write them: a session moved to another provider, or a
    provider that rejects them) drops every ``thinking`` / ``redacted_thinking`` block from
    assistant turns. They are dropped rather than turned into text: Anthropic itself removes
    earlier turns' thinking from the model's context, so dropping shows the model what it would
    have seen there, while text would present private reasoning as something said to the user
    and cost tokens on every later request. An assistant turn left empty is removed (an empty
    content list is invalid; neighbouring user turns are merged by the API).

    ``keep=True`` keeps them, except what the target still cannot read. ``tag`` is the target's
    :func:`provider_tag`: a block whose signature (``data`` for ``redacted_thinking``) is tagged
    for it goes with the original value restored; one tagged for another provider is dropped —
    the target did not write it, whether or not it verifies. Untagged blocks follow the quirks:
    with ``require_signature`` (a provider that verifies signatures, i.e. Anthropic) thinking with
    an empty signature goes — hybridcc's translated path writes those for OpenAI-wire reasoning
    and no verifier accepts them; without it (a provider that replays reasoning but verifies
    nothing) ``redacted_thinking``, whose encrypted data only Anthropic can read. When a
    verifying provider loses the thinking of the latest assistant turn, that request's
    ``thinking`` is set to disabled (Anthropic rejects a tool loop whose last turn does not start
    with thinking).
    """
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    out: list[Any] = []
    changed = last_dropped = False
    for msg in messages:
        content = msg.get("content") if isinstance(msg, dict) else None
        if not isinstance(msg, dict) or msg.get("role") != "assistant" or not isinstance(content, list):
            out.append(msg)
            continue
        sent = [_admit(b, keep=keep, require_signature=require_signature, tag=tag) for b in content]
        kept = [b for b in sent if b is not None]
        dropped = len(kept) != len(content)
        # Dropped from this turn, leaving it without thinking at its start (see below).
        last_dropped = dropped and not (kept and isinstance(kept[0], dict) and kept[0].get("type") in THINKING_TYPES)
        if not dropped and all(a is b for a, b in zip(kept, content, strict=True)):
            out.append(msg)
            continue
        changed = True
        if kept:
            out.append({**msg, "content": kept})
    if not changed:
        return body
    result = {**body, "messages": out}
    thinking = body.get("thinking")
    if require_signature and last_dropped and isinstance(thinking, dict) and thinking.get("type") != "disabled":
        # Anthropic wants the latest assistant turn of a tool loop to start with (its own)
        # thinking while thinking is on; with that block gone, this one request goes without.
        result["thinking"] = {"type": "disabled"}
    return result


def _admit(block: Any, *, keep: bool, require_signature: bool, tag: str | None) -> Any:
    """The block as the target gets it (its own signature unwrapped), or None to drop it."""
    if not isinstance(block, dict) or block.get("type") not in THINKING_TYPES:
        return block
    if not keep:
        return None
    field = _SEALED[block["type"]]
    tagged = split_signature(block.get(field)) if tag is not None else None
    if tagged is not None:
        if tagged[0] != tag:
            return None  # another provider's: it would be refused, or mean nothing here
        block = {**block, field: tagged[1]}
        if not require_signature:
            # Written by this very provider: it takes its own back, redacted or not.
            return block
    if require_signature:
        return None if block["type"] == "thinking" and not block.get("signature") else block
    return None if block["type"] == "redacted_thinking" else block


# --- ToolSearch ---------------------------------------------------------------------------


def tool_reference_names(content: Any) -> list[str]:
    """Tool names in the ``tool_reference`` blocks of one ``tool_result`` content."""
    if not isinstance(content, list):
        return []
    return [
        str(b["tool_name"])
        for b in content
        if isinstance(b, dict) and b.get("type") == "tool_reference" and isinstance(b.get("tool_name"), str)
    ]


def tool_reference_text(names: list[str]) -> str:
    """What a ToolSearch result says to a model that gets no server-side expansion."""
    if len(names) == 1:
        return f"Tool loaded: {names[0]}. It is now available to call."
    return f"Tools loaded: {', '.join(names)}. They are now available to call."


def referenced_tools(messages: Any) -> set[str]:
    """Every tool a ``tool_reference`` in the conversation has loaded."""
    names: set[str] = set()
    for msg in messages if isinstance(messages, list) else []:
        content = msg.get("content") if isinstance(msg, dict) else None
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                names.update(tool_reference_names(block.get("content")))
    return names


def offered_tools(tools: Any, loaded: set[str]) -> list[dict[str, Any]]:
    """The tools a model without tool search may see: every non-deferred tool, plus the deferred
    ones already loaded (without their ``defer_loading`` flag). Claude Code's
    ``DeferredToolPlaceholder`` ("never call this tool") is deferred and never loaded, so it goes.
    """
    out: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict):
            continue
        if tool.get("defer_loading"):
            if tool.get("name") not in loaded:
                continue
            tool = {k: v for k, v in tool.items() if k != "defer_loading"}
        out.append(tool)
    return out


def _resolve_result(block: dict[str, Any]) -> dict[str, Any]:
    content = block.get("content")
    names = tool_reference_names(content)
    if not names or not isinstance(content, list):
        return block
    rest = [b for b in content if not (isinstance(b, dict) and b.get("type") == "tool_reference")]
    return {**block, "content": [{"type": "text", "text": tool_reference_text(names)}, *rest]}


def resolve_tool_search(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` for an Anthropic-wire provider without tool search (quirks ``tool_search`` off):
    ``tool_reference`` blocks become text and ``tools`` holds what :func:`offered_tools` allows."""
    messages = body.get("messages")
    loaded = referenced_tools(messages)
    out = dict(body)
    if "tools" in body:
        out["tools"] = offered_tools(body.get("tools"), loaded)
        if not out["tools"]:
            out.pop("tools")
            out.pop("tool_choice", None)  # a tool_choice without tools is a 400
    if loaded and isinstance(messages, list):
        new_messages: list[Any] = []
        for msg in messages:
            content = msg.get("content") if isinstance(msg, dict) else None
            if isinstance(msg, dict) and msg.get("role") == "user" and isinstance(content, list):
                msg = {
                    **msg,
                    "content": [
                        _resolve_result(b) if isinstance(b, dict) and b.get("type") == "tool_result" else b
                        for b in content
                    ],
                }
            new_messages.append(msg)
        out["messages"] = new_messages
    return out
