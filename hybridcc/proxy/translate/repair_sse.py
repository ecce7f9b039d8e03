"""Tool-call repair for an Anthropic-wire stream (llama.cpp and Ollama ``/v1/messages``).

A local server on the Anthropic wire sends a call the model wrote as text inside a ``text``
block, exactly as the OpenAI wire does in ``content`` (issue 17). The passthrough forwards
bytes unchanged; when repair is on it decodes the events instead and sends them through
:class:`AnthropicStreamRepair`, which re-encodes them: text deltas go through
:class:`~hybridcc.proxy.translate.repair.StreamRepair`, a repaired call becomes its own
``tool_use`` block, block indexes are renumbered (one upstream text block may become text +
tool_use + text), and ``message_delta`` says ``stop_reason: tool_use`` when a call was made.
Everything else passes unchanged. Network-free.
"""

from __future__ import annotations

import json
from typing import Any

from hybridcc.proxy.sse import SSEEvent, encode
from hybridcc.proxy.translate.repair import Out, StreamRepair, Text
from hybridcc.proxy.translate.repair_formats import Offered
from hybridcc.proxy.translate.response import new_tool_id


def _raw(ev: SSEEvent) -> bytes:
    head = f"event: {ev.event}\n" if ev.event is not None else ""
    data = "".join(f"data: {line}\n" for line in ev.data.split("\n"))
    return (head + data + "\n").encode()


class AnthropicStreamRepair:
    """Decoded Anthropic SSE events in, re-encoded frames out. One instance per response."""

    def __init__(self, tools: Any) -> None:
        self._offered = Offered(tools)
        self._filter: StreamRepair | None = None  # set while an upstream text block is open
        self._text_open = False  # our text block is open (started lazily: never an empty block)
        self._next = 0  # index of the next block we start
        self._index: dict[int, int] = {}  # upstream index → ours, for blocks passed through
        self.repaired = 0  # calls made from text (the request log's repaired_tool_calls)

    @property
    def active(self) -> bool:
        return bool(self._offered)

    def feed(self, ev: SSEEvent) -> bytes:
        try:
            data = json.loads(ev.data)
        except ValueError:
            return _raw(ev)
        if not isinstance(data, dict):
            return _raw(ev)
        kind = data.get("type")
        out: list[bytes] = []
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "text" and self.active:
                self._filter = StreamRepair(self._offered)
                if block.get("text"):
                    self._outs(self._filter.feed(str(block["text"])), out)
                return b"".join(out)
            self._close_text(out)
            self._index[int(data.get("index", 0))] = self._next
            self._next += 1
            return encode("content_block_start", {**data, "index": self._index[int(data.get("index", 0))]})
        if kind in ("content_block_delta", "content_block_stop"):
            delta = data.get("delta") or {}
            if self._filter is not None:
                if kind == "content_block_delta" and delta.get("type") == "text_delta":
                    self._outs(self._filter.feed(str(delta.get("text", ""))), out)
                    return b"".join(out)
                if kind == "content_block_stop":
                    self._end_text(out)
                    return b"".join(out)
            ours = self._index.get(int(data.get("index", 0)))
            return encode(kind, {**data, "index": ours}) if ours is not None else _raw(ev)
        if kind == "message_delta":
            self._end_text(out)
            if self.repaired:
                delta = {**(data.get("delta") or {}), "stop_reason": "tool_use", "stop_sequence": None}
                data = {**data, "delta": delta}
            out.append(encode("message_delta", data))
            return b"".join(out)
        if kind in ("message_stop", "error"):
            self._end_text(out)
        return b"".join(out) + _raw(ev)

    def finish(self) -> bytes:
        """The upstream ended without closing its text block: let held text out."""
        out: list[bytes] = []
        self._end_text(out)
        return b"".join(out)

    # -- helpers -------------------------------------------------------------------------
    def _end_text(self, out: list[bytes]) -> None:
        if self._filter is not None:
            self._outs(self._filter.finish(), out)
            self._filter = None
        self._close_text(out)

    def _close_text(self, out: list[bytes]) -> None:
        if self._text_open:
            out.append(self._frame("content_block_stop"))
            self._next += 1
            self._text_open = False

    def _frame(self, kind: str, **fields: Any) -> bytes:
        return encode(kind, {"type": kind, "index": self._next, **fields})

    def _outs(self, parts: list[Out], out: list[bytes]) -> None:
        for part in parts:
            if isinstance(part, Text):
                if not part.text:
                    continue
                if not self._text_open:
                    out.append(self._frame("content_block_start", content_block={"type": "text", "text": ""}))
                    self._text_open = True
                out.append(self._frame("content_block_delta", delta={"type": "text_delta", "text": part.text}))
                continue
            self._close_text(out)
            block = {"type": "tool_use", "id": new_tool_id(), "name": part.name, "input": {}}
            args = json.dumps(part.input, ensure_ascii=False)
            out.append(self._frame("content_block_start", content_block=block))
            out.append(self._frame("content_block_delta", delta={"type": "input_json_delta", "partial_json": args}))
            out.append(self._frame("content_block_stop"))
            self._next += 1
            self.repaired += 1
