"""Tool-call repair on complete texts: the forms real models write (issue 17, shared/LOCAL_MODELS.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hybridcc.proxy.translate.repair import Text, ToolCall, repair_text

FIXTURE = Path(__file__).parent.parent / "fixtures" / "claude_code_2.1.332" / "unknown_model_first_turn.json"
# The tools real Claude Code 2.1.332 offers (Bash, Read, Edit, …, DeferredToolPlaceholder).
CC_TOOLS: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["tools"]
WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
}
TOOLS = [WEATHER, *CC_TOOLS]
PARIS = ToolCall("get_weather", {"city": "Paris"})
LS = ToolCall("Bash", {"command": "ls -la"})


def calls(text: str, tools: list[dict[str, Any]] = TOOLS) -> list[ToolCall]:
    return repair_text(text, tools).calls


# -- the measured outputs ------------------------------------------------------------------


def test_qwen_coder_05b_bare_json_is_a_call() -> None:
    # Qwen2.5-Coder-0.5B-Instruct on llama-server, verbatim (finish_reason "stop").
    result = repair_text('{"name": "get_weather", "arguments": {"city": "Paris"}}', TOOLS)
    assert result.parts == (PARIS,)
    assert result.text == ""


def test_qwen_coder_15b_json_fence_is_a_call() -> None:
    text = '```json\n{\n  "name": "get_weather",\n  "arguments": {\n    "city": "Paris"\n  }\n}\n```'
    assert repair_text(text, TOOLS).parts == (PARIS,)


def test_bash_call_through_claude_code_tools() -> None:
    text = '{"name": "Bash", "arguments": {"command": "echo hybridcc-ok"}}'
    assert calls(text) == [ToolCall("Bash", {"command": "echo hybridcc-ok"})]


def test_prose_before_the_call_stays_text() -> None:
    text = 'I will list the files.\n\n{"name": "Bash", "arguments": {"command": "ls -la"}}\n'
    result = repair_text(text, TOOLS)
    assert result.parts == (Text("I will list the files.\n"), LS)
    assert result.text == "I will list the files."


def test_list_of_calls() -> None:
    text = '[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "Bash", "parameters": {"command": "ls -la"}}]'
    assert calls(text) == [PARIS, LS]


def test_consecutive_lines_of_calls() -> None:
    text = (
        '{"name": "get_weather", "arguments": {"city": "Paris"}}\n{"name": "Bash", "arguments": {"command": "ls -la"}}'
    )
    assert calls(text) == [PARIS, LS]


# -- the other families --------------------------------------------------------------------


def test_hermes_qwen_tool_call_tags() -> None:
    text = (
        "Let me check the weather.\n<tool_call>\n"
        '{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "Bash", "arguments": {"command": "ls -la"}}\n</tool_call>'
    )
    result = repair_text(text, TOOLS)
    assert result.calls == [PARIS, LS]
    assert result.text == "Let me check the weather."


def test_tool_call_tag_mid_line_and_unclosed_at_the_end() -> None:
    text = 'Checking now.<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}'
    result = repair_text(text, TOOLS)
    assert result.parts == (Text("Checking now."), PARIS)


def test_mistral_tool_calls_list() -> None:
    text = '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a1b2c3d4e"}]'
    assert calls(text) == [PARIS]


def test_mistral_v11_name_args_form() -> None:
    text = '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]Bash[CALL_ID]x1y2z3[ARGS]{"command": "ls -la"}'
    assert calls(text) == [PARIS, LS]


def test_llama_python_tag() -> None:
    text = '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|eom_id|>'
    assert repair_text(text, TOOLS).parts == (PARIS,)


def test_llama_python_tag_chained_with_semicolons() -> None:
    text = '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "Bash", "parameters": {"command": "ls -la"}}'
    assert calls(text) == [PARIS, LS]


def test_llama_function_tag() -> None:
    assert calls('<function=get_weather>{"city": "Paris"}</function>') == [PARIS]


def test_qwen3_coder_xml_parameters_are_coerced_to_the_schema() -> None:
    text = (
        "<tool_call>\n<function=Read>\n<parameter=file_path>\n/etc/hosts\n</parameter>\n"
        "<parameter=limit>\n20\n</parameter>\n</function>\n</tool_call>"
    )
    assert calls(text) == [ToolCall("Read", {"file_path": "/etc/hosts", "limit": 20})]


def test_openai_shaped_call_object() -> None:
    text = '{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}'
    assert calls(text) == [PARIS]


# -- light repairs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Bash", "arguments": "{\\"command\\": \\"ls -la\\"}"}',  # arguments as a JSON string
        "{'name': 'Bash', 'arguments': {'command': 'ls -la'}}",  # single quotes
        '{"name": "Bash", "arguments": {"command": "ls -la",},}',  # trailing commas
        '{"name": "bash", "arguments": {"command": "ls -la"}}',  # a small model's lower case
        '{"name": "Bash", "arguments": {"command": "ls -la", "timeout": null}}',  # null for an optional field
        '{"name": "Bash", "arguments": {"command": "ls -la", "cwd": "/tmp"}}',  # a key the tool does not have
        '{"name": "Bash", "arguments": {"command": "ls -la"}',  # the last brace forgotten
    ],
)
def test_light_repairs(text: str) -> None:
    assert calls(text) == [LS]


def test_numbers_and_booleans_written_as_strings_are_coerced() -> None:
    text = '{"name": "Bash", "arguments": {"command": "ls -la", "timeout": "5000", "run_in_background": "false"}}'
    assert calls(text) == [ToolCall("Bash", {"command": "ls -la", "timeout": 5000, "run_in_background": False})]


def test_python_literals_and_non_ascii() -> None:
    text = "{'name': 'Bash', 'arguments': {'command': 'echo héllo 日本', 'run_in_background': False}}"
    assert calls(text) == [ToolCall("Bash", {"command": "echo héllo 日本", "run_in_background": False})]


def test_multiline_command_with_raw_newlines_inside_the_string() -> None:
    text = '{"name": "Bash", "arguments": {"command": "cd /tmp\nls"}}'
    assert calls(text) == [ToolCall("Bash", {"command": "cd /tmp\nls"})]


# -- what must stay text -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "get_forecast", "arguments": {"city": "Paris"}}',  # a tool not offered
        '{"name": "get_weather", "arguments": {"town": "Paris"}}',  # required "city" missing
        '{"name": "get_weather", "arguments": {"city": ["Paris"]}}',  # wrong type
        '{"name": "get_weather", "arguments": {"city": "Paris", "days": "three"}}',  # not an integer
        '{"name": "DeferredToolPlaceholder", "arguments": {}}',  # Claude Code's ToolSearch placeholder
        '{"name": "mcp__srv__echo", "arguments": {}}',  # deferred: not loaded, not callable yet
        '{"name": "get_weather", "version": "1.0.0", "arguments": {"city": "Paris"}}',  # data, not a call
        '{"name": "get_weather", "arguments": {"city": "Paris"',  # too broken to trust
        "```python\nprint({'name': 'get_weather'})\n```",
        'Call it like {"name": "get_weather", "arguments": {"city": "Paris"}} when needed.',
        "The set {1, 2, 3} and the list [1, 2] are not calls.",
        "[link](https://example.com) and <b>bold</b> and `code`",
        "<tool_call>not json</tool_call>",
        "",
    ],
)
def test_not_a_call(text: str) -> None:
    tools = [*TOOLS, {"name": "mcp__srv__echo", "defer_loading": True, "input_schema": {"type": "object"}}]
    result = repair_text(text, tools)
    assert result.calls == []
    assert "".join(p.text for p in result.parts if isinstance(p, Text)) == text.rstrip(" \n")


def test_no_tools_offered_means_no_repair() -> None:
    text = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    assert repair_text(text, []).parts == (Text(text),)
    assert repair_text(text, None).parts == (Text(text),)


def test_server_tools_are_not_call_targets() -> None:
    tools = [{"type": "web_search_20250305", "name": "web_search"}]
    assert calls('{"name": "web_search", "arguments": {"query": "x"}}', tools) == []


def test_long_mcp_names_shortened_for_the_openai_wire_are_mapped_back() -> None:
    long_name = "mcp__a_very_long_server_name_for_testing__" + "x" * 40
    tools = [{"name": long_name, "input_schema": {"type": "object", "properties": {}}}]
    from hybridcc.proxy.translate.request import ToolNames

    short = ToolNames().shorten(long_name)
    assert calls(json.dumps({"name": short, "arguments": {}}), tools) == [ToolCall(long_name, {})]


def test_text_after_the_call_is_kept_in_order() -> None:
    text = '{"name": "Bash", "arguments": {"command": "ls -la"}}\nThat lists the files.'
    assert repair_text(text, TOOLS).parts == (LS, Text("That lists the files."))


def test_a_call_repeated_by_the_model_runs_once() -> None:
    # tool_choice "required" makes Qwen2.5-Coder-0.5B repeat its JSON until max_tokens (LOCAL_MODELS.md).
    call = '{"name": "Bash", "arguments": {"command": "ls -la"}}'
    assert calls(f"{call}\n{call}\n{call}\n{call[:20]}") == [LS]
