"""The real proxy server over loopback, in front of scripted fake upstreams."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hybridcc import paths
from tests.fakes.grammar import check, parse
from tests.fakes.upstream import (
    FakeUpstream,
    Handler,
    Reply,
    anthropic_json,
    anthropic_text_stream,
    error_reply,
    openai_chunk,
    openai_json,
    openai_stream,
    openai_text_stream,
    sse,
)
from tests.helpers import wait_for
from tests.proxy.conftest import RunningProxy, config_text

Start = Callable[..., RunningProxy]
Up = Callable[[Handler], FakeUpstream]
MSG = {"model": "claude-sonnet-4-6", "max_tokens": 200, "messages": [{"role": "user", "content": "hi"}]}


def sse_post(
    proxy: RunningProxy, body: dict[str, Any], path: str = "/v1/messages"
) -> tuple[httpx.Response, list[tuple[str, dict[str, Any]]]]:
    r = proxy.post(path, {**body, "stream": True})
    return r, parse(r.content) if r.status_code == 200 else []


# -- endpoints, auth, limits -------------------------------------------------------------------


def test_health_root_and_event_logging(keys: dict[str, str], start_proxy: Start) -> None:
    proxy = start_proxy(config_text())
    h = httpx.get(proxy.url + "/health").json()
    assert h["status"] == "ok" and "profiles" not in h and "pid" not in h  # anyone on the machine may ask
    h = httpx.get(proxy.url + "/health", headers={"x-api-key": proxy.token}).json()
    assert h["status"] == "ok" and h["default_profile"] == "fo" and h["pid"] > 0 and "fo" in h["profiles"]
    assert proxy.token not in json.dumps(h)
    assert httpx.head(proxy.url + "/").status_code == 200
    assert httpx.get(proxy.url + "/").status_code == 200
    r = httpx.post(proxy.url + "/api/event_logging/batch", json={"events": []})
    assert r.status_code == 204


def test_unknown_path_is_anthropic_404(keys: dict[str, str], start_proxy: Start) -> None:
    proxy = start_proxy(config_text())
    r = proxy.post("/v1/nope", {})
    assert r.status_code == 404
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "not_found_error"
    assert httpx.get(proxy.url + "/favicon.ico").json()["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"authorization": "Bearer wrong"}])
def test_auth_required(keys: dict[str, str], start_proxy: Start, headers: dict[str, str]) -> None:
    proxy = start_proxy(config_text())
    r = httpx.post(proxy.url + "/v1/messages", json=MSG, headers=headers)
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert "hybridcc env" in r.json()["error"]["message"]
    assert httpx.get(proxy.url + "/v1/models", headers=headers).status_code == 401


def test_bearer_and_x_api_key_accepted(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    up = upstream(lambda r: openai_json("ok"))
    proxy = start_proxy(config_text(up.url))
    assert (
        httpx.post(
            proxy.url + "/v1/messages?beta=true", json=MSG, headers={"authorization": f"Bearer {proxy.token}"}
        ).status_code
        == 200
    )
    assert proxy.post("/v1/messages?beta=true", MSG).status_code == 200
    # provider key goes upstream, the proxy token never does
    assert up.requests[-1].headers["authorization"] == f"Bearer {keys['FAKE_OPENAI_KEY']}"
    assert proxy.token not in json.dumps(up.requests[-1].headers)


def test_malformed_and_non_object_bodies(keys: dict[str, str], start_proxy: Start) -> None:
    proxy = start_proxy(config_text())
    r = httpx.post(proxy.url + "/v1/messages", content=b"{nope", headers={"x-api-key": proxy.token})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = httpx.post(proxy.url + "/v1/messages", content=b"[1,2]", headers={"x-api-key": proxy.token})
    assert r.status_code == 400 and "JSON object" in r.json()["error"]["message"]
    r = proxy.post("/v1/messages", {"max_tokens": 5, "messages": []})
    assert r.status_code == 400 and "model" in r.json()["error"]["message"]


def test_body_limit_413(keys: dict[str, str], start_proxy: Start) -> None:
    proxy = start_proxy(config_text(), max_body_bytes=10_000)
    r = proxy.post("/v1/messages", {**MSG, "messages": [{"role": "user", "content": "x" * 20_000}]})
    assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"


def test_models_list(keys: dict[str, str], start_proxy: Start) -> None:
    proxy = start_proxy(config_text())
    data = httpx.get(proxy.url + "/p/fo/v1/models?limit=1000", headers={"x-api-key": proxy.token}).json()
    ids = [m["id"] for m in data["data"]]
    assert ids[:3] == ["big-model", "small-model", "huge-model"]
    assert "anthropic:fa/fa-main" in ids and data["has_more"] is False and data["data"][0]["type"] == "model"


def test_count_tokens_local_estimate(keys: dict[str, str], start_proxy: Start) -> None:
    proxy = start_proxy(config_text())
    r = proxy.post("/v1/messages/count_tokens?beta=true", {"model": "x", "system": "s" * 400, "messages": [{"role": "user", "content": "hello"}],
                   "tools": [{"name": "Bash", "input_schema": {"type": "object"}}]})  # fmt: skip
    assert r.status_code == 200 and r.json()["input_tokens"] > 100


def test_unknown_profile_prefix(keys: dict[str, str], start_proxy: Start) -> None:
    proxy = start_proxy(config_text())
    r = proxy.post("/p/ghost/v1/messages", MSG)
    assert r.status_code == 404 and 'no profile named "ghost"' in r.json()["error"]["message"]


# -- routing ------------------------------------------------------------------------------------


def test_model_mapping_and_cross_provider(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    oa = upstream(lambda r: openai_json("ok"))
    an = upstream(lambda r: anthropic_json("ok", model=r.json()["model"]))
    proxy = start_proxy(config_text(oa.url, an.url))
    cases = {
        "claude-haiku-4-5-20251001": "small-model",
        "claude-opus-4-7": "huge-model",
        "claude-sonnet-4-6": "big-model",
        "opus": "huge-model",
        "small-model": "small-model",
        "something-else": "big-model",
    }
    for asked, used in cases.items():
        r = proxy.post("/v1/messages", {**MSG, "model": asked})
        assert r.status_code == 200 and r.json()["model"] == used, asked
        assert oa.requests[-1].json()["model"] == used
    r = proxy.post("/v1/messages", {**MSG, "model": "fa/other-model"})  # provider/model switches provider
    assert r.json()["model"] == "other-model" and an.requests[-1].json()["model"] == "other-model"
    assert an.requests[-1].headers["x-api-key"] == keys["FAKE_ANTHROPIC_KEY"]


def test_missing_key_names_the_variable(start_proxy: Start, upstream: Up) -> None:
    up = upstream(lambda r: openai_json("ok"))
    proxy = start_proxy(config_text(up.url))
    r = proxy.post("/v1/messages", MSG)
    assert r.status_code == 401 and "FAKE_OPENAI_KEY" in r.json()["error"]["message"]
    assert up.requests == []


def test_max_tokens_probe_answered_locally(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    up = upstream(lambda r: error_reply(400, {"error": {"message": "max_tokens too small"}}))
    proxy = start_proxy(config_text(up.url))
    r = proxy.post("/v1/messages", {**MSG, "max_tokens": 1})
    assert r.status_code == 200 and r.json()["stop_reason"] == "max_tokens" and r.json()["usage"]["input_tokens"] > 0
    r, events = sse_post(proxy, {**MSG, "max_tokens": 1})
    assert check(events)["stop_reason"] == "max_tokens"
    assert up.requests == []


def test_max_tokens_clamped_to_provider_cap(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    up = upstream(lambda r: openai_json("ok"))
    proxy = start_proxy(
        config_text(up.url).replace(
            'api_key_env = "FAKE_OPENAI_KEY"', 'api_key_env = "FAKE_OPENAI_KEY"\nmax_output_tokens = 8192', 1
        )
    )
    proxy.post("/v1/messages", {**MSG, "max_tokens": 64000})
    assert up.requests[-1].json()["max_tokens"] == 8192


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "etype"),
    [
        (400, {"error": {"message": "bad schema", "type": "invalid_request_error"}}, "invalid_request_error"),
        (401, {"error": {"message": "no auth"}}, "authentication_error"),
        (403, {"detail": "forbidden"}, "permission_error"),
        (404, {"error": "model not found"}, "not_found_error"),
        (500, b"oops", "api_error"),
        (503, {"error": {"message": "down"}}, "api_error"),
    ],
)
def test_upstream_errors_mapped(
    keys: dict[str, str], start_proxy: Start, upstream: Up, status: int, body: Any, etype: str
) -> None:
    up = upstream(lambda r: error_reply(status, body))
    proxy = start_proxy(config_text(up.url))
    for stream in (False, True):
        r = proxy.post("/v1/messages", {**MSG, "stream": stream})
        assert r.status_code == status
        err = r.json()
        assert err["type"] == "error" and err["error"]["type"] == etype
        assert "fo (big-model)" in err["error"]["message"] and "detail" not in err


def test_rate_limit_keeps_retry_after(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    up = upstream(lambda r: error_reply(429, {"error": {"message": "slow down"}}, {"retry-after": "7"}))
    proxy = start_proxy(config_text(up.url))
    r = proxy.post("/v1/messages", {**MSG, "stream": True})
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert r.json()["error"]["type"] == "rate_limit_error"


def test_anthropic_shaped_error_passes_unchanged(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    # Claude Code acts on these bodies (it compacts on "prompt is too long"): byte for byte.
    body = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "prompt is too long: 9 tokens > 5 maximum"},
    }
    up = upstream(lambda r: error_reply(400, body))
    proxy = start_proxy(config_text(anthropic_url=up.url), default_profile="fa")
    r = proxy.post("/v1/messages", {**MSG, "stream": True})
    assert r.status_code == 400 and r.json() == body


def test_overloaded_provider_is_not_retried_forever(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    # Claude Code retries any 529 / overloaded_error without end: after our own bounded retries
    # it gets a 503 api_error it shows once, with x-should-retry: false.
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    up = upstream(lambda r: error_reply(529, body))
    proxy = start_proxy(config_text(anthropic_url=up.url), default_profile="fa")
    r = proxy.post("/v1/messages", {**MSG, "stream": True})
    assert r.status_code == 503 and r.headers["x-should-retry"] == "false"
    assert r.json()["error"]["type"] == "api_error" and "fa" in r.json()["error"]["message"]


def test_unreachable_upstream_is_503_naming_provider_and_url(keys: dict[str, str], start_proxy: Start) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    proxy = start_proxy(config_text(f"http://127.0.0.1:{dead}", f"http://127.0.0.1:{dead}"))
    for profile in ("fo", "fa"):
        for stream in (False, True):
            r = proxy.post(f"/p/{profile}/v1/messages", {**MSG, "stream": stream})
            assert r.status_code == 503 and r.headers["x-should-retry"] == "false", (profile, stream)
            msg = r.json()["error"]
            assert msg["type"] == "api_error" and f"127.0.0.1:{dead}" in msg["message"] and profile in msg["message"]


def test_failure_after_first_byte_is_event_error(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    up = upstream(
        lambda r: Reply(
            headers={"content-type": "text/event-stream"}, chunks=[sse(openai_chunk({"content": "part"}))], abort=True
        )
    )
    proxy = start_proxy(config_text(up.url))
    r, events = sse_post(proxy, MSG)
    assert r.status_code == 200
    out = check(events, allow_error=True)
    assert out["error"]["type"] in ("api_error", "overloaded_error")
    assert "message_stop" not in [e for e, _ in events]


def test_error_chunk_inside_200_stream(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    up = upstream(
        lambda r: openai_stream(
            [openai_chunk({"content": "a"}), {"error": {"message": "provider exploded", "code": 502}}]
        )
    )
    proxy = start_proxy(config_text(up.url))
    _, events = sse_post(proxy, MSG)
    assert "provider exploded" in check(events, allow_error=True)["error"]["message"]


# -- streaming behaviour ------------------------------------------------------------------------


def test_streaming_is_incremental(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    chunks: list[bytes | float] = [
        sse(openai_chunk({"content": "first"})),
        1.5,
        sse(openai_chunk({"content": "second"}, "stop")),
        sse("[DONE]"),
    ]
    up = upstream(lambda r: Reply(headers={"content-type": "text/event-stream"}, chunks=chunks))
    proxy = start_proxy(config_text(up.url))
    t0 = time.monotonic()
    first_at = None
    buf = b""
    with httpx.stream(
        "POST", proxy.url + "/v1/messages", json={**MSG, "stream": True}, headers={"x-api-key": proxy.token}, timeout=30
    ) as r:
        assert r.headers["anthropic-ratelimit-unified-status"] == "allowed"
        assert int(r.headers["anthropic-ratelimit-unified-reset"]) > time.time()
        for part in r.iter_bytes():
            buf += part
            if first_at is None and b"first" in buf:
                first_at = time.monotonic() - t0
    total = time.monotonic() - t0
    assert first_at is not None and first_at < total - 1.0, (first_at, total)
    assert check(parse(buf))["content"][0]["text"] == "firstsecond"


def test_pings_while_upstream_silent(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    chunks: list[bytes | float] = [
        0.9,
        sse(openai_chunk({"content": "a"})),
        0.9,
        sse(openai_chunk({}, "stop")),
        sse("[DONE]"),
    ]
    up = upstream(lambda r: Reply(headers={"content-type": "text/event-stream"}, chunks=chunks, delay_headers=0.9))
    proxy = start_proxy(config_text(up.url), ping_interval=0.2)
    _, events = sse_post(proxy, MSG)
    names = [e for e, _ in events]
    first_delta = names.index("content_block_delta")
    assert next(n for n in names if n != "ping") == "message_start"  # SDKs skip pings before it
    assert names[:first_delta].count("ping") >= 3  # before the first token (headers were late too)
    assert names[first_delta:].count("ping") >= 2  # and while silent mid-stream
    assert check(events)["content"][0]["text"] == "a"


def test_late_headers_then_error_becomes_event_error(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    up = upstream(
        lambda r: Reply(
            status=500,
            headers={"content-type": "application/json"},
            body=b'{"error":{"message":"load failed"}}',
            delay_headers=0.6,
        )
    )
    proxy = start_proxy(config_text(up.url), ping_interval=0.2, commit_after=0.3)
    r, events = sse_post(proxy, MSG)
    assert r.status_code == 200  # committed while waiting, so the failure arrives as an event
    names = [e for e, _ in events]
    assert set(names[:-1]) == {"ping"} and names[-1] == "error"  # only pings were sent before it
    assert "load failed" in events[-1][1]["error"]["message"]


def test_late_headers_within_commit_time_keep_the_status(
    keys: dict[str, str], start_proxy: Start, upstream: Up
) -> None:
    up = upstream(lambda r: error_reply(400, {"error": {"message": "bad field"}}))
    proxy = start_proxy(config_text(up.url), ping_interval=0.2)  # commits only after 10 s
    r = proxy.post("/v1/messages", {**MSG, "stream": True})
    assert r.status_code == 400 and r.headers["x-should-retry"] == "false"
    assert "bad field" in r.json()["error"]["message"]


def _assert_upstream_cancelled(up: FakeUpstream) -> None:
    """The fake upstream saw its client (the proxy) go away mid-stream, within seconds."""
    wait_for(lambda: up.disconnects, timeout=5, what="the proxy to drop its upstream connection")
    assert up.disconnects == 1 and up.completed == 0


def test_client_disconnect_cancels_upstream(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    chunks: list[bytes | float] = []
    for i in range(60):
        chunks += [sse(openai_chunk({"content": f"t{i} "})), 0.1]
    up = upstream(lambda r: Reply(headers={"content-type": "text/event-stream"}, chunks=chunks))
    proxy = start_proxy(config_text(up.url))
    with httpx.stream(
        "POST", proxy.url + "/v1/messages", json={**MSG, "stream": True}, headers={"x-api-key": proxy.token}, timeout=30
    ) as r:
        for part in r.iter_bytes():
            if b"t1 " in part:
                break
    _assert_upstream_cancelled(up)


# -- passthrough ----------------------------------------------------------------------------------


def test_passthrough_forwards_body_headers_and_bytes(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    reply = anthropic_text_stream(["pass", "through"], model="fa-small")
    up = upstream(lambda r: reply)
    proxy = start_proxy(config_text(anthropic_url=up.url))
    body = {**MSG, "model": "claude-haiku-4-5", "stream": True, "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
            "thinking": {"type": "adaptive"}, "context_management": {"edits": []}}  # fmt: skip
    r = httpx.post(proxy.url + "/p/fa/v1/messages?beta=true", json=body, timeout=30,
                   headers={"authorization": f"Bearer {proxy.token}", "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
                            "anthropic-version": "2023-06-01", "x-claude-code-session-id": "sess-1"})  # fmt: skip
    assert r.status_code == 200
    assert r.content == b"".join(c for c in reply.chunks if isinstance(c, bytes))  # type: ignore[union-attr]
    assert r.headers["anthropic-ratelimit-unified-status"] == "allowed_warning"  # the provider's own, relayed
    sent = up.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.json() == {**body, "model": "fa-small"}  # only the model changed
    assert sent.headers["anthropic-beta"] == "claude-code-20250219,interleaved-thinking-2025-05-14"
    assert sent.headers["x-api-key"] == keys["FAKE_ANTHROPIC_KEY"] and "authorization" not in sent.headers
    assert sent.headers["x-claude-code-session-id"] == "sess-1"


def test_passthrough_count_tokens_forwarded_or_estimated(
    keys: dict[str, str], start_proxy: Start, upstream: Up
) -> None:
    answers = iter(
        [
            Reply(headers={"content-type": "application/json"}, body=b'{"input_tokens": 4242}'),
            error_reply(404, {"error": "nope"}),
        ]
    )
    up = upstream(lambda r: next(answers))
    proxy = start_proxy(config_text(anthropic_url=up.url), default_profile="fa")
    assert proxy.post(
        "/v1/messages/count_tokens", {"model": "fa-main", "messages": [{"role": "user", "content": "x"}]}
    ).json() == {"input_tokens": 4242}
    r = proxy.post("/v1/messages/count_tokens", {"model": "fa-main", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200 and r.json()["input_tokens"] >= 1


def _ollama(version: str) -> Handler:
    def handle(r: Any) -> Reply:
        if r.path == "/api/version":
            return Reply(headers={"content-type": "application/json"}, body=json.dumps({"version": version}).encode())
        if r.path == "/v1/messages":
            return anthropic_json("native")
        if r.path == "/v1/chat/completions":
            return openai_text_stream(["translated"]) if r.json().get("stream") else openai_json("translated")
        return error_reply(404, {"error": "not found"})

    return handle


def test_ollama_new_passthrough_with_strip_rules(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    up = upstream(_ollama("0.14.2"))
    proxy = start_proxy(config_text(extra=f'[ollama]\nhost = "{up.url}"\n'), default_profile="ollama")
    body = {**MSG, "tool_choice": {"type": "auto"}, "tools": [{"name": "Bash", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
            "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]}  # fmt: skip
    r = proxy.post("/v1/messages", body)
    assert r.json()["content"][0]["text"] == "native"
    sent = [q for q in up.requests if q.path == "/v1/messages"][-1].json()
    assert sent["model"] == "qwen3-coder:30b" and "tool_choice" not in sent and "cache_control" not in json.dumps(sent)
    # Ollama has no count_tokens: answered locally, never forwarded
    assert proxy.post("/v1/messages/count_tokens", MSG).json()["input_tokens"] >= 1
    assert not any("count_tokens" in q.path for q in up.requests)


def test_ollama_old_is_translated(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    up = upstream(_ollama("0.13.5"))
    proxy = start_proxy(config_text(extra=f'[ollama]\nhost = "{up.url}"\n'), default_profile="ollama")
    _, events = sse_post(proxy, MSG)
    assert check(events)["content"][0]["text"] == "translated"
    assert any(q.path == "/v1/chat/completions" for q in up.requests)


def test_ollama_not_running_says_how_to_start(keys: dict[str, str], start_proxy: Start) -> None:
    proxy = start_proxy(config_text(extra='[ollama]\nhost = "127.0.0.1:9"\n'), default_profile="ollama")
    r = proxy.post("/v1/messages", MSG)
    assert r.status_code == 503 and "hybridcc ollama start" in r.json()["error"]["message"]


# -- logging --------------------------------------------------------------------------------------


def test_one_log_line_per_request_without_secrets(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    up = upstream(lambda r: openai_text_stream(["x"], usage={"prompt_tokens": 50, "completion_tokens": 7}))
    proxy = start_proxy(config_text(up.url))
    sse_post(proxy, MSG)
    proxy.post("/v1/messages", MSG, token="wrong")
    for h in logging_handlers():
        h.flush()
    lines = [json.loads(x) for x in paths.request_log_file().read_text().splitlines()]
    assert len(lines) == 2
    ok = lines[0]
    assert ok["profile"] == "fo" and ok["provider"] == "fo" and ok["model_requested"] == "claude-sonnet-4-6"
    assert (
        ok["model_used"] == "big-model"
        and ok["stream"] is True
        and ok["status"] == 200
        and ok["upstream_status"] == 200
    )
    assert ok["input_tokens"] == 50 and ok["output_tokens"] == 7 and ok["latency_ms"] > 0 and ok["ttfb_ms"] > 0
    assert lines[1]["status"] == 401
    everything = "".join(p.read_text() for p in paths.log_dir().rglob("*") if p.is_file())
    for secret in [*keys.values(), proxy.token]:
        assert secret not in everything


def logging_handlers() -> list[Any]:
    import logging

    return list(logging.getLogger("hybridcc.requests").handlers)


def test_passthrough_client_disconnect_cancels_upstream(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    frames: list[bytes | float] = [sse({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "model": "fa-main",
                                        "content": [], "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}}, "message_start")]  # fmt: skip
    for _ in range(60):
        frames += [sse({"type": "ping"}, "ping"), 0.1]
    up = upstream(lambda r: Reply(headers={"content-type": "text/event-stream"}, chunks=frames))
    proxy = start_proxy(config_text(anthropic_url=up.url), default_profile="fa")
    with httpx.stream(
        "POST", proxy.url + "/v1/messages", json={**MSG, "stream": True}, headers={"x-api-key": proxy.token}, timeout=30
    ) as r:
        for part in r.iter_bytes():
            if b"message_start" in part:
                break
    _assert_upstream_cancelled(up)


def test_is_loopback() -> None:
    from hybridcc.proxy.server import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2") and not is_loopback("example.com")


def test_upstream_timeout_before_first_byte_is_503(keys: dict[str, str], start_proxy: Start) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts, never answers
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        text = config_text(url, url).replace(
            'api_key_env = "FAKE_OPENAI_KEY"', 'api_key_env = "FAKE_OPENAI_KEY"\ntimeout = 1', 1
        )
        proxy = start_proxy(text)
        t0 = time.monotonic()
        r = proxy.post("/v1/messages", MSG)
        assert time.monotonic() - t0 < 10
        assert r.status_code == 503 and r.headers["x-should-retry"] == "false"
        err = r.json()["error"]
        assert err["type"] == "api_error" and "timed out" in err["message"] and url in err["message"]
    finally:
        silent.close()
