"""The fault matrix (issue 11, "Numbers to keep"): every upstream fault × both wires ×
streaming or not, driven by the official ``anthropic`` client through the real proxy.

Each case asserts what Claude Code needs: the right status and error type (or an ``event: error``
once the stream is committed), ``x-should-retry`` where it is designed, a message that names the
provider and never a secret, the text produced before an in-stream failure delivered before the
error, the strict SSE grammar, no hang, and never a result that looks like success. The designed
mapping is the one of ``exchange.client_error`` and ``upstream.unavailable``; where the two wires
legitimately differ (a passthrough relays an Anthropic-shaped 4xx body unchanged), the case says so.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import anthropic
import httpx2
import pytest
import uvicorn

from hybridcc.config import load_config
from hybridcc.proxy import exchange
from hybridcc.proxy.app import ProxyApp
from hybridcc.proxy.server import bind_socket, setup_logging
from hybridcc.proxy_token import ensure_token
from tests.conftest import _SCRUB_PREFIXES, write_config
from tests.fakes.faults import (
    ANT,
    HTML,
    OAI,
    PARTIAL,
    ResetServer,
    TeeTransport,
    ant_err,
    check_failed_stream,
    error_in_200,
    http_error,
    malformed,
    oai_err,
    refused_port,
    reset_mid,
    success,
    truncated,
)
from tests.fakes.grammar import parse
from tests.fakes.upstream import FakeUpstream, RecordedRequest, Reply
from tests.helpers import wait_for

KEYS = {"FAKE_OPENAI_KEY": "sk-fake-openai-SECRET123", "FAKE_ANTHROPIC_KEY": "sk-ant-fake-SECRET456"}
KEY_ENV = {OAI: "FAKE_OPENAI_KEY", ANT: "FAKE_ANTHROPIC_KEY"}
PROVIDER = {OAI: "acme-oai", ANT: "acme-ant"}  # names no upstream message contains by chance
MODEL = "m-up"
DEADLINE = 12.0  # per case: far under the 180 s pytest timeout; the slowest designed case takes ~1 s

# -- what the client must see -------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    status: int  # 200: committed, the failure is an `event: error`
    etype: str
    should_retry: str | None = "false"  # the x-should-retry header of an HTTP error
    retry_after: str | None = None
    attempts: int | None = None  # upstream requests (1 + the proxy's own retries)
    partial: str = ""  # text delivered before the `event: error`
    names_provider: bool = True
    says: tuple[str, ...] = ()  # further words the message must contain


Expectation = Expect | Callable[[str, bool], Expect]


@dataclass(frozen=True)
class Fault:
    name: str
    expect: Expectation
    reply: Callable[[str, bool], Reply] | None = None  # served by the fake upstream
    reset: Callable[[str, bool], bytes] | None = None  # served by the reset server
    upstream: str = "up"  # up | slow (timeout = 1) | dead (refused) | rst (reset server)
    bugs: dict[tuple[str, bool], str] = field(default_factory=dict)  # (wire, stream) → a known bug: xfail

    def expected(self, wire: str, stream: bool) -> Expect:
        return self.expect(wire, stream) if callable(self.expect) else self.expect


RETRIED = 3  # the first try and the proxy's two retries


def _passthrough_relays(status: int, etype: str, **kw: Any) -> Expectation:
    """Anthropic-shaped 4xx bodies pass unchanged on the passthrough wire (Claude Code matches some
    of their wording, shared/PROTOCOL.md): they do not name the provider there."""
    return lambda wire, _stream: Expect(status, etype, names_provider=wire == OAI, **kw)


def _in_stream(partial: str, etype: str = "api_error") -> Expectation:
    return lambda _wire, stream: Expect(200, etype, partial=partial) if stream else Expect(502, etype)


def _error_in_200_expect(wire: str, stream: bool) -> Expect:
    if stream and wire == ANT:
        # The passthrough relays the provider's own `event: error` verbatim (type kept, issue 11 item 10).
        return Expect(200, "api_error", partial=PARTIAL, names_provider=False, says=("upstream model crashed",))
    return Expect(200, "api_error", partial=PARTIAL) if stream else Expect(502, "api_error")


FAULTS = [
    Fault("refused", Expect(503, "api_error", says=("unavailable", "tried 3 times")), upstream="dead"),
    Fault("reset_before_headers", Expect(503, "api_error", attempts=RETRIED, says=("unavailable",)),
          reset=lambda _w, _s: b"", upstream="rst"),
    Fault("reset_mid_stream",
          lambda _w, stream: Expect(200, "api_error", partial=PARTIAL, attempts=1) if stream
          else Expect(503, "api_error", attempts=1, says=("unavailable",)),
          reset=reset_mid, upstream="rst"),
    Fault("http_500", Expect(500, "api_error", attempts=RETRIED, says=("tried 3 times",)),
          http_error(500, oai_err("The server had an error", "server_error"), ant_err("api_error", "Internal server error"))),
    Fault("http_502_html", Expect(502, "api_error", attempts=RETRIED, says=("tried 3 times",)),
          lambda _w, _s: Reply(status=502, headers={"content-type": "text/html"}, body=HTML)),
    Fault("http_503", Expect(503, "api_error", attempts=RETRIED),
          http_error(503, oai_err("Service unavailable", "server_error"), ant_err("api_error", "Service unavailable"))),
    # Claude Code retries a 529 / overloaded_error whatever x-should-retry says: never relayed.
    Fault("http_529_overloaded", Expect(503, "api_error", attempts=RETRIED),
          http_error(529, oai_err("Overloaded", "overloaded_error"), ant_err("overloaded_error", "Overloaded"))),
    # Claude Code honours retry-after itself: passed on, and no x-should-retry: false.
    Fault("http_429", _passthrough_relays(429, "rate_limit_error", should_retry=None, retry_after="30", attempts=1),
          http_error(429, oai_err("Rate limit reached", "rate_limit_error"), ant_err("rate_limit_error", "Slow down"),
                     **{"retry-after": "30"})),
    Fault("http_401", lambda wire, _s: Expect(401, "authentication_error", attempts=1, says=("$" + KEY_ENV[wire],)),
          http_error(401, oai_err(f"Incorrect API key provided: {KEYS['FAKE_OPENAI_KEY']}", "invalid_request_error"),
                     ant_err("authentication_error", f"invalid x-api-key {KEYS['FAKE_ANTHROPIC_KEY']}"))),
    Fault("http_403", lambda wire, _s: Expect(403, "permission_error", attempts=1, says=("$" + KEY_ENV[wire],)),
          http_error(403, oai_err("Your key has no access", "permission_denied"),
                     ant_err("permission_error", "Your key has no access"))),
    Fault("http_400", _passthrough_relays(400, "invalid_request_error", attempts=1),
          http_error(400, oai_err("messages: bad role", "invalid_request_error"),
                     ant_err("invalid_request_error", "messages: bad role"))),
    Fault("http_404_model", _passthrough_relays(404, "not_found_error", attempts=1),
          http_error(404, oai_err(f"The model `{MODEL}` does not exist", "invalid_request_error", "model_not_found"),
                     ant_err("not_found_error", f"model: {MODEL}"))),
    # A timeout costs the provider's whole timeout: answered at once, not retried.
    Fault("timeout_before_first_byte", Expect(503, "api_error", attempts=1, says=("timed out",)),
          lambda wire, stream: replace(success(wire, stream), delay_headers=2.5), upstream="slow"),
    Fault("malformed", _in_stream(PARTIAL), malformed),
    Fault("truncated_clean_close", _in_stream(PARTIAL), truncated),
    Fault("error_in_200", _error_in_200_expect, error_in_200),
    Fault("non_json_200", _in_stream(""),
          lambda _w, _s: Reply(headers={"content-type": "text/html"}, body=HTML)),
    Fault("empty_200", _in_stream(""),
          lambda _w, stream: Reply(headers={"content-type": "text/event-stream" if stream else "application/json"})),
]  # fmt: skip


# -- the rig: one proxy and one set of fake upstreams for the whole module ----------------------


@dataclass
class Rig:
    url: str
    token: str
    fake: FakeUpstream
    rst: ResetServer
    records: list[dict[str, Any]]
    app: ProxyApp | None = None
    armed: dict[str, Any] = field(default_factory=dict)

    def handler(self, req: RecordedRequest) -> Reply:
        fault: Fault | None = self.armed.get("fault")
        wire = OAI if req.path.endswith("/chat/completions") else ANT
        stream = bool((req.json() or {}).get("stream"))
        if fault is None or fault.reply is None:
            return success(wire, stream)
        return fault.reply(wire, stream)


def _config(fake: str, dead: str, rst: str) -> str:
    lines = [f'default_profile = "{PROVIDER[OAI]}"']
    for where, url in (("up", fake), ("slow", fake), ("dead", dead), ("rst", rst)):
        for wire in (OAI, ANT):
            name = PROVIDER[wire] + ("" if where == "up" else f"-{where}")
            lines += [f'[providers.{name}]', f'api = "{wire}"', f'api_key_env = "{KEY_ENV[wire]}"',
                      f'base_url = "{url}/v1"' if wire == OAI else f'base_url = "{url}"']  # fmt: skip
            if wire == ANT:
                lines.append('auth = "x-api-key"')
            if where == "slow":
                lines.append("timeout = 1")
            lines += [f"[profiles.{name}]", f'provider = "{name}"', f'model = "{MODEL}"', f'small_model = "{MODEL}"']
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    root = tmp_path_factory.mktemp("fault-matrix")
    with pytest.MonkeyPatch.context() as mp:
        # The autouse isolation is per test; this module's proxy outlives a test, so it gets its own.
        for key in list(os.environ):
            if key.startswith(_SCRUB_PREFIXES):
                mp.delenv(key)
        (root / "home").mkdir()
        mp.setenv("HOME", str(root / "home"))
        mp.setenv("HYBRIDCC_HOME", str(root / "hcc"))
        for k, v in KEYS.items():
            mp.setenv(k, v)
        # The proxy's retry pauses (0.25 + 0.75 s) shortened so ~30 retried cases stay fast; the
        # designed pauses and budget are checked by test_retry_budget_with_designed_backoff.
        mp.setattr(exchange, "BACKOFF", (0.02, 0.05, 0.1))
        dead_sock, dead = refused_port()
        with FakeUpstream() as fake, ResetServer() as rst, dead_sock:
            write_config(_config(fake.url, dead, rst.url))
            records: list[dict[str, Any]] = []
            rig = Rig("", ensure_token(), fake, rst, records)
            fake.handler = rig.handler
            app = rig.app = ProxyApp(load_config(), token=rig.token, sinks=(records.append,))
            setup_logging(to_stderr=False)
            sock = bind_socket("127.0.0.1", 0)
            server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", loop="asyncio"))
            thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
            thread.start()
            wait_for(lambda: server.started, timeout=10, what="the proxy to start")
            rig.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            try:
                yield rig
            finally:
                server.should_exit = True
                thread.join(timeout=10)


# -- driving one case ---------------------------------------------------------------------------

MSG: dict[str, Any] = {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": "hi"}]}
STATUS_CLASS: dict[int, type[anthropic.APIStatusError]] = {
    400: anthropic.BadRequestError, 401: anthropic.AuthenticationError, 403: anthropic.PermissionDeniedError,
    404: anthropic.NotFoundError, 429: anthropic.RateLimitError, 500: anthropic.InternalServerError,
    502: anthropic.InternalServerError, 503: anthropic.ServiceUnavailableError,
}  # fmt: skip


@dataclass
class Outcome:
    error: anthropic.APIStatusError
    tee: TeeTransport
    events: list[str]  # event types the SDK yielded before the error
    elapsed: float
    attempts: int
    record: dict[str, Any]


def run_case(rig: Rig, fault: Fault, wire: str, stream: bool) -> Outcome:
    rig.armed["fault"] = fault
    if fault.reset is not None:
        reset = fault.reset
        rig.rst.script = lambda _req: reset(wire, stream)
    profile = PROVIDER[wire] + ("" if fault.upstream == "up" else f"-{fault.upstream}")
    tee = TeeTransport(DEADLINE)
    client = anthropic.Anthropic(
        base_url=f"{rig.url}/p/{profile}", api_key=rig.token, max_retries=0, timeout=DEADLINE,
        http_client=httpx2.Client(transport=tee),
    )  # fmt: skip
    before = (len(rig.fake.requests), rig.rst.requests, len(rig.records))
    seen: list[str] = []
    start = time.monotonic()
    try:
        with client:
            if stream:
                for event in client.messages.create(**MSG, stream=True):
                    seen.append(event.type)
            else:
                message = client.messages.create(**MSG)
                seen.append(f"a message with stop_reason {message.stop_reason!r}")
    except anthropic.APIStatusError as exc:
        error = exc
    else:
        pytest.fail(f"{fault.name}: the client saw success ({seen}); raw: {bytes(tee.raw)[-400:]!r}")
    elapsed = time.monotonic() - start
    record = wait_for(lambda: rig.records[before[2] :], what="the request record")[-1]
    attempts = len(rig.fake.requests) - before[0] + rig.rst.requests - before[1]
    return Outcome(error, tee, seen, elapsed, attempts, record)


def test_rig_serves_success(rig: Rig) -> None:
    """The rig itself works: without a fault both wires answer normally (else every case below
    would pass for the wrong reason)."""
    rig.armed.pop("fault", None)
    for wire in (OAI, ANT):
        client = anthropic.Anthropic(base_url=f"{rig.url}/p/{PROVIDER[wire]}", api_key=rig.token, max_retries=0)
        with client:
            assert client.messages.create(**MSG).content[0].text == PARTIAL
            types = [e.type for e in client.messages.create(**MSG, stream=True)]
            assert types[-1] == "message_stop"


def _cases() -> list[Any]:
    cases = []
    for fault in FAULTS:
        for wire in (OAI, ANT):
            for stream in (False, True):
                bug = fault.bugs.get((wire, stream))
                marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
                ident = f"{fault.name}-{wire}-{'stream' if stream else 'json'}"
                cases.append(pytest.param(fault, wire, stream, id=ident, marks=marks))
    return cases


@pytest.mark.parametrize(("fault", "wire", "stream"), _cases())
def test_fault_matrix(rig: Rig, fault: Fault, wire: str, stream: bool) -> None:
    expect = fault.expected(wire, stream)
    out = run_case(rig, fault, wire, stream)
    raw = bytes(out.tee.raw)
    assert out.elapsed < DEADLINE
    for secret in (*KEYS.values(), rig.token):
        assert secret.encode() not in raw, "a secret reached the client"
    assert "message_stop" not in out.events and "message_delta" not in out.events, f"fake success: {out.events}"
    assert out.tee.status == expect.status, (out.tee.status, raw[:400])
    if expect.status == 200:  # committed: the failure is the stream's last event
        assert stream
        assert type(out.error) is anthropic.APIStatusError
        error, text = check_failed_stream(parse(raw))
        assert text == expect.partial, "the text produced before the failure must reach the client first"
    else:
        assert type(out.error) is STATUS_CLASS[expect.status], type(out.error)
        assert out.tee.headers.get("content-type", "").startswith("application/json")
        body = json.loads(raw)
        assert set(body) == {"type", "error"} and body["type"] == "error", body
        error = body["error"]
        assert out.tee.headers.get("x-should-retry") == expect.should_retry
        assert out.tee.headers.get("retry-after") == expect.retry_after
    assert out.error.body == {"type": "error", "error": error} or out.error.body == error
    assert error["type"] == expect.etype, error
    assert error["type"] != "overloaded_error"  # Claude Code would retry it for minutes
    if expect.names_provider:
        assert PROVIDER[wire] in error["message"], error["message"]
    for word in expect.says:
        assert word in error["message"], error["message"]
    if expect.attempts is not None:
        assert out.attempts == expect.attempts, "upstream requests (1 + the proxy's retries)"
    # The request log never records a failure as a plain success.
    assert out.record["status"] == expect.status and out.record.get("error"), out.record


def test_retry_budget_with_designed_backoff(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the real pauses, a provider that keeps failing costs ~1 s, far inside the 4 s budget."""
    monkeypatch.setattr(exchange, "BACKOFF", (0.25, 0.75, 1.5))
    fault = next(f for f in FAULTS if f.name == "http_503")
    out = run_case(rig, fault, OAI, False)
    assert out.attempts == RETRIED and 0.9 < out.elapsed < 4.0, (out.attempts, out.elapsed)
    assert out.tee.status == 503 and out.tee.headers.get("x-should-retry") == "false"


