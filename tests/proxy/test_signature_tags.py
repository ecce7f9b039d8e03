"""Thinking signatures tagged with the provider that wrote them, on passthrough (issue 13).

Out: ``signature_delta`` events, thinking blocks opened with a signature, ``redacted_thinking``
data and non-streamed answers carry ``hcc1.<tag>.<original>``. In: the target provider gets its
own blocks back unwrapped and never another provider's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from hybridcc.proxy.passthrough import AnthropicStream
from hybridcc.proxy.record import RequestRecord
from hybridcc.proxy.translate.anthropic_body import (
    provider_tag,
    split_signature,
    strip_foreign_thinking,
    tag_message,
    tag_signature,
)
from hybridcc.proxy.translate.openai_stream import StreamError
from tests.fakes.thinking_upstream import SignedThinking
from tests.fakes.upstream import sse
from tests.proxy.conftest import RunningProxy

TAG = provider_tag("signer", "http://127.0.0.1:1")
OTHER = provider_tag("signer2", "http://127.0.0.1:1")
SIG = "EqQBCkgIARABGAIiQLsig+/=="


def _message_start() -> bytes:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 1}}  # fmt: skip
    return sse({"type": "message_start", "message": message}, "message_start")


def _start(index: int, block: dict[str, Any]) -> bytes:
    return sse({"type": "content_block_start", "index": index, "content_block": block}, "content_block_start")


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")


def _end() -> list[bytes]:
    return [
        sse(
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}},
            "message_delta",
        ),
        sse({"type": "message_stop"}, "message_stop"),
    ]


def _text_only() -> list[bytes]:
    return [
        _message_start(),
        b": keep-alive\n\n",
        sse({"type": "ping"}, "ping"),
        _start(0, {"type": "text", "text": ""}),
        _delta(0, {"type": "text_delta", "text": "a signature is just a word here, ünïcode"}),
        sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        *_end(),
    ]


def _signed() -> list[bytes]:
    return [
        _message_start(),
        _start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        _delta(0, {"type": "thinking_delta", "thinking": "hmm"}),
        _delta(0, {"type": "signature_delta", "signature": SIG}),
        sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _start(1, {"type": "redacted_thinking", "data": "ENCRYPTED"}),
        sse({"type": "content_block_stop", "index": 1}, "content_block_stop"),
        _start(2, {"type": "text", "text": ""}),
        _delta(2, {"type": "text_delta", "text": "answer"}),
        sse({"type": "content_block_stop", "index": 2}, "content_block_stop"),
        *_end(),
    ]


def _relay(raw: bytes, cut: Callable[[bytes], list[bytes]], tag: str | None = TAG) -> tuple[bytes, RequestRecord]:
    record = RequestRecord("r", "/v1/messages")
    stream = AnthropicStream(record, provider="signer", tag=tag)
    out = b"".join(stream.feed(piece) for piece in cut(raw)) + stream.end()
    assert stream.finished
    return out, record


def _bytewise(raw: bytes) -> list[bytes]:
    return [raw[i : i + 1] for i in range(len(raw))]


def _events(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ")]


def test_a_stream_without_thinking_is_relayed_byte_for_byte() -> None:
    raw = b"".join(_text_only())
    for cut in (lambda b: [b], _bytewise, lambda b: [b[:37], b[37:300], b[300:]]):
        assert _relay(raw, cut)[0] == raw
    crlf = raw.replace(b"\n", b"\r\n")
    assert _relay(crlf, lambda b: [b[:101], b[101:]])[0] == crlf


@pytest.mark.parametrize("cut", ["whole", "bytewise", "inside-signature"])
def test_signatures_are_tagged_on_split_streams(cut: str) -> None:
    raw = b"".join(_signed())
    at = raw.index(SIG.encode()) + 5  # a read ends in the middle of the signature_delta event
    pieces = {"whole": [raw], "bytewise": _bytewise(raw), "inside-signature": [raw[:at], raw[at:]]}[cut]
    out, record = _relay(raw, lambda _: pieces)
    events = _events(out)
    assert events == [*_events(raw)[:3], _tagged_delta(), *_events(raw)[4:5], _tagged_redacted(), *_events(raw)[6:]]
    assert record.input_tokens == 12 and record.output_tokens == 7  # the usage still read from the events
    # every event that carries no signature went through as it came
    untouched = [e for e in _signed() if b"signature_delta" not in e and b"redacted_thinking" not in e]
    assert all(e in out for e in untouched)


def _tagged_delta() -> dict[str, Any]:
    return {"type": "content_block_delta", "index": 0,
            "delta": {"type": "signature_delta", "signature": f"hcc1.{TAG}.{SIG}"}}  # fmt: skip


def _tagged_redacted() -> dict[str, Any]:
    return {"type": "content_block_start", "index": 1,
            "content_block": {"type": "redacted_thinking", "data": f"hcc1.{TAG}.ENCRYPTED"}}  # fmt: skip


def test_a_signature_in_the_opening_block_and_the_last_unterminated_event() -> None:
    raw = b"".join(
        [
            _message_start(),
            _start(0, {"type": "thinking", "thinking": "x", "signature": SIG}),
            sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            *_end(),
        ]
    )
    out, _ = _relay(raw, lambda b: [b])
    assert _events(out)[1]["content_block"]["signature"] == f"hcc1.{TAG}.{SIG}"
    # a stream that ends without the blank line after its last event
    out, _ = _relay(raw[:-2], lambda b: [b])
    assert _events(out)[1]["content_block"]["signature"] == f"hcc1.{TAG}.{SIG}" and out.endswith(b"\n\n")


def test_a_bad_event_after_a_tagged_one_still_delivers_the_tagged_prefix() -> None:
    good = _message_start() + _delta(0, {"type": "signature_delta", "signature": SIG})
    stream = AnthropicStream(RequestRecord("r", "/v1/messages"), provider="signer", tag=TAG)
    with pytest.raises(StreamError) as info:
        stream.feed(good + b"event: content_block_delta\ndata: {broken\n\n")
    partial = info.value.partial
    assert partial.startswith(_message_start()) and f'"hcc1.{TAG}.{SIG}"'.encode() in partial
    assert f'"{SIG}"'.encode() not in partial


def test_without_a_tag_nothing_is_rewritten() -> None:
    raw = b"".join(_signed())
    assert _relay(raw, lambda b: [b], tag=None)[0] == raw


def test_tags_round_trip_and_hold_no_secret() -> None:
    assert split_signature(tag_signature(TAG, SIG)) == (TAG, SIG)
    assert split_signature(SIG) is None and split_signature("hcc1.nodot") is None and split_signature(None) is None
    assert tag_signature(TAG, "") == ""  # nothing signed: nothing to tag
    assert TAG != OTHER and provider_tag("signer", "http://127.0.0.1:1/") == TAG
    assert provider_tag("p", "https://user:s3cret@host/x?key=1") == provider_tag("p", "https://other:pw@host/x")
    assert provider_tag("p", "https://host/x") != provider_tag("p", "https://host:8443/x")


def _history(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 100, "thinking": {"type": "enabled", "budget_tokens": 50},
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": list(blocks)},
                         {"role": "user", "content": "again"}]}  # fmt: skip


def _thinking(sig: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": "t", "signature": sig}


TEXT = {"type": "text", "text": "hello"}


def test_own_blocks_are_unwrapped_and_foreign_ones_dropped() -> None:
    own, foreign = _thinking(tag_signature(TAG, SIG)), _thinking(tag_signature(OTHER, "theirs"))
    redacted_own = {"type": "redacted_thinking", "data": tag_signature(TAG, "ENC")}
    redacted_foreign = {"type": "redacted_thinking", "data": tag_signature(OTHER, "ENC")}
    body = _history(own, foreign, redacted_own, redacted_foreign, TEXT)
    before = copy.deepcopy(body)
    out = strip_foreign_thinking(body, keep=True, require_signature=True, tag=TAG)
    assert out["messages"][1]["content"] == [_thinking(SIG), {"type": "redacted_thinking", "data": "ENC"}, TEXT]
    assert out["thinking"] == body["thinking"]  # the turn still starts with (its own) thinking
    assert body == before  # the input is not mutated
    # on a provider that keeps thinking without verifying: its own, unwrapped, redacted too
    out = strip_foreign_thinking(body, keep=True, require_signature=False, tag=TAG)
    assert out["messages"][1]["content"] == [_thinking(SIG), {"type": "redacted_thinking", "data": "ENC"}, TEXT]
    # keep=False: nothing, tagged or not
    assert strip_foreign_thinking(body, keep=False, tag=TAG)["messages"][1]["content"] == [TEXT]


def test_a_turn_that_loses_its_foreign_thinking_disables_thinking_for_a_verifier() -> None:
    body = _history(_thinking(tag_signature(OTHER, SIG)), TEXT)
    out = strip_foreign_thinking(body, keep=True, require_signature=True, tag=TAG)
    assert out["messages"][1]["content"] == [TEXT] and out["thinking"] == {"type": "disabled"}
    only = strip_foreign_thinking(_history(_thinking(tag_signature(OTHER, SIG))), keep=True, tag=TAG)
    assert [m["role"] for m in only["messages"]] == ["user", "user"]  # the emptied turn goes


def test_untagged_blocks_keep_the_rules_of_before() -> None:
    body = _history(_thinking(SIG), _thinking(""), {"type": "redacted_thinking", "data": "ENC"}, TEXT)
    verifier = strip_foreign_thinking(body, keep=True, require_signature=True, tag=TAG)
    assert [b.get("signature") for b in verifier["messages"][1]["content"]] == [SIG, None, None]
    assert [b["type"] for b in verifier["messages"][1]["content"]] == ["thinking", "redacted_thinking", "text"]
    replayer = strip_foreign_thinking(body, keep=True, require_signature=False, tag=TAG)
    assert [b["type"] for b in replayer["messages"][1]["content"]] == ["thinking", "thinking", "text"]
    assert strip_foreign_thinking(_history(_thinking(SIG), TEXT), keep=True, require_signature=True, tag=TAG) == (
        _history(_thinking(SIG), TEXT)
    )


def test_a_non_streamed_answer_is_tagged() -> None:
    answer = {"type": "message", "content": [_thinking(SIG), {"type": "redacted_thinking", "data": "ENC"}, TEXT]}
    tagged = tag_message(answer, TAG)
    assert tagged is not None
    assert tagged["content"] == [_thinking(f"hcc1.{TAG}.{SIG}"),
                                 {"type": "redacted_thinking", "data": f"hcc1.{TAG}.ENC"}, TEXT]  # fmt: skip
    assert tag_message({"type": "message", "content": [TEXT, _thinking("")]}, TAG) is None


def _config(one: str, two: str) -> str:
    return f"""
