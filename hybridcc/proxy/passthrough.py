"""The Anthropic-wire path: body and `anthropic-*` headers through, bytes back.

Only the model name, the auth header and what the provider's quirks row strips are changed.
The stream is relayed as the provider wrote it, one whole event at a time: every event is
parsed on the side (usage, and to refuse malformed JSON before it reaches the client, issue 11
item 8), and a stream that ends without ``message_stop`` or an ``event: error`` gets one
(item 6). Events are cut at blank lines on the bytes: a UTF-8 sequence never contains CR or LF,
so a complete event is complete text.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import httpx

from hybridcc.proxy.asgi import Headers, Scope
from hybridcc.proxy.errors import answered_without_answer, map_upstream_error, upstream_json
from hybridcc.proxy.exchange import Call
from hybridcc.proxy.h1client import H1Response
from hybridcc.proxy.record import RequestRecord
from hybridcc.proxy.sse import SSEDecoder
from hybridcc.proxy.translate.anthropic_body import resolve_tool_search, strip_foreign_thinking
from hybridcc.proxy.translate.openai_stream import StreamError
from hybridcc.proxy.translate.repair import offered_tools, repair_message, tool_repair_enabled
from hybridcc.proxy.translate.repair_sse import AnthropicStreamRepair
from hybridcc.proxy.translate.request import clamp_max_tokens
from hybridcc.proxy.upstream import timeout_for

# Upstream response headers worth relaying to Claude Code.
_RELAY: Final = (b"request-id", b"retry-after", b"anthropic-ratelimit-", b"x-request-id")
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def _strip_cache_control(value: Any) -> Any:
    if isinstance(value, list):
        return [_strip_cache_control(v) for v in value]
    if isinstance(value, dict):
        return {k: _strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    return value


def prepare_body(call: Call) -> dict[str, Any]:
    route = call.route
    out = dict(call.body)
    out["model"] = route.model
    cap = route.output_cap
    if cap and isinstance(out.get("max_tokens"), int) and out["max_tokens"] > cap:
        out["max_tokens"] = clamp_max_tokens(out["max_tokens"], cap)
    for key in route.quirks.strip_fields:
        out.pop(key, None)
    if route.quirks.strip_cache_control:
        for key in ("system", "messages", "tools"):
            if key in out:
                out[key] = _strip_cache_control(out[key])
    # Thinking blocks signed by another provider are refused ("Invalid signature in thinking
    # block") after a `/model` switch or a resume elsewhere (issue 13): drop what this provider did
    # not write. Without tool search, ToolSearch's tool_reference results become text and only the
    # tools they loaded are offered.
    q = route.quirks
    out = strip_foreign_thinking(out, keep=q.keep_thinking, require_signature=q.signed_thinking)
    if not q.tool_search:
        out = resolve_tool_search(out)
    return out


def headers_for(call: Call, *, stream: bool) -> dict[str, str]:
    headers: dict[str, str] = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
    for name, value in call.scope["headers"]:
        if name.startswith((b"anthropic-", b"x-claude-code-")) or name == b"user-agent":
            headers[name.decode("latin-1")] = value.decode("latin-1")
    if stream:
        headers["accept"] = "text/event-stream"
        headers["accept-encoding"] = "identity"  # relay bytes as they come, uncompressed
    if call.key:
        headers.update(auth_header(call.route.quirks.auth, call.key))
    return headers


def auth_header(style: str, key: str) -> dict[str, str]:
    """The one definition of the Anthropic-wire auth header (doctor's probe uses it too)."""
    return {"x-api-key": key} if style == "x-api-key" else {"authorization": f"Bearer {key}"}


class AnthropicStream:
    """Upstream Anthropic SSE bytes in, the same bytes out, whole validated events at a time."""

    def __init__(self, record: RequestRecord, *, provider: str) -> None:
        self._record = record
        self._provider = provider
        self._buf = b""
        self.finished = False  # message_stop or an error event relayed
        self.malformed = 0

    def feed(self, raw: bytes) -> bytes:
        buf = self._buf + raw if self._buf else raw
        if b"\r" in buf:
            cuts = [m.end() for m in _EVENT_END.finditer(buf)]
        else:
            cuts = []
            start = buf.find(b"\n\n")
            while start >= 0:
                cuts.append(start + 2)
                start = buf.find(b"\n\n", start + 2)
        if not cuts:
            self._buf = buf
            return b""
        last = cuts[-1]
        self._buf = buf[last:]
        begin = 0
        for end in cuts:
            try:
                self._check(buf[begin:end])
            except StreamError as exc:
                exc.partial = buf[:begin]  # the whole events before the bad one still reach the client
                raise
            begin = end
            if self.finished:
                self._buf = b""
                return buf[:end]
        return buf[:last]

    def _check(self, event: bytes) -> None:
        name = b""
        data: list[bytes] = []
        for line in event.splitlines():
            if line.startswith(b"data:"):
                data.append(line[5:].lstrip(b" ")[:] if line[5:6] == b" " else line[5:])
            elif line.startswith(b"event:"):
                name = line[6:].strip()
        if not data:
            return  # a comment or keep-alive
        try:
            payload = json.loads(b"\n".join(data))
        except ValueError:
            self.malformed += 1
            raise StreamError(
                "api_error", f"provider {self._provider} sent a malformed stream event ({name.decode('latin-1')})"
            ) from None
        if name == b"message_start" and isinstance(payload, dict):
            self._record.take_usage((payload.get("message") or {}).get("usage"))
        elif name == b"message_delta" and isinstance(payload, dict):
            self._record.take_usage(payload.get("usage"))
        elif name == b"message_stop":
            self.finished = True
        elif name == b"error":
            self.finished = True
            self._record.error = str(payload)[:300]

    def end(self) -> bytes:
        rest, self._buf = self._buf, b""
        if rest.strip():
            self._check(rest)  # an event the provider ended without a blank line after
            if self.finished:
                return rest + b"\n\n"
        if not self.finished:
            raise StreamError(
                "api_error",
                f"provider {self._provider} ended the stream before message_stop; the answer is incomplete",
            )
        return b""


class RepairingAnthropicStream(AnthropicStream):
    """For a local Anthropic-wire server whose model writes tool calls as text (issue 17): the
    validated events are decoded and re-encoded by H7's repair instead of relayed byte for byte."""

    def __init__(self, record: RequestRecord, *, provider: str, tools: Any) -> None:
        super().__init__(record, provider=provider)
        self._repair = AnthropicStreamRepair(tools)
        self._decoder = SSEDecoder()

    def _through(self, raw: bytes) -> bytes:
        return b"".join(self._repair.feed(ev) for ev in self._decoder.feed(raw)) if raw else b""

    def feed(self, raw: bytes) -> bytes:
        try:
            return self._through(super().feed(raw))
        except StreamError as exc:
            exc.partial = self._through(exc.partial)
            raise

    def end(self) -> bytes:
        out = self._through(super().end())
        out += b"".join(self._repair.feed(ev) for ev in self._decoder.flush()) + self._repair.finish()
        self._record.repaired_tool_calls = self._repair.repaired
        return out


def _repair_tools(call: Call) -> Any:
    return offered_tools(call.body) if tool_repair_enabled(call.route.provider) else None


class PassthroughWire:
    name = "anthropic"

    def request(self, call: Call) -> httpx.Request:
        return call.client.build_request(
            "POST", call.route.base_url + "/v1/messages", content=json.dumps(prepare_body(call)).encode(),
            headers=headers_for(call, stream=call.stream), timeout=timeout_for(call.route.provider.timeout),
        )  # fmt: skip

    def error(self, call: Call, status: int, body: bytes) -> tuple[int, bytes]:
        return map_upstream_error(status, body, provider=call.route.provider.name, model=call.route.model)

    def complete(self, call: Call, body: bytes) -> bytes:
        data = upstream_json(body, provider=call.route.provider.name)
        if data.get("type") != "message":
            raise answered_without_answer(call.route.provider.name, data, "a message")
        call.record.take_usage(data.get("usage"))
        tools = _repair_tools(call)
        if tools:
            repaired, count = repair_message(data, tools)
            if count:
                call.record.repaired_tool_calls = count
                return json.dumps(repaired).encode()
        return body  # unchanged bytes

    def codec(self, call: Call) -> AnthropicStream:
        tools = _repair_tools(call)
        if tools:
            return RepairingAnthropicStream(call.record, provider=call.route.provider.name, tools=tools)
        return AnthropicStream(call.record, provider=call.route.provider.name)

    def response_headers(self, call: Call, resp: H1Response | None) -> Headers:
        if resp is None:
            return []
        return [(n.lower(), v) for n, v in resp.headers.raw if n.lower().startswith(_RELAY)]


async def count_tokens(call: Call) -> tuple[int, bytes] | None:
    """The provider's own count; None when it has none (the caller answers with the estimate)."""
    payload = {k: v for k, v in prepare_body(call).items() if k not in ("max_tokens", "stream")}
    try:
        resp = await call.client.post(
            call.route.base_url + "/v1/messages/count_tokens", content=json.dumps(payload).encode(),
            headers=headers_for(call, stream=False), timeout=timeout_for(30.0),
        )  # fmt: skip
    except httpx.HTTPError:
        return None
    if resp.status_code in (404, 405, 501):
        return None
    if resp.status_code >= 400:
        return map_upstream_error(
            resp.status_code, resp.content, provider=call.route.provider.name, model=call.route.model
        )
    return resp.status_code, resp.content


__all__ = ["AnthropicStream", "PassthroughWire", "Scope", "auth_header", "count_tokens", "prepare_body"]
