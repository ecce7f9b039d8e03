"""The proxy's ASGI application. It parses, routes and moves bytes; translation lives elsewhere."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from hybridcc import __version__
from hybridcc.config.load import fingerprint
from hybridcc.config.schema import Config, Profile, Provider
from hybridcc.errors import AuthError
from hybridcc.providers import resolve_key
from hybridcc.proxy import passthrough
from hybridcc.proxy.errors import ProxyError, error_body, map_upstream_error
from hybridcc.proxy.routing import Route, resolve
from hybridcc.proxy.sse import SSEDecoder, error_frame
from hybridcc.proxy.streaming import ClientGone, Receive, Send, Sender, with_disconnect
from hybridcc.proxy.tokens import estimate_input_tokens
from hybridcc.proxy.translate.request import to_openai
from hybridcc.proxy.translate.response import new_message_id, to_anthropic
from hybridcc.proxy.translate.stream import StreamTranslator
from hybridcc.proxy.upstream import make_client, timeout_for, unavailable
from hybridcc.versions import OLLAMA_NATIVE_MESSAGES, version_tuple

Scope = MutableMapping[str, Any]

request_log = logging.getLogger("hybridcc.requests")
log = logging.getLogger("hybridcc.proxy")

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


@dataclass
class RequestRecord:
    """One structured log line per request (never a key or the proxy token)."""

    request_id: str
    path: str
    profile: str = ""
    provider: str = ""
    model_requested: str = ""
    model_used: str = ""
    wire: str = ""
    stream: bool = False
    status: int = 0
    upstream_status: int | None = None
    started: float = field(default_factory=time.perf_counter)
    ttfb_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    error: str | None = None

    def take_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            for key in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
                if isinstance(usage.get(key), int):
                    setattr(self, key, usage[key])

    def emit(self) -> None:
        data = {k: v for k, v in self.__dict__.items() if k != "started" and v not in (None, "")}
        data["latency_ms"] = round((time.perf_counter() - self.started) * 1000, 2)
        data["ts"] = round(time.time(), 3)
        request_log.info(json.dumps(data, separators=(",", ":")))


class ProxyApp:
    """``ProxyApp(config, token=…)`` is an ASGI app serving every profile of ``config``."""

    def __init__(
        self,
        config: Config,
        *,
        token: str,
        default_profile: str | None = None,
        max_body_bytes: int | None = None,
        ping_interval: float | None = None,
    ) -> None:
        self.config = config
        self.token = token.encode()
        self.default_profile = default_profile or config.default_profile
        self.max_body = max_body_bytes or config.proxy.max_body_mb * 1024 * 1024
        self.ping_interval = ping_interval if ping_interval is not None else config.proxy.ping_interval
        self.started_at = time.time()
        self.fingerprint = fingerprint(config)
        self.token_id = hashlib.sha256(self.token).hexdigest()[:12]
        self.client: httpx.AsyncClient | None = None
        self._keys: dict[str, str | None] = {}
        self._ollama_versions: dict[str, tuple[float, str]] = {}

    # -- ASGI ---------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.client = make_client()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def upstream_client(self) -> httpx.AsyncClient:
        if self.client is None:  # no lifespan (some test servers): create on first use
            self.client = make_client()
        return self.client

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        profile_name = self.default_profile
        if path.startswith("/p/"):
            # ANTHROPIC_BASE_URL=http://127.0.0.1:PORT/p/NAME: the profile rides in the path.
            _, _, rest = path[3:].partition("/")
            profile_name = path[3:].split("/", 1)[0]
            path = "/" + rest
        record = RequestRecord(request_id="req_" + secrets.token_hex(8), path=path)
        try:
            if path == "/health" and method in ("GET", "HEAD"):
                await self._json(send, 200, self.health())
                return
            if path == "/" and method in ("GET", "HEAD"):
                await self._json(send, 200, {"status": "ok", "service": "hybridcc"}, head=method == "HEAD")
                return
            if path.startswith("/api/event_logging"):
                await _drain(receive)
                await send({"type": "http.response.start", "status": 204, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            if not path.startswith("/v1/"):
                raise ProxyError(404, f"{method} {path} is not an endpoint of this proxy")
            self._authorize(scope)
            profile = self._profile(profile_name)
            record.profile = profile.name
            if path == "/v1/messages" and method == "POST":
                body = await self._read_json(scope, receive)
                await self._messages(body, profile, scope, receive, send, record)
            elif path == "/v1/messages/count_tokens" and method == "POST":
                body = await self._read_json(scope, receive)
                await self._count_tokens(body, profile, scope, send, record)
            elif path == "/v1/models" and method == "GET":
                await self._json(send, 200, self._models(profile))
            else:
                raise ProxyError(404, f"{method} {path} is not an endpoint of this proxy")
            if not record.status:
                record.status = 200
        except ProxyError as exc:
            record.status, record.error = exc.status, exc.message
            headers = [(k.encode(), v.encode()) for k, v in exc.headers.items()]
            await self.send_bytes(send, exc.status, error_body(exc.error_type, exc.message), headers)
        except ClientGone:
            record.status, record.error = 499, "client disconnected"
        finally:
            if path.startswith("/v1/"):
                record.emit()

    # -- helpers ------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "service": "hybridcc-proxy",
            "version": __version__,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_at, 3),
            "default_profile": self.default_profile,
            "profiles": sorted(self.config.profiles),
            "fingerprint": self.fingerprint,
            "token_id": self.token_id,  # identifies the token without revealing it
        }

    def _authorize(self, scope: Scope) -> None:
        presented = b""
        for name, value in scope["headers"]:
            if name == b"x-api-key" and value:
                presented = value
                break
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                presented = value[7:].strip()
        if not presented or not hmac.compare_digest(presented, self.token):
            raise ProxyError(
                401,
                "invalid or missing proxy token: use the token from `hybridcc env` "
                "(ANTHROPIC_AUTH_TOKEN), or launch claude with `hybridcc run`",
            )

    def _profile(self, name: str) -> Profile:
        profile = self.config.profiles.get(name)
        if profile is None:
            raise ProxyError(
                404, f'no profile named "{name}" (known: {", ".join(sorted(self.config.profiles))})', "not_found_error"
            )
        return profile

    def _key(self, provider: Provider) -> str | None:
        if provider.name in self._keys:
            return self._keys[provider.name]
        try:
            key = resolve_key(provider)
        except AuthError as exc:
            raise ProxyError(401, f"{exc.message}; {exc.hint}" if exc.hint else exc.message) from exc
        if provider.api_key_cmd or provider.api_key:  # env vars are re-read: they are cheap
            self._keys[provider.name] = key
        return key

    async def _read_json(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                raise ProxyError(
                    413, f"request body over the proxy's limit of {self.max_body} bytes (proxy.max_body_mb)"
                )
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise ProxyError(
                    413, f"request body over the proxy's limit of {self.max_body} bytes (proxy.max_body_mb)"
                )
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ProxyError(400, f"request body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ProxyError(400, f"request body must be a JSON object, got {type(data).__name__}")
        return data

    async def _json(
        self,
        send: Send,
        status: int,
        data: Any,
        *,
        head: bool = False,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        body = json.dumps(data).encode()
        await self.send_bytes(send, status, b"" if head else body, headers, length=len(body))

    async def send_bytes(
        self,
        send: Send,
        status: int,
        body: bytes,
        headers: list[tuple[bytes, bytes]] | None = None,
        *,
        length: int | None = None,
    ) -> None:
        hdrs = [*JSON_HEADERS, (b"content-length", str(length if length is not None else len(body)).encode())]
        hdrs.extend(headers or [])
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        await send({"type": "http.response.body", "body": body})

    def _models(self, profile: Profile) -> dict[str, Any]:
        data = []
        seen: set[str] = set()
        for p in [profile, *self.config.profiles.values()]:
            for m in p.models():
                ident = m if p.name == profile.name else f"{p.provider}/{m}"
                if ident in seen:
                    continue
                seen.add(ident)
                data.append(
                    {
                        "type": "model",
                        "id": ident,
                        "display_name": f"{ident} ({p.provider})",
                        "created_at": "2025-01-01T00:00:00Z",
                    }
                )
        return {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }

    async def _wire(self, route: Route) -> str:
        """ "openai" or "anthropic": for Ollama, by its version (≥ 0.14 serves /v1/messages)."""
        if route.provider.api != "ollama":
            return route.provider.api
        cached = self._ollama_versions.get(route.base_url)
        now = time.monotonic()
        if cached is None or now - cached[0] > 30:
            try:
                resp = await self.upstream_client().get(route.base_url + "/api/version", timeout=timeout_for(5.0))
                version = str(resp.json().get("version", "0"))
            except (httpx.HTTPError, ValueError, AttributeError) as exc:
                err = unavailable(route.provider.name, route.base_url, exc)
                err.message += " — start it with `hybridcc ollama start`"
                raise err from exc
            self._ollama_versions[route.base_url] = (now, version)
        else:
            version = cached[1]
        return "anthropic" if version_tuple(version) >= OLLAMA_NATIVE_MESSAGES else "openai"

    # -- endpoints ----------------------------------------------------------------------
    async def _count_tokens(
        self, body: dict[str, Any], profile: Profile, scope: Scope, send: Send, record: RequestRecord
    ) -> None:
        route = resolve(self.config, profile, str(body.get("model") or profile.model))
        record.provider, record.model_requested, record.model_used = route.provider.name, route.requested, route.model
        wire = await self._wire(route) if route.provider.api == "ollama" else route.provider.api
        if wire == "anthropic" and not route.quirks.local_count_tokens:
            answered = await passthrough.count_tokens(self, route, body, scope, self._key(route.provider))
            if answered is not None:
                status, payload = answered
                record.upstream_status = status
                await self.send_bytes(send, status, payload)
                return
        # A fast local estimate: never 0, never a 404 (Claude Code falls back to max_tokens=1 probes).
        await self._json(send, 200, {"input_tokens": estimate_input_tokens(body)})

    async def _messages(
        self, body: dict[str, Any], profile: Profile, scope: Scope, receive: Receive, send: Send, record: RequestRecord
    ) -> None:
        requested = body.get("model")
        if not isinstance(requested, str) or not requested:
            raise ProxyError(400, "model: expected a non-empty string")
        route = resolve(self.config, profile, requested)
        stream = bool(body.get("stream"))
        record.provider, record.model_requested, record.model_used, record.stream = (
            route.provider.name,
            requested,
            route.model,
            stream,
        )
        key = self._key(route.provider)
        wire = await self._wire(route)
        record.wire = wire
        if wire == "anthropic":
            await passthrough.messages(self, route, body, key, scope, receive, send, record)
            return
        await self._translated(route, body, key, stream, receive, send, record)

    def _probe_answer(self, route: Route, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": new_message_id(), "type": "message", "role": "assistant", "model": route.model, "content": [],
            "stop_reason": "max_tokens", "stop_sequence": None,
            "usage": {"input_tokens": estimate_input_tokens(body), "output_tokens": 0,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }  # fmt: skip

    async def _translated(
        self,
        route: Route,
        body: dict[str, Any],
        key: str | None,
        stream: bool,
        receive: Receive,
        send: Send,
        record: RequestRecord,
    ) -> None:
        cap = (
            route.profile.max_output_tokens if route.provider is self.config.providers[route.profile.provider] else None
        )
        cap = (
            min(x for x in (cap, route.provider.max_output_tokens) if x)
            if (cap or route.provider.max_output_tokens)
            else None
        )
        if isinstance(body.get("max_tokens"), int) and body["max_tokens"] <= 1:
            # Claude Code's count_tokens fallback: answer locally with the estimate, stop_reason max_tokens.
            answer = self._probe_answer(route, body)
            record.take_usage(answer["usage"])
            if stream:
                tr = StreamTranslator(model=route.model, input_tokens=answer["usage"]["input_tokens"])
                await self._start_sse(send, rate_limit=True)
                await send({"type": "http.response.body", "body": tr.start() + tr.finish("length"), "more_body": False})
            else:
                await self._json(send, 200, answer, headers=_rate_limit_headers())
            return
        payload, names = to_openai(
            body, model=route.model, quirks=route.quirks, max_tokens_cap=route.output_cap, stream=stream
        )
        url = route.base_url + ("/v1/chat/completions" if route.provider.api == "ollama" else "/chat/completions")
        headers = {"content-type": "application/json", "accept": "text/event-stream" if stream else "application/json"}
        if stream:
            headers["accept-encoding"] = "identity"  # compression would hold back small SSE chunks
        if key:
            headers["authorization"] = f"Bearer {key}"
        client = self.upstream_client()
        request = client.build_request("POST", url, content=json.dumps(payload).encode(), headers=headers,
                                       timeout=timeout_for(route.provider.timeout))  # fmt: skip
        if not stream:
            await self._translated_once(client, request, route, body, names, send, record)
            return
        input_estimate = estimate_input_tokens(body)
        translator = StreamTranslator(model=route.model, input_tokens=input_estimate, names=names)
        await with_disconnect(
            receive, send, lambda snd: self._translated_stream(client, request, route, translator, snd, record)
        )

    async def _translated_once(
        self,
        client: httpx.AsyncClient,
        request: httpx.Request,
        route: Route,
        body: dict[str, Any],
        names: Any,
        send: Send,
        record: RequestRecord,
    ) -> None:
        try:
            resp = await client.send(request)
        except httpx.HTTPError as exc:
            raise unavailable(route.provider.name, str(request.url), exc) from exc
        record.upstream_status = resp.status_code
        record.ttfb_ms = round((time.perf_counter() - record.started) * 1000, 2)
        if resp.status_code >= 400:
            status, payload = map_upstream_error(
                resp.status_code, resp.content, provider=route.provider.name, model=route.model
            )
            record.status = status
            await self.send_bytes(send, status, payload, _retry_after(resp))
            return
        try:
            data = resp.json()
        except ValueError as exc:
            raise ProxyError(
                502, f"provider {route.provider.name} sent a response that is not JSON", "api_error"
            ) from exc
        stops = body.get("stop_sequences") if isinstance(body.get("stop_sequences"), list) else None
        message = to_anthropic(data, model=route.model, names=names, stop_sequences=stops)
        record.take_usage(message["usage"])
        await self._json(send, 200, message, headers=_rate_limit_headers())

    async def _start_sse(self, send: Send, *, rate_limit: bool, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        headers = list(SSE_HEADERS)
        if rate_limit:
            headers.extend(_rate_limit_headers())
        headers.extend(extra or [])
        await send({"type": "http.response.start", "status": 200, "headers": headers})

    async def _translated_stream(
        self,
        client: httpx.AsyncClient,
        request: httpx.Request,
        route: Route,
        tr: StreamTranslator,
        send: Send,
        record: RequestRecord,
    ) -> None:
        pending = asyncio.ensure_future(client.send(request, stream=True))
        committed = False
        sender = Sender(send)
        pinger: asyncio.Task[None] | None = None
        resp: httpx.Response | None = None
        try:
            done, _ = await asyncio.wait({pending}, timeout=self.ping_interval)
            if not done:
                # A silent upstream (a local model loading): commit to 200 and keep Claude Code's
                # connection alive with pings; a later failure becomes an `event: error`.
                committed = True
                await self._start_sse(send, rate_limit=True)
                await sender.send(tr.start())
                pinger = asyncio.ensure_future(sender.ping_loop(self.ping_interval))
            try:
                resp = await pending
            except httpx.HTTPError as exc:
                err = unavailable(route.provider.name, str(request.url), exc)
                if not committed:
                    raise err from exc
                record.status, record.error = 200, err.message
                await sender.send(error_frame("overloaded_error", err.message), final=True)
                return
            record.upstream_status = resp.status_code
            if resp.status_code >= 400:
                raw = await resp.aread()
                status, payload = map_upstream_error(
                    resp.status_code, raw, provider=route.provider.name, model=route.model
                )
                if not committed:
                    record.status = status
                    await self.send_bytes(send, status, payload, _retry_after(resp))
                    return
                data = json.loads(payload)
                record.status, record.error = 200, data["error"]["message"]
                await sender.send(error_frame(data["error"]["type"], data["error"]["message"]), final=True)
                return
            if not committed:
                await self._start_sse(send, rate_limit=True)
                await sender.send(tr.start())
                pinger = asyncio.ensure_future(sender.ping_loop(self.ping_interval))
            record.status = 200
            decoder = SSEDecoder()
            try:
                async for raw in resp.aiter_bytes():
                    if record.ttfb_ms is None:
                        record.ttfb_ms = round((time.perf_counter() - record.started) * 1000, 2)
                    out = _feed_events(decoder.feed(raw), tr, route)
                    if out:
                        await sender.send(out)
                    if tr.finished:
                        break
                out = _feed_events(decoder.flush(), tr, route)
            except httpx.HTTPError as exc:
                # After the first byte: an `event: error`, then close. Never a hung stream,
                # never stop_reason "error" (not a valid value).
                record.error = f"upstream stream broke: {type(exc).__name__}: {exc}"
                await sender.send(
                    error_frame("api_error", f"provider {route.provider.name} stream broke: {type(exc).__name__}"),
                    final=True,
                )
                return
            except _UpstreamStreamError as exc:
                record.error = exc.message
                await sender.send(error_frame(exc.error_type, exc.message), final=True)
                return
            await sender.send(out + tr.finish(), final=True)
            record.take_usage(tr.final_usage)
        finally:
            if pinger is not None:
                pinger.cancel()
            if not pending.done():
                pending.cancel()
            if resp is not None:
                await resp.aclose()


class _UpstreamStreamError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _feed_events(events: list[Any], tr: StreamTranslator, route: Route) -> bytes:
    out: list[bytes] = []
    for ev in events:
        data = ev.data
        if not data:
            continue
        if data == "[DONE]":
            out.append(tr.finish())
            break
        try:
            chunk = json.loads(data)
        except ValueError:
            continue  # a malformed line is skipped rather than ending the whole answer
        if not isinstance(chunk, dict):
            continue
        if "error" in chunk and not chunk.get("choices"):
            # OpenRouter and others report failures as a data chunk inside a 200 stream.
            err = chunk["error"]
            msg = err.get("message") if isinstance(err, dict) else str(err)
            raise _UpstreamStreamError("api_error", f"provider {route.provider.name} ({route.model}): {msg}")
        out.append(tr.feed(chunk))
    return b"".join(out)


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


def _rate_limit_headers() -> list[tuple[bytes, bytes]]:
    # Claude Code reads these for its rate-limit display; translated providers have none.
    reset = str(int(time.time()) + 3600).encode()
    return [(b"anthropic-ratelimit-unified-status", b"allowed"), (b"anthropic-ratelimit-unified-reset", reset)]


def _retry_after(resp: httpx.Response) -> list[tuple[bytes, bytes]]:
    value = resp.headers.get("retry-after")
    return [(b"retry-after", value.encode())] if value else []
