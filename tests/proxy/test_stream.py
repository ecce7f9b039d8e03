"""The stream state machine on every chunk sequence of shared/PROTOCOL.md (no network)."""

from __future__ import annotations

from typing import Any

from hybridcc.proxy.translate.openai_stream import StreamTranslator
from hybridcc.proxy.translate.request import ToolNames
from tests.fakes.grammar import check, parse
from tests.fakes.upstream import openai_chunk as ch


def run(chunks: list[dict[str, Any]], *, finish: bool = True, names: ToolNames | None = None) -> dict[str, Any]:
    tr = StreamTranslator(model="up", input_tokens=123, names=names)
    raw = tr.start()
    for c in chunks:
        raw += tr.feed(c)
    if finish:
        raw += tr.finish()
    return check(parse(raw))


def tc(index: int, id_: str | None = None, name: str | None = None, args: str | None = None) -> dict[str, Any]:
    fn: dict[str, Any] = {}
    if name:
        fn["name"] = name
    if args is not None:
        fn["arguments"] = args
    call: dict[str, Any] = {"index": index, "function": fn}
    if id_:
        call.update(id=id_, type="function")
    return call


def test_text_stream_and_usage_chunk_merged() -> None:
    msg = run([ch({"role": "assistant", "content": ""}), ch({"content": "Hel"}), ch({"content": "lo"}), ch({}, "stop"),
               {"choices": [], "usage": {"prompt_tokens": 7009, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 7001}}}])  # fmt: skip
    assert [b["type"] for b in msg["content"]] == ["text"]
    assert msg["content"][0]["text"] == "Hello"
    assert msg["stop_reason"] == "end_turn"
    assert (
        msg["usage"]["input_tokens"] == 8
        and msg["usage"]["cache_read_input_tokens"] == 7001
        and msg["usage"]["output_tokens"] == 4
    )


def test_message_start_estimate() -> None:
    tr = StreamTranslator(model="up", input_tokens=0)
    ev = parse(tr.start())
    assert ev[0][1]["message"]["usage"]["input_tokens"] == 1  # never 0
    assert tr.start() == b""  # never a duplicate message_start


def test_reasoning_then_text_then_tool_in_one_chunk() -> None:
    chunk = ch(
        {"reasoning_content": "think", "content": "say", "tool_calls": [tc(0, "call_1", "Bash", '{"command":"ls"}')]}
    )
    msg = run([chunk, ch({}, "tool_calls")])
    assert [b["type"] for b in msg["content"]] == ["thinking", "text", "tool_use"]
    assert msg["content"][0]["thinking"] == "think"
    assert msg["content"][2]["input"] == {"command": "ls"}
    assert msg["stop_reason"] == "tool_use"


def test_openrouter_reasoning_field() -> None:
    msg = run([ch({"reasoning": "r1"}), ch({"reasoning": "r2"}), ch({"content": "x"}), ch({}, "stop")])
    assert msg["content"][0] == {"type": "thinking", "thinking": "r1r2", "signature": ""}


def test_tool_arguments_in_fragments_are_not_lost() -> None:
    msg = run([ch({"tool_calls": [tc(0, "call_1", "Read", "")]}), ch({"tool_calls": [tc(0, args='{"file_')]}),
               ch({"tool_calls": [tc(0, args='path": "/a"}')]}), ch({}, "tool_calls")])  # fmt: skip
    assert msg["content"][0]["input"] == {"file_path": "/a"}


def test_interleaved_parallel_calls_land_in_their_own_blocks() -> None:
    msg = run([
        ch({"tool_calls": [tc(0, "call_a", "Read", '{"p":'), tc(1, "call_b", "Bash", '{"c":')]}),
        ch({"tool_calls": [tc(1, args='"ls"}')]}),
        ch({"tool_calls": [tc(0, args='"x"}')]}),
        ch({}, "tool_calls"),
    ])  # fmt: skip
    tools = msg["content"]
    assert [(t["name"], t["input"]) for t in tools] == [("Read", {"p": "x"}), ("Bash", {"c": "ls"})]
    assert tools[0]["id"] == "call_a" and tools[1]["id"] == "call_b"


def test_every_call_index_zero_but_distinct_ids() -> None:
    msg = run([ch({"tool_calls": [tc(0, "call_a", "Read", '{"p": 1}')]}), ch({"tool_calls": [tc(0, "call_b", "Bash", '{"c": 2}')]}),
               ch({}, "tool_calls")])  # fmt: skip
    assert [(t["id"], t["input"]) for t in msg["content"]] == [("call_a", {"p": 1}), ("call_b", {"c": 2})]


def test_name_and_full_arguments_in_one_chunk_and_empty_args() -> None:
    msg = run(
        [ch({"tool_calls": [tc(0, "c1", "Bash", '{"command": "pwd"}'), tc(1, "c2", "TodoRead", "")]}), ch({}, "stop")]
    )
    assert msg["content"][0]["input"] == {"command": "pwd"}
    assert msg["content"][1]["input"] == {}
    assert msg["stop_reason"] == "tool_use"  # tool blocks win over "stop" (Ollama)


def test_bad_ids_missing_ids_and_long_names_mapped_back() -> None:
    names = ToolNames()
    short = names.shorten("mcp__server__" + "z" * 70)
    msg = run([ch({"tool_calls": [tc(0, "functions.Bash:0", "Bash", "{}")]}), ch({"tool_calls": [tc(1, None, short, "{}")]}),
               ch({}, "tool_calls")], names=names)  # fmt: skip
    assert msg["content"][0]["id"] == "functions_Bash_0"
    assert msg["content"][1]["id"].startswith("toolu_")
    assert msg["content"][1]["name"] == "mcp__server__" + "z" * 70


def test_invalid_json_arguments_stay_visible() -> None:
    msg = run([ch({"tool_calls": [tc(0, "c1", "Bash", '{"command": ')]}), ch({}, "tool_calls")])
    assert msg["content"][0]["input"] == {"_invalid_json_arguments": '{"command": '}


def test_combined_content_and_finish_chunk() -> None:
    msg = run([ch({"content": "all at once"}, "stop")])
    assert msg["content"][0]["text"] == "all at once" and msg["stop_reason"] == "end_turn"


def test_length_and_content_filter() -> None:
    assert run([ch({"content": "x"}), ch({}, "length")])["stop_reason"] == "max_tokens"
    assert run([ch({"content": "x"}), ch({}, "content_filter")])["stop_reason"] == "refusal"


def test_abrupt_end_without_finish_or_usage_is_closed() -> None:
    msg = run([ch({"content": "partial"})])
    assert msg["stop_reason"] == "end_turn" and msg["content"][0]["text"] == "partial"
    assert msg["usage"]["output_tokens"] >= 1
    msg = run([ch({"tool_calls": [tc(0, "c", "Bash", '{"a":1}')]})])
    assert msg["stop_reason"] == "tool_use"


def test_empty_stream_and_empty_deltas_emit_no_empty_block() -> None:
    msg = run([])
    assert msg["content"] == [] and msg["stop_reason"] == "end_turn"
    msg = run([ch({"content": ""}), ch({"content": None}), ch({}, "stop")])
    assert msg["content"] == []


def test_nothing_after_message_stop() -> None:
    tr = StreamTranslator(model="up", input_tokens=5)
    tr.start()
    tr.feed(ch({"content": "x"}))
    tr.finish()
    assert tr.feed(ch({"content": "late"})) == b"" and tr.finish() == b""