def _late(status: int, oai: dict[str, Any], ant: dict[str, Any], **headers: str) -> Callable[[str, bool], Reply]:
    return lambda wire, stream: replace(http_error(status, oai, ant, **headers)(wire, stream), delay_headers=1.0)


LATE = [
    Fault("late_429", _passthrough_relays(200, "rate_limit_error", says=("retry after 30 s",)),
          _late(429, oai_err("Rate limit reached", "rate_limit_error"), ant_err("rate_limit_error", "Slow down"),
                **{"retry-after": "30"})),
    Fault("late_401", lambda wire, _s: Expect(200, "authentication_error", says=("$" + KEY_ENV[wire],)),
          _late(401, oai_err("bad key", "invalid_request_error"), ant_err("authentication_error", "bad key"))),
    Fault("late_timeout", Expect(200, "api_error", says=("timed out",)),
          lambda wire, stream: replace(success(wire, stream), delay_headers=2.5), upstream="slow"),
]  # fmt: skip


@pytest.mark.parametrize("wire", [OAI, ANT])
@pytest.mark.parametrize("fault", LATE, ids=lambda f: f.name)
def test_error_after_commit(rig: Rig, fault: Fault, wire: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upstream silent past ``commit_after`` gets a 200 and pings (on both wires); its later
    error is an ``event: error`` that keeps the error type and the retry hint (issue 11 item 10)."""
    assert rig.app is not None
    monkeypatch.setattr(rig.app, "tuning", replace(rig.app.tuning, commit_after=0.3, ping_interval=0.1))
    expect = fault.expected(wire, True)
    out = run_case(rig, fault, wire, True)
    assert out.tee.status == 200 and out.elapsed < DEADLINE
    events = parse(bytes(out.tee.raw))
    assert events[0][0] == "ping", "pings while the upstream is silent"
    error, text = check_failed_stream(events)
    assert text == "" and error["type"] == expect.etype, error
    if expect.names_provider:
        assert PROVIDER[wire] in error["message"], error
    for word in expect.says:
        assert word in error["message"], error["message"]
    assert out.record.get("error"), out.record
