from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hybridcc.proxy.estimate import estimate_input_tokens
from hybridcc.proxy.sse import SSEDecoder, SSEEvent, encode

RAW = b'event: a\ndata: {"x": 1}\n\n: keep-alive\n\ndata: line1\ndata: line2\n\nevent: b\r\ndata: 2\r\n\r\n'
EXPECTED = [SSEEvent("a", '{"x": 1}'), SSEEvent(None, "line1\nline2"), SSEEvent("b", "2")]


def test_decoder_whole() -> None:
    d = SSEDecoder()
    assert d.feed(RAW) + d.flush() == EXPECTED


@given(st.lists(st.integers(min_value=1, max_value=len(RAW) - 1), max_size=20))
def test_decoder_any_split(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    pieces = [RAW[a:b] for a, b in zip([0, *points], [*points, len(RAW)], strict=True)]
    d = SSEDecoder()
    out = []
    for p in pieces:
        out += d.feed(p)
    assert out + d.flush() == EXPECTED


def test_decoder_flush_unterminated_and_cr_only() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: tail") == []
    assert d.flush() == [SSEEvent(None, "tail")]
    d = SSEDecoder()
    assert d.feed(b"event: x\rdata: 1\r\r") == [SSEEvent("x", "1")]


def test_encode() -> None:
    assert encode("ping", {"type": "ping"}) == b'event: ping\ndata: {"type":"ping"}\n\n'


def test_estimate_never_zero_and_counts_everything() -> None:
    assert estimate_input_tokens({"messages": [{"role": "user", "content": "hi"}]}) >= 1
    base = estimate_input_tokens({"messages": [{"role": "user", "content": "hello " * 100}]})
    with_system = estimate_input_tokens(
        {"system": "s " * 400, "messages": [{"role": "user", "content": "hello " * 100}]}
    )
    with_tools = estimate_input_tokens({"messages": [{"role": "user", "content": "hello " * 100}],
                                        "tools": [{"name": "Bash", "input_schema": {"type": "object", "description": "d" * 400}}]})  # fmt: skip
    assert with_system > base + 150 and with_tools > base + 100
    blocks = [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "x" * 4000}]}]
    assert estimate_input_tokens({"messages": [{"role": "user", "content": blocks}]}) > 900
