"""Forwarding to Anthropic-wire providers: body and `anthropic-*` headers through, bytes back.

Only the model name, the auth header and what the provider's quirks row strips are changed;
usage is read from the response on the side, without re-encoding the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

import httpx

from hybridcc.proxy.errors import map_upstream_error
from hybridcc.proxy.routing import Route
from hybridcc.proxy.sse import SSEDecoder, error_frame
from hybridcc.proxy.streaming import Receive, Send, Sender, with_disconnect
from hybridcc.proxy.translate.request import clamp_max_tokens
from hybridcc.proxy.upstream import timeout_for, unavailable

if TYPE_CHECKING:
    from hybridcc.proxy.app import ProxyApp, RequestRecord, Scope

# Upstream response headers worth relaying to Claude Code.
_RELAY = (b"content-type", b"request-id", b"retry-after", b"anthropic-ratelimit-", b"x-request-id")


def _strip_cache_control(value: Any) -> Any:
    if isinstance(value, list):
        return [_strip_cache_control(v) for v in value]
    if isinstance(value, dict):
        return {k: _strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    return value


def prepare_body(route: Route, body: dict[str, Any]) -> dict[str, Any]:
    out = dict(body)
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
    return out


def headers_for(route: Route, scope: Scope, key: str | None, *, stream: bool) -> dict[str, str]:
    headers: dict[str, str] = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
    for name, value in scope["headers"]:
        if name.startswith((b"anthropic-", b"x-claude-code-")) or name == b"user-agent":
            headers[name.decode("latin-1")] = value.decode("latin-1")
    if stream:
        headers["accept"] = "text/event-stream"
        headers["accept-encoding"] = "identity"  # relay bytes as they come, uncompressed
    if key:
        if route.quirks.auth == "x-api-key":
            headers["x-api-key"] = key
        else:
            headers["authorization"] = f"Bearer {key}"
    return headers


def _relay_headers(resp: httpx.Response) -> list[tuple[bytes, bytes]]:
    out = []
    for name, value in resp.headers.raw:
        lname = name.lower()
        if lname.startswith(_RELAY):
            out.append((lname, value))
    return out


async def count_tokens(
    app: ProxyApp, route: Route, body: dict[str, Any], scope: Scope, key: str | None
) -> tuple[int, bytes] | None:
    """The provider's own count; None when it has none (the caller answers with the estimate)."""
    payload = {k: v for k, v in prepare_body(route, body).items() if k not in ("max_tokens", "stream")}
    url = route.base_url + "/v1/messages/count_tokens"
    try:
        resp = await app.upstream_client().post(
            url,
            content=json.dumps(payload).encode(),
            headers=headers_for(route, scope, key, stream=False),
            timeout=timeout_for(30.0),
        )
    except httpx.HTTPError:
        return None
    if resp.status_code in (404, 405, 501):
        return None
    if resp.status_code >= 400:
        return map_upstream_error(resp.status_code, resp.content, provider=route.provider.name, model=route.model)
    return resp.status_code, resp.content


async def messages(
    app: ProxyApp,
    route: Route,
    body: dict[str, Any],
    key: str | None,
    scope: Scope,
    receive: Receive,
    send: Send,
    record: RequestRecord,
) -> None:
    stream = bool(body.get("stream"))
    url = route.base_url + "/v1/messages"
    client = app.upstream_client()
    request = client.build_request(
        "POST", url, content=json.dumps(prepare_body(route, body)).encode(),
        headers=headers_for(route, scope, key, stream=stream), timeout=timeout_for(route.provider.timeout),
    )  # fmt: skip
    if not stream:
        try:
            resp = await client.send(request)
        except httpx.HTTPError as exc:
            raise unavailable(route.provider.name, url, exc) from exc
        record.upstream_status = resp.status_code
        record.ttfb_ms = round((time.perf_counter() - record.started) * 1000, 2)
        payload = resp.content
        status = resp.status_code
        if status >= 400:
            status, payload = map_upstream_error(status, payload, provider=route.provider.name, model=route.model)
        else:
            with contextlib.suppress(ValueError, AttributeError):
                record.take_usage(json.loads(payload).get("usage"))
        record.status = status
        await app.send_bytes(send, status, payload, [h for h in _relay_headers(resp) if h[0] != b"content-type"])
        return

    async def run(send: Send) -> None:
        try:
            resp = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise unavailable(route.provider.name, url, exc) from exc
        try:
            record.upstream_status = resp.status_code
            if resp.status_code >= 400:
                status, payload = map_upstream_error(
                    resp.status_code, await resp.aread(), provider=route.provider.name, model=route.model
                )
                record.status = status
                await app.send_bytes(
                    send, status, payload, [h for h in _relay_headers(resp) if h[0] != b"content-type"]
                )
                return
            record.status = 200
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": _relay_headers(resp) or [(b"content-type", b"text/event-stream")],
                }
            )
            sender = Sender(send)
            pinger = asyncio.ensure_future(sender.ping_loop(app.ping_interval))
            decoder = SSEDecoder()
            try:
                async for raw in resp.aiter_bytes():
                    if record.ttfb_ms is None:
                        record.ttfb_ms = round((time.perf_counter() - record.started) * 1000, 2)
                    sender.at_boundary = raw.endswith((b"\n\n", b"\r\n\r\n"))
                    await sender.send(raw)
                    for ev in decoder.feed(raw):  # usage on the side; the bytes went out unchanged
                        if ev.event in ("message_start", "message_delta"):
                            _usage(ev.data, record)
                await sender.send(b"", final=True)
            except httpx.HTTPError as exc:
                record.error = f"upstream stream broke: {type(exc).__name__}"
                prefix = b"" if sender.at_boundary else b"\n\n"
                await sender.send(
                    prefix
                    + error_frame("api_error", f"provider {route.provider.name} stream broke: {type(exc).__name__}"),
                    final=True,
                )
            finally:
                pinger.cancel()
        finally:
            await resp.aclose()

    await with_disconnect(receive, send, run)


def _usage(data: str, record: RequestRecord) -> None:
    try:
        event = json.loads(data)
    except ValueError:
        return
    usage = (event.get("message") or {}).get("usage") if event.get("type") == "message_start" else event.get("usage")
    record.take_usage(usage)
