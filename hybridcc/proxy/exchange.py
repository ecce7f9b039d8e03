"""One request → one upstream call → one response or stream, for any wire.

The wire modules (``translated``, ``passthrough``) say how to build the upstream request, how to
read its answer and how to map its errors; this module does the parts both share: bounded
retries before the first byte, the late commit to a 200 with pings, cancelling the upstream call
when the client leaves (streaming or not), and turning every failure into an Anthropic error
that Claude Code shows at once instead of retrying for minutes.

The routing/fallback work calls :func:`open_upstream` per chain entry: nothing has reached the
client until it returns, so the next entry can still be tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Final, Protocol

import httpx

from hybridcc.proxy.asgi import (
    NO_RETRY,
    Headers,
    Receive,
    Scope,
    Send,
    Sender,
    send_bytes,
    start_sse,
    with_disconnect,
)
from hybridcc.proxy.breaker import Breakers, Stickiness
from hybridcc.proxy.errors import ProxyError, error_body
from hybridcc.proxy.h1client import H1Pool, H1Response, read_timeout_of
from hybridcc.proxy.record import RequestRecord
from hybridcc.proxy.redact import Redactor
from hybridcc.proxy.routing import Route
from hybridcc.proxy.sse import error_frame
from hybridcc.proxy.translate.openai_stream import StreamError
from hybridcc.proxy.upstream import unavailable

log = logging.getLogger("hybridcc.proxy")

# Retried by the proxy itself, before the first byte: a blip costs a second, not Claude Code's
# 10 retries with back-off (3 minutes against a dead provider, issue 12 item 1).
RETRY_STATUSES: Final = frozenset({500, 502, 503, 504, 529})
BACKOFF: Final = (0.25, 0.75, 1.5)
SHORT_RETRY_AFTER: Final = 2.0  # a 429 asking for at most this long is waited out here


@dataclass(frozen=True, slots=True)
class Tuning:
    ping_interval: float = 5.0  # [proxy].ping_interval
    commit_after: float = 10.0  # answer 200 (then ping) only after this long without upstream headers
    retries: int = 2
    retry_budget: float = 4.0  # seconds the proxy may spend retrying before it answers


@dataclass
class Call:
    route: Route
    body: dict[str, Any]
    key: str | None
    scope: Scope
    record: RequestRecord
    client: httpx.AsyncClient
    tuning: Tuning
    redactor: Redactor
    pool: H1Pool

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


class StreamCodec(Protocol):
    """Upstream bytes in, Anthropic SSE bytes out (whole events only); network-free."""

    @property
    def finished(self) -> bool: ...

    def feed(self, raw: bytes) -> bytes: ...

    def end(self) -> bytes: ...


class Wire(Protocol):
    name: str

    def request(self, call: Call) -> httpx.Request: ...

    def error(self, call: Call, status: int, body: bytes) -> tuple[int, bytes]: ...

    def complete(self, call: Call, body: bytes) -> bytes: ...

    def codec(self, call: Call) -> StreamCodec: ...

    def response_headers(self, call: Call, resp: H1Response | None) -> Headers: ...


def _retry_after(resp: H1Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def open_upstream(call: Call, request: httpx.Request, *, retries: int | None = None) -> H1Response:
    """Send ``request`` (streamed), retrying what a moment may fix; raises ProxyError when the
    provider cannot be reached. The returned response may carry an error status."""
    max_retries = call.tuning.retries if retries is None else retries
    deadline = time.monotonic() + call.tuning.retry_budget
    attempt = 0
    provider, url = call.route.provider.name, str(request.url)
    while True:
        try:
            resp = await call.pool.send(request, read_timeout=read_timeout_of(request, call.route.provider.timeout))
        except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
            delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
            if attempt < max_retries and time.monotonic() + delay < deadline:
                attempt += 1
                call.record.retries = attempt
                await asyncio.sleep(delay)
                continue
            raise unavailable(provider, url, exc, attempts=attempt + 1) from exc
        except httpx.HTTPError as exc:  # a timeout costs the provider's whole timeout: not retried
            raise unavailable(provider, url, exc, attempts=attempt + 1) from exc
        status = resp.status_code
        # A 429 asking for a short wait is waited out once even when the caller allows no retries
        # (a fallback chain): cheaper than moving a session off its warm cache (issue 16).
        short_429 = status == 429 and attempt == 0
        if (attempt < max_retries or short_429) and (status in RETRY_STATUSES or status == 429):
            after = _retry_after(resp)
            delay = after if after is not None else BACKOFF[min(attempt, len(BACKOFF) - 1)]
            retry = status != 429 or (after is not None and after <= SHORT_RETRY_AFTER)
            if retry and time.monotonic() + delay < deadline:
                await resp.aclose()
                attempt += 1
                call.record.retries = attempt
                await asyncio.sleep(delay)
                continue
        return resp


def client_error(call: Call, status: int, payload: bytes, resp: H1Response | None) -> tuple[int, bytes, Headers]:
    """The mapped upstream error as Claude Code should see it: status, body, headers.

    Measured with the real CLI (2.1.197 and 2.1.332): 401 and 5xx are retried ten times unless
    the answer says ``x-should-retry: false``; 529 / ``overloaded_error`` is retried whatever it
    says; 400 and 403 are shown at once. So what no retry can fix, and what the proxy already
    retried, goes back with ``x-should-retry: false``, and an exhausted 529 becomes a 503.
    """
    headers: Headers = []
    after = resp.headers.get("retry-after") if resp is not None else None
    if after:
        headers.append((b"retry-after", after.encode("latin-1")))
    if status == 429 and after:
        return status, call.redactor.redact_bytes(payload), headers  # Claude Code honours retry-after
    # A 429 with no retry-after (LiteLLM's rpm limit) falls through: Claude Code would retry it
    # ten times with back-off; the user should see the limit at once.
    if status in (401, 403):
        # The user must learn which key was refused and where it comes from (issue 12 item 1).
        provider = call.route.provider
        source = f"${provider.api_key_env}" if provider.api_key_env else "the key in config.toml"
        try:
            err = json.loads(payload)["error"]
            err["message"] = f"{err['message']} — provider {provider.name} refused {source}: check it"
            payload = json.dumps({"type": "error", "error": err}).encode()
        except (ValueError, KeyError, TypeError):
            pass
    if status == 529 or status >= 500:
        try:
            err = json.loads(payload)["error"]
            message, etype = str(err["message"]), str(err.get("type", "api_error"))
        except (ValueError, KeyError, TypeError):
            message, etype = payload.decode("utf-8", "replace")[:500], "api_error"
        if status == 529 or etype == "overloaded_error":
            status, etype = 503, "api_error"
        if call.route.provider.name not in message:  # the user must know which provider failed
            message = f"provider {call.route.provider.name}: {message}"
        tries = call.record.retries + 1
        if tries > 1:
            message += f" (tried {tries} times)"
        payload = error_body(etype, message)
    headers.append(NO_RETRY)
    return status, call.redactor.redact_bytes(payload), headers


async def _answer_error(call: Call, send: Send, exc: ProxyError) -> None:
    call.record.status, call.record.error = exc.status, exc.message
    headers = [(k.encode(), v.encode()) for k, v in exc.headers.items()]
    if not exc.retryable:
        headers.append(NO_RETRY)
    await send_bytes(send, exc.status, call.redactor.redact_bytes(error_body(exc.error_type, exc.message)), headers)


# A failure that moves a request to the next entry of its fallback chain (issue 16): only ever
# before the first content byte reached the client.
FALLBACK_STATUSES: Final = frozenset({429, 500, 502, 503, 504, 529})


@dataclass
class Attempt:
    wire: Wire
    call: Call


@dataclass
class Opened:
    attempt: Attempt
    request: httpx.Request
    resp: H1Response


class Chain:
    """The attempts of one request in order, with the breakers and stickiness that filter them."""

    def __init__(
        self, attempts: list[Attempt], *, breakers: Breakers | None = None, sticky: Stickiness | None = None
    ) -> None:
        self.attempts = attempts
        self.breakers = breakers
        self.sticky = sticky
        self.session = attempts[0].call.record.session_id
        self.stuck: str | None = None

    def ordered(self) -> list[Attempt]:
        from hybridcc.proxy.routing import route_key

        keys = [route_key(a.call.route) for a in self.attempts]
        start = self.sticky.get(self.session) if self.sticky else None
        self.stuck = start  # the fallback this session already sticks to: not announced again
        first = keys.index(start) if start in keys else 0
        return self.attempts[first:] + self.attempts[:first]

    async def open(self) -> Opened:
        """The first attempt whose provider answers with something that is not a reason to move on.

        Raises the last ProxyError when every entry failed to connect; returns the last error
        response when every entry answered with a fallback status."""
        from hybridcc.proxy.routing import route_key

        record = self.attempts[0].call.record
        ordered = self.ordered()
        last_error: ProxyError | None = None
        last: Opened | None = None
        for i, attempt in enumerate(ordered):
            call = attempt.call
            provider = call.route.provider.name
            final = i == len(ordered) - 1
            if self.breakers is not None and not final and not self.breakers.allow(provider):
                record.hops.append(f"{route_key(call.route)}: skipped (circuit open)")
                continue
            if last is not None:
                await last.resp.aclose()
                last = None
            request = attempt.wire.request(call)
            try:
                # With somewhere else to go, a failing provider is left at once instead of retried.
                resp = await open_upstream(call, request, retries=None if final else 0)
            except ProxyError as exc:
                last_error = exc
                record.hops.append(f"{route_key(call.route)}: {exc.message}")
                if self.breakers is not None:
                    self.breakers.failure(provider)
                continue
            if resp.status_code in FALLBACK_STATUSES and not final:
                record.hops.append(f"{route_key(call.route)}: HTTP {resp.status_code}")
                if self.breakers is not None:
                    self.breakers.failure(provider)
                last = Opened(attempt, request, resp)
                continue
            if self.breakers is not None:
                if resp.status_code < 400:
                    self.breakers.success(provider)
                elif resp.status_code in FALLBACK_STATUSES:
                    self.breakers.failure(provider)
            if self.sticky is not None and len(self.attempts) > 1:
                if attempt is self.attempts[0]:
                    self.sticky.clear(self.session)
                elif resp.status_code < 400:
                    self.sticky.set(self.session, route_key(call.route))
            if attempt is not self.attempts[0]:
                record.served_by = route_key(call.route)
                _adopt(record, call)
                if record.served_by != self.stuck:  # once per switch, not on every sticky request
                    why = "; ".join(record.hops) or "earlier entries unavailable"
                    log.warning("%s", call.redactor.redact(f"served by fallback {record.served_by} ({why})"))
            return Opened(attempt, request, resp)
        if last is not None:
            return last
        assert last_error is not None
        raise last_error


def _adopt(record: RequestRecord, call: Call) -> None:
    """The request record names the provider and model that actually served."""
    record.provider, record.model_used = call.route.provider.name, call.route.model


async def serve(attempts: list[Attempt] | Chain, receive: Receive, send: Send) -> None:
    """Answer over the first attempt that works; the upstream call is cancelled if the client leaves."""
    chain = attempts if isinstance(attempts, Chain) else Chain(attempts)
    first = chain.attempts[0].call

    async def work(snd: Send) -> None:
        try:
            if first.stream:
                await _stream(chain, snd)
            else:
                await _once(chain, snd)
        except ProxyError as exc:
            await _answer_error(first, snd, exc)

    await with_disconnect(receive, send, work)


async def _once(chain: Chain, send: Send) -> None:
    opened = await chain.open()
    wire, call, resp = opened.attempt.wire, opened.attempt.call, opened.resp
    try:
        try:
            raw = await resp.aread()
        except httpx.HTTPError as exc:
            raise unavailable(call.route.provider.name, str(opened.request.url), exc) from exc
    finally:
        await resp.aclose()
    call.record.upstream_status = resp.status_code
    call.record.mark_first_byte()
    if resp.status_code >= 400:
        status, payload, headers = client_error(call, *wire.error(call, resp.status_code, raw), resp)
        call.record.status = status
        call.record.error = f"upstream HTTP {resp.status_code}"
        await send_bytes(send, status, payload, headers)
        return
    payload = wire.complete(call, raw)  # raises ProxyError(502) for a body it cannot use
    call.record.status = 200
    await send_bytes(send, 200, payload, wire.response_headers(call, resp))


async def _stream(chain: Chain, send: Send) -> None:
    first = chain.attempts[0].call
    record = first.record
    sender = Sender(send)
    opening = asyncio.ensure_future(chain.open())
    pinger: asyncio.Task[None] | None = None
    resp: H1Response | None = None
    committed = False

    async def commit(headers: Headers) -> None:
        nonlocal committed, pinger
        committed = True
        record.status = 200
        await start_sse(send, headers)
        pinger = asyncio.ensure_future(sender.ping_loop(first.tuning.ping_interval))

    async def fail(call: Call, error_type: str, message: str) -> None:
        record.error = message
        await sender.send(error_frame(error_type, call.redactor.redact(message)), final=True)

    try:
        done, _ = await asyncio.wait({opening}, timeout=first.tuning.commit_after)
        if not done:
            # A silent upstream (a local model loading): commit to 200 and ping, so Claude Code
            # does not sit on a silent socket. Only pings were sent, so the chain may still move
            # on; a later failure of the last entry becomes an `event: error`.
            await commit(chain.attempts[0].wire.response_headers(first, None))
        try:
            opened = await opening
        except ProxyError as exc:
            if not committed:
                raise
            await fail(first, exc.error_type, exc.message)
            return
        wire, call, resp = opened.attempt.wire, opened.attempt.call, opened.resp
        record.upstream_status = resp.status_code
        if resp.status_code >= 400:
            status, payload, headers = client_error(call, *wire.error(call, resp.status_code, await resp.aread()), resp)
            if not committed:
                record.status, record.error = status, f"upstream HTTP {resp.status_code}"
                await send_bytes(send, status, payload, headers)
                return
            err = json.loads(payload)["error"]
            hint = f" (retry after {resp.headers['retry-after']} s)" if "retry-after" in resp.headers else ""
            await fail(call, str(err["type"]), str(err["message"]) + hint)
            return
        if not committed:
            await commit(wire.response_headers(call, resp))
        codec = wire.codec(call)
        try:
            async for raw in resp.aiter_raw():
                record.mark_first_byte()
                out = codec.feed(raw)
                if out:
                    await sender.send(out)  # every event of one read in one write
                if codec.finished:
                    break
            await sender.send(codec.end(), final=True)
        except StreamError as exc:
            if exc.partial:
                await sender.send(exc.partial)
            await fail(call, exc.error_type, exc.message)
        except httpx.HTTPError as exc:
            # After the first byte: an `event: error`, then close; never a hung stream, never a
            # fallback (a half-streamed answer is not restarted elsewhere).
            await fail(call, "api_error", f"provider {call.route.provider.name} stream broke: {type(exc).__name__}")
        finally:
            record.malformed_chunks = getattr(codec, "malformed", 0)
    finally:
        if pinger is not None:
            pinger.cancel()
        if not opening.done():
            opening.cancel()
        if resp is not None:
            with contextlib.suppress(httpx.HTTPError):
                await resp.aclose()
