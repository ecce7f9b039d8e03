"""Streaming tool-call repair: any split gives the non-streaming result; prose is never delayed."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybridcc.proxy.translate.repair import Out, StreamRepair, Text, ToolCall, repair_text
from tests.proxy.test_repair import TOOLS

# Real answers (shared/LOCAL_MODELS.md and the families' documented formats) and pieces of prose.
SAMPLES = [
    '{"name": "get_weather", "arguments": {"city": "Paris"}}',
    '```json\n{\n  "name": "get_weather",\n  "arguments": {\n    "city": "Paris"\n  }\n}\n```',
    '{"name": "Bash", "arguments": {"command": "echo hybridcc-ok"}}',
    '<tool_call>\n{"name": "Bash", "arguments": {"command": "ls -la"}}\n</tool_call>',
    '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}]',
    '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}',
    '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|eom_id|>',
    '<function=get_weather>{"city": "Paris"}</function>',
    "<tool_call>\n<function=Bash>\n<parameter=command>\nls -la\n</parameter>\n</function>\n</tool_call>",
    "{'name': 'Bash', 'arguments': {'command': 'echo ünïcödé 日本語 🎉',}}",
    '{"name": "nope", "arguments": {"city": "Paris"}}',
    '{"name": "get_weather", "arguments": {"town": "Paris"}}',
    "```python\nprint('hi')\n```",
    '```json\n{"name": "pkg", "version": "1.0"}\n```',
    "Voilà : la météo à Paris est ensoleillée. 天気は晴れです。",
    "I'll check that for you.",
    "Here is a [link](http://x) and <b>bold</b> text, a < b, arrays [1, 2] and {sets}.",
    "- item one\n- item two",
    "",
]
SEPARATORS = ["", "\n", "\n\n", " ", "  \n"]
MARKER_BITS = [
    "{", "}", "[", "]", '"name"', ": ", '"Bash"', '"get_weather"', '"arguments"', '{"command": "ls"}',
    '{"city": "Paris"}', ", ", "<tool_call>", "</tool_call>", "```", "json", "\n", " ", "é", "日本",
    "[TOOL_CALLS]", "<|python_tag|>", "<function=Bash>", "</function>", "<parameter=command>",
    "</parameter>", ";", "<|eom_id|>", "[ARGS]", "[CALL_ID]", "'", "<", "`", "<|",
]  # fmt: skip


def normalize(parts: list[Out] | tuple[Out, ...]) -> list[Out]:
    out: list[Out] = []
    for p in parts:
        if isinstance(p, Text) and out and isinstance(out[-1], Text):
            out[-1] = Text(out[-1].text + p.text)
        elif not (isinstance(p, Text) and not p.text):
            out.append(p)
    return out


def streamed(text: str, cuts: list[int], tools: Any = TOOLS) -> list[Out]:
    filt = StreamRepair(tools)
    out: list[Out] = []
    last = 0
    for cut in sorted(set(cuts)):
        out.extend(filt.feed(text[last:cut]))
        last = cut
    out.extend(filt.feed(text[last:]))
    out.extend(filt.finish())
    return out


@st.composite
def text_and_cuts(draw: st.DrawFn, pieces: st.SearchStrategy[str]) -> tuple[str, list[int]]:
    parts = draw(st.lists(pieces, min_size=1, max_size=5))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(parts), max_size=len(parts)))
    text = "".join(p + s for p, s in zip(parts, seps, strict=True))
    cuts = draw(st.lists(st.integers(0, len(text)), max_size=12))
    return text, cuts


prose_pieces = st.one_of(
    st.sampled_from(SAMPLES),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_and_cuts(prose_pieces))
def test_any_split_of_real_outputs_gives_the_whole_text_result(case: tuple[str, list[int]]) -> None:
    text, cuts = case
    assert normalize(streamed(text, cuts)) == normalize(repair_text(text, TOOLS).parts)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_and_cuts(st.lists(st.sampled_from(MARKER_BITS), max_size=12).map("".join)))
def test_any_split_of_marker_soup_gives_the_whole_text_result(case: tuple[str, list[int]]) -> None:
    text, cuts = case
    assert normalize(streamed(text, cuts)) == normalize(repair_text(text, TOOLS).parts)


def one_char_at_a_time(text: str) -> list[Out]:
    return streamed(text, list(range(len(text))))


def test_each_sample_fed_one_character_at_a_time() -> None:
    for sample in SAMPLES:
        for sep in SEPARATORS:
            text = "Bonjour 🎉\n" + sample + sep + "ça marche.\n" + sample
            assert normalize(one_char_at_a_time(text)) == normalize(repair_text(text, TOOLS).parts), text


# Text with none of the characters that can begin a call: { [ ` <
plain = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="{[`<"), max_size=80)


@settings(max_examples=300, deadline=None)
@given(plain, st.lists(st.integers(0, 80), max_size=10))
def test_prose_passes_through_unchanged_and_undelayed(text: str, cuts: list[int]) -> None:
    filt = StreamRepair(TOOLS)
    fed, emitted, last = "", "", 0
    for cut in [*sorted(c for c in set(cuts) if c <= len(text)), len(text)]:
        chunk = text[last:cut]
        last = cut
        fed += chunk
        emitted += "".join(p.text for p in filt.feed(chunk) if isinstance(p, Text))
        # Everything visible went out in the same feed; only whitespace may wait (it may precede a call).
        assert fed.startswith(emitted)
        assert fed[len(emitted) :].isspace() or fed[len(emitted) :] == ""
    tail = filt.finish()
    assert all(isinstance(p, Text) for p in tail)
    assert (emitted + "".join(p.text for p in tail if isinstance(p, Text))).rstrip() == text.rstrip()


def test_first_token_of_prose_is_not_delayed() -> None:
    filt = StreamRepair(TOOLS)
    assert filt.feed("I") == [Text("I")]
    assert filt.feed("'ll look.\n") == [Text("'ll look.\n")]


def test_a_possible_call_is_held_only_as_long_as_needed() -> None:
    filt = StreamRepair(TOOLS)
    assert filt.feed("[") == []  # could be [TOOL_CALLS] or a JSON list
    assert filt.feed("link](http://x)") == [Text("[link](http://x)")]
    assert filt.feed("\n```") == [Text("\n")]
    assert filt.feed("bash\n") == [Text("```bash\n")]  # a code fence that cannot hold a call
    assert filt.feed("ls\n") == [Text("ls\n")]
    assert filt.feed('{"title": 1}') == [Text('{"title": 1}')]  # the first key says: data


def test_a_streamed_call_comes_out_once_complete() -> None:
    filt = StreamRepair(TOOLS)
    out: list[Out] = []
    for piece in ["Sure.\n", '{"name": "Bash", ', '"arguments": {"command": ', '"ls -la"}', "}"]:
        out.extend(filt.feed(piece))
    assert out == [Text("Sure.\n"), ToolCall("Bash", {"command": "ls -la"})]
    assert filt.finish() == []
    assert filt.repaired == 1


def test_release_lets_held_text_out_when_the_model_called_tools_natively() -> None:
    filt = StreamRepair(TOOLS)
    assert filt.feed('{"name": "Ba') == []
    assert filt.release() == [Text('{"name": "Ba')]
    assert filt.feed('sh"}') == [Text('sh"}')]
    assert filt.finish() == []


def test_long_streamed_call_is_linear_not_quadratic() -> None:
    body = "x" * 60_000
    text = '{"name": "Bash", "arguments": {"command": "echo ' + body + '"}}'
    filt = StreamRepair(TOOLS)
    out: list[Out] = []
    for i in range(0, len(text), 3):  # 3-character deltas, as llama-server sends them
        out.extend(filt.feed(text[i : i + 3]))
    out.extend(filt.finish())
    assert out == [ToolCall("Bash", {"command": "echo " + body})]
