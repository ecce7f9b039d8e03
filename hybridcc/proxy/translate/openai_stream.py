"""The streaming translator: OpenAI chunks in, Anthropic SSE events out. Network-free.

SALVAGE NOTE: written against the landed tree where this module is hybridcc/proxy/translate/stream.py
and the estimate module is hybridcc/proxy/tokens.py; adjust the two imports below if not renamed.

Two layers. :class:`StreamTranslator` is the state machine from decoded OpenAI chunks to
Anthropic events. :class:`OpenAIStream` feeds it raw upstream bytes: SSE decoding (UTF-8
safe across reads), ``[DONE]``, in-stream error objects and a stream that ends before the
provider finished are all OpenAI-wire facts, so they are handled here and not by the ASGI
layer (shared/STYLE.md, lesson 18).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hybridcc.proxy.estimate import estimate_text_tokens  # landed: hybridcc.proxy.tokens
from hybridcc.proxy.sse import SSEDecoder, dumps, encode
from hybridcc.proxy.translate.repair import Out, StreamRepair, Text
from hybridcc.proxy.translate.request import ToolNames
from hybridcc.proxy.translate.response import (
    ToolIds,
    convert_usage,
    new_message_id,
    new_tool_id,
    parse_arguments,
    stop_reason,
)

_ZERO_USAGE = {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}

# The hot path: one frame per text delta. Only the index and the text vary, so the constant
# parts are bytes built once instead of a dict encoded per event.
_DELTA_HEAD = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
_TEXT_MID = b',"delta":{"type":"text_delta","text":'
_THINKING_MID = b',"delta":{"type":"thinking_delta","thinking":'
_DELTA_TAIL = b"}}\n\n"


class StreamError(Exception):
    """The upstream stream failed in a way the client must see as an ``event: error``.

    ``partial`` holds what the same upstream read produced before the failure: the client gets
    it before the error, so the text that did arrive is not lost.
    """

    def __init__(self, error_type: str, message: str, partial: bytes = b"") -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.partial = partial


@dataclass
class _Tool:
    key: tuple[int, str]
    id: str | None
    name: str = ""
    args: list[str] = field(default_factory=list)


class StreamTranslator:
    """Feed decoded OpenAI chunks; collect the SSE bytes to send. One instance per response."""

    def __init__(
        self, *, model: str, input_tokens: int, names: ToolNames | None = None, repair: StreamRepair | None = None
    ) -> None:
        self.model = model
        # Tool calls a local model writes as text become tool_use blocks (issue 17); None: off.
        self.repair = repair
        self.repaired = 0
        self.input_estimate = max(int(input_tokens), 1)
        self.names = names or ToolNames()
        self.message_id = new_message_id()
        self.started = False
        self.finished = False  # message_stop sent
        self.saw_finish = False  # the upstream sent a finish_reason
        self._block: str | None = None  # "text" | "thinking" while a block is open
        self._index = 0
        self._index_bytes = b"0"
        self._tools: list[_Tool] = []
        self._tool_at: dict[int, _Tool] = {}
        self._finish: str | None = None
        self._usage: dict[str, int] | None = None
        self._out_chars = 0
        self.had_tools = False
        self.final_usage: dict[str, int] | None = None

    def start(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        message: dict[str, Any] = {
            "id": self.message_id, "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": self.input_estimate, "output_tokens": 0, **_ZERO_USAGE},
        }  # fmt: skip
        return encode("message_start", {"type": "message_start", "message": message})

    def _next_index(self) -> None:
        self._index += 1
        self._index_bytes = str(self._index).encode()

    def _close_block(self, out: list[bytes]) -> None:
        if self._block is not None:
            out.append(encode("content_block_stop", {"type": "content_block_stop", "index": self._index}))
            self._next_index()
            self._block = None

    def _delta(self, kind: str, text: str, out: list[bytes]) -> None:
        if not text:
            return  # never an empty block
        if self._block != kind:
            self._close_block(out)
            block: dict[str, Any] = {"type": "text", "text": ""}
            if kind == "thinking":
                block = {"type": "thinking", "thinking": "", "signature": ""}
            out.append(encode("content_block_start",
                              {"type": "content_block_start", "index": self._index, "content_block": block}))  # fmt: skip
            self._block = kind
        self._out_chars += len(text)
        mid = _TEXT_MID if kind == "text" else _THINKING_MID
        out.append(b"".join((_DELTA_HEAD, self._index_bytes, mid, dumps(text).encode(), _DELTA_TAIL)))

    def _text(self, text: str, out: list[bytes]) -> None:
        if self.repair is None:
            self._delta("text", text, out)
        else:
            self._repaired(self.repair.feed(text), out)

    def _repaired(self, parts: list[Out], out: list[bytes]) -> None:
        for part in parts:
            if isinstance(part, Text):
                self._delta("text", part.text, out)
                continue
            self._close_block(out)
            raw = json.dumps(part.input, ensure_ascii=False)
            block = {"type": "tool_use", "id": new_tool_id(), "name": part.name, "input": {}}
            out.append(encode("content_block_start",
                              {"type": "content_block_start", "index": self._index, "content_block": block}))  # fmt: skip
            out.append(encode("content_block_delta", {"type": "content_block_delta", "index": self._index,
                              "delta": {"type": "input_json_delta", "partial_json": raw}}))  # fmt: skip
            out.append(encode("content_block_stop", {"type": "content_block_stop", "index": self._index}))
            self._next_index()
            self._out_chars += len(raw)
            self.had_tools = True
            self.repaired += 1

    def _flush_repair(self, out: list[bytes]) -> None:
        if self.repair is not None:
            self._repaired(self.repair.finish(), out)

    def feed(self, chunk: dict[str, Any]) -> bytes:
        out: list[bytes] = []
        self.feed_into(chunk, out)
        return b"".join(out)

    def feed_into(self, chunk: dict[str, Any], out: list[bytes]) -> None:
        if not self.started:
            out.append(self.start())
        if self.finished:
            return
        usage = chunk.get("usage")
        if usage and isinstance(usage, dict):
            self._usage = convert_usage(usage)
        choices = chunk.get("choices")
        if choices and isinstance(choices, list):  # `choices: []` on the usage-only chunk
            for choice in choices:
                if isinstance(choice, dict):
                    self._choice(choice, out)

    def _choice(self, choice: dict[str, Any], out: list[bytes]) -> None:
        delta = choice.get("delta")
        if delta and isinstance(delta, dict):
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                self._delta("thinking", reasoning, out)
            content = delta.get("content")
            if content and isinstance(content, str):
                self._text(content, out)
            calls = delta.get("tool_calls")
            if calls:
                if self.repair is not None:  # native calls: stop repairing; held text is text
                    self._repaired(self.repair.release(), out)
                for call in calls:
                    if isinstance(call, dict):
                        self._tool_fragment(call)
        finish = choice.get("finish_reason")
        if finish:
            self._finish = str(finish)
            self.saw_finish = True
            self._flush_repair(out)
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
        if not self._tools:
            return
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
            out.append(encode("content_block_start",
                              {"type": "content_block_start", "index": self._index, "content_block": block}))  # fmt: skip
            delta = {"type": "input_json_delta", "partial_json": raw}
            out.append(encode("content_block_delta",
                              {"type": "content_block_delta", "index": self._index, "delta": delta}))  # fmt: skip
            out.append(encode("content_block_stop", {"type": "content_block_stop", "index": self._index}))
            self._next_index()
            self._out_chars += len(raw)
        self.had_tools = True
        self._tools = []
        self._tool_at = {}

    def finish(self, finish_reason: str | None = None) -> bytes:
        if finish_reason and not self._finish:
            self._finish = finish_reason
        out: list[bytes] = []
        if not self.started:
            out.append(self.start())
        if self.finished:
            return b"".join(out)
        self._flush_repair(out)
        self._close_block(out)
        self._emit_tools(out)
        reason = stop_reason(self._finish, self.had_tools)
        usage = self._usage or {
            "input_tokens": self.input_estimate,
            "output_tokens": estimate_text_tokens("x" * self._out_chars),
            **_ZERO_USAGE,
        }
        self.final_usage = usage
        out.append(encode("message_delta", {"type": "message_delta",
                   "delta": {"stop_reason": reason, "stop_sequence": None}, "usage": usage}))  # fmt: skip
        out.append(encode("message_stop", {"type": "message_stop"}))
        self.finished = True
        return b"".join(out)


class OpenAIStream:
    """Raw bytes of an OpenAI Chat Completions stream in, Anthropic SSE bytes out.

    ``feed`` returns everything one upstream read produced as one buffer (one write to the
    client). It raises :class:`StreamError` for an error object inside the stream; ``end``
    raises it for a stream that stopped before the provider said it was finished (no
    ``finish_reason`` and no ``[DONE]``): a truncated answer must never look complete
    (issue 11 item 6). Malformed data lines are counted (issue 11 item 8).

    llama.cpp asked for ``return_progress`` sends chunks carrying ``prompt_progress`` while it
    reads the prompt: they go to ``on_progress`` and never reach Claude Code (issue 17).
    """

    def __init__(
        self, translator: StreamTranslator, *, provider: str, on_progress: Callable[[Any], None] | None = None
    ) -> None:
        self.tr = translator
        self.provider = provider
        self.on_progress = on_progress
        self._decoder = SSEDecoder()
        self.malformed = 0
        self.done = False  # [DONE] seen

    @property
    def finished(self) -> bool:
        return self.tr.finished

    def feed(self, raw: bytes) -> bytes:
        return self._events(self._decoder.feed(raw))

    def _events(self, events: list[Any]) -> bytes:
        out: list[bytes] = []
        try:
            self._translate(events, out)
        except StreamError as exc:
            exc.partial = b"".join(out)
            raise
        return b"".join(out)

    def _translate(self, events: list[Any], out: list[bytes]) -> None:
        tr = self.tr
        for ev in events:
            data = ev.data
            if not data:
                continue
            if data == "[DONE]":
                self.done = True
                out.append(tr.finish())
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                chunk = None
            if not isinstance(chunk, dict):
                # A chunk we cannot read is a hole in the answer: fail the stream (Claude Code then
                # asks again without streaming) rather than deliver the rest as if complete.
                self.malformed += 1
                raise StreamError(
                    "api_error",
                    f"provider {self.provider} ({tr.model}) sent a malformed stream chunk; the answer is incomplete",
                )
            if "prompt_progress" in chunk:  # the one extra dict check per chunk
                if self.on_progress is not None:
                    self.on_progress(chunk["prompt_progress"])
                continue  # not part of the answer: no message_start, no event
            if "error" in chunk and not chunk.get("choices"):
                err = chunk["error"]
                msg = err.get("message") if isinstance(err, dict) else str(err)
                raise StreamError("api_error", f"provider {self.provider} ({tr.model}): {msg}")
            tr.feed_into(chunk, out)

    def end(self) -> bytes:
        out = self._events(self._decoder.flush())
        if self.tr.finished:
            return out
        if not (self.done or self.tr.saw_finish):
            what = f"{self.malformed} malformed chunk(s) and " if self.malformed else ""
            raise StreamError(
                "api_error",
                f"provider {self.provider} ({self.tr.model}) ended the stream before finishing the answer "
                f"({what}no finish_reason, no [DONE]); the answer is incomplete",
            )
        return out + self.tr.finish()
