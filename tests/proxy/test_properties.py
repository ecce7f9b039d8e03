"""Property tests: any valid request translates to a valid OpenAI request; any chunk sequence
yields a well-formed Anthropic event stream."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybridcc.config.quirks import QUIRKS
from hybridcc.proxy.translate.openai_stream import StreamTranslator
from hybridcc.proxy.translate.request import MAX_TOOL_NAME, to_openai
from tests.fakes.grammar import check, parse

text = st.text(min_size=0, max_size=30)
name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=90)
tool_id = st.text(alphabet="abcXYZ0129_-.:|", min_size=1, max_size=20)

text_block = st.builds(lambda t: {"type": "text", "text": t}, text)
image_block = st.builds(
    lambda d: {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": d}},
    st.text("AB", min_size=1, max_size=8),
)
tool_use = st.builds(
    lambda i, n, inp: {"type": "tool_use", "id": i, "name": n, "input": inp},
    tool_id,
    name,
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
tool_result = st.builds(
    lambda i, c, e: {"type": "tool_result", "tool_use_id": i, "content": c, "is_error": e},
    tool_id, st.one_of(text, st.lists(st.one_of(text_block, image_block), max_size=3)), st.booleans(),
)  # fmt: skip
user_msg = st.builds(
    lambda c: {"role": "user", "content": c},
    st.one_of(text, st.lists(st.one_of(text_block, image_block, tool_result), min_size=1, max_size=4)),
)
asst_msg = st.builds(
    lambda c: {"role": "assistant", "content": c},
    st.one_of(text, st.lists(st.one_of(text_block, tool_use), min_size=1, max_size=4)),
)
sys_msg = st.builds(lambda t: {"role": "system", "content": t}, text)
tool_def = st.builds(
    lambda n, d: {
        "name": n,
        "description": d,
        "input_schema": {
            "type": "object",
            "properties": {"x": {"type": "string", "format": "uri"}},
            "additionalProperties": False,
        },
    },
    name,
    text,
)

requests = st.fixed_dictionaries(
    {
        "model": st.just("claude-sonnet-4-6"),
        "max_tokens": st.integers(min_value=1, max_value=64000),
        "messages": st.lists(st.one_of(user_msg, asst_msg, sys_msg), min_size=1, max_size=6),
    },
    optional={
        "system": st.one_of(text, st.lists(text_block, max_size=3)),
        "tools": st.lists(tool_def, max_size=4),
        "tool_choice": st.sampled_from(
            [{"type": "auto"}, {"type": "any"}, {"type": "none"}, {"type": "auto", "disable_parallel_tool_use": True}]
        ),
        "stop_sequences": st.lists(text, max_size=6),
        "temperature": st.floats(min_value=0, max_value=1),
        "thinking": st.sampled_from(
            [{"type": "adaptive"}, {"type": "disabled"}, {"type": "enabled", "budget_tokens": 2048}]
        ),
        "metadata": st.builds(lambda u: {"user_id": u}, st.text(max_size=100)),
    },
)

VALID_ROLES = {"system", "user", "assistant", "tool"}


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(requests, st.sampled_from(sorted(QUIRKS)), st.booleans())
def test_any_request_translates_to_valid_openai(body: dict[str, Any], quirk: str, stream: bool) -> None:
    out, names = to_openai(body, model="up", quirks=QUIRKS[quirk], stream=stream, max_tokens_cap=8192)
    json.dumps(out)  # serialisable
    assert out["model"] == "up"
    assert 1 <= out.get("max_tokens", out.get("max_completion_tokens", 0)) <= 8192
    call_ids: set[str] = set()
    for msg in out["messages"]:
        assert msg["role"] in VALID_ROLES
        if msg["role"] == "tool":
            assert isinstance(msg["content"], str) and msg["tool_call_id"]
        if msg["role"] == "assistant":
            for call in msg.get("tool_calls", []):
                assert call["type"] == "function" and len(call["function"]["name"]) <= MAX_TOOL_NAME
                assert all(c.isalnum() or c in "_-" for c in call["id"])
                json.loads(call["function"]["arguments"])
                call_ids.add(call["id"])
        if msg["role"] == "user":
            assert isinstance(msg["content"], str | list)
    for tool in out.get("tools", []):
        assert len(tool["function"]["name"]) <= MAX_TOOL_NAME
        assert names.original(tool["function"]["name"]) in {t["name"] for t in body["tools"]}
    assert len(out.get("stop", [])) <= 4
    assert "is_error" not in json.dumps(out) and "cache_control" not in json.dumps(out)
    if stream:
        assert out["stream_options"] == {"include_usage": True}


frag = st.text(alphabet='{}":, abc123', max_size=8)
delta = st.one_of(
    st.builds(lambda t: {"content": t}, st.one_of(st.none(), text)),
    st.builds(lambda t: {"reasoning_content": t}, text),
    st.builds(lambda t: {"reasoning": t}, text),
    st.builds(
        lambda i, cid, n, a: {"tool_calls": [{"index": i, **({"id": cid} if cid else {}), "function": {**({"name": n} if n else {}), "arguments": a}}]},
        st.integers(0, 3), st.one_of(st.none(), tool_id), st.one_of(st.none(), name), frag,
    ),
)  # fmt: skip
chunk = st.one_of(
    st.builds(
        lambda d, f: {"choices": [{"index": 0, "delta": d, "finish_reason": f}]},
        delta,
        st.sampled_from([None, None, None, "stop", "length", "tool_calls"]),
    ),
    st.builds(
        lambda p, c: {"choices": [], "usage": {"prompt_tokens": p, "completion_tokens": c}},
        st.integers(0, 10**6),
        st.integers(0, 10**5),
    ),
)


@settings(max_examples=300)
@given(st.lists(chunk, max_size=25), st.booleans())
def test_any_chunk_sequence_yields_well_formed_stream(chunks: list[dict[str, Any]], finish: bool) -> None:
    tr = StreamTranslator(model="up", input_tokens=42)
    raw = tr.start()
    for c in chunks:
        raw += tr.feed(c)
    raw += tr.finish()  # an abrupt end is closed the same way
    msg = check(parse(raw))
    for block in msg["content"]:
        if block["type"] == "tool_use":
            assert isinstance(block["input"], dict)
