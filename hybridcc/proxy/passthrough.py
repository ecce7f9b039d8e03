"""The Anthropic-wire path: body and `anthropic-*` headers through, bytes back.

Only the model name, the auth header and what the provider's quirks row strips are changed.
The stream is relayed as the provider wrote it, one whole event at a time: every event is
parsed on the side (usage, and to refuse malformed JSON before it reaches the client, issue 11
item 8), and a stream that ends without ``message_stop`` or an ``event: error`` gets one
(item 6). Events are cut at blank lines on the bytes: a UTF-8 sequence never contains CR or LF,
so a complete event is complete text.

Sessions across providers (issue 13): every thinking signature the provider writes reaches
Claude Code tagged with that provider (``hcc1.<tag>.<original>``, anthropic_body.tag_signature),
in ``signature_delta`` events, thinking blocks opened with their signature and non-streamed
answers; Claude Code keeps it opaque in the transcript and sends it back, and ``prepare_body``
restores the original for the provider that wrote it and drops it for any other. Only the events
that carry a signature are re-encoded; every other event is relayed byte for byte.
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
from hybridcc.proxy.translate.anthropic_body import (
    provider_tag,
    resolve_tool_search,
    strip_foreign_thinking,
    tag_block,
    tag_message,
    tag_signature,
)
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
    # not write, unwrap what it did. Without tool search, ToolSearch's tool_reference results
    # become text and only the tools they loaded are offered.
    q = route.quirks
    out = strip_foreign_thinking(out, keep=q.keep_thinking, require_signature=q.signed_thinking, tag=route_tag(call))
    if not q.tool_search:
        out = resolve_tool_search(out)
    return out


def route_tag(call: Call) -> str:
    """The tag of the provider this call goes to (see anthropic_body.provider_tag)."""
    return provider_tag(call.route.provider.name, call.route.base_url)


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

    def __init__(self, record: RequestRecord, *, provider: str, tag: str | None = None) -> None:
        self._record = record
        self._provider = provider
        self._tag = tag  # signatures are tagged with it (None: relayed untouched)
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
        self._buf = buf[cuts[-1] :]
        begin = 0
        out: list[bytes] | None = None  # set from the first rewritten event on; else one slice
        for end in cuts:
            event = buf[begin:end]
            try:
                new = self._check(event)
            except StreamError as exc:
                # the whole events before the bad one still reach the client
                exc.partial = buf[:begin] if out is None else b"".join(out)
                raise
            if new is not None and out is None:
                out = [buf[:begin]]
            if out is not None:
                out.append(event if new is None else new)
            begin = end
            if self.finished:
                self._buf = b""
                break
        return buf[:begin] if out is None else b"".join(out)

    def _check(self, event: bytes) -> bytes | None:
        """Validate one event and take what the record needs; the event re-encoded when its
        signature was tagged, else None (relay the bytes as they are)."""
        name = b""
        data: list[bytes] = []
        for line in event.splitlines():
            if line.startswith(b"data:"):
                data.append(line[5:].lstrip(b" ")[:] if line[5:6] == b" " else line[5:])
            elif line.startswith(b"event:"):
                name = line[6:].strip()
        if not data:
            return None  # a comment or keep-alive
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
        if self._tag is not None and (b"signature" in event or b"redacted_thinking" in event):
            tagged = self._tagged(payload)
            if tagged is not None:
                head = b"event: " + name + b"\n" if name else b""
                return head + b"data: " + json.dumps(tagged, ensure_ascii=False).encode() + b"\n\n"
        return None

    def _tagged(self, payload: Any) -> dict[str, Any] | None:
        """``payload`` with the signature it carries tagged; None when it carries none."""
        if not isinstance(payload, dict) or self._tag is None:
            return None
        kind = payload.get("type")
        if kind == "content_block_delta":
            delta = payload.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "signature_delta":
                sig = delta.get("signature")
                # Claude Code sets (not appends) a block's signature from each signature_delta,
                # so each one is tagged whole.
                if isinstance(sig, str) and sig:
                    return {**payload, "delta": {**delta, "signature": tag_signature(self._tag, sig)}}
        elif kind == "content_block_start":
            block = payload.get("content_block")
            tagged = tag_block(block, self._tag)
            if tagged is not block:
                return {**payload, "content_block": tagged}
        return None

    def end(self) -> bytes:
        rest, self._buf = self._buf, b""
        if rest.strip():
            new = self._check(rest)  # an event the provider ended without a blank line after
            if self.finished:
                return new if new is not None else rest + b"\n\n"
        if not self.finished:
            raise StreamError(
                "api_error",
                f"provider {self._provider} ended the stream before message_stop; the answer is incomplete",
            )
        return b""


class RepairingAnthropicStream(AnthropicStream):
    """For a local Anthropic-wire server whose model writes tool calls as text (issue 17): the
    validated events are decoded and re-encoded by H7's repair instead of relayed byte for byte."""

    def __init__(self, record: RequestRecord, *, provider: str, tools: Any, tag: str | None = None) -> None:
        super().__init__(record, provider=provider, tag=tag)
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
        out: dict[str, Any] | None = tag_message(data, route_tag(call))
        tools = _repair_tools(call)
        if tools:
            repaired, count = repair_message(out or data, tools)
            if count:
                call.record.repaired_tool_calls = count
                out = repaired
        return body if out is None else json.dumps(out, ensure_ascii=False).encode()  # else unchanged bytes

    def codec(self, call: Call) -> AnthropicStream:
        tools = _repair_tools(call)
        name, tag = call.route.provider.name, route_tag(call)
        if tools:
            return RepairingAnthropicStream(call.record, provider=name, tools=tools, tag=tag)
        return AnthropicStream(call.record, provider=name, tag=tag)

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
