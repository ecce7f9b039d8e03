"""The proxy's ASGI application: it checks the Host, authenticates, routes, and hands each
``/v1/messages`` call to its wire (``translated`` or ``passthrough``) through ``exchange``.
It moves bytes; no wire format is known here (shared/STYLE.md, lesson 18).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from typing import Any

import httpx

from hybridcc.config.load import fingerprint
from hybridcc.config.schema import Config, Profile, Provider
from hybridcc.errors import AuthError
from hybridcc.policy import LOCAL_SUFFIX
from hybridcc.providers import resolve_key
from hybridcc.proxy import admin, models, passthrough, translated
from hybridcc.proxy.asgi import (
    NO_RETRY,
    TOO_DEEP,
    ClientGone,
    Receive,
    Scope,
    Send,
    header,
    rate_limit_headers,
    read_json,
    send_bytes,
    send_json,
    start_sse,
)
from hybridcc.proxy.breaker import Breakers, Stickiness
from hybridcc.proxy.errors import ProxyError, error_body
from hybridcc.proxy.estimate import estimate_input_tokens
from hybridcc.proxy.exchange import Attempt, Call, Chain, Tuning, Wire, serve
from hybridcc.proxy.h1client import H1Pool
from hybridcc.proxy.progress import Progress
from hybridcc.proxy.record import RequestRecord, Sink
from hybridcc.proxy.redact import Redactor
from hybridcc.proxy.routing import Route, chain, is_local, is_switch, resolve, route_key, supports_server_tools
from hybridcc.proxy.rules import first_match, is_background, without_server_tools
from hybridcc.proxy.translate.openai_stream import StreamTranslator
from hybridcc.proxy.upstream import make_client, timeout_for, unavailable
from hybridcc.usage.ledger import LedgerWriter
from hybridcc.usage.metrics import Metrics
from hybridcc.usage.prices import Pricer
from hybridcc.versions import OLLAMA_NATIVE_MESSAGES, version_tuple

log = logging.getLogger("hybridcc.proxy")

_LOOPBACK_HOSTS = frozenset({b"127.0.0.1", b"localhost", b"[::1]", b"::1"})


def host_allowed(value: bytes | None, extra: frozenset[bytes]) -> bool:
    """Only loopback names (or the configured host with allow_remote): a DNS-rebinding page
    reaches the proxy under its own host name and is refused (issue 11 item 5)."""
    if not value:
        return False
    host = value.lower()
    if host.startswith(b"["):
        host = host[: host.find(b"]") + 1]
    else:
        host = host.rsplit(b":", 1)[0] if host.count(b":") == 1 else host
    return host in _LOOPBACK_HOSTS or host.startswith(b"127.") or host in extra


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
        commit_after: float | None = None,
        sinks: tuple[Sink, ...] = (),
    ) -> None:
        self.token = token.encode()
        self.token_id = hashlib.sha256(self.token).hexdigest()[:12]
        self.started_at = time.time()
        self.extra_sinks = sinks
        self.ledger: LedgerWriter | None = None  # opened at lifespan start: one writer thread per proxy
        self.metrics = Metrics()
        self.client: httpx.AsyncClient | None = None  # probes, count_tokens, Ollama's version
        self.pool = H1Pool()  # every /v1/messages call: the hot path
        self.breakers = Breakers()  # per provider, across config reloads
        self.sticky = Stickiness()
        self.progress = Progress()  # streamed requests still waiting for their first token (issue 17)
        self._ollama_versions: dict[str, tuple[float, str]] = {}
        self._warned: set[tuple[str, str]] = set()  # (profile, model name) already logged as unknown
        self._overrides = (default_profile, max_body_bytes, ping_interval, commit_after)
        self._wires: dict[str, Wire] = {
            "openai": translated.TranslatedWire(self.progress),
            "anthropic": passthrough.PassthroughWire(),
        }
        self.apply_config(config)

    def apply_config(self, config: Config) -> None:
        """Used at start and by ``POST /_hybridcc/reload``: new requests see the new config,
        requests in flight keep the objects they already hold (issue 11 item 14)."""
        default_profile, max_body, ping, commit = self._overrides
        self.config = config
        self.default_profile = default_profile or config.default_profile
        self.max_body = max_body or config.proxy.max_body_mb * 1024 * 1024
        ping_interval = ping if ping is not None else config.proxy.ping_interval
        self.tuning = Tuning(
            ping_interval=ping_interval, commit_after=commit if commit is not None else max(ping_interval, 10.0)
        )
        self.fingerprint = fingerprint(config)
        # Breakers and stickiness outlive a reload (their state is the point); their tuning follows it.
        self.breakers.threshold, self.breakers.cooldown = config.proxy.breaker_threshold, config.proxy.breaker_cooldown
        self.sticky.ttl = config.proxy.sticky_seconds
        self._keys: dict[str, str | None] = {}
        self.redactor = Redactor([self.token.decode()])
        for provider in config.providers.values():
            self.redactor.add(provider.api_key)
            self.redactor.add_url(provider.base_url)
        extra = {config.proxy.host.encode()} if config.proxy.allow_remote else set()
        self.allowed_hosts = frozenset(extra)

    # -- ASGI ---------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.client = make_client()
                self.open_ledger()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.aclose()
                await self.pool.aclose()
                if self.ledger is not None:
                    self.ledger.close()  # flushes the last batch
                await send({"type": "lifespan.shutdown.complete"})
                return

    def open_ledger(self) -> None:
        """The usage ledger (issue 14): rows written off the request path; None when disabled."""
        try:
            self.ledger = LedgerWriter.open_default(self.config)
        except Exception:  # a broken ledger must never stop the proxy (logged with its traceback)
            log.exception("usage ledger disabled: it could not be opened")
            self.ledger = None
        self.metrics.pricer = self.ledger.pricer if self.ledger is not None else Pricer(self.config)

    @property
    def sinks(self) -> tuple[Sink, ...]:
        ledger = (self.ledger.submit,) if self.ledger is not None else ()
        return (*ledger, self.metrics.observe, *self.extra_sinks)

    def upstream_client(self) -> httpx.AsyncClient:
        if self.client is None:  # no lifespan (some test servers): create on first use
            self.client = make_client()
        return self.client

    def authorized(self, scope: Scope) -> bool:
        presented = b""
        for name, value in scope["headers"]:
            if name == b"x-api-key" and value:
                presented = value
                break
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                presented = value[7:].strip()
        return bool(presented) and hmac.compare_digest(presented, self.token)

    def authorize(self, scope: Scope) -> None:
        if not self.authorized(scope):
            raise ProxyError(
                401,
                "invalid or missing proxy token: use the token from `hybridcc env` "
                "(ANTHROPIC_AUTH_TOKEN), or launch claude with `hybridcc run`",
                retryable=False,
            )

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        if not host_allowed(header(scope, b"host"), self.allowed_hosts):
            await send_bytes(send, 403, error_body("permission_error", "Host not allowed"), [NO_RETRY])
            return
        profile_name = self.default_profile
        if path.startswith("/p/"):
            # ANTHROPIC_BASE_URL=http://127.0.0.1:PORT/p/NAME: the profile rides in the path.
            profile_name, _, rest = path[3:].partition("/")
            path = "/" + rest
        local_only = profile_name.endswith(LOCAL_SUFFIX)  # a sensitive/local-only session (hybridcc.policy)
        if local_only:
            profile_name = profile_name[: -len(LOCAL_SUFFIX)]
        record = RequestRecord(request_id="req_" + secrets.token_hex(8), path=path)
        try:
            if await admin.serve(self, method, path, scope, receive, send):
                return
            if not path.startswith("/v1/"):
                raise ProxyError(404, f"{method} {path} is not an endpoint of this proxy")
            self.authorize(scope)
            profile = self._profile(profile_name)
            record.profile = profile.name
            record.take_headers(scope["headers"])
            if path == "/v1/messages" and method == "POST":
                body = await read_json(scope, receive, max_body=self.max_body)
                record.kind = (
                    "subagent" if record.agent_id else "background" if is_background(profile, body) else "main"
                )
                await self._messages(body, profile, scope, receive, send, record, local_only=local_only)
            elif path == "/v1/messages/count_tokens" and method == "POST":
                body = await read_json(scope, receive, max_body=self.max_body)
                await self._count_tokens(body, profile, scope, send, record)
            elif path == "/v1/models" and method == "GET":
                # Claude Code's gateway model discovery fills its `/model` picker from this (issue 13).
                local = local_only or profile.privacy == "local"
                await send_json(send, 200, models.models_list(self.config, profile, local_only=local))
            else:
                raise ProxyError(404, f"{method} {path} is not an endpoint of this proxy")
            if not record.status:
                record.status = 200
        except ProxyError as exc:
            record.status, record.error = exc.status, exc.message
            headers = [(k.encode(), v.encode()) for k, v in exc.headers.items()]
            if not exc.retryable:
                headers.append(NO_RETRY)
            await send_bytes(
                send, exc.status, self.redactor.redact_bytes(error_body(exc.error_type, exc.message)), headers
            )
        except RecursionError:  # a hostile body parsed, then our recursive translation hit the limit
            record.status, record.error = 400, TOO_DEEP.message
            await send_bytes(send, 400, error_body(TOO_DEEP.error_type, TOO_DEEP.message), [NO_RETRY])
        except ClientGone:
            record.status, record.error = 499, "client disconnected"
        finally:
            if path.startswith("/v1/"):
                self.progress.end(record.request_id)
                record.emit(self.redactor, self.sinks)

    # -- helpers ------------------------------------------------------------------------
    def _profile(self, name: str) -> Profile:
        profile = self.config.profiles.get(name)
        if profile is None:
            raise ProxyError(
                404, f'no profile named "{name}" (known: {", ".join(sorted(self.config.profiles))})', "not_found_error",
                retryable=False,
            )  # fmt: skip
        return profile

    def _key(self, provider: Provider) -> str | None:
        if provider.name in self._keys:
            return self._keys[provider.name]
        try:
            key = resolve_key(provider)
        except AuthError as exc:
            # Not retryable: Claude Code shows this message at once ("… OPENROUTER_API_KEY is not set").
            raise ProxyError(401, f"{exc.message}; {exc.hint}" if exc.hint else exc.message, retryable=False) from exc
        self.redactor.add(key)
        if provider.api_key_cmd or provider.api_key:  # env vars are re-read: they are cheap
            self._keys[provider.name] = key
        return key

    async def wire_name(self, route: Route) -> str:
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

    def _call(self, route: Route, body: dict[str, Any], scope: Scope, record: RequestRecord) -> Call:
        if not supports_server_tools(route):
            # Anthropic's server tools (web search) run only on its own API: elsewhere they are
            # dropped with a warning instead of failing the turn (issue 16).
            body, dropped = without_server_tools(body)
            if dropped:
                note = f"{route_key(route)} cannot run server tools: dropped {', '.join(dropped)}"
                record.model_note = record.model_note or note
                log.warning("%s", note)
        return Call(route=route, body=body, key=self._key(route.provider), scope=scope, record=record,
                    client=self.upstream_client(), tuning=self.tuning, redactor=self.redactor, pool=self.pool)  # fmt: skip

    # -- endpoints ----------------------------------------------------------------------
    async def _count_tokens(
        self, body: dict[str, Any], profile: Profile, scope: Scope, send: Send, record: RequestRecord
    ) -> None:
        route = resolve(self.config, profile, models.unwrap(str(body.get("model") or profile.model)))
        record.provider, record.model_requested, record.model_used = route.provider.name, route.requested, route.model
        if await self.wire_name(route) == "anthropic" and not route.quirks.local_count_tokens:
            answered = await passthrough.count_tokens(self._call(route, body, scope, record))
            if answered is not None:
                record.upstream_status = answered[0]
                await send_bytes(send, answered[0], self.redactor.redact_bytes(answered[1]))
                return
        # A fast local estimate: never 0, never a 404 (Claude Code falls back to max_tokens=1 probes).
        await send_json(send, 200, {"input_tokens": estimate_input_tokens(body)})

    async def _messages(
        self,
        body: dict[str, Any],
        profile: Profile,
        scope: Scope,
        receive: Receive,
        send: Send,
        record: RequestRecord,
        *,
        local_only: bool = False,
    ) -> None:
        requested = body.get("model")
        if not isinstance(requested, str) or not requested:
            raise ProxyError(400, "model: expected a non-empty string", retryable=False)
        name = models.unwrap(requested)  # a `/model` picker id is the provider/model switch it names
        rule = None
        # An explicit `/model provider/x` switch is never rerouted (OpenRouter's `qwen/…` names are not one).
        if profile.routes and not is_switch(self.config, profile, name):
            # Every header but the credentials: custom rules may match ANTHROPIC_CUSTOM_HEADERS ones.
            headers = {
                k.decode("latin-1"): v.decode("latin-1")
                for k, v in scope["headers"]
                if k not in (b"authorization", b"x-api-key")
            }
            rule = first_match(profile, body, headers, config=self.config)  # the estimate only if a rule needs it
            if rule is not None:
                record.rule = f"{rule[0].when} → {rule[0].use}: {rule[1]}"
        routes = chain(self.config, profile, name, first=rule[0].use if rule else None)
        if profile.privacy == "local" or local_only:
            # Privacy mode: a route, fallback or `/model` switch that would leave the machine is
            # refused before anything is sent (issue 18), never silently rerouted.
            for other in routes[1:]:
                if not is_local(other):
                    record.hops.append(
                        f"{route_key(other)}: refused (not local; profile {profile.name} is privacy = local)"
                    )
            if not is_local(routes[0]):
                raise ProxyError(
                    403, f"this session is local-only (profile {profile.name}: privacy = \"local\", or a sensitive project): provider {routes[0].provider.name} "
                    f"at {routes[0].base_url} is not local; pick a local model, or declare the host private with "
                    f"[providers.{routes[0].provider.name}] local = true", "permission_error", retryable=False,
                )  # fmt: skip
            routes = [r for r in routes if is_local(r)]
        route = routes[0]
        record.provider, record.model_requested, record.model_used = route.provider.name, requested, route.model
        if rule is None and models.unknown_model(self.config, profile, name):
            send = self._fallback_noted(profile, name, route, record, send)
        record.stream = bool(body.get("stream"))
        wire = await self.wire_name(route)
        record.wire = wire
        call = self._call(route, body, scope, record)
        if wire == "openai":
            answer = translated.probe_answer(call)
            if answer is not None:
                await self._send_probe(call, answer, send)
                return
        if record.stream and record.session_id:  # the status line and `run -p` show the wait
            send = self.progress.begin(record.request_id, record.session_id).watch(send)
        attempts = [Attempt(self._wires[wire], call)]
        for other in routes[1:]:
            try:
                attempts.append(
                    Attempt(self._wires[await self.wire_name(other)], self._call(other, body, scope, record))
                )
            except ProxyError as exc:  # no key for a fallback entry: it cannot serve, say so in the log
                record.hops.append(f"{route_key(other)}: {exc.message}")
        await serve(Chain(attempts, breakers=self.breakers, sticky=self.sticky), receive, send)

    def _fallback_noted(self, profile: Profile, name: str, route: Route, record: RequestRecord, send: Send) -> Send:
        """An unknown model name is served by the profile's main model (routing), never silently:
        a warning in the proxy log (once per name), ``model_note`` in the request log, and a
        response header (issue 13)."""
        record.model_note = models.fallback_note(profile, name)
        if (profile.name, name) not in self._warned:
            self._warned.add((profile.name, name))
            log.warning("%s; name a model of the profile, or switch with `/model provider/model`", record.model_note)
        return models.with_fallback_header(send, name, route)

    async def _send_probe(self, call: Call, answer: dict[str, Any], send: Send) -> None:
        call.record.take_usage(answer["usage"])
        call.record.status = 200
        if not call.stream:
            await send_json(send, 200, answer, rate_limit_headers())
            return
        tr = StreamTranslator(model=call.route.model, input_tokens=answer["usage"]["input_tokens"])
        await start_sse(send, rate_limit_headers())
        await send({"type": "http.response.body", "body": tr.start() + tr.finish("length"), "more_body": False})