[providers.signer]
api = "anthropic"
base_url = "{one}"
api_key_env = "FAKE_ANTHROPIC_KEY"
quirks = "anthropic"
[providers.signer2]
api = "anthropic"
base_url = "{two}"
api_key_env = "FAKE_ANTHROPIC_KEY"
quirks = "anthropic"
[profiles.signer]
provider = "signer"
model = "shared"
[profiles.signer2]
provider = "signer2"
model = "shared"
"""


@pytest.mark.parametrize("stream", [False, True])
def test_through_the_proxy_a_provider_gets_back_only_its_own_thinking(
    upstream: Any, start_proxy: Callable[..., RunningProxy], keys: dict[str, str], stream: bool
) -> None:
    first, second = SignedThinking(secret=b"one"), SignedThinking(secret=b"two", answer="second")
    up1, up2 = upstream(first), upstream(second)
    proxy = start_proxy(_config(up1.url, up2.url))
    ask = {"model": "shared", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    with proxy.client("signer").messages.stream(**ask) if stream else _NoStream(proxy, ask) as answer:
        content = [b.model_dump(exclude_none=True) for b in answer.get_final_message().content]
    signature = content[0]["signature"]
    assert split_signature(signature) is not None and signature.endswith(first.sign(first.thought))
    history = {**ask, "messages": [*ask["messages"], {"role": "assistant", "content": content},
                                   {"role": "user", "content": "again"}]}  # fmt: skip
    assert proxy.post("/p/signer/v1/messages", history).status_code == 200  # its own signature, unwrapped
    assert up1.requests[-1].json()["messages"][1]["content"][0]["signature"] == first.sign(first.thought)
    r = proxy.post("/p/signer2/v1/messages", history)
    assert r.status_code == 200, r.text  # the other provider never saw the first one's thinking
    assert [b["type"] for b in up2.requests[-1].json()["messages"][1]["content"]] == ["text"]
    assert not first.refusals and not second.refusals


class _NoStream:
    """The non-streamed answer behind the same small interface as the SDK's stream manager."""

    def __init__(self, proxy: RunningProxy, ask: dict[str, Any]) -> None:
        self._message = proxy.client("signer").messages.create(**ask)

    def __enter__(self) -> _NoStream:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def get_final_message(self) -> Any:
        return self._message
