"""Tool-call repair: turn a tool call that a model wrote as text into a real call (issue 17).

Small local models often answer a tool request with the call as plain text (Qwen2.5-Coder-0.5B
writes ``{"name": "get_weather", "arguments": {"city": "Paris"}}``, the 1.5B the same inside a
```json fence; shared/LOCAL_MODELS.md), so Claude Code runs nothing. Network-free and pure:

- :func:`repair_text` — a complete text → its remaining text and the calls found in it;
- :class:`StreamRepair` — the same for text arriving in deltas: ordinary prose passes through at
  once, only text that may start a call is held back, and no longer than needed;
- :func:`repair_message` — a complete Anthropic message dict with text blocks → ``tool_use``;
- :func:`tool_repair_enabled` — the ``[providers.NAME] tool_repair`` setting and its default.

Only a tool the request offered (never Claude Code's ``DeferredToolPlaceholder``) with
arguments that fit its input schema becomes a call; everything else stays text. A call may
start at the beginning of a line (after prose, or whitespace); the special-token formats
(``<tool_call>``, ``[TOOL_CALLS]``, ``<|python_tag|>``, ``<function=``) anywhere. Whitespace
between a call and its neighbours is dropped.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

from hybridcc.proxy.translate.repair_formats import NEED, Hit, Offered, Parser, Text, ToolCall, skip_ws
from hybridcc.proxy.translate.response import new_tool_id

if TYPE_CHECKING:
    from hybridcc.config.schema import Provider

__all__ = [
    "LOCAL_PROVIDER_KINDS",
    "Out",
    "Repaired",
    "StreamRepair",
    "Text",
    "ToolCall",
    "offered_tools",
    "repair_message",
    "repair_text",
    "tool_call_verdict",
    "tool_repair_enabled",
]

Out = Text | ToolCall
# Provider templates / quirks rows that are local model servers: repair is on by default there.
LOCAL_PROVIDER_KINDS: Final = frozenset({"ollama", "llamacpp", "vllm", "lmstudio"})
_MIDLINE: Final = re.compile(r"[\n<\[]")  # a line end, or where a strong marker could begin


class StreamRepair:
    """Feed text deltas, get back text to show and repaired calls, in order.

    ``feed`` returns what is decided so far; ``finish`` (the message ended) returns the rest.
    Text that cannot start a call goes out in the same ``feed`` that brought it; a possible call
    is held until it is complete and checked (or clearly not a call), at most ``MAX_HOLD``
    characters. Splitting the input differently never changes the result.
    """

    def __init__(self, tools: Any) -> None:
        self._offered = tools if isinstance(tools, Offered) else Offered(tools)
        self._parser = Parser(self._offered)
        self._buf = ""
        self._line_start = True  # the buffer begins a line (or follows a call)
        self._after_call = False  # whitespace here follows a call: drop it
        self._active = bool(self._offered)
        self.repaired = 0  # calls produced so far (the request log's repaired_tool_calls)
        self._seen: set[str] = set()

    def feed(self, text: str) -> list[Out]:
        if not self._active:
            return [Text(text)] if text else []
        self._buf += text
        return self._run(final=False)

    def finish(self) -> list[Out]:
        if not self._active:
            return []
        return self._run(final=True)

    def release(self) -> list[Out]:
        """Stop repairing (e.g. the model also sent native tool calls): held text goes out as is."""
        held, self._buf, self._active = self._buf, "", False
        self._parser.reset()
        return [Text(held)] if held else []

    # -- the scanner ---------------------------------------------------------------------------
    def _take(self, n: int) -> str:
        head, self._buf = self._buf[:n], self._buf[n:]
        self._parser.reset()
        return head

    def _run(self, *, final: bool) -> list[Out]:
        out: list[Out] = []

        def text(t: str) -> None:
            if not t:
                return
            self._after_call = False
            if out and isinstance(out[-1], Text):
                out[-1] = Text(out[-1].text + t)
            else:
                out.append(Text(t))

        def hit(found: Hit) -> None:
            self._take(found.end)
            for call in found.calls:
                # A small model may write the same call twice (or until max_tokens): run it once.
                key = call.name + json.dumps(call.input, sort_keys=True)
                if key not in self._seen:
                    self._seen.add(key)
                    out.append(call)
                    self.repaired += 1
            self._line_start = self._after_call = True

        while self._buf:
            buf = self._buf
            if self._line_start:
                i = skip_ws(buf, 0)
                if i == len(buf):
                    if final:
                        self._take(i)  # trailing whitespace: nothing to show
                    break
                got = self._parser.at(buf, i, final, strong_only=False)
                if got is NEED and not final:
                    break
                if isinstance(got, Hit):
                    hit(got)
                    continue
                ws = self._take(i)
                if not self._after_call:
                    text(ws)
                text(self._take(1))
                self._line_start = False
                continue
            m = _MIDLINE.search(buf)
            if m is None:
                text(self._take(len(buf)))
                break
            k = m.start()
            if buf[k] == "\n":
                text(self._take(k + 1))
                self._line_start = True
                continue
            got = self._parser.at(buf, k, final, strong_only=True)
            if got is NEED and not final:
                text(self._take(k))
                break
            text(self._take(k))
            if isinstance(got, Hit):
                hit(Hit(got.end - k, got.calls))
            else:
                text(self._take(1))
        return out


@dataclass(frozen=True)
class Repaired:
    """The result of repairing one complete text."""

    parts: tuple[Out, ...]

    @property
    def calls(self) -> list[ToolCall]:
        return [p for p in self.parts if isinstance(p, ToolCall)]

    @property
    def text(self) -> str:
        """The text that remains, stripped ("" when the whole text was calls)."""
        return "".join(p.text for p in self.parts if isinstance(p, Text)).strip()


def repair_text(text: str, tools: Any) -> Repaired:
    """Find tool calls written as text in a complete model answer (``tools``: Anthropic ``tools``)."""
    filt = StreamRepair(tools)
    parts: list[Out] = []
    for part in filt.feed(text) + filt.finish():
        if isinstance(part, Text) and parts and isinstance(parts[-1], Text):
            parts[-1] = Text(parts[-1].text + part.text)
        else:
            parts.append(part)
    return Repaired(tuple(parts))


def repair_message(message: dict[str, Any], tools: Any) -> tuple[dict[str, Any], int]:
    """Repair a complete Anthropic message: text blocks holding calls → ``tool_use`` blocks.

    Returns the message (a new dict when something changed, else the same one) and the number
    of calls repaired. A message that already has a ``tool_use`` block is left alone: the
    model called tools natively. With calls, ``stop_reason`` becomes ``tool_use``.
    """
    content = message.get("content")
    if not isinstance(content, list) or any(isinstance(b, dict) and b.get("type") == "tool_use" for b in content):
        return message, 0
    offered = Offered(tools)
    if not offered:
        return message, 0
    blocks: list[Any] = []
    count = 0
    for block in content:
        if not (isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)):
            blocks.append(block)
            continue
        result = repair_text(block["text"], offered)
        if not result.calls:
            blocks.append(block)
            continue
        for part in result.parts:
            if isinstance(part, ToolCall):
                blocks.append({"type": "tool_use", "id": new_tool_id(), "name": part.name, "input": part.input})
                count += 1
            elif part.text.strip():
                blocks.append({"type": "text", "text": part.text.strip()})
    if not count:
        return message, 0
    return {**message, "content": blocks, "stop_reason": "tool_use", "stop_sequence": None}, count


def offered_tools(body: dict[str, Any]) -> list[Any] | None:
    """The request's tools when a repaired call would be allowed: some offered, ``tool_choice`` not none."""
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if not isinstance(tools, list) or not tools or (isinstance(choice, dict) and choice.get("type") == "none"):
        return None
    return tools


def tool_call_verdict(message: dict[str, Any], tools: Any) -> Literal["native", "repaired", "prose"]:
    """For doctor --probe: did the model call natively, only as text we can repair, or not at all?"""
    content = message.get("content")
    blocks = content if isinstance(content, list) else []
    if any(isinstance(b, dict) and b.get("type") == "tool_use" for b in blocks):
        return "native"
    return "repaired" if repair_message(message, tools)[1] else "prose"


def _loopback(base_url: str | None) -> bool:
    host = urlsplit(base_url or "").hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified


def tool_repair_enabled(provider: Provider) -> bool:
    """``tool_repair`` as set, else on for local model servers (Ollama, llama.cpp, vLLM, LM Studio
    templates, or any provider whose ``base_url`` is a loopback address) and off otherwise."""
    if provider.tool_repair is not None:
        return provider.tool_repair
    if provider.api == "ollama" or provider.quirks in LOCAL_PROVIDER_KINDS or provider.name in LOCAL_PROVIDER_KINDS:
        return True
    return _loopback(provider.base_url)
