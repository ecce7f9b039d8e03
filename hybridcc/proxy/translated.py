"""The OpenAI-wire path: an Anthropic request → one Chat Completions call → an Anthropic answer.

Everything network-free (request, response and stream translation) is in ``translate/``; this
module only wires it to :mod:`hybridcc.proxy.exchange`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from hybridcc.proxy.asgi import Headers, rate_limit_headers
from hybridcc.proxy.errors import answered_without_answer, map_upstream_error, upstream_json
from hybridcc.proxy.estimate import estimate_input_tokens
from hybridcc.proxy.exchange import Call
from hybridcc.proxy.h1client import H1Response
from hybridcc.proxy.progress import Progress
from hybridcc.proxy.translate.openai_stream import OpenAIStream, StreamTranslator
from hybridcc.proxy.translate.repair import StreamRepair, offered_tools, repair_message, tool_repair_enabled
from hybridcc.proxy.translate.request import ToolNames, to_openai
from hybridcc.proxy.translate.response import new_message_id, to_anthropic
from hybridcc.proxy.upstream import timeout_for


class TranslatedWire:
    name = "openai"

    def __init__(self, progress: Progress | None = None) -> None:
        self._names: dict[str, ToolNames] = {}  # request_id → tool names of that request
        self._progress = progress

    def url(self, call: Call) -> str:
        return call.route.base_url + (
            "/v1/chat/completions" if call.route.provider.api == "ollama" else "/chat/completions"
        )

    def request(self, call: Call) -> httpx.Request:
        route = call.route
        payload, names = to_openai(
            call.body, model=route.model, quirks=route.quirks, max_tokens_cap=route.output_cap, stream=call.stream
        )
        self._names[call.record.request_id] = names
        if call.stream and route.quirks.prompt_progress:
            payload["return_progress"] = True  # llama.cpp: prompt_progress chunks before the first token
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if call.stream else "application/json",
        }
        if call.stream:
            headers["accept-encoding"] = "identity"  # compression would hold back small SSE chunks
        if call.key:
            headers["authorization"] = f"Bearer {call.key}"
        return call.client.build_request(
            "POST", self.url(call), content=json.dumps(payload).encode(), headers=headers,
            timeout=timeout_for(route.provider.timeout),
        )  # fmt: skip

    def names(self, call: Call) -> ToolNames:
        return self._names.pop(call.record.request_id, None) or ToolNames()

    def error(self, call: Call, status: int, body: bytes) -> tuple[int, bytes]:
        return map_upstream_error(status, body, provider=call.route.provider.name, model=call.route.model)

    def complete(self, call: Call, body: bytes) -> bytes:
        data = upstream_json(body, provider=call.route.provider.name)
        if not data.get("choices"):  # OpenRouter answers some upstream failures as a 200 {"error": …}
            raise answered_without_answer(f"{call.route.provider.name} ({call.route.model})", data, "an answer")
        stops = call.body.get("stop_sequences") if isinstance(call.body.get("stop_sequences"), list) else None
        message = to_anthropic(data, model=call.route.model, names=self.names(call), stop_sequences=stops)
        tools = _repair_tools(call)
        if tools:
            message, call.record.repaired_tool_calls = repair_message(message, tools)
        call.record.take_usage(message["usage"])
        return json.dumps(message).encode()

    def codec(self, call: Call) -> OpenAIStream:
        tools = _repair_tools(call)
        tr = StreamTranslator(
            model=call.route.model, input_tokens=estimate_input_tokens(call.body), names=self.names(call),
            repair=StreamRepair(tools) if tools else None,
        )  # fmt: skip
        entry = self._progress.get(call.record.request_id) if self._progress is not None else None
        return _RecordingStream(tr, call, on_progress=entry.prompt_progress if entry is not None else None)

    def response_headers(self, call: Call, resp: H1Response | None) -> Headers:
        return rate_limit_headers()


class _RecordingStream(OpenAIStream):
    """Takes the final usage into the request record when the answer completes."""

    def __init__(self, tr: StreamTranslator, call: Call, *, on_progress: Callable[[Any], None] | None = None) -> None:
        super().__init__(tr, provider=call.route.provider.name, on_progress=on_progress)
        self._call = call

    def end(self) -> bytes:
        out = super().end()
        self._call.record.take_usage(self.tr.final_usage)
        self._call.record.repaired_tool_calls = self.tr.repaired
        return out

    def feed(self, raw: bytes) -> bytes:
        out = super().feed(raw)
        if self.tr.finished:
            self._call.record.take_usage(self.tr.final_usage)
        return out


def _repair_tools(call: Call) -> list[Any] | None:
    """The offered tools when this provider's text-written tool calls are repaired (issue 17)."""
    return offered_tools(call.body) if tool_repair_enabled(call.route.provider) else None


def probe_answer(call: Call) -> dict[str, Any] | None:
    """Claude Code's count_tokens fallback (``max_tokens: 1``) is answered locally with the
    estimate and ``stop_reason: max_tokens``; None for every other request."""
    max_tokens = call.body.get("max_tokens")
    if not (isinstance(max_tokens, int) and max_tokens <= 1):
        return None
    return {
        "id": new_message_id(), "type": "message", "role": "assistant", "model": call.route.model, "content": [],
        "stop_reason": "max_tokens", "stop_sequence": None,
        "usage": {"input_tokens": estimate_input_tokens(call.body), "output_tokens": 0,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }  # fmt: skip
