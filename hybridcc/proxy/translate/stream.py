"""The streaming translator: OpenAI chunks in, Anthropic SSE events out. Network-free.

Text and thinking deltas stream as they arrive. Tool calls are collected per upstream key
(``index``, or a new ``id`` at a reused index) and emitted when the upstream finishes, each as
start + one ``input_json_delta`` + stop: fragments of parallel calls may interleave, only one
block may be open at a time, and Claude Code runs no tool before ``message_stop`` anyway.
``finish_reason`` holds ``message_delta`` so a following usage-only chunk is merged into it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hybridcc.proxy.sse import encode
from hybridcc.proxy.tokens import estimate_text_tokens
from hybridcc.proxy.translate.request import ToolNames
from hybridcc.proxy.translate.response import ToolIds, convert_usage, new_message_id, parse_arguments, stop_reason

_ZERO_USAGE = {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


@dataclass
class _Tool:
    key: tuple[int, str]
    id: str | None
    name: str = ""
    args: list[str] = field(default_factory=list)


class StreamTranslator:
    """Feed decoded OpenAI chunks; collect the SSE bytes to send. One instance per response."""

    def __init__(self, *, model: str, input_tokens: int, names: ToolNames | None = None) -> None:
        self.model = model
        self.input_estimate = max(int(input_tokens), 1)
        self.names = names or ToolNames()
        self.message_id = new_message_id()
        self.started = False
        self.finished = False  # message_stop sent
        self._block: str | None = None  # "text" | "thinking" while a block is open
        self._index = 0
        self._tools: list[_Tool] = []
        self._tool_at: dict[int, _Tool] = {}
        self._finish: str | None = None
        self._usage: dict[str, int] | None = None
        self._out_chars = 0
        self.had_tools = False
        self.stop_reason: str | None = None
        self.final_usage: dict[str, int] | None = None

    # -- framing ------------------------------------------------------------------------
    def start(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_estimate, "output_tokens": 0, **_ZERO_USAGE},
        }
        return encode("message_start", {"type": "message_start", "message": message})

    def _close_block(self, out: list[bytes]) -> None:
        if self._block is not None:
            out.append(encode("content_block_stop", {"type": "content_block_stop", "index": self._index}))
            self._index += 1
            self._block = None

    def _delta(self, kind: str, text: str, out: list[bytes]) -> None:
        if not text:
            return  # never an empty block
        if self._block != kind:
            self._close_block(out)
            block: dict[str, Any] = {"type": "text", "text": ""}
            if kind == "thinking":
                block = {"type": "thinking", "thinking": "", "signature": ""}
            out.append(
                encode(
                    "content_block_start", {"type": "content_block_start", "index": self._index, "content_block": block}
                )
            )
            self._block = kind
        self._out_chars += len(text)
        delta = {"type": "text_delta", "text": text} if kind == "text" else {"type": "thinking_delta", "thinking": text}
        out.append(encode("content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta}))

    # -- input --------------------------------------------------------------------------
    def feed(self, chunk: dict[str, Any]) -> bytes:
        out: list[bytes] = []
        if not self.started:
            out.append(self.start())
        if self.finished:
            return b"".join(out)
        usage = chunk.get("usage")
        if isinstance(usage, dict) and usage:
            self._usage = convert_usage(usage)
        choices = chunk.get("choices")
        if isinstance(choices, list):  # `choices: []` on the usage-only chunk
            for choice in choices:
                if isinstance(choice, dict):
                    self._choice(choice, out)
        return b"".join(out)

    def _choice(self, choice: dict[str, Any], out: list[bytes]) -> None:
        delta = choice.get("delta") or {}
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str):
                self._delta("thinking", reasoning, out)
            content = delta.get("content")
            if isinstance(content, str):
                self._delta("text", content, out)
            for call in delta.get("tool_calls") or []:
                if isinstance(call, dict):
                    self._tool_fragment(call)
        finish = choice.get("finish_reason")
        if finish:
            self._finish = str(finish)
            self._close_block(out)
            self._emit_tools(out)

    def _tool_fragment(self, call: dict[str, Any]) -> None:
        index = call.get("index")
        idx = int(index) if isinstance(index, int) else len(self._tools)
        call_id = call.get("id") or None
        tool = self._tool_at.get(idx)
        if tool is None or (call_id and tool.id and call_id != tool.id):
            # Some servers tag every parallel call `index: 0` but give each its own id.
            tool = _Tool(key=(idx, call_id or ""), id=call_id)
            self._tools.append(tool)
            self._tool_at[idx] = tool
        elif call_id and not tool.id:
            tool.id = call_id
        fn = call.get("function") or {}
        if fn.get("name"):
            tool.name = tool.name or str(fn["name"])
        args = fn.get("arguments")
        if isinstance(args, str) and args:
            tool.args.append(args)
        elif isinstance(args, dict):
            tool.args.append(json.dumps(args))

    def _emit_tools(self, out: list[bytes]) -> None:
        ids = ToolIds()
        for tool in self._tools:
            raw = "".join(tool.args)
            try:
                valid = isinstance(json.loads(raw), dict)
            except ValueError:
                valid = False
            if not valid:  # "" → {}; broken JSON stays visible to the model, never a silent {}
                raw = json.dumps(parse_arguments(raw))
            block = {"type": "tool_use", "id": ids.make(tool.id), "name": self.names.original(tool.name), "input": {}}
            out.append(
                encode(
                    "content_block_start", {"type": "content_block_start", "index": self._index, "content_block": block}
                )
            )
            delta = {"type": "input_json_delta", "partial_json": raw}
            out.append(
                encode("content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta})
            )
            out.append(encode("content_block_stop", {"type": "content_block_stop", "index": self._index}))
            self._index += 1
            self._out_chars += len(raw)
        self.had_tools = self.had_tools or bool(self._tools)
        self._tools = []
        self._tool_at = {}

    def finish(self, finish_reason: str | None = None) -> bytes:
        """The upstream ended (cleanly, with or without finish_reason): close everything.

        ``finish_reason`` stands in for one the upstream did not send (the local max_tokens probe).
        """
        if finish_reason and not self._finish:
            self._finish = finish_reason
        out: list[bytes] = []
        if not self.started:
            out.append(self.start())
        if self.finished:
            return b"".join(out)
        self._close_block(out)
        self._emit_tools(out)
        reason = stop_reason(self._finish, self.had_tools)
        usage = self._usage or {
            "input_tokens": self.input_estimate,
            "output_tokens": estimate_text_tokens("x" * self._out_chars),
            **_ZERO_USAGE,
        }
        self.final_usage = usage
        out.append(
            encode(
                "message_delta",
                {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None}, "usage": usage},
            )
        )
        out.append(encode("message_stop", {"type": "message_stop"}))
        self.finished = True
        self.stop_reason = reason
        return b"".join(out)
