"""Prefill progress (issue 17): llama.cpp's prompt_progress chunks are swallowed by the stream
translator and reported to the in-proxy registry, which GET /_hybridcc/progress answers from."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from hybridcc.proxy.progress import Progress
from hybridcc.proxy.translate.openai_stream import OpenAIStream, StreamTranslator
from hybridcc.usage.statusline import fetch_progress, progress_suffix
from tests.fakes.grammar import check, parse
from tests.fakes.upstream import FakeUpstream, RecordedRequest, Reply, openai_chunk, sse
from tests.helpers import wait_for
from tests.proxy.conftest import RunningProxy, config_text

SESSION = "0b5e7f1e-5b7c-4a51-9b7e-2d0f5a1c9e11"


def progress_chunk(processed: int, total: int = 1000, cache: int = 0) -> dict[str, Any]:
    """As llama-server 11434 sends it (measured): the role delta plus prompt_progress."""
    return openai_chunk(
        {"role": "assistant", "content": None},
        prompt_progress={"total": total, "cache": cache, "processed": processed, "time_ms": processed * 10},
    )


def _answer_chunks() -> list[dict[str, Any]]:
    return [
        openai_chunk({"role": "assistant", "content": None}),
        openai_chunk({"content": "Hel"}),
        openai_chunk({"content": "lo"}),
        openai_chunk({}, "stop"),
    ]


def _raw(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(sse(c) for c in chunks) + sse("[DONE]")


def _translate(raw: bytes, step: int, seen: list[Any] | None) -> tuple[bytes, OpenAIStream]:
    stream = OpenAIStream(
        StreamTranslator(model="up", input_tokens=50),
        provider="p",
        on_progress=seen.append if seen is not None else None,
    )
    out = b"".join(stream.feed(raw[i : i + step]) for i in range(0, len(raw), step))
    return out + stream.end(), stream


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64, 100_000])
@pytest.mark.parametrize("listening", [True, False])
def test_progress_chunks_are_swallowed_in_any_split(step: int, listening: bool) -> None:
    progress = [progress_chunk(0), progress_chunk(512), progress_chunk(1000)]
    seen: list[Any] | None = [] if listening else None
    out, stream = _translate(_raw(progress + _answer_chunks()), step, seen)
    events = parse(out)
    message = check(events)
    assert message["content"][0]["text"] == "Hello"
    assert b"prompt_progress" not in out and stream.malformed == 0
    assert [e for e, _ in events].count("message_start") == 1
    if seen is not None:
        assert [p["processed"] for p in seen] == [0, 512, 1000]


def test_no_event_before_the_first_token() -> None:
    """While the model reads the prompt, nothing goes to Claude Code (not even message_start):
    the registry's 'answered' is the first real event."""
    stream = OpenAIStream(StreamTranslator(model="up", input_tokens=5), provider="p", on_progress=lambda _p: None)
    assert stream.feed(sse(progress_chunk(0)) + sse(progress_chunk(300))) == b""


def test_registry_entry_lifecycle() -> None:
    reg = Progress()
    assert reg.lookup(SESSION) == {"phase": "idle"}
    entry = reg.begin("req_1", SESSION)
    waiting = reg.lookup(SESSION)
    assert waiting["phase"] == "prefill" and "total" not in waiting and waiting["elapsed_s"] >= 0
    entry.prompt_progress({"total": 18700, "cache": 100, "processed": 8400, "time_ms": 1})
    entry.prompt_progress("garbage")  # ignored, never raises
    got = reg.lookup(SESSION)
    assert (got["processed"], got["total"], got["cache"]) == (8400, 18700, 100)
    assert reg.lookup("other-session") == {"phase": "idle"}

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    watched = entry.watch(send)
    asyncio.run(watched({"type": "http.response.body", "body": b'event: ping\ndata: {"type":"ping"}\n\n'}))
    assert reg.lookup(SESSION)["phase"] == "prefill"  # a ping is not an answer
    asyncio.run(watched({"type": "http.response.body", "body": b"event: message_start\ndata: {}\n\n"}))
    assert reg.lookup(SESSION) == {"phase": "idle"} and len(sent) == 2
    reg.end("req_1")
    reg.end("req_1")  # twice is fine
    assert reg.get("req_1") is None


# --- through the real proxy -------------------------------------------------------------------


def _gated_upstream(gate: threading.Event, with_progress: bool) -> Callable[[RecordedRequest], Reply]:
    def handler(req: RecordedRequest) -> Reply:
        def chunks() -> Iterator[bytes]:
            if with_progress:
                yield sse(progress_chunk(0))
                yield sse(progress_chunk(500))
            gate.wait(30)  # "reading the prompt" until the test has looked
            if with_progress:
                yield sse(progress_chunk(1000))
            yield _raw(_answer_chunks())

        return Reply(headers={"content-type": "text/event-stream"}, chunks=chunks())

    return handler


def _progress(proxy: RunningProxy, token: str | None = None) -> httpx.Response:
    return httpx.get(
        f"{proxy.url}/_hybridcc/progress", params={"session": SESSION},
        headers={"authorization": f"Bearer {proxy.token if token is None else token}"}, timeout=10,
    )  # fmt: skip


def _stream_in_thread(proxy: RunningProxy, result: dict[str, Any]) -> threading.Thread:
    def go() -> None:
        body = {"model": "big-model", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        resp = proxy.post("/v1/messages", body, headers={"x-claude-code-session-id": SESSION})
        result["status"], result["raw"] = resp.status_code, resp.content

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("quirks", ["llamacpp", "ollama"])
def test_progress_endpoint_during_prefill(
    quirks: str, start_proxy: Callable[..., RunningProxy], keys: dict[str, str]
) -> None:
    gate = threading.Event()
    llama = quirks == "llamacpp"
    with FakeUpstream(_gated_upstream(gate, with_progress=llama)) as up:
        proxy = start_proxy(config_text(up.url).replace('api_key_env = "FAKE_OPENAI_KEY"',
                                                        f'api_key_env = "FAKE_OPENAI_KEY"\nquirks = "{quirks}"', 1))  # fmt: skip
        assert _progress(proxy).json() == {"phase": "idle"}
        assert _progress(proxy, token="wrong").status_code == 401
        assert httpx.get(f"{proxy.url}/_hybridcc/progress", params={"session": SESSION}).status_code == 401
        result: dict[str, Any] = {}
        thread = _stream_in_thread(proxy, result)
        try:
            if llama:
                got = wait_for(lambda: _progress(proxy).json().get("processed") == 500 and _progress(proxy).json(),
                               what="processed 500 of 1000")  # fmt: skip
                assert got["total"] == 1000 and got["phase"] == "prefill"
                # The status line's own loopback client, against the real proxy:
                env = {"ANTHROPIC_BASE_URL": proxy.url + "/p/fo", "ANTHROPIC_AUTH_TOKEN": proxy.token}
                assert progress_suffix(fetch_progress(env, SESSION)) == "reading prompt 50% (500/1k)"
            else:
                got = wait_for(lambda: _progress(proxy).json().get("phase") == "prefill" and _progress(proxy).json(),
                               what="a request in prefill")  # fmt: skip
                assert "total" not in got
            sent = up.bodies("/chat/completions")[0]
            assert sent.get("return_progress") is (True if llama else None)
        finally:
            gate.set()
            thread.join(30)
        assert result["status"] == 200
        message = check(parse(result["raw"]))
        assert message["content"][0]["text"] == "Hello"
        assert b"prompt_progress" not in result["raw"]
        assert _progress(proxy).json() == {"phase": "idle"}
        assert not proxy.app.progress._by_request  # nothing left behind
